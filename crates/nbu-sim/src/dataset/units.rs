//! Storage units of the dataset: a realistic mix of MSDP, AdvancedDisk, BasicDisk, OpenStorage,
//! cloud and tape units with the attributes of the vendor schema.

use super::rng::Draws;
use super::vocabulary::MEDIA_SERVERS;

/// Salt of the stream of a storage unit.
const UNIT: u64 = 0x7374_7531;
const TIB: u64 = 1 << 40;

/// The kinds of storage unit the simulator generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitKind {
    /// MSDP (`PureDisk`) deduplication pool.
    Msdp,
    /// AdvancedDisk pool.
    AdvancedDisk,
    /// BasicDisk directory (no disk pool).
    BasicDisk,
    /// OpenStorage appliance (DataDomain).
    OpenStorage,
    /// MSDP cloud storage (no capacity values, per the schema).
    Cloud,
    /// Tape library (no capacity values; drives instead of jobs).
    Tape,
}

/// The kinds in the order of the first units, so that a handful of units covers them all.
const KINDS: [(UnitKind, u32); 6] = [
    (UnitKind::Msdp, 40),
    (UnitKind::Tape, 15),
    (UnitKind::Cloud, 15),
    (UnitKind::AdvancedDisk, 15),
    (UnitKind::OpenStorage, 10),
    (UnitKind::BasicDisk, 5),
];

/// One storage unit; `None` fields are absent from the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageUnit {
    /// What the unit is.
    pub kind: UnitKind,
    /// `name`, also the JSON:API `id`.
    pub name: String,
    /// `storageType` (`DISK` or `TAPE`).
    pub storage_type: &'static str,
    /// `storageSubType`.
    pub storage_sub_type: &'static str,
    /// `storageServerType`.
    pub storage_server_type: &'static str,
    /// `storageCategory` (vendor enum).
    pub storage_category: &'static str,
    /// `freeCapacityBytes` (disk units other than cloud).
    pub free_bytes: Option<u64>,
    /// `usedCapacityBytes`.
    pub used_bytes: Option<u64>,
    /// `totalCapacityBytes`.
    pub total_bytes: Option<u64>,
    /// `maxConcurrentJobs` (not for tape).
    pub max_concurrent_jobs: Option<u64>,
    /// `maxConcurrentDrives` (tape only).
    pub max_concurrent_drives: Option<u64>,
    /// `maxFragmentSizeMegabytes`.
    pub max_fragment_size_mb: u64,
    /// `wormCapable`.
    pub worm_capable: bool,
    /// `useWorm`.
    pub use_worm: bool,
    /// `replicationCapable`.
    pub replication_capable: bool,
    /// `instantAccessEnabled`.
    pub instant_access_enabled: bool,
    /// `isCloudSTU`.
    pub is_cloud: bool,
    /// `accelerator`.
    pub accelerator: bool,
    /// `onDemandOnly`.
    pub on_demand_only: bool,
    /// The disk pool behind the unit (`relationships.diskPool`), if any.
    pub disk_pool: Option<String>,
    /// The media server (`mediaServerDetails[0].name`).
    pub media_server: &'static str,
    /// Robot number of tape units.
    pub robot_number: Option<u64>,
}

/// The units of a seed, sorted by name.
pub(crate) fn generate_units(seed: u64, count: u32) -> Vec<StorageUnit> {
    let mut units: Vec<StorageUnit> = (0..u64::from(count)).map(|j| unit(seed, j)).collect();
    units.sort_by(|a, b| a.name.cmp(&b.name));
    units
}

fn unit(seed: u64, j: u64) -> StorageUnit {
    let mut d = Draws::new(seed, j, UNIT);
    let kind = match KINDS.get(j as usize) {
        Some((kind, _)) => *kind,
        None => d.pick(&KINDS).unwrap_or(UnitKind::Msdp),
    };
    let media_server = MEDIA_SERVERS
        .get(d.below(MEDIA_SERVERS.len() as u64) as usize)
        .copied()
        .unwrap_or("nbu-media01.example.com");
    let total = d.range(10 * TIB, 16 * 1024 * TIB);
    let used = total / 1000 * d.range(50, 970);
    let disk = |d: &mut Draws| {
        (
            Some(total - used),
            Some(used),
            Some(total),
            Some(d.range(1, 200)),
        )
    };
    let mut u = StorageUnit {
        kind,
        name: String::new(),
        storage_type: "DISK",
        storage_sub_type: "",
        storage_server_type: "",
        storage_category: "",
        free_bytes: None,
        used_bytes: None,
        total_bytes: None,
        max_concurrent_jobs: None,
        max_concurrent_drives: None,
        max_fragment_size_mb: 524_288,
        worm_capable: false,
        use_worm: false,
        replication_capable: false,
        instant_access_enabled: false,
        is_cloud: false,
        accelerator: false,
        on_demand_only: false,
        disk_pool: None,
        media_server,
        robot_number: None,
    };
    match kind {
        UnitKind::Msdp => {
            u.name = format!("stu-msdp-{j:03}");
            u.storage_sub_type = "PureDisk";
            u.storage_server_type = "PureDisk";
            u.storage_category = "MSDP";
            (
                u.free_bytes,
                u.used_bytes,
                u.total_bytes,
                u.max_concurrent_jobs,
            ) = disk(&mut d);
            u.max_fragment_size_mb = 51_200;
            u.worm_capable = d.chance(0.5);
            u.use_worm = u.worm_capable && d.chance(0.5);
            u.replication_capable = true;
            u.instant_access_enabled = d.chance(0.6);
            u.accelerator = true;
            u.disk_pool = Some(format!("dp-msdp-{j:03}"));
        }
        UnitKind::AdvancedDisk => {
            u.name = format!("stu-adv-{j:03}");
            u.storage_sub_type = "AdvancedDisk";
            u.storage_server_type = "AdvancedDisk";
            u.storage_category = "ADVANCED_DISK";
            (
                u.free_bytes,
                u.used_bytes,
                u.total_bytes,
                u.max_concurrent_jobs,
            ) = disk(&mut d);
            u.disk_pool = Some(format!("dp-adv-{j:03}"));
        }
        UnitKind::BasicDisk => {
            u.name = format!("stu-basic-{j:03}");
            u.storage_sub_type = "BasicDisk";
            u.storage_server_type = "MEDIA_SERVER";
            u.storage_category = "BASIC_DISK";
            (
                u.free_bytes,
                u.used_bytes,
                u.total_bytes,
                u.max_concurrent_jobs,
            ) = disk(&mut d);
            u.on_demand_only = d.chance(0.3);
        }
        UnitKind::OpenStorage => {
            u.name = format!("stu-dd-{j:03}");
            u.storage_sub_type = "DataDomain";
            u.storage_server_type = "DataDomain";
            u.storage_category = "OPEN_STORAGE";
            (
                u.free_bytes,
                u.used_bytes,
                u.total_bytes,
                u.max_concurrent_jobs,
            ) = disk(&mut d);
            u.replication_capable = d.chance(0.5);
            u.worm_capable = d.chance(0.3);
            u.accelerator = true;
            u.disk_pool = Some(format!("dp-dd-{j:03}"));
        }
        UnitKind::Cloud => {
            u.name = format!("stu-cloud-{j:03}");
            u.storage_sub_type = "PureDisk";
            u.storage_server_type = if d.chance(0.5) {
                "PureDisk_amazon_rawd"
            } else {
                "PureDisk_azure_rawd"
            };
            u.storage_category = "CLOUD";
            u.max_concurrent_jobs = Some(d.range(10, 100));
            u.max_fragment_size_mb = 51_200;
            u.worm_capable = d.chance(0.7);
            u.use_worm = u.worm_capable && d.chance(0.5);
            u.replication_capable = d.chance(0.5);
            u.is_cloud = true;
            u.accelerator = true;
            u.disk_pool = Some(format!("dp-cloud-{j:03}"));
        }
        UnitKind::Tape => {
            u.name = format!("stu-tape-tld{j:03}");
            u.storage_type = "TAPE";
            u.storage_sub_type = "TAPE";
            u.storage_server_type = "MEDIA_SERVER";
            u.storage_category = "TAPE";
            u.max_concurrent_drives = Some(d.range(1, 16));
            u.max_fragment_size_mb = 1_048_576;
            u.robot_number = Some(j);
        }
    }
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_units_cover_every_kind_and_values_are_sane() {
        let units = generate_units(9, 6);
        for (kind, _) in KINDS {
            assert!(units.iter().any(|u| u.kind == kind), "{kind:?}");
        }
        for u in generate_units(9, 300) {
            let disk = !matches!(u.kind, UnitKind::Tape | UnitKind::Cloud);
            assert_eq!(u.total_bytes.is_some(), disk, "{}", u.name);
            if let (Some(f), Some(us), Some(t)) = (u.free_bytes, u.used_bytes, u.total_bytes) {
                assert_eq!(f + us, t);
            }
            assert_eq!(u.max_concurrent_jobs.is_some(), u.kind != UnitKind::Tape);
            assert_eq!(u.max_concurrent_drives.is_some(), u.kind == UnitKind::Tape);
            assert!(!u.use_worm || u.worm_capable);
        }
        assert_eq!(generate_units(9, 40), generate_units(9, 40));
    }
}
