//! Link-time setting for the `hearth` binary only (no code is generated).
//!
//! On Linux with glibc 2.36 or newer and a linker that knows it, the binary is linked with
//! packed relative relocations (`-z pack-relative-relocs`, DT_RELR). A position-independent
//! Rust binary of this size carries about 2.4 MB of relocation entries that the dynamic
//! loader reads at every start; packed, they are about 40 KB. Idle RSS drops by about
//! 2.5 MiB (BENCHMARKS.md), and the binary stays position-independent (ASLR kept). Where
//! the probe fails (older glibc, another linker, cross-compiling) nothing changes.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    let host = std::env::var("HOST").unwrap_or_default();
    if target != host || !target.ends_with("-linux-gnu") {
        return;
    }
    if glibc_has_relr() && linker_has_relr() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
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
