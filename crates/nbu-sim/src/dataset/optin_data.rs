//! The dataset of the opt-in endpoints: alerts, malware scan results, catalog images, SLOs,
//! tape drives, tape media, robot device hosts, volume pools and disk pools.
//!
//! Everything is a pure function of the seed, the anchor and the scale. Alerts, scan results
//! and images lie in the days before the anchor, so that windows ending at the simulator's
//! clock hold only some of them.

use super::rng::Draws;

const ALERT: u64 = 0x616c_7274;
const SCAN: u64 = 0x7363_616e;
const IMAGE: u64 = 0x696d_6167;
const SLO: u64 = 0x736c_6f73;
const DRIVE: u64 = 0x6472_7673;
const MEDIA: u64 = 0x6d65_6469;
const DISK: u64 = 0x6469_736b;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Alerts spread over this many days before the anchor.
const ALERT_DAYS: i64 = 5;
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

/// A latest scan result of `/malware/latest-scan-results`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ScanResult {
    /// `id`.
    pub id: String,
    /// `client`.
    pub client: String,
    /// `policyType`: `STANDARD` or `MS-WINDOWS`.
    pub policy_type: &'static str,
    /// `policyName`.
    pub policy_name: String,
    /// `backupType`.
    pub backup_type: &'static str,
    /// `scanState`, in the 12.0+ enum (see [`scan_state_in`] for 10.0).
    pub scan_state: &'static str,
    /// `scanResult`.
    pub scan_result: &'static str,
    /// `numberOfFilesScanned`.
    pub files_scanned: u64,
    /// `numberOfFilesImpacted` (`noOfFilesImpacted` in 10.0).
    pub files_impacted: u64,
    /// `totalNumberOfFiles`.
    pub total_files: u64,
    /// `dateOfScan`, Unix milliseconds.
    pub date_of_scan_ms: i64,
    /// `backupTime`, Unix seconds.
    pub backup_time_s: i64,
    /// `signature`.
    pub signature: String,
    /// `mediaServerName`.
    pub media_server: &'static str,
}

/// The `scanState` API 10.0 shows for a 12.0+ state: the three states 10.0 lacks map to the
/// nearest older one.
pub(crate) fn scan_state_in(state: &'static str, v10: bool) -> &'static str {
    match state {
        "SCAN_STARTED" | "CLEANUP_IN_PROGRESS" if v10 => "IN_PROGRESS",
        "CANCELLATION_INITIATED" if v10 => "CANCEL_IN_PROGRESS",
        other => other,
    }
}

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

/// An SLO of `/servicecatalog/slos`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Slo {
    /// `id`: a GUID.
    pub id: String,
    /// `name`.
    pub name: String,
    /// `workloadType`.
    pub workload_type: &'static str,
    /// `subscriptionCount`.
    pub subscriptions: u64,
}

/// A device path of a drive.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DevicePath {
    /// `deviceHost`.
    pub device_host: &'static str,
    /// `devicePath`.
    pub device_path: String,
}

/// A tape drive of `/storage/drives`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Drive {
    /// `id`: the drive name.
    pub name: String,
    /// `deviceHost`: the host of the only path, `<multiple>` with several.
    pub device_host: &'static str,
    /// `driveType`.
    pub drive_type: &'static str,
    /// `robotType`.
    pub robot_type: &'static str,
    /// `robotNumber`, absent for drives outside robots.
    pub robot_number: Option<u64>,
    /// `driveStatus`.
    pub status: &'static str,
    /// `devicePaths`.
    pub paths: Vec<DevicePath>,
    /// `serialNumber`.
    pub serial: String,
}

/// The robot of a tape volume (nested `robot` object).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Robot {
    /// `robotType`.
    pub robot_type: &'static str,
    /// `robotNumber`.
    pub number: Option<u64>,
    /// `robotHost`.
    pub host: Option<String>,
}

/// A tape volume of `/storage/tape-media`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TapeVolume {
    /// `id`: the media ID.
    pub media_id: String,
    /// `mediaType`.
    pub media_type: &'static str,
    /// `robot`.
    pub robot: Robot,
    /// `volumePool`.
    pub pool: String,
    /// `volumeGroup`.
    pub group: String,
    /// `mediaStatus`.
    pub status: &'static str,
    /// `mounts`.
    pub mounts: u64,
    /// `kiloBytes`.
    pub kilobytes: u64,
    /// `images`.
    pub images: u64,
    /// `created`, Unix milliseconds.
    pub created_ms: i64,
}

/// A volume pool of `/storage/tape-volume-pools`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct VolumePool {
    /// `id`: the pool number.
    pub number: u64,
    /// `volumePoolName`.
    pub name: String,
    /// `description`.
    pub description: String,
    /// `poolType`.
    pub pool_type: &'static str,
    /// `partiallyFullMedia`.
    pub partially_full: u64,
}

/// A disk volume of a disk pool.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DiskVolume {
    /// `name`.
    pub name: String,
    /// `diskMediaId`.
    pub disk_media_id: String,
    /// `state`: `UP`, `DOWN` or `UNKNOWN`.
    pub state: &'static str,
    /// `rawSizeBytes` and `freeSizeBytes` (absent for cloud volumes).
    pub sizes: Option<(u64, u64)>,
}

/// A disk pool of `/storage/disk-pools`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DiskPool {
    /// `name` (also the `id`).
    pub name: String,
    /// `sType`.
    pub s_type: &'static str,
    /// `storageCategory`.
    pub category: &'static str,
    /// `diskPoolState`.
    pub state: &'static str,
    /// `diskVolumes`.
    pub volumes: Vec<DiskVolume>,
    /// The media server of its storage server.
    pub media_server: &'static str,
}

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

fn choose<T: Copy>(d: &mut Draws, table: &[(T, u32)], fallback: T) -> T {
    d.pick(table).unwrap_or(fallback)
}

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

fn client_name(k: u64) -> String {
    const PREFIXES: [&str; 4] = ["db", "app", "web", "file"];
    let prefix = PREFIXES
        .get((k % PREFIXES.len() as u64) as usize)
        .copied()
        .unwrap_or("host");
    format!("{prefix}-{k:03}.example.com")
}

fn hex(d: &mut Draws, digits: usize) -> String {
    let mut text = String::with_capacity(digits);
    while text.len() < digits {
        text.push_str(&format!("{:016x}", d.next_u64()));
    }
    text.truncate(digits);
    text
}

fn alerts(seed: u64, anchor_ms: i64, count: u64) -> Vec<Alert> {
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

const SCAN_STATES: [(&str, u32); 9] = [
    ("SCAN_COMPLETED", 60),
    ("PENDING", 6),
    ("IN_PROGRESS", 6),
    ("SCAN_FAILED", 6),
    ("CANCELLED", 4),
    ("CANCEL_IN_PROGRESS", 3),
    ("SCAN_STARTED", 6),
    ("CLEANUP_IN_PROGRESS", 4),
    ("CANCELLATION_INITIATED", 5),
];

fn scans(seed: u64, anchor_ms: i64, count: u64) -> Vec<ScanResult> {
    let mut scans: Vec<ScanResult> = (0..count)
        .map(|k| {
            let mut d = Draws::new(seed, k, SCAN);
            let state = choose(&mut d, &SCAN_STATES, "SCAN_COMPLETED");
            let total = d.range(50, 200_000);
            let (result, scanned, impacted) = match state {
                "SCAN_COMPLETED" => {
                    if d.chance(0.15) {
                        ("IMPACTED", total, d.range(1, total.min(500)))
                    } else if d.chance(0.05) {
                        ("NOT_SUPPORTED", 0, 0)
                    } else {
                        ("CLEAN", total, 0)
                    }
                }
                "PENDING" => ("NOT_SCANNED", 0, 0),
                _ => ("NOT_SCANNED", d.below(total), 0),
            };
            let scan_ms = before(&mut d, anchor_ms, IMAGE_DAYS);
            let backup_s = scan_ms / 1000 - i64::try_from(d.range(600, 6 * 3600)).unwrap_or(0);
            ScanResult {
                id: format!("{}", 5000 + k),
                client: client_name(d.below(40)),
                policy_type: one_of(&mut d, &["STANDARD", "MS-WINDOWS"], "STANDARD"),
                policy_name: format!("policy-{:02}", d.below(20)),
                backup_type: one_of(
                    &mut d,
                    &["FULL", "DIFFERENTIAL_INCREMENTAL", "CUMULATIVE_INCREMENTAL"],
                    "FULL",
                ),
                scan_state: state,
                scan_result: result,
                files_scanned: scanned,
                files_impacted: impacted,
                total_files: total,
                date_of_scan_ms: scan_ms,
                backup_time_s: backup_s,
                signature: hex(&mut d, 64),
                media_server: one_of(&mut d, &MEDIA_SERVERS, "media-01.example.com"),
            }
        })
        .collect();
    scans.sort_by(|a, b| {
        b.date_of_scan_ms
            .cmp(&a.date_of_scan_ms)
            .then(a.id.cmp(&b.id))
    });
    scans
}

fn images(seed: u64, anchor_ms: i64, count: u64) -> Vec<Image> {
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

const WORKLOADS: [&str; 10] = [
    "CLOUD",
    "VMWARE",
    "RHV",
    "AHV",
    "SQL_SERVER",
    "KUBERNETES",
    "CASSANDRA",
    "POSTGRESQL",
    "MYSQL",
    "OPENSTACK",
];

fn slos(seed: u64, count: u64) -> Vec<Slo> {
    let mut slos: Vec<Slo> = (0..count)
        .map(|k| {
            let mut d = Draws::new(seed, k, SLO);
            let workload = one_of(&mut d, &WORKLOADS, "VMWARE");
            let id = hex(&mut d, 32);
            let (a, rest) = id.split_at(8);
            let (b, rest) = rest.split_at(4);
            let (c, rest) = rest.split_at(4);
            let (e, f) = rest.split_at(4);
            Slo {
                id: format!("{a}-{b}-{c}-{e}-{f}"),
                name: format!("{}-protection-{k:03}", workload.to_ascii_lowercase()),
                workload_type: workload,
                subscriptions: d.below(60),
            }
        })
        .collect();
    slos.sort_by(|a, b| b.name.cmp(&a.name));
    slos
}

fn drives(seed: u64, count: u64) -> Vec<Drive> {
    (0..count)
        .map(|k| {
            let mut d = Draws::new(seed, k, DRIVE);
            let drive_type = choose(
                &mut d,
                &[
                    ("DT_HCART", 30),
                    ("DT_HCART2", 25),
                    ("DT_HCART3", 25),
                    ("DT_DLT", 8),
                    ("DT_DLT2", 6),
                    ("DT_DLT3", 6),
                ],
                "DT_HCART",
            );
            let robot_type = choose(
                &mut d,
                &[("TLD", 60), ("ACS", 15), ("NOT_ROBOTIC", 15), ("NA", 10)],
                "TLD",
            );
            let robot_number = matches!(robot_type, "TLD" | "ACS").then(|| d.below(4));
            let status = choose(
                &mut d,
                &[
                    ("DRIVE_STATUS_UP", 70),
                    ("DRIVE_STATUS_DOWN", 15),
                    ("DRIVE_STATUS_MIXED", 5),
                    ("DRIVE_STATUS_DISABLED", 10),
                ],
                "DRIVE_STATUS_UP",
            );
            let name = format!(
                "{}.{k:03}",
                one_of(
                    &mut d,
                    &["IBM.ULTRIUM-TD8", "HP.ULTRIUM7-SCSI", "QUANTUM.DLT-S4"],
                    "IBM.ULTRIUM-TD8"
                )
            );
            let hosts = if d.chance(0.05) { 2 } else { 1 };
            let paths: Vec<DevicePath> = (0..hosts)
                .map(|j| DevicePath {
                    device_host: one_of(&mut d, &MEDIA_SERVERS, "media-01.example.com"),
                    device_path: format!("/dev/nst{}", (k * 2 + j) % 64),
                })
                .collect();
            let device_host = match paths.as_slice() {
                [one] => one.device_host,
                _ => "<multiple>",
            };
            Drive {
                name,
                device_host,
                drive_type,
                robot_type,
                robot_number,
                status,
                paths,
                serial: hex(&mut d, 10).to_ascii_uppercase(),
            }
        })
        .collect()
}

fn volume_pools(count: u64) -> Vec<VolumePool> {
    let fixed = [
        ("None", "the None pool", "REGULAR_MEDIA_POOL"),
        ("NetBackup", "the NetBackup pool", "REGULAR_MEDIA_POOL"),
        ("DataStore", "the DataStore pool", "REGULAR_MEDIA_POOL"),
        (
            "CatalogBackup",
            "NetBackup catalog backups",
            "CATALOG_MEDIA_POOL",
        ),
        ("Scratch", "scratch media", "SCRATCH_MEDIA_POOL"),
    ];
    let mut pools: Vec<VolumePool> = fixed
        .iter()
        .map(|(name, description, pool_type)| VolumePool {
            number: 0,
            name: (*name).to_owned(),
            description: (*description).to_owned(),
            pool_type,
            partially_full: 0,
        })
        .collect();
    for k in 0..count {
        pools.push(VolumePool {
            number: 0,
            name: format!("Pool_{k:02}"),
            description: format!("retention group {k}"),
            pool_type: if k % 7 == 6 {
                "AVAILABLE_MEDIA_POOL"
            } else {
                "REGULAR_MEDIA_POOL"
            },
            partially_full: 0,
        });
    }
    for (i, pool) in pools.iter_mut().enumerate() {
        pool.number = i as u64;
    }
    pools
}

fn media(
    seed: u64,
    anchor_ms: i64,
    count: u64,
    pools: &mut [VolumePool],
    hosts: &[String],
) -> Vec<TapeVolume> {
    (0..count)
        .map(|k| {
            let mut d = Draws::new(seed, k, MEDIA);
            let media_type = choose(
                &mut d,
                &[
                    ("HCART", 30),
                    ("HCART2", 25),
                    ("HCART3", 25),
                    ("DLT", 8),
                    ("HC_CLN", 4),
                    ("DLT_CLN", 2),
                    ("HCART3", 6),
                ],
                "HCART",
            );
            let robot_type = choose(
                &mut d,
                &[("TLD", 65), ("ACS", 15), ("NOT_ROBOTIC", 15), ("NA", 5)],
                "TLD",
            );
            let robotic = matches!(robot_type, "TLD" | "ACS");
            let robot = Robot {
                robot_type,
                number: robotic.then(|| d.below(4)),
                host: if robotic {
                    hosts.get(d.below(hosts.len() as u64) as usize).cloned()
                } else {
                    None
                },
            };
            let pool_index = d.below(pools.len() as u64) as usize;
            let status = choose(
                &mut d,
                &[
                    ("ACTIVE", 55),
                    ("FULL", 25),
                    ("FROZEN", 5),
                    ("SUSPENDED", 3),
                    ("", 12),
                ],
                "ACTIVE",
            );
            let pool = match pools.get_mut(pool_index) {
                Some(p) => {
                    if status == "ACTIVE" {
                        p.partially_full += 1;
                    }
                    p.name.clone()
                }
                None => "NetBackup".to_owned(),
            };
            TapeVolume {
                media_id: format!("{}{:05}", (b'A' + (k % 3) as u8) as char, k),
                media_type,
                group: if robotic {
                    format!("000_{:05}_{robot_type}", robot.number.unwrap_or(0))
                } else {
                    "---".to_owned()
                },
                robot,
                pool,
                status,
                mounts: d.below(400),
                kilobytes: if status.is_empty() {
                    0
                } else {
                    d.range(1 << 20, 12 << 30)
                },
                images: d.below(300),
                created_ms: anchor_ms - i64::try_from(d.below(400)).unwrap_or(0) * DAY_MS,
            }
        })
        .collect()
}

fn disk_pools(seed: u64, count: u64) -> Vec<DiskPool> {
    let mut pools: Vec<DiskPool> = (0..count)
        .map(|k| {
            let mut d = Draws::new(seed, k, DISK);
            let (category, s_type) = choose(
                &mut d,
                &[
                    (("MSDP", "PureDisk"), 45),
                    (("ADVANCED_DISK", "AdvancedDisk"), 20),
                    (("CLOUD", "amazon_raw"), 15),
                    (("CLOUD_CATALYST", "Catalyst"), 5),
                    (("OPEN_STORAGE", "DataDomain"), 15),
                ],
                ("MSDP", "PureDisk"),
            );
            let name = format!("dp_{}_{k:03}", category.to_ascii_lowercase());
            let volumes = (0..d.range(1, 4))
                .map(|j| DiskVolume {
                    name: format!("{name}_vol{j}"),
                    disk_media_id: format!("@aaa{:x}{j}", k + 16),
                    state: choose(&mut d, &[("UP", 80), ("DOWN", 12), ("UNKNOWN", 8)], "UP"),
                    sizes: (category != "CLOUD").then(|| {
                        let raw = d.range(1 << 40, 200 << 40);
                        (raw, d.below(raw))
                    }),
                })
                .collect();
            DiskPool {
                name,
                s_type,
                category,
                state: choose(&mut d, &[("UP", 85), ("DOWN", 10), ("TRANSIENT", 5)], "UP"),
                volumes,
                media_server: one_of(&mut d, &MEDIA_SERVERS, "media-01.example.com"),
            }
        })
        .collect();
    pools.sort_by(|a, b| a.name.cmp(&b.name));
    pools
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
        let mut pools = volume_pools(POOLS_PER_SCALE * s);
        let mut media = media(
            seed,
            anchor_ms,
            MEDIA_PER_SCALE * s,
            &mut pools,
            &robot_hosts,
        );
        media.sort_by(|a, b| a.media_id.cmp(&b.media_id));
        OptInData {
            alerts: alerts(seed, anchor_ms, ALERTS * s),
            scans: scans(seed, anchor_ms, SCANS * s),
            images: images(seed, anchor_ms, IMAGES * s),
            slos: slos(seed, SLOS * s),
            drives: {
                let mut drives = drives(seed, DRIVES * s);
                drives.sort_by(|a, b| a.name.cmp(&b.name));
                drives
            },
            media,
            robot_hosts,
            pools,
            disk_pools: disk_pools(seed, DISK_POOLS * s),
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
