//! The dataset of the opt-in endpoints: alerts, malware scan results, catalog images, SLOs,
//! tape drives, tape media, robot device hosts, volume pools and disk pools.
//!
//! Everything is a pure function of the seed, the anchor and the scale. Alerts, scan results
//! and images lie in the days before the anchor, so that windows ending at the simulator's
//! clock hold only some of them.

mod alerts;
mod catalog;
mod draw;
mod malware;
mod slo;
mod tape;

pub(crate) use alerts::Alert;
pub(crate) use catalog::Image;
pub(crate) use malware::{ScanResult, scan_state_in};
pub(crate) use slo::Slo;
pub(crate) use tape::{DiskPool, Drive, TapeVolume, VolumePool};

/// Items per unit of scale.
const ALERTS: u64 = 300;
const SCANS: u64 = 160;
const IMAGES: u64 = 400;
const SLOS: u64 = 24;
const DRIVES: u64 = 250;
const MEDIA_PER_SCALE: u64 = 450;
const POOLS_PER_SCALE: u64 = 10;
const DISK_POOLS: u64 = 220;

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
    use super::draw::{DAY_MS, QUIET_MS};
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
