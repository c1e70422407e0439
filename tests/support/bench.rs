//! Small helpers the benchmarks share: percentiles, milliseconds, process memory.

use std::time::Duration;

/// Whether a benchmark runs in smoke mode: `cargo test --benches` (the test command) runs
/// it without `--bench`, to prove it still works on a few iterations; `cargo bench` passes
/// `--bench` and gets the full run. Smoke figures mean nothing.
pub fn smoke() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

/// The `p` percentile (0.0-1.0) of `sorted`, in milliseconds.
pub fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    ms(sorted[((sorted.len() - 1) as f64 * p).round() as usize])
}

/// `d` in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A `/proc/PID/status` field in KiB (`VmRSS` now, `VmHWM` the peak); 0 when unreadable.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The resident memory of `pid` now, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS")
}

/// Prints "name: p50 .. p99 .. max .. (n = ..)" for sorted latencies.
pub fn print_latencies(name: &str, sorted: &[Duration]) {
    println!(
        "  {name:>14}: p50 {:.2} ms   p99 {:.2} ms   max {:.2} ms   (n = {})",
        percentile_ms(sorted, 0.50),
        percentile_ms(sorted, 0.99),
        ms(*sorted.last().unwrap()),
        sorted.len()
    );
}
