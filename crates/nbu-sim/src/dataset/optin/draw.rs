//! What the opt-in sources draw alike: weighted and even choices, instants in the days before
//! the anchor (outside the quiet band), client names, hexadecimal ids, media servers.

use crate::dataset::rng::Draws;

/// An hour, in milliseconds.
pub(super) const HOUR_MS: i64 = 3_600_000;
/// A day, in milliseconds.
pub(super) const DAY_MS: i64 = 24 * HOUR_MS;
/// Images and scans spread over this many days before the anchor.
pub(super) const IMAGE_DAYS: i64 = 4;

/// Media servers of drives and disk pools.
pub(super) const MEDIA_SERVERS: [&str; 6] = [
    "media-01.example.com",
    "media-02.example.com",
    "media-03.example.com",
    "media-04.example.com",
    "tape-srv-a.example.com",
    "tape-srv-b.example.com",
];

/// A draw from the weighted `table`.
pub(super) fn choose<T: Copy>(d: &mut Draws, table: &[(T, u32)], fallback: T) -> T {
    d.pick(table).unwrap_or(fallback)
}

/// One of `items`, drawn evenly.
pub(super) fn one_of<T: Copy>(d: &mut Draws, items: &[T], fallback: T) -> T {
    items
        .get(d.below(items.len() as u64) as usize)
        .copied()
        .unwrap_or(fallback)
}

/// Half the width of the band around `anchor - 24 h` that holds no alert, scan or image, so
/// that a 24-hour window ending a little after the anchor (a wall clock that moved between a
/// collection and the truth) counts the same items.
pub(crate) const QUIET_MS: i64 = 15 * 60_000;

/// A millisecond instant in the `days` before `anchor_ms`, on a whole second, outside the
/// quiet band.
pub(super) fn before(d: &mut Draws, anchor_ms: i64, days: i64) -> i64 {
    let span = u64::try_from(days * DAY_MS / 1000).unwrap_or(1);
    let back = i64::try_from(d.below(span)).unwrap_or(0);
    let at = anchor_ms - back * 1000;
    let edge = anchor_ms - DAY_MS;
    if (edge - QUIET_MS..=edge + QUIET_MS).contains(&at) {
        at - 2 * QUIET_MS - 1000
    } else {
        at
    }
}

/// The name of client `k`.
pub(super) fn client_name(k: u64) -> String {
    const PREFIXES: [&str; 4] = ["db", "app", "web", "file"];
    let prefix = PREFIXES
        .get((k % PREFIXES.len() as u64) as usize)
        .copied()
        .unwrap_or("host");
    format!("{prefix}-{k:03}.example.com")
}

/// `digits` random hexadecimal digits.
pub(super) fn hex(d: &mut Draws, digits: usize) -> String {
    let mut text = String::with_capacity(digits);
    while text.len() < digits {
        text.push_str(&format!("{:016x}", d.next_u64()));
    }
    text.truncate(digits);
    text
}
