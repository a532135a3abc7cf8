//! Weighted value tables of the dataset. Every value comes from the vendor's enums or
//! documented codes (`admin.yaml` `/admin/jobs`, `storage.yaml` `/storage/storage-units`).

use super::job::JobState;

/// `jobType` values and their weights.
pub(crate) const JOB_TYPES: &[(&str, u32)] = &[
    ("BACKUP", 700),
    ("DUPLICATE", 80),
    ("IMAGEDELETE", 50),
    ("REPLICATE", 30),
    ("RESTORE", 30),
    ("SNAPSHOT", 30),
    ("VERIFY", 15),
    ("DBBACKUP", 15),
    ("SNAPDUPE", 10),
    ("ARCHIVE", 5),
    ("INDEXING", 5),
    ("IMPORT", 5),
];

/// `policyType` values of client workloads and their weights.
pub(crate) const POLICY_TYPES: &[(&str, u32)] = &[
    ("VMWARE", 35),
    ("STANDARD", 25),
    ("WINDOWS_NT", 12),
    ("SQL_SERVER", 8),
    ("OBACKUP", 6),
    ("HYPERV", 4),
    ("NDMP", 3),
    ("WINDOWS", 2),
    ("EXCHANGE", 1),
    ("SAP", 1),
    ("DB2", 1),
    ("NUTANIX_AHV", 1),
    ("UNIVERSAL_SHARE", 1),
];

/// `status` of finished jobs: NetBackup status codes and their weights (per mille).
pub(crate) const DONE_STATUSES: &[(u32, u32)] = &[
    (0, 820),
    (1, 70),
    (196, 15),
    (150, 10),
    (58, 10),
    (2074, 8),
    (13, 8),
    (50, 6),
    (156, 6),
    (191, 6),
    (71, 5),
    (800, 5),
    (24, 4),
    (41, 4),
    (84, 3),
    (2106, 3),
];

/// Status codes after which no data was moved.
pub(crate) const NO_DATA_STATUSES: &[u32] = &[58, 71, 196, 800, 2074, 2106, 41];

/// Job states of unfinished jobs and their weights.
pub(crate) const UNFINISHED_STATES: &[(JobState, u32)] = &[
    (JobState::Active, 55),
    (JobState::Queued, 25),
    (JobState::Incomplete, 10),
    (JobState::Requeued, 5),
    (JobState::Suspended, 5),
];

/// `jobQueueReason` codes of queued jobs and their weights (0: just submitted).
pub(crate) const QUEUE_REASONS: &[(u32, u32)] = &[
    (5, 30),  // MAX_STORAGE_UNIT_JOBS
    (2, 15),  // DRIVES_IN_USE
    (15, 10), // STORAGEUNIT_JOB_COUNTS_THROTTLED
    (30, 10), // DISK_VOLUME_STREAM_LIMIT
    (1, 8),   // MEDIA_IN_USE
    (22, 5),  // DISK_VOLUME_IN_USE
    (24, 5),  // LOGICAL_RESOURCE
    (31, 5),  // MEDIA_SERVER_JOBS_THROTTLED
    (17, 4),  // DISK_VOLUME_UNAVAILABLE
    (3, 3),   // MEDIA_SERVER_OFFLINE
    (12, 3),  // DISK_MEDIA_SERVER_OFFLINE
    (0, 2),
];

/// Duration classes in seconds `(low, high)` and weights, so that every histogram bucket of
/// `DURATION_BUCKETS`, the overflow included, is hit.
pub(crate) const DURATION_CLASSES: &[((u64, u64), u32)] = &[
    ((2, 60), 150),
    ((60, 300), 200),
    ((300, 900), 200),
    ((900, 1800), 150),
    ((1800, 3600), 100),
    ((3600, 7200), 80),
    ((7200, 14_400), 50),
    ((14_400, 28_800), 40),
    ((28_800, 86_400), 25),
    ((86_400, 144_000), 5),
];

/// `scheduleType` values of backup schedules with a schedule name.
pub(crate) const SCHEDULES: &[((&str, &str), u32)] = &[
    (("DIFFERENTIAL_INCREMENTAL_BACKUP", "daily-incr"), 60),
    (("FULL_BACKUP", "weekly-full"), 25),
    (("CUMULATIVE_INCREMENTAL_BACKUP", "daily-cinc"), 10),
    (("FULL_BACKUP", "monthly-full"), 5),
];

/// Service tiers used in policy names.
pub(crate) const TIERS: &[&str] = &["gold", "silver", "bronze", "platinum"];

/// Prefixes of generated client host names.
pub(crate) const CLIENT_PREFIXES: &[&str] = &[
    "vm-app", "vm-web", "db-sql", "db-ora", "fs-win", "fs-nas", "k8s-node", "erp", "mail",
];

/// Client names with characters that need care: quotes, escapes, non-ASCII.
pub(crate) const SPECIAL_CLIENTS: &[&str] = &[
    "o'brien-laptop.example.com",
    "sérveur-paris-01.example.fr",
    "客户端-13.example.cn",
    "legacy\\host \"7\"",
];

/// Media servers of the simulated domain.
pub(crate) const MEDIA_SERVERS: &[&str] = &[
    "nbu-media01.example.com",
    "nbu-media02.example.com",
    "nbu-media03.example.com",
    "nbu-media04.example.com",
];

/// Host name of the simulated primary server.
pub(crate) const PRIMARY_SERVER: &str = "nbu-primary.example.com";

/// Lowercase policy type for policy names (ASCII only).
pub(crate) fn policy_prefix(policy_type: &str) -> &'static str {
    match policy_type {
        "VMWARE" => "vmware",
        "STANDARD" => "unix",
        "WINDOWS_NT" | "WINDOWS" => "windows",
        "SQL_SERVER" => "mssql",
        "OBACKUP" => "oracle",
        "HYPERV" => "hyperv",
        "NDMP" => "ndmp",
        "EXCHANGE" => "exchange",
        "SAP" => "sap",
        "DB2" => "db2",
        "NUTANIX_AHV" => "ahv",
        "UNIVERSAL_SHARE" => "ushare",
        "NBU_CATALOG" => "catalog",
        _ => "policy",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_usable() {
        fn check<T>(table: &[(T, u32)]) {
            assert!(!table.is_empty());
            assert!(table.iter().all(|(_, w)| *w > 0));
        }
        check(JOB_TYPES);
        check(POLICY_TYPES);
        check(DONE_STATUSES);
        check(UNFINISHED_STATES);
        check(QUEUE_REASONS);
        check(DURATION_CLASSES);
        check(SCHEDULES);
        assert!(!TIERS.is_empty() && !CLIENT_PREFIXES.is_empty() && !MEDIA_SERVERS.is_empty());
    }
}
