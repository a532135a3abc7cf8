//! The dataset of the opt-in endpoints: alerts, malware scan results, catalog images, SLOs,
//! tape drives, tape media, robot device hosts, volume pools and disk pools.
//!
//! Everything is a pure function of the seed, the anchor and the scale. Alerts, scan results
//! and images lie in the days before the anchor, so that windows ending at the simulator's
//! clock hold only some of them.

mod alerts;
mod catalog;
mod malware;
mod slo;
mod tape;

use super::rng::Draws;

pub(crate) use alerts::Alert;
pub(crate) use catalog::Image;
pub(crate) use malware::{ScanResult, scan_state_in};
pub(crate) use slo::Slo;
pub(crate) use tape::{DiskPool, Drive, TapeVolume, VolumePool};

/// An hour, in milliseconds.
const HOUR_MS: i64 = 3_600_000;
/// A day, in milliseconds.
const DAY_MS: i64 = 24 * HOUR_MS;
/// Images and scans spread over this many days before the anchor.
const IMAGE_DAYS: i64 = 4;

/// Items per unit of scale.
const ALERTS: u64 = 300;
const SCANS: u64 = 160;
const IMAGES: u64 = 400;
const SLOS: u64 = 24;
const DRIVES: u64 = 250;
const MEDIA_PER_SCALE: u64 = 450;
const POOLS_PER_SCALE: u64 = 10;
const DISK_POOLS: u64 = 220;

/// Media servers of drives and disk pools.
const MEDIA_SERVERS: [&str; 6] = [
    "media-01.example.com",
    "media-02.example.com",
    "media-03.example.com",
    "media-04.example.com",
    "tape-srv-a.example.com",
    "tape-srv-b.example.com",
];

/// The opt-in dataset.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct OptInData {
    /// Alerts, by `alertId` (oldest first).
    pub alerts: Vec<Alert>,
    /// Latest scan results, newest scan first (the default order).
    pub scans: Vec<ScanResult>,
    /// Images, newest first.
    pub images: Vec<Image>,
    /// SLOs, by name descending (the default order).
    pub slos: Vec<Slo>,
    /// Drives, by name.
    pub drives: Vec<Drive>,
    /// Tape volumes, by media ID.
    pub media: Vec<TapeVolume>,
    /// Hosts of the robots.
    pub robot_hosts: Vec<String>,
    /// Volume pools, by number.
    pub pools: Vec<VolumePool>,
    /// Disk pools, by name.
    pub disk_pools: Vec<DiskPool>,
}

/// A draw from the weighted `table`.
fn choose<T: Copy>(d: &mut Draws, table: &[(T, u32)], fallback: T) -> T {
    d.pick(table).unwrap_or(fallback)
}

/// One of `items`, drawn evenly.
fn one_of<T: Copy>(d: &mut Draws, items: &[T], fallback: T) -> T {
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
fn before(d: &mut Draws, anchor_ms: i64, days: i64) -> i64 {
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
fn client_name(k: u64) -> String {
    const PREFIXES: [&str; 4] = ["db", "app", "web", "file"];
    let prefix = PREFIXES
        .get((k % PREFIXES.len() as u64) as usize)
        .copied()
        .unwrap_or("host");
    format!("{prefix}-{k:03}.example.com")
}

/// `digits` random hexadecimal digits.
fn hex(d: &mut Draws, digits: usize) -> String {
    let mut text = String::with_capacity(digits);
    while text.len() < digits {
        text.push_str(&format!("{:016x}", d.next_u64()));
    }
    text.truncate(digits);
    text
}

impl OptInData {
    /// The data of `seed` around `anchor_ms`; `scale` multiplies every count (0 gives an
    /// empty dataset).
    pub(crate) fn generate(seed: u64, anchor_ms: i64, scale: u32) -> Self {
        let s = u64::from(scale);
        if s == 0 {
            return OptInData::default();
        }
        let robot_hosts: Vec<String> = (0..3 + s)
            .map(|k| format!("robot-host-{k:02}.example.com"))
            .collect();
        let mut pools = tape::volume_pools(POOLS_PER_SCALE * s);
        let mut media = tape::media(
            seed,
            anchor_ms,
            MEDIA_PER_SCALE * s,
            &mut pools,
            &robot_hosts,
        );
        media.sort_by(|a, b| a.media_id.cmp(&b.media_id));
        OptInData {
            alerts: alerts::alerts(seed, anchor_ms, ALERTS * s),
            scans: malware::scans(seed, anchor_ms, SCANS * s),
            images: catalog::images(seed, anchor_ms, IMAGES * s),
            slos: slo::slos(seed, SLOS * s),
            drives: {
                let mut drives = tape::drives(seed, DRIVES * s);
                drives.sort_by(|a, b| a.name.cmp(&b.name));
                drives
            },
            media,
            robot_hosts,
            pools,
            disk_pools: tape::disk_pools(seed, DISK_POOLS * s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_deterministic_and_covers_the_pairs() {
        let a = OptInData::generate(7, 1_795_000_000_000, 1);
        assert_eq!(a, OptInData::generate(7, 1_795_000_000_000, 1));
        assert_ne!(a, OptInData::generate(8, 1_795_000_000_000, 1));
        assert!(a.alerts.len() > 200 && a.drives.len() > 200 && a.media.len() > 200);
        assert!(a.disk_pools.len() > 200);
        assert!(a.pools.iter().any(|p| p.name == "Scratch"));
        for m in ["CLEAN", "INFECTION_DETECTED_BY_MALWARE_SCAN", "NOT_SCANNED"] {
            for n in ["ANOMALOUS", "NOT_ANOMALOUS", "NOT_PROCESSED"] {
                assert!(
                    a.images
                        .iter()
                        .any(|i| i.malware_status == m && i.anomaly_status == n)
                );
            }
        }
        let ids: std::collections::BTreeSet<_> = a.drives.iter().map(|d| &d.name).collect();
        assert_eq!(ids.len(), a.drives.len(), "drive names are unique");
        let ids: std::collections::BTreeSet<_> = a.media.iter().map(|m| &m.media_id).collect();
        assert_eq!(ids.len(), a.media.len(), "media IDs are unique");
        assert!(a.drives.iter().any(|d| d.robot_number.is_none()));
        assert_eq!(OptInData::generate(7, 0, 0), OptInData::default());
        let edge = 1_795_000_000_000 - DAY_MS;
        let quiet = edge - QUIET_MS..=edge + QUIET_MS;
        assert!(a.alerts.iter().all(|x| !quiet.contains(&x.created_ms)));
        assert!(a.images.iter().all(|x| !quiet.contains(&x.backup_time_ms)));
    }
}
