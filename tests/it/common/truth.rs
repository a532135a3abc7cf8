//! The one conversion between the simulator's ground truth and the agent's summaries.
//!
//! The simulator computes its truth in its own types, by its own fold, and shares no code with
//! the agent. Every test that compares what the agent reports with the truth, or publishes the
//! truth as if the agent had collected it, turns the truth into the agent's summaries here.

#![allow(dead_code)]

use std::collections::BTreeMap;

use nbu_otel::collect::summary::{
    ActionPolicyKey, ActionReasonKey, ActionStateKey, ActionStatusKey, DurationHistogram, JobKey,
    JobsSummary, Mean, StorageInfo, StorageKey, StorageSummary, StorageUnitValues,
};
use nbu_sim::{JobsTruth, SimTruth, StorageTruth};

/// The truth as the agent's summaries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Expected {
    /// What the jobs source must report.
    pub jobs: JobsSummary,
    /// What the storage source must report.
    pub storage: StorageSummary,
}

/// The summaries a correct collection folds to, as the truth states them: the truth knows
/// nothing of pages (`pages` is 0), holds no invalid values (`invalid_values` is 0), and has no
/// per-client families (tests that turn the clients source on check those themselves).
pub fn expected(truth: &SimTruth) -> Expected {
    Expected {
        jobs: jobs_summary(&truth.jobs),
        storage: storage_summary(&truth.storage),
    }
}

/// `map` with its keys and values turned into the agent's.
fn convert<K, V, L: Ord, W>(
    map: &BTreeMap<K, V>,
    key: impl Fn(&K) -> L,
    value: impl Fn(&V) -> W,
) -> BTreeMap<L, W> {
    map.iter().map(|(k, v)| (key(k), value(v))).collect()
}

/// The jobs summary of the jobs truth.
pub fn jobs_summary(truth: &JobsTruth) -> JobsSummary {
    let count = |n: &u64| *n;
    let pair = |k: &nbu_sim::PolicyKey| ActionPolicyKey {
        action: k.action.clone(),
        policy_type: k.policy_type.clone(),
    };
    let job_key = |k: &nbu_sim::JobKey| JobKey {
        action: k.action.clone(),
        policy_type: k.policy_type.clone(),
        status: k.status.clone(),
    };
    JobsSummary {
        counts: convert(&truth.counts, job_key, count),
        bytes: convert(&truth.bytes, job_key, count),
        status_counts: convert(
            &truth.status_counts,
            |k| ActionStatusKey {
                action: k.action.clone(),
                status: k.status.clone(),
            },
            count,
        ),
        state_counts: convert(
            &truth.state_counts,
            |k| ActionStateKey {
                action: k.action.clone(),
                state: k.state.clone(),
            },
            count,
        ),
        queued_counts: convert(
            &truth.queued_counts,
            |k| ActionReasonKey {
                action: k.action.clone(),
                reason: k.reason.clone(),
            },
            count,
        ),
        files: convert(&truth.files, pair, count),
        dedup_ratio: convert(&truth.dedup_ratio, pair, |r| Mean {
            sum: r.sum,
            count: r.count,
        }),
        durations: convert(&truth.durations, pair, |d| DurationHistogram {
            bucket_counts: d.bucket_counts,
            sum: d.sum,
            count: d.count,
        }),
        jobs: truth.jobs,
        ..JobsSummary::default()
    }
}

/// The storage summary of the storage truth.
pub fn storage_summary(truth: &StorageTruth) -> StorageSummary {
    let units = convert(
        &truth.units,
        |k| StorageKey {
            name: k.name.clone(),
            server_type: k.server_type.clone(),
        },
        |u| StorageUnitValues {
            free_bytes: u.free_bytes,
            used_bytes: u.used_bytes,
            capacity_bytes: u.capacity_bytes,
            max_concurrent_jobs: u.max_concurrent_jobs,
            max_fragment_size_bytes: u.max_fragment_size_bytes,
            info: StorageInfo {
                subtype: u.subtype.clone(),
                is_cloud: u.is_cloud,
                worm_capable: u.worm_capable,
                use_worm: u.use_worm,
                replication_capable: u.replication_capable,
                instant_access: u.instant_access,
            },
        },
    );
    StorageSummary {
        units,
        ..StorageSummary::default()
    }
}
