//! The fold of a job store's records into the legacy aggregates, in `jobId` order and without
//! any I/O, so a snapshot is always one consistent view.

use rustc_hash::FxHashMap;

use super::labels::LabelTable;
use super::labels::{Code, Sym};
use super::record::{DEDUP, DONE_STATE, DURATION, END, FILES, JobRecord, KILOBYTES};
use crate::collect::summary::{
    ActionPolicyKey, ActionReasonKey, ActionStateKey, ActionStatusKey, ClientJobKey,
    ClientPolicyKey, DurationHistogram, JobKey, JobsSummary, Mean, UNKNOWN,
};

/// The legacy aggregates of `records` (sorted by `jobId`, their label set ids those of
/// `labels`), as `JobStore::summary` describes them.
pub(super) fn summary(records: &[JobRecord], labels: &LabelTable) -> JobsSummary {
    // Each label set's (action, policy type) pair, numbered.
    let mut pair_ids: FxHashMap<(Sym, Sym), usize> = FxHashMap::default();
    let mut pairs: Vec<(Sym, Sym)> = Vec::new();
    let pair_of: Vec<usize> = labels
        .sets
        .iter()
        .map(|s| {
            *pair_ids.entry((s.action, s.policy)).or_insert_with(|| {
                pairs.push((s.action, s.policy));
                pairs.len() - 1
            })
        })
        .collect();
    let mut per_set = vec![(0u64, 0u64); labels.sets.len()];
    // The newest end of the finished jobs of each label set that carries a client.
    let mut newest_end: Vec<Option<i64>> = vec![None; labels.sets.len()];
    let mut per_pair = vec![PairAcc::default(); pairs.len()];
    let mut summary = JobsSummary::default();
    let mut seen_pair = vec![false; pairs.len()];
    for r in records {
        let set = r.labels as usize;
        let (Some(counts), Some(&pair)) = (per_set.get_mut(set), pair_of.get(set)) else {
            continue;
        };
        counts.0 += 1;
        summary.invalid_values += u64::from(r.invalid);
        summary.jobs += 1;
        // Sizes, files and ratios describe finished jobs only: an active job's numbers are
        // still growing, and its status is not a result yet.
        if !r.is_done() {
            continue;
        }
        if r.has(KILOBYTES) {
            counts.1 = counts.1.saturating_add(r.kilobytes.saturating_mul(1024));
        }
        if r.has(END)
            && let Some(newest) = newest_end.get_mut(set)
        {
            *newest = Some(newest.map_or(r.end_ms, |n| n.max(r.end_ms)));
        }
        let (Some(acc), Some(seen)) = (per_pair.get_mut(pair), seen_pair.get_mut(pair)) else {
            continue;
        };
        *seen = true;
        if r.has(FILES) {
            acc.files = acc.files.saturating_add(r.files);
        }
        if r.has(DEDUP) {
            acc.dedup.add(r.dedup_ratio);
        }
        if r.has(DURATION) {
            acc.durations
                .record((r.end_ms - r.start_ms) as f64 / 1000.0);
        }
    }
    let text = |id: Sym| labels.text(id).to_owned();
    let code = |c: Code| c.map_or_else(|| UNKNOWN.to_owned(), |v| v.to_string());
    for ((set, &(count, bytes)), newest) in labels.sets.iter().zip(&per_set).zip(&newest_end) {
        if count == 0 {
            continue;
        }
        // Counts by status are results: finished jobs only.
        if labels.text(set.state) == DONE_STATE {
            if let Some((client, policy)) = set.client {
                let key = ClientJobKey {
                    client: text(client),
                    action: text(set.action),
                    status: code(set.status),
                };
                *summary.client_jobs.entry(key).or_default() += count;
                if let (Some(0), Some(end)) = (set.status, newest) {
                    let key = ClientPolicyKey {
                        client: text(client),
                        policy: text(policy),
                        action: text(set.action),
                    };
                    let at = *end as f64 / 1000.0;
                    let last = summary.client_last_success.entry(key).or_insert(at);
                    *last = last.max(at);
                }
            }
            let key = JobKey {
                action: text(set.action),
                policy_type: text(set.policy),
                status: code(set.status),
            };
            *summary
                .status_counts
                .entry(ActionStatusKey {
                    action: key.action.clone(),
                    status: key.status.clone(),
                })
                .or_default() += count;
            let total = summary.bytes.entry(key.clone()).or_default();
            *total = total.saturating_add(bytes);
            *summary.counts.entry(key).or_default() += count;
        }
        *summary
            .state_counts
            .entry(ActionStateKey {
                action: text(set.action),
                state: text(set.state),
            })
            .or_default() += count;
        if let Some(reason) = set.reason {
            *summary
                .queued_counts
                .entry(ActionReasonKey {
                    action: text(set.action),
                    reason: code(reason),
                })
                .or_default() += count;
        }
    }
    for ((&(action, policy), acc), seen) in pairs.iter().zip(per_pair).zip(seen_pair) {
        if !seen {
            continue;
        }
        let key = ActionPolicyKey {
            action: text(action),
            policy_type: text(policy),
        };
        summary.files.insert(key.clone(), acc.files);
        if acc.dedup.count > 0 {
            summary.dedup_ratio.insert(key.clone(), acc.dedup);
        }
        if acc.durations.count > 0 {
            summary.durations.insert(key, acc.durations);
        }
    }
    if let Some(clients) = &labels.clients {
        cap_clients(&mut summary, clients.max_clients as usize);
    }
    summary
}
/// Keeps the per-client series of the first `max` clients by name.
fn cap_clients(summary: &mut JobsSummary, max: usize) {
    let mut names: Vec<&String> = summary
        .client_jobs
        .keys()
        .map(|k| &k.client)
        .chain(summary.client_last_success.keys().map(|k| &k.client))
        .collect();
    names.sort_unstable();
    names.dedup();
    let Some(first_out) = names.get(max).map(|n| (*n).clone()) else {
        return;
    };
    summary.client_jobs.retain(|k, _| k.client < first_out);
    summary
        .client_last_success
        .retain(|k, _| k.client < first_out);
}

/// What the fold gathers per (action, policy type) pair of the finished jobs.
#[derive(Debug, Clone, Default)]
struct PairAcc {
    files: u64,
    dedup: Mean,
    durations: DurationHistogram,
}
