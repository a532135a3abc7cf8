//! Ground truth: what a correct agent must report for the simulated dataset.
//!
//! Computed by this module's own straightforward code from the generated [`Job`] and
//! [`StorageUnit`] values (never from the JSON, never with the agent's aggregation code),
//! following the jobs-window rule of `crate::collect`: a job counts when it is `DONE` and
//! ended after the cutoff, or when it is not `DONE` (an absent state is not `DONE`).
//! Job counts, bytes, statuses, files and dedup ratios are those of the `DONE` jobs only (as
//! the legacy exporter's, so success rates stay true); states and queue reasons cover every
//! counted job.
//!
//! The truth knows nothing of pages: `JobsSummary::pages` and `StorageSummary::pages` are 0, so
//! tests compare an agent's summaries with `pages` set to 0. `invalid_values` is 0 because the
//! dataset holds no invalid values (faults that inject some are accounted for by the tests).
//!
//! In live mode the truth is taken at an instant ([`SimTruth::at`]): the jobs that exist then,
//! as they are then.
//!
//! The histogram buckets, sums and counts are computed here, not by the agent's
//! `DurationHistogram::record` or `Mean::add`, so a bug there cannot hide in both.
//!
//! Jobs are folded in `jobId` order. Only finished jobs carry `dedupRatio` and only finished
//! jobs have durations, so an agent that folds the finished walk in `jobId` order (then the
//! unfinished walk) adds the same floats in the same order and gets bit-identical sums.

use chrono::{DateTime, Utc};

use crate::collect::summary::{
    ActionPolicyKey, ActionReasonKey, ActionStateKey, ActionStatusKey, DurationHistogram, JobKey,
    JobsSummary, Mean, StorageInfo, StorageKey, StorageSummary, StorageUnitValues, UNKNOWN,
};

/// Upper bounds (seconds, inclusive) of the job duration histogram buckets, written out again
/// rather than read from the agent: 1 min, 5 min, 15 min, 30 min, 1 h, 2 h, 4 h, 8 h, 24 h.
/// A duration equal to a bound falls in that bound's bucket (`le`); longer than the last bound
/// is the overflow bucket.
const BUCKET_BOUNDS: [f64; 9] = [
    60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0,
];

/// The bucket of a duration: the first bound it does not exceed, else the overflow bucket.
fn bucket_index(seconds: f64) -> usize {
    let mut index = 0;
    while index < BUCKET_BOUNDS.len() && seconds > BUCKET_BOUNDS[index] {
        index += 1;
    }
    index
}

use super::config::SimConfig;
use super::data::{Dataset, Job, JobState};
use super::units::StorageUnit;

/// The expected summaries of one collection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimTruth {
    /// Expected jobs summary (`pages` is 0).
    pub jobs: JobsSummary,
    /// Expected storage summary (`pages` is 0).
    pub storage: StorageSummary,
}

impl SimTruth {
    /// The truth of a configuration's dataset for jobs window cutoff `cutoff`
    /// (`now - jobs_window` of the collection). Walks every job: linear in `config.jobs`.
    pub fn compute(config: &SimConfig, cutoff: DateTime<Utc>) -> SimTruth {
        SimTruth::of_dataset(&Dataset::new(config), cutoff)
    }

    /// The truth of an existing static dataset (a live one is taken at its anchor).
    pub fn of_dataset(dataset: &Dataset, cutoff: DateTime<Utc>) -> SimTruth {
        SimTruth {
            jobs: jobs_truth(dataset, cutoff),
            storage: storage_truth(dataset.storage_units()),
        }
    }

    /// The truth at instant `now`: the jobs that exist then, as they are then, counted by the
    /// jobs window starting at `cutoff`. For a static dataset the same as
    /// [`SimTruth::of_dataset`].
    pub fn at(dataset: &Dataset, now: DateTime<Utc>, cutoff: DateTime<Utc>) -> SimTruth {
        SimTruth {
            jobs: fold_jobs(dataset.jobs_at(now.timestamp_millis()), cutoff),
            storage: storage_truth(dataset.storage_units()),
        }
    }
}

/// Whether the jobs window counts the job.
pub fn counted(job: &Job<'_>, cutoff: DateTime<Utc>) -> bool {
    match job.state {
        Some(JobState::Done) => job
            .end_ms
            .and_then(DateTime::from_timestamp_millis)
            .is_some_and(|end| end > cutoff),
        _ => true,
    }
}

/// The jobs summary over the counted jobs of a static dataset (a live one at its anchor).
pub fn jobs_truth(dataset: &Dataset, cutoff: DateTime<Utc>) -> JobsSummary {
    if dataset.is_live() {
        fold_jobs(dataset.jobs_at(dataset.anchor_ms()), cutoff)
    } else {
        fold_jobs(dataset.jobs(), cutoff)
    }
}

/// The jobs summary over the counted jobs of `jobs` (in `jobId` order).
fn fold_jobs<'a>(jobs: impl Iterator<Item = Job<'a>>, cutoff: DateTime<Utc>) -> JobsSummary {
    let mut summary = JobsSummary::default();
    for job in jobs.filter(|job| counted(job, cutoff)) {
        add_job(&mut summary, &job);
    }
    summary
}

fn add_job(summary: &mut JobsSummary, job: &Job<'_>) {
    let action = job.job_type.unwrap_or("").to_owned();
    let policy_type = job.policy_type.unwrap_or("").to_owned();
    let status = job
        .status
        .map_or_else(|| UNKNOWN.to_owned(), |s| s.to_string());
    let state = job.state.map_or(UNKNOWN, JobState::as_str).to_owned();
    let bytes = job.kilobytes.unwrap_or(0).saturating_mul(1024);

    summary.jobs += 1;
    *summary
        .state_counts
        .entry(ActionStateKey {
            action: action.clone(),
            state,
        })
        .or_default() += 1;
    if job.state.is_some_and(JobState::is_queued) {
        let reason = job
            .queue_reason
            .map_or_else(|| UNKNOWN.to_owned(), |r| r.to_string());
        *summary
            .queued_counts
            .entry(ActionReasonKey {
                action: action.clone(),
                reason,
            })
            .or_default() += 1;
    }
    // Everything below describes results: a job that has not finished has none yet.
    if job.state != Some(JobState::Done) {
        return;
    }
    let key = JobKey {
        action: action.clone(),
        policy_type: policy_type.clone(),
        status: status.clone(),
    };
    *summary.counts.entry(key.clone()).or_default() += 1;
    let total = summary.bytes.entry(key).or_default();
    *total = total.saturating_add(bytes);
    *summary
        .status_counts
        .entry(ActionStatusKey {
            action: action.clone(),
            status,
        })
        .or_default() += 1;
    let ap = ActionPolicyKey {
        action,
        policy_type,
    };
    let files = summary.files.entry(ap.clone()).or_default();
    *files = files.saturating_add(job.files.unwrap_or(0));
    if let Some(ratio) = job.dedup_ratio {
        let mean = summary
            .dedup_ratio
            .entry(ap.clone())
            .or_insert(Mean { sum: 0.0, count: 0 });
        mean.sum += ratio;
        mean.count += 1;
    }
    if let Some(end) = job.end_ms {
        let seconds = (end - job.start_ms) as f64 / 1000.0;
        let histogram = summary.durations.entry(ap).or_insert(DurationHistogram {
            bucket_counts: [0; BUCKET_BOUNDS.len() + 1],
            sum: 0.0,
            count: 0,
        });
        if let Some(bucket) = histogram.bucket_counts.get_mut(bucket_index(seconds)) {
            *bucket += 1;
        }
        histogram.sum += seconds;
        histogram.count += 1;
    }
}

/// The storage summary: every unit, tape and cloud included.
pub fn storage_truth(units: &[StorageUnit]) -> StorageSummary {
    let mut summary = StorageSummary::default();
    for u in units {
        let key = StorageKey {
            name: u.name.clone(),
            server_type: u.storage_server_type.to_owned(),
        };
        let values = StorageUnitValues {
            free_bytes: u.free_bytes,
            used_bytes: u.used_bytes,
            capacity_bytes: u.total_bytes,
            max_concurrent_jobs: u.max_concurrent_jobs,
            max_fragment_size_bytes: Some(u.max_fragment_size_mb.saturating_mul(1024 * 1024)),
            info: StorageInfo {
                subtype: u.storage_sub_type.to_owned(),
                is_cloud: u.is_cloud,
                worm_capable: u.worm_capable,
                use_worm: u.use_worm,
                replication_capable: u.replication_capable,
                instant_access: u.instant_access_enabled,
            },
        };
        summary.units.insert(key, values);
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::test_config;

    #[test]
    fn durations_on_a_bound_fall_in_that_bound_bucket() {
        assert_eq!(bucket_index(0.0), 0);
        assert_eq!(bucket_index(60.0), 0);
        assert_eq!(bucket_index(60.001), 1);
        assert_eq!(bucket_index(300.0), 1);
        assert_eq!(bucket_index(900.0), 2);
        assert_eq!(bucket_index(1800.0), 3);
        assert_eq!(bucket_index(3600.0), 4);
        assert_eq!(bucket_index(7200.0), 5);
        assert_eq!(bucket_index(14400.0), 6);
        assert_eq!(bucket_index(28800.0), 7);
        assert_eq!(bucket_index(86400.0), 8);
        assert_eq!(bucket_index(86400.001), 9);
        assert_eq!(bucket_index(1e12), 9);
        // The agent's histogram must agree with this independent one.
        assert_eq!(crate::collect::summary::DURATION_BUCKETS, BUCKET_BOUNDS);
        for (i, bound) in BUCKET_BOUNDS.iter().enumerate() {
            let mut h = DurationHistogram::default();
            h.record(*bound);
            assert_eq!(h.bucket_counts[i], 1, "{bound}");
        }
    }

    #[test]
    fn window_rule_and_totals() {
        let cfg = test_config(20_000);
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
        assert_eq!(none.jobs.invalid_values, 0);
        assert_eq!(none.jobs.pages, 0);
    }

    #[test]
    fn every_histogram_bucket_and_label_kind_is_hit() {
        let cfg = test_config(20_000);
        let truth = SimTruth::compute(&cfg, cfg.anchor - chrono::Duration::days(365));
        let mut buckets = [0u64; BUCKET_BOUNDS.len() + 1];
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
            ..test_config(5_000)
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
            ..test_config(1)
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
