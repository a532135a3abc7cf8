use chrono::DateTime;

use super::*;
use crate::collect::summary::{
    ActionPolicyKey, ActionReasonKey, ActionStateKey, ActionStatusKey, JobKey, Mean,
};
use crate::netbackup::models::JobsPage;

fn batch(store: &JobStore, json: &str) -> JobBatch {
    let page: JobsPage<'_> = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
    let mut batch = JobBatch::for_store(store);
    for r in &page.data {
        if let Some(a) = &r.attributes {
            batch.add(a);
        }
    }
    batch
}

fn job(id: u64, state: &str, end: Option<&str>, updated: &str) -> String {
    let end = end.map_or(String::new(), |e| format!(r#","endTime":"{e}""#));
    format!(
        r#"{{"attributes":{{"jobId":{id},"jobType":"BACKUP","policyType":"VMWARE","status":0,
        "state":"{state}","kilobytesTransferred":2,"numberOfFiles":3,
        "startTime":"2026-11-27T07:00:00.000Z"{end},"lastUpdateTime":"{updated}"}}}}"#
    )
}

fn page(jobs: &[String]) -> String {
    format!(r#"{{"data":[{}]}}"#, jobs.join(","))
}

fn ms(t: &str) -> i64 {
    DateTime::parse_from_rfc3339(t)
        .map(|d| d.timestamp_millis())
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_record_is_56_bytes() {
    assert_eq!(std::mem::size_of::<JobRecord>(), 56);
}

#[test]
fn folds_every_family_in_job_id_order() {
    let store_json = r#"{"data":[
        {"attributes":{"jobId":2,"jobType":"BACKUP","policyType":"VMWARE","status":0,"state":"DONE",
          "kilobytesTransferred":3,"numberOfFiles":5,"dedupRatio":2.0,
          "startTime":"2026-11-27T07:00:00.000Z","endTime":"2026-11-27T07:00:30.000Z"}},
        {"attributes":{"jobId":1,"jobType":"BACKUP","policyType":"VMWARE","status":0,"state":"DONE",
          "kilobytesTransferred":2,"numberOfFiles":10,"dedupRatio":4.0,
          "startTime":"2026-11-27T07:00:00.000Z","endTime":"2026-11-27T07:02:00.500Z"}},
        {"attributes":{"jobId":3,"jobType":"BACKUP","policyType":"VMWARE","status":0,"state":"QUEUED",
          "jobQueueReason":2,"kilobytesTransferred":100,"numberOfFiles":7,"dedupRatio":9.0,
          "startTime":"2026-11-27T07:00:00.000Z"}}
        ]}"#;
    let mut store = JobStore::new();
    let mut reported = Vec::new();
    let b = batch(&store, store_json);
    store.replace(b, 0, |f| reported.push((f.job_id, f.seconds, f.bytes)));
    assert_eq!(
        reported,
        vec![(1, Some(120.5), 2048), (2, Some(30.0), 3072)],
        "finished jobs are reported in jobId order, the queued one is not"
    );
    let s = store.summary();
    let key = JobKey {
        action: "BACKUP".into(),
        policy_type: "VMWARE".into(),
        status: "0".into(),
    };
    // The queued job is no result yet: it shows in states and the queue only.
    assert_eq!(s.counts.get(&key), Some(&2));
    assert_eq!(s.bytes.get(&key), Some(&(5 * 1024)));
    let status = ActionStatusKey {
        action: "BACKUP".into(),
        status: "0".into(),
    };
    assert_eq!(s.status_counts.get(&status), Some(&2));
    let state = |state: &str| ActionStateKey {
        action: "BACKUP".into(),
        state: state.into(),
    };
    assert_eq!(s.state_counts.get(&state("DONE")), Some(&2));
    assert_eq!(s.state_counts.get(&state("QUEUED")), Some(&1));
    let ap = ActionPolicyKey {
        action: "BACKUP".into(),
        policy_type: "VMWARE".into(),
    };
    assert_eq!(s.files.get(&ap), Some(&15));
    assert_eq!(s.dedup_ratio.get(&ap).and_then(Mean::value), Some(3.0));
    let h = s.durations.get(&ap).cloned().unwrap_or_default();
    assert_eq!((h.count, h.bucket_counts[0], h.bucket_counts[1]), (2, 1, 1));
    assert_eq!(h.sum, 150.5);
    let queued = ActionReasonKey {
        action: "BACKUP".into(),
        reason: "2".into(),
    };
    assert_eq!(s.queued_counts.get(&queued), Some(&1));
    assert_eq!((s.jobs, s.invalid_values), (3, 0));
}

#[test]
fn label_values_longer_than_the_cap_are_cut_and_counted() {
    let mut store = JobStore::new();
    let huge = "X".repeat(100_000);
    let b = batch(
        &store,
        &format!(
            r#"{{"data":[{{"attributes":{{"jobId":1,"jobType":"{huge}","policyType":"{huge}","state":"DONE",
            "status":0,"startTime":"2026-11-27T07:00:00Z","endTime":"2026-11-27T07:30:00Z"}}}}]}}"#
        ),
    );
    store.replace(b, 0, |_| {});
    let s = store.summary();
    assert_eq!(s.invalid_values, 2, "both long values are counted");
    let lengths: Vec<(usize, usize)> = s
        .counts
        .keys()
        .map(|k| (k.action.len(), k.policy_type.len()))
        .collect();
    let cap = crate::collect::label::MAX_LABEL_BYTES;
    assert_eq!(lengths, [(cap, cap)]);
}

#[test]
fn hostile_values_are_skipped_and_counted() {
    let mut store = JobStore::new();
    let b = batch(
        &store,
        r#"{"data":[
        {"attributes":{"jobId":1,"jobType":"BACKUP","kilobytesTransferred":-1,"numberOfFiles":1e308,
          "dedupRatio":-3,"state":"DONE","status":"x",
          "startTime":"2026-11-27T07:00:00Z","endTime":"2026-11-27T07:30:00Z"}},
        {"attributes":{"jobId":2,"jobType":"BACKUP","state":"DONE","kilobytesTransferred":1,
          "startTime":"2026-11-27T07:00:00Z","endTime":"2026-11-27T06:00:00Z"}},
        {"attributes":{"jobId":3,"jobType":"BACKUP","state":"DONE","kilobytesTransferred":18446744073709551615}},
        {"attributes":{"jobId":4,"jobType":"BACKUP","state":"DONE","kilobytesTransferred":18446744073709551615}},
        {"attributes":{"jobType":"BACKUP"}},
        {"attributes":{"jobId":5}}
        ]}"#,
    );
    assert_eq!(b.unkeyed, 1, "a job without jobId cannot be stored");
    let mut seconds = Vec::new();
    store.replace(b, 0, |f| seconds.push(f.seconds));
    assert_eq!(
        seconds,
        vec![Some(1800.0), None, None, None],
        "no duration when the end is before the start"
    );
    let s = store.summary();
    // kb < 0, files 1e308, dedup < 0, status text; end before start.
    assert_eq!(s.invalid_values, 5);
    assert_eq!(s.jobs, 5);
    let key = JobKey {
        action: "BACKUP".into(),
        policy_type: "".into(),
        status: UNKNOWN.into(),
    };
    assert_eq!(s.bytes.get(&key), Some(&u64::MAX), "saturates, never wraps");
    let empty = ActionStateKey {
        action: "".into(),
        state: UNKNOWN.into(),
    };
    assert_eq!(s.state_counts.get(&empty), Some(&1));
}

/// A day of label churn in five-minute deltas: each delta reads 500 jobs that finished
/// before the window (never stored) under policy types never seen before, and 50 stored
/// jobs of clients (`*` allowlist) and policies renamed at every step, replacing the
/// oldest. The label table stays bounded by what the stored jobs use, and the counts stay
/// those of the jobs the test itself keeps.
#[test]
fn a_day_of_label_churn_leaves_the_label_table_bounded() {
    use std::collections::BTreeMap;
    const STEPS: u64 = 288;
    const STORED_PER_STEP: u64 = 50;
    const KEPT_STEPS: u64 = 12;
    const UNSTORED_PER_STEP: u64 = 500;
    let mut store = JobStore::new();
    store.set_clients(Some(Arc::new(ClientsConfig {
        allowlist: vec![crate::config::ClientPattern::parse("*")],
        max_clients: u32::MAX,
    })));
    let window_start = ms("2026-11-27T00:00:00Z");
    let updated = "2026-11-27T08:00:00.000Z";
    let mut next_id = 1u64;
    // The test's own view of the stored jobs: id -> policy type.
    let mut kept: BTreeMap<u64, String> = BTreeMap::new();
    let mut most_held = 0;
    for step in 0..STEPS {
        let mut jobs = Vec::new();
        for n in 0..UNSTORED_PER_STEP {
            jobs.push(format!(
                r#"{{"attributes":{{"jobId":{next_id},"jobType":"BACKUP","policyType":"GONE-{step}-{n}",
                "state":"DONE","status":0,"clientName":"old-{step}-{n}","policyName":"p-{step}-{n}",
                "startTime":"2026-11-26T01:00:00Z","endTime":"2026-11-26T02:00:00Z",
                "lastUpdateTime":"{updated}"}}}}"#
            ));
            next_id += 1;
        }
        for n in 0..STORED_PER_STEP {
            let policy_type = format!("T-{step}-{}", n % 5);
            jobs.push(format!(
                r#"{{"attributes":{{"jobId":{next_id},"jobType":"BACKUP","policyType":"{policy_type}",
                "state":"DONE","status":0,"clientName":"client-{step}-{n}","policyName":"policy-{step}-{n}",
                "startTime":"2026-11-27T07:00:00Z","endTime":"2026-11-27T07:30:00Z",
                "lastUpdateTime":"{updated}"}}}}"#
            ));
            kept.insert(next_id, policy_type);
            next_id += 1;
        }
        let b = batch(&store, &page(&jobs));
        store.apply(b, window_start, |_| {});
        // The oldest stored step leaves (purged from NetBackup): a full walk without it.
        if step >= KEPT_STEPS {
            let gone =
                (step - KEPT_STEPS) * (UNSTORED_PER_STEP + STORED_PER_STEP) + UNSTORED_PER_STEP + 1;
            kept.retain(|id, _| *id < gone || *id >= gone + STORED_PER_STEP);
            let remaining: Vec<String> = kept
                .iter()
                .map(|(id, policy_type)| {
                    let n = (id - 1) % (UNSTORED_PER_STEP + STORED_PER_STEP) - UNSTORED_PER_STEP;
                    let step = (id - 1) / (UNSTORED_PER_STEP + STORED_PER_STEP);
                    format!(
                        r#"{{"attributes":{{"jobId":{id},"jobType":"BACKUP","policyType":"{policy_type}",
                        "state":"DONE","status":0,"clientName":"client-{step}-{n}","policyName":"policy-{step}-{n}",
                        "startTime":"2026-11-27T07:00:00Z","endTime":"2026-11-27T07:30:00Z",
                        "lastUpdateTime":"{updated}"}}}}"#
                    )
                })
                .collect();
            let b = batch(&store, &page(&remaining));
            store.replace(b, window_start, |_| {});
        }
        store.expire(window_start);
        most_held = most_held.max(store.held_labels());

        let summary = store.summary();
        let mut expected: BTreeMap<String, u64> = BTreeMap::new();
        for policy_type in kept.values() {
            *expected.entry(policy_type.clone()).or_default() += 1;
        }
        let mut counted: BTreeMap<String, u64> = BTreeMap::new();
        for (key, n) in &summary.counts {
            *counted.entry(key.policy_type.clone()).or_default() += n;
        }
        assert_eq!(counted, expected, "step {step}");
        assert_eq!(summary.client_jobs.values().sum::<u64>(), kept.len() as u64);
    }
    // 288 x 550 jobs read with 2 x 288 x 550 client and policy names and 288 x 505 types;
    // the store holds 600 jobs using about 1,900 texts and 600 sets.
    assert!(
        most_held < 20_000,
        "the label table held {most_held} texts and sets at most"
    );
    assert!(store.held_labels() < 10_000, "{}", store.held_labels());
}

#[test]
fn deltas_upsert_expire_and_report_each_finished_job_once() {
    let t0 = "2026-11-27T08:00:00.000Z";
    let mut store = JobStore::new();
    let b = batch(
        &store,
        &page(&[
            job(10, "DONE", Some("2026-11-27T07:10:00.000Z"), t0),
            job(11, "ACTIVE", None, t0),
            job(12, "QUEUED", None, t0),
        ]),
    );
    let mut reported = Vec::new();
    let stats = store.replace(b, ms("2026-11-27T07:00:00Z"), |f| reported.push(f.job_id));
    assert_eq!((stats.added, stats.finished), (3, 1));
    // 11 finishes, 12 is unchanged, 13 is new and active, 10 is seen again.
    let t1 = "2026-11-27T08:01:00.000Z";
    let b = batch(
        &store,
        &page(&[
            job(10, "DONE", Some("2026-11-27T07:10:00.000Z"), t1),
            job(11, "DONE", Some("2026-11-27T08:00:30.000Z"), t1),
            job(13, "ACTIVE", None, t1),
        ]),
    );
    let stats = store.apply(b, ms("2026-11-27T07:01:00Z"), |f| reported.push(f.job_id));
    assert_eq!((stats.added, stats.updated, stats.finished), (1, 2, 1));
    assert_eq!(reported, vec![10, 11], "10 is not reported twice");
    assert_eq!(store.len(), 4);
    // The window moves past job 10's end: it leaves the store.
    assert_eq!(store.expire(ms("2026-11-27T07:10:00Z")), 1);
    assert!(store.records.iter().all(|r| r.job_id != 10));
    assert_eq!(store.summary().jobs, 3);
    // A job older than every stored one arrives late: the store stays sorted.
    let b = batch(&store, &page(&[job(5, "SUSPENDED", None, t1)]));
    store.apply(b, ms("2026-11-27T07:10:00Z"), |f| reported.push(f.job_id));
    let ids: Vec<u64> = store.records.iter().map(|r| r.job_id).collect();
    assert_eq!(ids, vec![5, 11, 12, 13]);
    // A full walk that no longer returns 12 (purged) removes it and keeps 11 reported.
    let b = batch(
        &store,
        &page(&[
            job(5, "SUSPENDED", None, t1),
            job(11, "DONE", Some("2026-11-27T08:00:30.000Z"), t1),
            job(13, "DONE", Some("2026-11-27T08:02:00.000Z"), t1),
        ]),
    );
    let stats = store.replace(b, ms("2026-11-27T07:10:00Z"), |f| reported.push(f.job_id));
    assert_eq!((stats.removed, stats.finished), (1, 1));
    assert_eq!(reported, vec![10, 11, 13]);
}

#[test]
fn a_delta_that_adds_jobs_leaves_little_spare_room() {
    const JOBS: u64 = 3_200;
    let t0 = "2026-11-27T08:00:00.000Z";
    let mut store = JobStore::new();
    let jobs: Vec<String> = (1..=JOBS).map(|id| job(id, "ACTIVE", None, t0)).collect();
    let b = batch(&store, &page(&jobs));
    store.replace(b, ms("2026-11-27T07:00:00Z"), |_| {});
    let filled = store.record_bytes();
    for step in 1..=3 {
        let b = batch(&store, &page(&[job(JOBS + step, "ACTIVE", None, t0)]));
        store.apply(b, ms("2026-11-27T07:00:00Z"), |_| {});
    }
    assert_eq!(store.len(), JOBS as usize + 3);
    // One reallocation to 1/32 more, not twice the records.
    let most = filled + filled / DELTA_SLACK_DIVISOR + std::mem::size_of::<JobRecord>();
    assert!(
        store.record_bytes() <= most,
        "{} bytes after the deltas, {filled} after the fill",
        store.record_bytes()
    );
}

#[test]
fn a_job_met_unfinished_then_finished_is_kept_finished() {
    let store = JobStore::new();
    let b = batch(
        &store,
        &page(&[
            job(
                7,
                "DONE",
                Some("2026-11-27T08:00:30.000Z"),
                "2026-11-27T08:00:30.000Z",
            ),
            job(7, "ACTIVE", None, "2026-11-27T08:00:00.000Z"),
        ]),
    );
    let (records, _, _) = b.into_sorted();
    assert_eq!(records.len(), 1);
    assert!(records[0].is_done());
}
