//! The ground truth of the storage source: every unit, tape and cloud included.

use std::collections::BTreeMap;

use crate::dataset::StorageUnit;

/// Labels `name`, `type` of a storage unit's series.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnitKey {
    /// Storage unit name.
    pub name: String,
    /// `storageServerType`.
    pub server_type: String,
}

/// What a correct agent reports for one storage unit. Absent attributes are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitTruth {
    /// `freeCapacityBytes` (disk units only).
    pub free_bytes: Option<u64>,
    /// `usedCapacityBytes` (disk units only).
    pub used_bytes: Option<u64>,
    /// `totalCapacityBytes` (disk units only).
    pub capacity_bytes: Option<u64>,
    /// `maxConcurrentJobs`.
    pub max_concurrent_jobs: Option<u64>,
    /// `maxFragmentSizeMegabytes * 1024 * 1024` (saturating).
    pub max_fragment_size_bytes: Option<u64>,
    /// `storageSubType`.
    pub subtype: String,
    /// `isCloudSTU`.
    pub is_cloud: bool,
    /// `wormCapable`.
    pub worm_capable: bool,
    /// `useWorm`.
    pub use_worm: bool,
    /// `replicationCapable`.
    pub replication_capable: bool,
    /// `instantAccessEnabled`.
    pub instant_access: bool,
}

/// What a correct agent reports for the storage units.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StorageTruth {
    /// Every unit by name and server type.
    pub units: BTreeMap<UnitKey, UnitTruth>,
}

impl StorageTruth {
    /// The truth of `units`.
    pub fn of_units(units: &[StorageUnit]) -> StorageTruth {
        let units = units
            .iter()
            .map(|u| {
                let key = UnitKey {
                    name: u.name.clone(),
                    server_type: u.storage_server_type.to_owned(),
                };
                let values = UnitTruth {
                    free_bytes: u.free_bytes,
                    used_bytes: u.used_bytes,
                    capacity_bytes: u.total_bytes,
                    max_concurrent_jobs: u.max_concurrent_jobs,
                    max_fragment_size_bytes: Some(
                        u.max_fragment_size_mb.saturating_mul(1024 * 1024),
                    ),
                    subtype: u.storage_sub_type.to_owned(),
                    is_cloud: u.is_cloud,
                    worm_capable: u.worm_capable,
                    use_worm: u.use_worm,
                    replication_capable: u.replication_capable,
                    instant_access: u.instant_access_enabled,
                };
                (key, values)
            })
            .collect();
        StorageTruth { units }
    }
}
