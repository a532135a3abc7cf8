//! Streaming fold of jobs into a [`JobsSummary`].
//!
//! Jobs are folded one by one as pages arrive and never kept. Label texts are interned, so the
//! per-job work is a few hash look-ups on small integer keys; texts are materialised once, in
//! [`JobsAggregator::finish`].

use std::collections::HashMap;

use chrono::DateTime;

use super::summary::{
    ActionPolicyKey, ActionReasonKey, ActionStateKey, ActionStatusKey, DurationHistogram, JobKey,
    JobsSummary, Mean, UNKNOWN,
};
use crate::netbackup::lenient::{Num, Text};
use crate::netbackup::models::JobAttributes;

/// An interned label text.
type Sym = u32;

/// A numeric label (status, queue reason): `None` when absent or invalid.
type Code = Option<i64>;

/// Interns label texts.
#[derive(Debug, Default)]
struct Interner {
    ids: HashMap<Box<str>, Sym>,
    texts: Vec<Box<str>>,
}

impl Interner {
    fn intern(&mut self, text: &str) -> Sym {
        if let Some(id) = self.ids.get(text) {
            return *id;
        }
        let id = self.texts.len() as Sym;
        self.texts.push(text.into());
        self.ids.insert(text.into(), id);
        id
    }

    fn text(&self, id: Sym) -> String {
        self.texts
            .get(id as usize)
            .map(|t| t.to_string())
            .unwrap_or_default()
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct CountBytes {
    count: u64,
    bytes: u64,
}

#[derive(Debug, Default, Clone)]
struct PolicyAcc {
    files: u64,
    dedup: Mean,
    durations: DurationHistogram,
    has_files: bool,
}

/// A finished job as the duration histogram sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FinishedJob {
    /// `jobId`.
    pub job_id: u64,
    /// `endTime - startTime`, seconds.
    pub seconds: f64,
}

/// Folds jobs into aggregates. Feed it with [`JobsAggregator::add`], read it with
/// [`JobsAggregator::finish`].
#[derive(Debug, Default)]
pub struct JobsAggregator {
    strings: Interner,
    by_job_key: HashMap<(Sym, Sym, Code), CountBytes>,
    by_state: HashMap<(Sym, Sym), u64>,
    by_reason: HashMap<(Sym, Code), u64>,
    by_policy: HashMap<(Sym, Sym), PolicyAcc>,
    jobs: u64,
    invalid_values: u64,
    pages: u64,
}

/// Job states that mean "waiting in the queue".
fn is_queued(state: &str) -> bool {
    state == "QUEUED" || state == "REQUEUED"
}

impl JobsAggregator {
    /// An empty aggregator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds one job. Returns the finished job (for the duration histogram) when the job is
    /// `DONE` with valid start and end times.
    pub fn add(&mut self, job: &JobAttributes<'_>) -> Option<FinishedJob> {
        self.jobs += 1;
        let action = self.label(&job.job_type, "");
        let policy = self.label(&job.policy_type, "");
        let state_text = job.state.as_str();
        let state = self.label(&job.state, UNKNOWN);
        let status = self.code(job.status);

        let entry = self.by_job_key.entry((action, policy, status)).or_default();
        entry.count += 1;
        match job.kilobytes_transferred {
            Num::Valid(kb) => entry.bytes = entry.bytes.saturating_add(kb.saturating_mul(1024)),
            Num::Invalid => self.invalid_values += 1,
            Num::Absent => {}
        }
        *self.by_state.entry((action, state)).or_default() += 1;
        if state_text.is_some_and(is_queued) {
            let reason = self.code(job.job_queue_reason);
            *self.by_reason.entry((action, reason)).or_default() += 1;
        }

        let mut invalid = 0;
        let acc = self.by_policy.entry((action, policy)).or_default();
        match job.number_of_files {
            Num::Valid(n) => {
                acc.files = acc.files.saturating_add(n);
                acc.has_files = true;
            }
            Num::Invalid => invalid += 1,
            Num::Absent => {}
        }
        match job.dedup_ratio {
            Num::Valid(r) if r >= 0.0 => acc.dedup.add(r),
            Num::Valid(_) | Num::Invalid => invalid += 1,
            Num::Absent => {}
        }
        let mut finished = None;
        if state_text == Some("DONE") {
            match duration_seconds(&job.start_time, &job.end_time) {
                Some(Ok(seconds)) => {
                    acc.durations.record(seconds);
                    if let Num::Valid(job_id) = job.job_id {
                        finished = Some(FinishedJob { job_id, seconds });
                    }
                }
                Some(Err(())) => invalid += 1,
                None => {}
            }
        }
        self.invalid_values += invalid;
        finished
    }

    /// Counts one page read.
    pub fn add_page(&mut self) {
        self.pages += 1;
    }

    /// Counts a value that was skipped because it cannot be right.
    pub fn add_invalid(&mut self, n: u64) {
        self.invalid_values += n;
    }

    fn label(&mut self, text: &Text<'_>, absent: &str) -> Sym {
        match text {
            Text::Valid(t) => self.strings.intern(t),
            Text::Absent => self.strings.intern(absent),
            Text::Invalid => {
                self.invalid_values += 1;
                self.strings.intern(absent)
            }
        }
    }

    fn code(&mut self, value: Num<i64>) -> Code {
        match value {
            Num::Valid(v) => Some(v),
            Num::Absent => None,
            Num::Invalid => {
                self.invalid_values += 1;
                None
            }
        }
    }

    /// The aggregates, with label texts materialised.
    pub fn finish(self) -> JobsSummary {
        let text = |id: Sym| self.strings.text(id);
        let code = |c: Code| c.map_or_else(|| UNKNOWN.to_owned(), |v| v.to_string());
        let mut summary = JobsSummary {
            jobs: self.jobs,
            invalid_values: self.invalid_values,
            pages: self.pages,
            ..JobsSummary::default()
        };
        for (&(action, policy, status), v) in &self.by_job_key {
            let key = JobKey {
                action: text(action),
                policy_type: text(policy),
                status: code(status),
            };
            let status_key = ActionStatusKey {
                action: key.action.clone(),
                status: key.status.clone(),
            };
            *summary.status_counts.entry(status_key).or_default() += v.count;
            summary.bytes.insert(key.clone(), v.bytes);
            summary.counts.insert(key, v.count);
        }
        for (&(action, state), &n) in &self.by_state {
            let key = ActionStateKey {
                action: text(action),
                state: text(state),
            };
            summary.state_counts.insert(key, n);
        }
        for (&(action, reason), &n) in &self.by_reason {
            let key = ActionReasonKey {
                action: text(action),
                reason: code(reason),
            };
            summary.queued_counts.insert(key, n);
        }
        for (&(action, policy), acc) in &self.by_policy {
            let key = ActionPolicyKey {
                action: text(action),
                policy_type: text(policy),
            };
            summary.files.insert(key.clone(), acc.files);
            if acc.dedup.count > 0 {
                summary.dedup_ratio.insert(key.clone(), acc.dedup);
            }
            if acc.durations.count > 0 {
                summary.durations.insert(key, acc.durations.clone());
            }
        }
        summary
    }
}

/// `endTime - startTime` in seconds: `None` when a time is absent, `Err` when a time does not
/// parse or the end is before the start.
fn duration_seconds(start: &Text<'_>, end: &Text<'_>) -> Option<Result<f64, ()>> {
    let (start, end) = match (start, end) {
        (Text::Valid(s), Text::Valid(e)) => (s, e),
        (Text::Invalid, _) | (_, Text::Invalid) => return Some(Err(())),
        _ => return None,
    };
    let parse = |t: &str| DateTime::parse_from_rfc3339(t).map_err(|_| ());
    Some(parse(start).and_then(|s| {
        let e = parse(end)?;
        let millis = (e - s).num_milliseconds();
        if millis < 0 {
            Err(())
        } else {
            Ok(millis as f64 / 1000.0)
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netbackup::models::JobsPage;

    fn fold(json: &str) -> JobsSummary {
        let page: JobsPage<'_> = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        let mut agg = JobsAggregator::new();
        for r in &page.data {
            if let Some(a) = &r.attributes {
                agg.add(a);
            }
        }
        agg.finish()
    }

    #[test]
    fn folds_every_family() {
        let s = fold(
            r#"{"data":[
            {"attributes":{"jobId":1,"jobType":"BACKUP","policyType":"VMWARE","status":0,"state":"DONE",
              "kilobytesTransferred":2,"numberOfFiles":10,"dedupRatio":4.0,
              "startTime":"2026-11-27T07:00:00.000Z","endTime":"2026-11-27T07:02:00.500Z"}},
            {"attributes":{"jobId":2,"jobType":"BACKUP","policyType":"VMWARE","status":0,"state":"DONE",
              "kilobytesTransferred":3,"numberOfFiles":5,"dedupRatio":2.0,
              "startTime":"2026-11-27T07:00:00.000Z","endTime":"2026-11-27T07:00:30.000Z"}},
            {"attributes":{"jobId":3,"jobType":"BACKUP","policyType":"VMWARE","status":0,"state":"QUEUED",
              "jobQueueReason":2,"startTime":"2026-11-27T07:00:00.000Z"}}
            ]}"#,
        );
        let key = JobKey {
            action: "BACKUP".into(),
            policy_type: "VMWARE".into(),
            status: "0".into(),
        };
        assert_eq!(s.counts.get(&key), Some(&3));
        assert_eq!(s.bytes.get(&key), Some(&(5 * 1024)));
        let ap = ActionPolicyKey {
            action: "BACKUP".into(),
            policy_type: "VMWARE".into(),
        };
        assert_eq!(s.files.get(&ap), Some(&15));
        assert_eq!(s.dedup_ratio.get(&ap).and_then(Mean::value), Some(3.0));
        let h = s.durations.get(&ap).cloned().unwrap_or_default();
        assert_eq!(h.count, 2);
        assert_eq!(h.bucket_counts[0], 1); // 30 s <= 60
        assert_eq!(h.bucket_counts[1], 1); // 120.5 s <= 300
        assert!((h.sum - 150.5).abs() < 1e-9);
        let queued = ActionReasonKey {
            action: "BACKUP".into(),
            reason: "2".into(),
        };
        assert_eq!(s.queued_counts.get(&queued), Some(&1));
        assert_eq!(s.invalid_values, 0);
        assert_eq!(s.jobs, 3);
    }

    #[test]
    fn hostile_values_are_skipped_and_counted() {
        let s = fold(
            r#"{"data":[
            {"attributes":{"jobType":"BACKUP","kilobytesTransferred":-1,"numberOfFiles":1e308,
              "dedupRatio":-3,"state":"DONE","status":"x",
              "startTime":"2026-11-27T07:00:00Z","endTime":"2026-11-27T06:00:00Z"}},
            {"attributes":{"jobType":"BACKUP","kilobytesTransferred":18446744073709551615}},
            {"attributes":{"jobType":"BACKUP","kilobytesTransferred":18446744073709551615}},
            {"attributes":{}}
            ]}"#,
        );
        // kb < 0, files 1e308, dedup < 0, status text, end before start.
        assert_eq!(s.invalid_values, 5);
        assert_eq!(s.jobs, 4);
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
}
