//! The ground truth of the opt-in families: what a correct agent reports for the opt-in
//! dataset, counted straight from the data (not from the rendered pages), with the Prometheus
//! family names and label names of the bridge (without `site`).

use std::collections::{BTreeMap, BTreeSet};

use crate::dataset::optin::{OptInData, scan_state_in};
use crate::optin::OptInEndpoint;
use crate::version::ApiVersion;

/// A series: the family name and its label pairs, sorted by label name.
pub type SeriesKey = (String, Vec<(String, String)>);

/// The value of every opt-in series a correct agent reports for one API version, instant and
/// pair of windows ([`Simulator::opt_in_truth`](crate::Simulator::opt_in_truth)).
///
/// Families (labels): `nbu_alerts_count` (severity, category), `nbu_malware_files_scanned`,
/// `nbu_malware_files_infected`, `nbu_malware_scan_count` (status), `nbu_catalog_images_count`
/// (malware_status, anomaly_status: the nine pairs of `CLEAN`,
/// `INFECTION_DETECTED_BY_MALWARE_SCAN`, `NOT_SCANNED` × `ANOMALOUS`, `NOT_ANOMALOUS`,
/// `NOT_PROCESSED`, zeros included), `nbu_slo_count`, `nbu_tape_drives_count` (drive_type,
/// robot_type, status), `nbu_tape_drive_info` (drive_name, media_server, drive_type,
/// robot_number, status; value 1), `nbu_tape_media_count` (pool, media_type, robot_type),
/// `nbu_tape_robot_device_hosts`, `nbu_tape_pool_partially_full` (pool_name, pool_type),
/// `nbu_disk_pool_volume_count` (pool_name, storage_category, state). A family whose endpoint
/// the version lacks is absent, and so is `nbu_catalog_images_count` before 13.0 (no
/// `malwareStatus` filter there). A counting family without any item has no series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OptInTruth {
    /// Every series and its value.
    pub series: BTreeMap<SeriesKey, f64>,
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    labels.sort();
    labels
}

impl OptInTruth {
    /// The value of a series; `labels` in any order.
    pub fn get(&self, family: &str, labels_: &[(&str, &str)]) -> Option<f64> {
        self.series
            .get(&(family.to_owned(), labels(labels_)))
            .copied()
    }

    /// The series of one family: sorted label pairs to value.
    pub fn family(&self, family: &str) -> BTreeMap<Vec<(String, String)>, f64> {
        self.series
            .iter()
            .filter(|((name, _), _)| name == family)
            .map(|((_, labels), value)| (labels.clone(), *value))
            .collect()
    }

    /// The names of the families present.
    pub fn families(&self) -> BTreeSet<String> {
        self.series.keys().map(|(name, _)| name.clone()).collect()
    }

    fn add(&mut self, family: &str, pairs: &[(&str, &str)], value: f64) {
        *self
            .series
            .entry((family.to_owned(), labels(pairs)))
            .or_insert(0.0) += value;
    }

    fn set(&mut self, family: &str, pairs: &[(&str, &str)], value: f64) {
        self.series
            .insert((family.to_owned(), labels(pairs)), value);
    }

    /// The truth of `data` for API `version` at `now_ms`: alerts created at or after
    /// `now_ms - alerts_window_ms`, images with a backup time in
    /// `[now_ms - catalog_window_ms, now_ms]`.
    pub(crate) fn compute(
        data: &OptInData,
        version: ApiVersion,
        now_ms: i64,
        alerts_window_ms: i64,
        catalog_window_ms: i64,
    ) -> Self {
        let mut truth = OptInTruth::default();
        let has = |endpoint: OptInEndpoint| endpoint.available(version);
        if has(OptInEndpoint::Alerts) {
            let cutoff = now_ms.saturating_sub(alerts_window_ms);
            for a in data.alerts.iter().filter(|a| a.created_ms >= cutoff) {
                truth.add(
                    "nbu_alerts_count",
                    &[("severity", &a.severity), ("category", a.category)],
                    1.0,
                );
            }
        }
        if has(OptInEndpoint::MalwareScans) {
            let v10 = version < ApiVersion::V12_0;
            truth.set("nbu_malware_files_scanned", &[], 0.0);
            truth.set("nbu_malware_files_infected", &[], 0.0);
            for s in &data.scans {
                truth.add("nbu_malware_files_scanned", &[], s.files_scanned as f64);
                truth.add("nbu_malware_files_infected", &[], s.files_impacted as f64);
                truth.add(
                    "nbu_malware_scan_count",
                    &[("status", scan_state_in(s.scan_state, v10))],
                    1.0,
                );
            }
        }
        if has(OptInEndpoint::CatalogImages) && version >= ApiVersion::V13_0 {
            let from = now_ms.saturating_sub(catalog_window_ms);
            for malware in ["CLEAN", "INFECTION_DETECTED_BY_MALWARE_SCAN", "NOT_SCANNED"] {
                for anomaly in ["ANOMALOUS", "NOT_ANOMALOUS", "NOT_PROCESSED"] {
                    let count = data
                        .images
                        .iter()
                        .filter(|i| (from..=now_ms).contains(&i.backup_time_ms))
                        .filter(|i| i.malware_status == malware && i.anomaly_status == anomaly)
                        .count();
                    truth.set(
                        "nbu_catalog_images_count",
                        &[("malware_status", malware), ("anomaly_status", anomaly)],
                        count as f64,
                    );
                }
            }
        }
        if has(OptInEndpoint::Slos) {
            truth.set("nbu_slo_count", &[], data.slos.len() as f64);
        }
        if has(OptInEndpoint::Drives) {
            for d in &data.drives {
                let number = d.robot_number.map(|n| n.to_string()).unwrap_or_default();
                truth.add(
                    "nbu_tape_drives_count",
                    &[
                        ("drive_type", d.drive_type),
                        ("robot_type", d.robot_type),
                        ("status", d.status),
                    ],
                    1.0,
                );
                truth.set(
                    "nbu_tape_drive_info",
                    &[
                        ("drive_name", &d.name),
                        ("media_server", d.device_host),
                        ("drive_type", d.drive_type),
                        ("robot_number", &number),
                        ("status", d.status),
                    ],
                    1.0,
                );
            }
        }
        if has(OptInEndpoint::TapeMedia) {
            for v in &data.media {
                truth.add(
                    "nbu_tape_media_count",
                    &[
                        ("pool", &v.pool),
                        ("media_type", v.media_type),
                        ("robot_type", v.robot.robot_type),
                    ],
                    1.0,
                );
            }
        }
        if has(OptInEndpoint::RobotDeviceHosts) {
            truth.set(
                "nbu_tape_robot_device_hosts",
                &[],
                data.robot_hosts.len() as f64,
            );
        }
        if has(OptInEndpoint::TapeVolumePools) {
            for p in &data.pools {
                truth.set(
                    "nbu_tape_pool_partially_full",
                    &[("pool_name", &p.name), ("pool_type", p.pool_type)],
                    p.partially_full as f64,
                );
            }
        }
        if has(OptInEndpoint::DiskPools) {
            for p in &data.disk_pools {
                for v in &p.volumes {
                    truth.add(
                        "nbu_disk_pool_volume_count",
                        &[
                            ("pool_name", &p.name),
                            ("storage_category", p.category),
                            ("state", v.state),
                        ],
                        1.0,
                    );
                }
            }
        }
        truth
    }
}
