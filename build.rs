//! Link-time setting for the `hearth` binary only (no code is generated).
//!
//! On Linux with glibc 2.36 or newer and a linker that knows it, the binary is linked with
//! packed relative relocations (`-z pack-relative-relocs`, DT_RELR). A position-independent
//! Rust binary of this size carries about 2.4 MB of relocation entries that the dynamic
//! loader reads at every start; packed, they are about 40 KB. Idle RSS drops by about
//! 2.5 MiB (BENCHMARKS.md), and the binary stays position-independent (ASLR kept). Where
//! the probe fails (older glibc, another linker, cross-compiling) nothing changes.
//!
//! Release builds for x86-64 Linux with Rust's default linker (lld) also get
//! `scripts/startup-symbols.txt` as the linker's symbol order: the functions start-up runs
//! (written by `scripts/startup-order.sh`) are placed together, so an idle bot keeps about
//! 2 MiB of its code resident instead of 11 (the kernel maps code in 64 KiB windows around
//! each page touched). Names the binary no longer has are skipped. Where the linker may not
//! be lld (a linker set in RUSTFLAGS or cargo's configuration, other targets) it is left out.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={SYMBOL_ORDER}");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    let target = std::env::var("TARGET").unwrap_or_default();
    let host = std::env::var("HOST").unwrap_or_default();
    if target != host || !target.ends_with("-linux-gnu") {
        return;
    }
    if glibc_has_relr() && linker_has_relr() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    if target == "x86_64-unknown-linux-gnu" && release() && default_linker() {
        let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
        let order = std::path::Path::new(&dir).join(SYMBOL_ORDER);
        if order.is_file() {
            println!(
                "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
                order.display()
            );
            println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
        }
    }
}

/// The start-up functions, in link order (scripts/startup-order.sh writes it).
const SYMBOL_ORDER: &str = "scripts/startup-symbols.txt";

/// `--release` (and profiles built on it, such as `bench`).
fn release() -> bool {
    std::env::var("PROFILE").is_ok_and(|p| p == "release")
}

/// Rust links x86-64 Linux with its own lld unless a linker is chosen: cargo passes a
/// configured one as RUSTC_LINKER; RUSTFLAGS may pick one (`-C linker=`, `-fuse-ld=`,
/// `-C linker-features=`). GNU ld does not know `--symbol-ordering-file`.
fn default_linker() -> bool {
    if std::env::var_os("RUSTC_LINKER").is_some() {
        return false;
    }
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    !flags.contains("linker") && !flags.contains("fuse-ld")
}

/// glibc 2.36 added DT_RELR; a binary using it does not start on an older one.
fn glibc_has_relr() -> bool {
    let Ok(out) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(version) = text.trim().strip_prefix("glibc ") else {
        return false;
    };
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (2, 36)
}

/// GNU ld 2.38+ and lld 15+ know the option.
fn linker_has_relr() -> bool {
    Command::new("ld")
        .arg("--help")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("pack-relative-relocs"))
}
