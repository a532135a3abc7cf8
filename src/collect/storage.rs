//! Fold of storage units into a [`StorageSummary`].

use super::label::cap_label;
use super::summary::{StorageInfo, StorageKey, StorageSummary, StorageUnitValues};
use crate::netbackup::lenient::{Flag, Num};
use crate::netbackup::models::StorageUnitAttributes;

/// Bytes in one megabyte as NetBackup counts fragment sizes.
const MEBIBYTE: u64 = 1024 * 1024;

/// Folds storage units into a summary.
#[derive(Debug, Default)]
pub struct StorageAggregator {
    summary: StorageSummary,
}

impl StorageAggregator {
    /// An empty aggregator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds one unit. `id` is the resource id, used when the `name` attribute is missing.
    pub fn add(&mut self, id: Option<&str>, unit: &StorageUnitAttributes<'_>) {
        let mut invalid = 0u64;
        let mut valid = |n: Num<u64>| match n {
            Num::Valid(v) => Some(v),
            Num::Invalid => {
                invalid += 1;
                None
            }
            Num::Absent => None,
        };
        let Some(name) = unit.name.as_str().or(id).filter(|n| !n.is_empty()) else {
            self.summary.invalid_values += 1;
            return;
        };
        let mut cut_labels = 0u64;
        let mut label = |text: &str| {
            let (text, cut) = cap_label(text);
            cut_labels += u64::from(cut);
            text.to_owned()
        };
        let name = label(name);
        let server_type = label(unit.storage_server_type.as_str().unwrap_or(""));
        let subtype = label(unit.storage_sub_type.as_str().unwrap_or(""));
        let is_tape = unit
            .storage_type
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case("tape"))
            || unit
                .storage_category
                .as_str()
                .is_some_and(|c| c.eq_ignore_ascii_case("tape"));
        let free = valid(unit.free_capacity_bytes);
        let used = valid(unit.used_capacity_bytes);
        let capacity = valid(unit.total_capacity_bytes);
        let max_jobs = valid(unit.max_concurrent_jobs);
        let fragment_mb = valid(unit.max_fragment_size_megabytes);
        let flags = [
            unit.is_cloud_stu,
            unit.worm_capable,
            unit.use_worm,
            unit.replication_capable,
            unit.instant_access_enabled,
        ];
        invalid += flags.iter().filter(|f| **f == Flag::Invalid).count() as u64;
        let values = StorageUnitValues {
            free_bytes: free.filter(|_| !is_tape),
            used_bytes: used.filter(|_| !is_tape),
            capacity_bytes: capacity.filter(|_| !is_tape),
            max_concurrent_jobs: max_jobs,
            max_fragment_size_bytes: fragment_mb.map(|mb| mb.saturating_mul(MEBIBYTE)),
            info: StorageInfo {
                subtype,
                is_cloud: unit.is_cloud_stu.is_true(),
                worm_capable: unit.worm_capable.is_true(),
                use_worm: unit.use_worm.is_true(),
                replication_capable: unit.replication_capable.is_true(),
                instant_access: unit.instant_access_enabled.is_true(),
            },
        };
        let key = StorageKey { name, server_type };
        self.summary.invalid_values += invalid + cut_labels;
        self.summary.units.insert(key, values);
    }

    /// Counts one page read.
    pub fn add_page(&mut self) {
        self.summary.pages += 1;
    }

    /// Counts values that were skipped because they cannot be right.
    pub fn add_invalid(&mut self, n: u64) {
        self.summary.invalid_values += n;
    }

    /// The aggregates.
    pub fn finish(self) -> StorageSummary {
        self.summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netbackup::models::StorageUnitsPage;

    #[test]
    fn tape_units_have_no_disk_values() {
        let page: StorageUnitsPage<'_> = serde_json::from_str(
            r#"{"data":[
              {"id":"tape1","attributes":{"storageType":"Tape","storageServerType":"MEDIA_SERVER",
                "freeCapacityBytes":5,"maxFragmentSizeMegabytes":2}},
              {"id":"msdp1","attributes":{"name":"msdp1","storageType":"Disk","storageSubType":"PureDisk",
                "storageServerType":"PureDisk","freeCapacityBytes":10,"usedCapacityBytes":20,
                "totalCapacityBytes":30,"maxConcurrentJobs":8,"wormCapable":true,"isCloudSTU":"maybe"}}
            ]}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut agg = StorageAggregator::new();
        for r in &page.data {
            if let Some(a) = &r.attributes {
                agg.add(r.id.as_str(), a);
            }
        }
        let s = agg.finish();
        let tape = s
            .units
            .iter()
            .find(|(k, _)| k.name == "tape1")
            .map(|(_, v)| v);
        assert_eq!(tape.and_then(|v| v.free_bytes), None);
        assert_eq!(
            tape.and_then(|v| v.max_fragment_size_bytes),
            Some(2 * MEBIBYTE)
        );
        let disk = s
            .units
            .iter()
            .find(|(k, _)| k.name == "msdp1")
            .map(|(_, v)| v);
        assert_eq!(disk.and_then(|v| v.capacity_bytes), Some(30));
        assert_eq!(disk.map(|v| v.info.worm_capable), Some(true));
        assert_eq!(s.invalid_values, 1, "isCloudSTU \"maybe\" is invalid");
    }

    #[test]
    fn unit_names_longer_than_the_cap_are_cut_and_counted() {
        let name = "n".repeat(5000);
        let json = format!(
            r#"{{"data":[{{"id":"x","attributes":{{"name":"{name}","storageServerType":"PureDisk","freeCapacityBytes":1}}}}]}}"#
        );
        let page: StorageUnitsPage<'_> =
            serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        let mut agg = StorageAggregator::new();
        for r in &page.data {
            if let Some(a) = &r.attributes {
                agg.add(r.id.as_str(), a);
            }
        }
        let s = agg.finish();
        let names: Vec<usize> = s.units.keys().map(|k| k.name.len()).collect();
        assert_eq!(names, [crate::collect::label::MAX_LABEL_BYTES]);
        assert_eq!(s.invalid_values, 1);
    }
}
