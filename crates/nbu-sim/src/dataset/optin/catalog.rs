//! The backup images of `/catalog/images`, with their malware and anomaly statuses.

use super::draw::{HOUR_MS, IMAGE_DAYS, before, choose, client_name, one_of};
use crate::dataset::rng::Draws;

/// The stream of image draws.
const IMAGE: u64 = 0x696d_6167;

/// A backup image of `/catalog/images`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Image {
    /// `id` (backup ID).
    pub backup_id: String,
    /// `backupTime`, Unix milliseconds (whole seconds).
    pub backup_time_ms: i64,
    /// `clientName`.
    pub client: String,
    /// `policyName`.
    pub policy_name: String,
    /// `policyType` (free text).
    pub policy_type: &'static str,
    /// `scheduleType`.
    pub schedule_type: &'static str,
    /// `scheduleName`.
    pub schedule_name: &'static str,
    /// `malwareStatus` (13.0+).
    pub malware_status: &'static str,
    /// `anomalyStatus` (12.0+).
    pub anomaly_status: &'static str,
    /// `malwareScanResult`.
    pub malware_scan_result: &'static str,
    /// `kbytes`.
    pub kbytes: u64,
    /// `numFiles`.
    pub files: u64,
    /// `jobId`.
    pub job_id: u64,
    /// `elapsedTimeSeconds`.
    pub elapsed_s: u64,
}

/// `count` images before `anchor_ms` (fewer if two share a backup ID), newest first; the
/// first nine cover every malware and anomaly status pair the agent counts.
pub(super) fn images(seed: u64, anchor_ms: i64, count: u64) -> Vec<Image> {
    let mut images: Vec<Image> = (0..count)
        .map(|k| {
            let mut d = Draws::new(seed, k, IMAGE);
            // The first nine images cover every pair the agent counts, in the last 12 hours.
            let (malware, anomaly, time) = if k < 9 {
                let malware = ["CLEAN", "INFECTION_DETECTED_BY_MALWARE_SCAN", "NOT_SCANNED"];
                let anomaly = ["ANOMALOUS", "NOT_ANOMALOUS", "NOT_PROCESSED"];
                (
                    malware.get((k / 3) as usize).copied().unwrap_or("CLEAN"),
                    anomaly
                        .get((k % 3) as usize)
                        .copied()
                        .unwrap_or("ANOMALOUS"),
                    anchor_ms - (k as i64 + 1) * HOUR_MS,
                )
            } else {
                let malware = choose(
                    &mut d,
                    &[
                        ("CLEAN", 50),
                        ("NOT_SCANNED", 25),
                        ("INFECTION_DETECTED_BY_MALWARE_SCAN", 8),
                        ("NOT_SUPPORTED", 7),
                        ("UNKNOWN_TYPE", 5),
                        ("INFECTION_DETECTED_BY_FILE_HASH_SEARCH", 5),
                    ],
                    "CLEAN",
                );
                let anomaly = choose(
                    &mut d,
                    &[
                        ("NOT_ANOMALOUS", 45),
                        ("NOT_PROCESSED", 25),
                        ("ANOMALOUS", 10),
                        ("NOT_REVIEWED", 8),
                        ("FALSE_POSITIVE", 5),
                        ("IGNORED", 4),
                        ("UNDEFINED", 3),
                    ],
                    "NOT_PROCESSED",
                );
                (malware, anomaly, before(&mut d, anchor_ms, IMAGE_DAYS))
            };
            let client = client_name(d.below(40));
            let (policy_type, schedule_type, schedule_name) = (
                one_of(
                    &mut d,
                    &["Standard", "VMware", "MS-Windows", "Oracle"],
                    "Standard",
                ),
                one_of(
                    &mut d,
                    &["FULL", "DIFFERENTIAL_INCREMENTAL", "CUMULATIVE_INCREMENTAL"],
                    "FULL",
                ),
                one_of(&mut d, &["daily", "weekly", "monthly"], "daily"),
            );
            Image {
                backup_id: format!("{client}_{}", time / 1000),
                backup_time_ms: time,
                client,
                policy_name: format!("policy-{:02}", d.below(20)),
                policy_type,
                schedule_type,
                schedule_name,
                malware_status: malware,
                anomaly_status: anomaly,
                malware_scan_result: match malware {
                    "CLEAN" => "CLEAN",
                    "INFECTION_DETECTED_BY_MALWARE_SCAN" => "IMPACTED",
                    "NOT_SUPPORTED" => "NOT_SUPPORTED",
                    _ => "NOT_SCANNED",
                },
                kbytes: d.range(1024, 500 << 20),
                files: d.range(1, 2_000_000),
                job_id: 200_000 + k,
                elapsed_s: d.range(30, 7200),
            }
        })
        .collect();
    images.sort_by(|a, b| {
        b.backup_time_ms
            .cmp(&a.backup_time_ms)
            .then(a.backup_id.cmp(&b.backup_id))
    });
    images.dedup_by(|a, b| a.backup_id == b.backup_id);
    images
}
