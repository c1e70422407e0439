//! Handing freed memory back to the system.
//!
//! glibc's allocator keeps what a thread frees in that thread's arena for reuse. Loading the
//! embedding model builds and drops large temporary structures (the tokenizer's vocabulary
//! trie and a copy of it, the model's bytes): measured on the default model, 135 MiB stayed
//! resident after loading although nothing used it. [`release_freed`] asks glibc to return the
//! free pages of every arena (`malloc_trim(0)`); live allocations are untouched. It is called
//! once a model has loaded and when Whisper's buffers are released after an idle spell, points
//! where nothing else allocates much, since it briefly locks each arena in turn.
//!
//! Elsewhere (musl, macOS, Windows) it does nothing: those allocators return large freed
//! blocks on their own or have no such call.

/// Asks the allocator to return the memory it holds free; true if it gave some back.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[expect(unsafe_code, reason = "the one FFI call into glibc, malloc_trim")]
pub fn release_freed() -> bool {
    // SAFETY: malloc_trim takes no pointers and has no preconditions; glibc locks each arena
    // while it walks it, so it is safe to call from any thread at any time.
    unsafe { libc::malloc_trim(0) == 1 }
}

/// Asks the allocator to return the memory it holds free; true if it gave some back.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_freed() -> bool {
    false
}

#[cfg(test)]
mod tests {
    /// Memory freed by one thread is given back to the system: a thread fills 64 MiB in small
    /// blocks (as a tokenizer's trie does), frees it and ends; after the release the process's
    /// resident memory has dropped by most of it. Measured in a process of its own (this test
    /// binary again, running only this test): other tests allocate, and release, meanwhile.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn memory_a_thread_freed_is_given_back() {
        const ALONE: &str = "HEAP_TEST_MEASURE_ALONE";
        if std::env::var_os(ALONE).is_none() {
            let status = std::process::Command::new(std::env::current_exe().expect("test binary"))
                .args([
                    "--exact",
                    "heap::tests::memory_a_thread_freed_is_given_back",
                    "--test-threads=1",
                ])
                .env(ALONE, "1")
                .status()
                .expect("the test binary runs");
            assert!(status.success(), "the measurement failed: {status}");
            return;
        }
        fn resident_kib() -> u64 {
            let status = std::fs::read_to_string("/proc/self/status").expect("proc status");
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .expect("VmRSS")
        }
        std::thread::spawn(|| {
            // Small blocks below glibc's mmap threshold, so they come from the arena and stay
            // there when freed; one long-lived block at the end keeps the arena's top in use.
            let blocks: Vec<Vec<u8>> = (0..64 * 1024).map(|i| vec![i as u8; 1000]).collect();
            let keep = vec![1u8; 1000];
            drop(blocks);
            std::mem::forget(keep);
        })
        .join()
        .expect("thread");
        let before = resident_kib();
        super::release_freed();
        let after = resident_kib();
        assert!(
            before.saturating_sub(after) > 32 * 1024,
            "resident {before} KiB before the release, {after} KiB after"
        );
    }
}
