//! Ground truth: what a correct agent must report for the simulated dataset, computed by the
//! simulator's own straightforward code from the generated values (never from the JSON), in
//! the simulator's own plain types.
//!
//! The truth knows nothing of pages, nor of invalid values: the dataset holds none (faults that
//! inject some are accounted for by the tests). In live mode the truth is taken at an instant
//! ([`SimTruth::at`]): the jobs that exist then, as they are then. The jobs that finished in a
//! time range, with their try logs' status and problem lines, are [`FinishedJobTruth`].

mod finished;
mod jobs;
mod optin;
mod storage;

use chrono::{DateTime, Utc};

pub use finished::FinishedJobTruth;
pub use jobs::{
    DURATION_BOUNDS, Durations, JobFacts, JobKey, JobsTruth, PolicyKey, Ratios, ReasonKey,
    StateKey, StatusKey, UNKNOWN, Window, counted, fold_jobs,
};
pub use optin::{OptInTruth, SeriesKey};
pub use storage::{StorageTruth, UnitKey, UnitTruth};

use crate::config::SimConfig;
use crate::dataset::Dataset;

/// The expected results of one collection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimTruth {
    /// Expected jobs results.
    pub jobs: JobsTruth,
    /// Expected storage results.
    pub storage: StorageTruth,
}

impl SimTruth {
    /// The truth of a configuration's dataset for jobs window cutoff `cutoff`
    /// (`now - jobs_window` of the collection). Walks every job: linear in `config.jobs`.
    pub fn compute(config: &SimConfig, cutoff: DateTime<Utc>) -> SimTruth {
        SimTruth::of_dataset(&Dataset::new(config), cutoff)
    }

    /// The truth of an existing static dataset (a live one is taken at its anchor).
    pub fn of_dataset(dataset: &Dataset, cutoff: DateTime<Utc>) -> SimTruth {
        SimTruth::at_ms(dataset, dataset.anchor_ms(), cutoff)
    }

    /// The truth at instant `now`: the jobs that exist then, as they are then, counted by the
    /// jobs window starting at `cutoff`. For a static dataset the same as
    /// [`SimTruth::of_dataset`].
    pub fn at(dataset: &Dataset, now: DateTime<Utc>, cutoff: DateTime<Utc>) -> SimTruth {
        SimTruth::at_ms(dataset, now.timestamp_millis(), cutoff)
    }

    /// [`SimTruth::at`] an instant in Unix milliseconds.
    fn at_ms(dataset: &Dataset, now_ms: i64, cutoff: DateTime<Utc>) -> SimTruth {
        let jobs = dataset.jobs_at(now_ms).map(|job| JobFacts::from(&job));
        SimTruth {
            jobs: fold_jobs(jobs, Window::Since(cutoff)),
            storage: StorageTruth::of_units(dataset.storage_units()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::JobState;

    #[test]
    fn window_rule_and_totals() {
        let cfg = SimConfig::reproducible(20_000);
        let everything = SimTruth::compute(&cfg, cfg.anchor - chrono::Duration::days(365));
        assert_eq!(everything.jobs.jobs, 20_000);
        let recent = SimTruth::compute(&cfg, cfg.anchor - chrono::Duration::hours(1));
        let unfinished = Dataset::new(&cfg)
            .jobs()
            .filter(|j| j.state != Some(JobState::Done))
            .count() as u64;
        assert!(recent.jobs.jobs > unfinished && recent.jobs.jobs < everything.jobs.jobs / 10);
        let finished = |t: &SimTruth| {
            t.jobs
                .state_counts
                .iter()
                .filter(|(k, _)| k.state == "DONE")
                .map(|(_, n)| n)
                .sum::<u64>()
        };
        assert_eq!(recent.jobs.counts.values().sum::<u64>(), finished(&recent));
        assert_eq!(
            recent.jobs.counts.values().sum::<u64>() + unfinished,
            recent.jobs.jobs
        );
        assert_eq!(
            recent.jobs.state_counts.values().sum::<u64>(),
            recent.jobs.jobs
        );
        let none = SimTruth::compute(&cfg, cfg.anchor);
        assert_eq!(none.jobs.jobs, unfinished);
        // Unfinished jobs show in states only: no counts, bytes, statuses or files.
        assert!(none.jobs.counts.is_empty());
        assert!(none.jobs.bytes.is_empty());
        assert!(none.jobs.status_counts.is_empty());
        assert!(none.jobs.files.is_empty());
        assert!(none.jobs.durations.is_empty());
        assert!(none.jobs.dedup_ratio.is_empty());
    }

    #[test]
    fn every_histogram_bucket_and_label_kind_is_hit() {
        let cfg = SimConfig::reproducible(20_000);
        let truth = SimTruth::compute(&cfg, cfg.anchor - chrono::Duration::days(365));
        let mut buckets = [0u64; DURATION_BOUNDS.len() + 1];
        for h in truth.jobs.durations.values() {
            for (total, n) in buckets.iter_mut().zip(h.bucket_counts) {
                *total += n;
            }
        }
        assert!(buckets.iter().all(|n| *n > 0), "{buckets:?}");
        assert!(truth.jobs.counts.keys().any(|k| k.action.is_empty()));
        assert!(truth.jobs.counts.keys().any(|k| k.policy_type.is_empty()));
        assert!(truth.jobs.status_counts.keys().any(|k| k.status == UNKNOWN));
        assert!(truth.jobs.state_counts.keys().any(|k| k.state == UNKNOWN));
        assert!(truth.jobs.queued_counts.keys().any(|k| k.reason == UNKNOWN));
        assert!(truth.jobs.queued_counts.len() > 5);
        assert!(truth.jobs.bytes.values().any(|b| *b > 1 << 53));
    }

    #[test]
    fn forced_backup_status_and_disk_fill_shape_the_dataset() {
        let cfg = SimConfig {
            backup_status: Some(96),
            disk_used_per_mille: Some(950),
            storage_units: 20,
            ..SimConfig::reproducible(5_000)
        };
        let truth = SimTruth::compute(&cfg, cfg.anchor - chrono::Duration::days(365));
        let backup_statuses: Vec<&str> = truth
            .jobs
            .status_counts
            .keys()
            .filter(|k| k.action == "BACKUP")
            .map(|k| k.status.as_str())
            .collect();
        assert!(!backup_statuses.is_empty());
        // Sparse jobs lack a status (UNKNOWN); every other backup failed with 96.
        assert!(
            backup_statuses.iter().all(|s| *s == "96" || *s == UNKNOWN),
            "{backup_statuses:?}"
        );
        assert!(
            truth
                .jobs
                .status_counts
                .keys()
                .any(|k| k.action != "BACKUP" && k.status == "0"),
            "other job types keep their mix"
        );
        let mut disks = 0;
        for unit in truth.storage.units.values() {
            if let (Some(used), Some(free), Some(total)) =
                (unit.used_bytes, unit.free_bytes, unit.capacity_bytes)
            {
                disks += 1;
                assert_eq!(used + free, total);
                assert_eq!(used, total / 1000 * 950);
            }
        }
        assert!(disks > 5);
    }

    #[test]
    fn storage_truth_covers_every_unit() {
        let cfg = SimConfig {
            storage_units: 30,
            ..SimConfig::reproducible(1)
        };
        let truth = SimTruth::compute(&cfg, cfg.anchor);
        assert_eq!(truth.storage.units.len(), 30);
        let tape: Vec<_> = truth
            .storage
            .units
            .iter()
            .filter(|(k, _)| k.name.contains("tape"))
            .collect();
        assert!(!tape.is_empty());
        for (_, v) in tape {
            assert_eq!(
                (v.free_bytes, v.used_bytes, v.capacity_bytes),
                (None, None, None)
            );
            assert_eq!(v.max_concurrent_jobs, None);
            assert_eq!(v.max_fragment_size_bytes, Some(1_048_576 * 1024 * 1024));
        }
    }
}
