//! The tape and disk pool families: drives, tape media, robot device hosts, volume pools and
//! disk pools.

use super::draw::{DAY_MS, MEDIA_SERVERS, choose, hex, one_of};
use crate::dataset::rng::Draws;

/// The stream of drive draws.
const DRIVE: u64 = 0x6472_7673;
/// The stream of tape volume draws.
const MEDIA: u64 = 0x6d65_6469;
/// The stream of disk pool draws.
const DISK: u64 = 0x6469_736b;

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

/// `count` drives, in draw order.
pub(super) fn drives(seed: u64, count: u64) -> Vec<Drive> {
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

/// The five fixed volume pools and `count` more, numbered in that order.
pub(super) fn volume_pools(count: u64) -> Vec<VolumePool> {
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

/// `count` tape volumes in `pools` (whose partially full counts they raise), their robots on
/// `hosts`.
pub(super) fn media(
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

/// `count` disk pools, by name.
pub(super) fn disk_pools(seed: u64, count: u64) -> Vec<DiskPool> {
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
