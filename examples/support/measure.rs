//! What the examples measure with and how they read their arguments.

/// The resident set size of this process, KiB (`/proc/self/statm`; 0 where unreadable).
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4)
}

/// The `i`-th command-line argument as a number, or `default`.
pub fn arg(args: &[String], i: usize, default: u64) -> u64 {
    args.get(i).and_then(|v| v.parse().ok()).unwrap_or(default)
}
