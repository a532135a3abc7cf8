//! The alerts of `/manage/alerts`: job alerts spread over the days before the anchor.

use super::draw::{before, choose, client_name, one_of};
use crate::dataset::rng::Draws;

/// The stream of alert draws.
const ALERT: u64 = 0x616c_7274;

/// Alerts spread over this many days before the anchor.
const ALERT_DAYS: i64 = 5;

/// An alert of `/manage/alerts`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Alert {
    /// `id` and `alertId`: 1 for the oldest.
    pub id: u64,
    /// `createdDateTime`, Unix milliseconds.
    pub created_ms: i64,
    /// `severity`: `INFO`, `WARNING` or `ERROR`.
    pub severity: String,
    /// `category`: `JOB`.
    pub category: &'static str,
    /// `subCategory`: a policy type.
    pub sub_category: &'static str,
    /// `context`.
    pub context: &'static str,
    /// `titleId`.
    pub title_id: u64,
    /// `title`.
    pub title: &'static str,
    /// `params.clientName`.
    pub client: String,
    /// `params.jobId`.
    pub job_id: u64,
    /// `params.status`: the job exit status.
    pub status: u32,
}

/// `count` alerts before `anchor_ms`, oldest first, numbered from 1 in that order.
pub(super) fn alerts(seed: u64, anchor_ms: i64, count: u64) -> Vec<Alert> {
    let mut alerts: Vec<Alert> = (0..count)
        .map(|k| {
            let mut d = Draws::new(seed, k, ALERT);
            let severity = choose(
                &mut d,
                &[("INFO", 50), ("WARNING", 30), ("ERROR", 20)],
                "INFO",
            );
            let (context, title_id, title, status) = match severity {
                "ERROR" => (
                    "JOB_STATE_FAILED",
                    2,
                    "Job failed",
                    one_of(&mut d, &[2, 13, 50, 96, 196], 2),
                ),
                "WARNING" => ("JOB_STATE_SUSPEND", 3, "Job partially successful", 1),
                _ => ("JOB_TYPE_BACKUP", 1, "Job completed", 0),
            };
            Alert {
                id: 0,
                created_ms: before(&mut d, anchor_ms, ALERT_DAYS) - (k % 1000) as i64,
                severity: severity.to_owned(),
                category: "JOB",
                sub_category: one_of(
                    &mut d,
                    &[
                        "STANDARD",
                        "MS-WINDOWS",
                        "VMWARE",
                        "ORACLE",
                        "MS-SQL-SERVER",
                    ],
                    "STANDARD",
                ),
                context,
                title_id,
                title,
                client: client_name(d.below(40)),
                job_id: 100_000 + k * 7,
                status,
            }
        })
        .collect();
    alerts.sort_by_key(|a| a.created_ms);
    for (i, alert) in alerts.iter_mut().enumerate() {
        alert.id = i as u64 + 1;
    }
    alerts
}
