//! Live mode: job `i` has a lifecycle that is a pure function of `(seed, i, now)`.
//!
//! Job `i` is created (`QUEUED`, `startTime`) at `anchor + (i + 1 - jobs) * 60 s / churn`, so
//! that exactly `SimConfig::jobs` jobs exist when the clock reads `anchor` (the last of them
//! created at `anchor`). It waits in the queue for a drawn
//! time, then runs (`ACTIVE`): its kilobytes and files grow in steps every `progress_interval`,
//! each step moving `lastUpdateTime` to the step time. A few jobs are held on the way
//! (`SUSPENDED` or `INCOMPLETE` for hours, `REQUEUED` for minutes) and then resume. The job ends
//! (`DONE`, `endTime`, a drawn status, `dedupRatio` for some) after a duration of the vocabulary's
//! duration classes, so a low `jobId` may finish long after higher ones, and it is purged
//! `retention` after its end. Every draw is made before looking at `now`, so the same job seen
//! at two instants is the same job at two points of one life.

use super::job::{Job, JobState};
use super::job_draws::{HUGE_ONE_IN, draw_identity, omit_attributes};
use super::rng::Draws;
use super::vocabulary::{DONE_STATUSES, DURATION_CLASSES, NO_DATA_STATUSES, QUEUE_REASONS};
use crate::config::LiveConfig;

/// Salt of the stream of a live job's life.
const LIFE: u64 = 0x6c69_6665;
const MINUTE_MS: i128 = 60_000;
const HOUR_MS: u64 = 3_600_000;

/// Time spent in the queue, milliseconds, and weights.
const QUEUE_TIMES: &[((u64, u64), u32)] = &[
    ((1_000, 30_000), 70),
    ((30_000, 600_000), 25),
    ((600_000, 4 * HOUR_MS), 5),
];
/// Longest time in the queue.
const MAX_QUEUE_MS: u64 = 4 * HOUR_MS;
/// Longest run: the upper bound of the longest duration class.
const MAX_RUN_MS: u64 = 144_000 * 1000;
/// One job in this many is held once while it runs.
const HOLD_CHANCE: f64 = 0.04;
/// The states of a hold and their weights.
const HOLD_STATES: &[(JobState, u32)] = &[
    (JobState::Suspended, 40),
    (JobState::Incomplete, 40),
    (JobState::Requeued, 20),
];
/// Longest hold (`SUSPENDED` or `INCOMPLETE`; a `REQUEUED` job waits at most 30 minutes).
const MAX_HOLD_MS: u64 = 24 * HOUR_MS;
/// An upper bound of `endTime - startTime`.
pub(crate) const MAX_LIFETIME_MS: i64 = (MAX_QUEUE_MS + MAX_RUN_MS + MAX_HOLD_MS) as i64;

/// The timing of a live dataset.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Live {
    anchor_ms: i64,
    /// Jobs created at or before `anchor_ms`.
    initial: u64,
    /// Jobs created per minute (at least 1).
    churn: u64,
    retention_ms: i64,
    /// At least 1.
    progress_ms: i64,
}

/// A held stretch of a job's run.
#[derive(Debug, Clone, Copy)]
struct Hold {
    state: JobState,
    reason: u32,
    from: i64,
    until: i64,
}

/// Everything about a live job that does not depend on `now`.
#[derive(Debug, Clone)]
struct Life<'a> {
    job_type: &'static str,
    policy_type: Option<&'static str>,
    client_name: &'a str,
    created: i64,
    active: i64,
    hold: Option<Hold>,
    end: i64,
    queue_reason: u32,
    status: u32,
    moves_data: bool,
    rate: u64,
    huge_kb: Option<u64>,
    file_kb: u64,
    dedup_ratio: Option<f64>,
    id_as_string: bool,
    sparse_mask: Option<u64>,
}

fn millis(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn saturate(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

impl Live {
    /// The timing of `config` with `initial` jobs created at or before `anchor_ms`.
    pub(crate) fn new(config: &LiveConfig, anchor_ms: i64, initial: u64) -> Self {
        Live {
            anchor_ms,
            initial,
            churn: u64::from(config.churn_per_minute.max(1)),
            retention_ms: millis(config.retention),
            progress_ms: millis(config.progress_interval).max(1),
        }
    }

    /// When job `index` is created, Unix milliseconds.
    pub(crate) fn created_ms(&self, index: u64) -> i64 {
        let offset = (i128::from(index) + 1 - i128::from(self.initial)) * MINUTE_MS;
        saturate(i128::from(self.anchor_ms) + offset.div_euclid(i128::from(self.churn)))
    }

    /// How many jobs are created at or before `at_ms`: exactly the indexes `i` with
    /// `created_ms(i) <= at_ms`.
    pub(crate) fn created_by(&self, at_ms: i64) -> u64 {
        // With j = i + 1 - initial and t = at - anchor:
        // floor(j * 60000 / churn) <= t  <=>  j * 60000 <= (t + 1) * churn - 1  <=>  j <= k.
        let t = i128::from(at_ms) - i128::from(self.anchor_ms);
        let k = ((t + 1) * i128::from(self.churn) - 1).div_euclid(MINUTE_MS);
        let count = i128::from(self.initial) + k;
        u64::try_from(count.max(0)).unwrap_or(u64::MAX)
    }

    /// The indexes that may exist at `now_ms`, `lo..hi`: every job created before `lo` is
    /// purged (it ended within `MAX_LIFETIME_MS` of its creation, more than `retention` ago).
    pub(crate) fn index_range(&self, now_ms: i64) -> (u64, u64) {
        let hi = self.created_by(now_ms);
        let horizon = now_ms
            .saturating_sub(MAX_LIFETIME_MS)
            .saturating_sub(self.retention_ms);
        (self.created_by(horizon).min(hi), hi)
    }

    fn life<'a>(&self, seed: u64, clients: &'a [String], sparse: f64, index: u64) -> Life<'a> {
        let mut d = Draws::new(seed, index, LIFE);
        let (job_type, policy_type, client_name) = draw_identity(&mut d, clients);
        let (qlo, qhi) = d.pick(QUEUE_TIMES).unwrap_or((1_000, 30_000));
        let queue_ms = d.range(qlo, qhi).min(MAX_QUEUE_MS) as i64;
        let queue_reason = d.pick(QUEUE_REASONS).unwrap_or(0);
        let (lo, hi) = d.pick(DURATION_CLASSES).unwrap_or((60, 300));
        let run_ms = d.range(lo * 1000, hi * 1000).clamp(1000, MAX_RUN_MS) as i64;
        let held = d.chance(HOLD_CHANCE);
        let hold_state = d.pick(HOLD_STATES).unwrap_or(JobState::Suspended);
        let hold_at = run_ms * d.range(10, 90) as i64 / 100;
        let hold_ms = if hold_state == JobState::Requeued {
            d.range(60_000, 30 * 60_000)
        } else {
            d.range(HOUR_MS, MAX_HOLD_MS)
        } as i64;
        let hold_reason = d.pick(QUEUE_REASONS).unwrap_or(0);
        let status = d.pick(DONE_STATUSES).unwrap_or(0);
        let rate = d.range(2_000, 600_000);
        let moves_data =
            !matches!(job_type, "IMAGEDELETE" | "VERIFY") && !NO_DATA_STATUSES.contains(&status);
        let huge = d.below(HUGE_ONE_IN) == 0;
        let huge_kb = (1u64 << 52) - d.below(1 << 44);
        let file_kb = d.range(8, 60_000);
        let dedup = d.chance(0.85);
        let dedup_value = d.range(1_000, 9_990) as f64 / 100.0;
        let id_as_string = d.chance(0.5);
        let sparse_mask = d.chance(sparse).then(|| d.next_u64());

        let created = self.created_ms(index);
        let active = created.saturating_add(queue_ms);
        let hold = held.then(|| {
            let from = active.saturating_add(hold_at);
            Hold {
                state: hold_state,
                reason: hold_reason,
                from,
                until: from.saturating_add(hold_ms),
            }
        });
        let run_end = active.saturating_add(run_ms);
        let end = run_end.saturating_add(hold.map_or(0, |h| h.until - h.from));
        let dedup_ratio = (dedup
            && moves_data
            && matches!(job_type, "BACKUP" | "DUPLICATE" | "REPLICATE" | "DBBACKUP"))
        .then_some(dedup_value);
        Life {
            job_type,
            policy_type,
            client_name,
            created,
            active,
            hold,
            end,
            queue_reason,
            status,
            moves_data,
            rate,
            huge_kb: huge.then_some(huge_kb),
            file_kb,
            dedup_ratio,
            id_as_string,
            sparse_mask,
        }
    }

    /// The latest progress step of the run stretch `[from, until)` at or before `now`.
    fn step(&self, from: i64, until: i64, now: i64) -> i64 {
        let last = now.min(until.saturating_sub(1)).max(from);
        from + (last - from) / self.progress_ms * self.progress_ms
    }

    /// Job `index` as it is at `now_ms`; `None` before its creation and after its purge.
    pub(crate) fn job<'a>(
        &self,
        seed: u64,
        clients: &'a [String],
        sparse: f64,
        index: u64,
        now_ms: i64,
    ) -> Option<Job<'a>> {
        if self.created_ms(index) > now_ms {
            return None;
        }
        let life = self.life(seed, clients, sparse, index);
        if now_ms >= life.end.saturating_add(self.retention_ms) {
            return None;
        }
        // Milliseconds of running time at each instant of the run.
        let ran = |at: i64| match life.hold {
            Some(h) if at >= h.until => (h.from - life.active) + (at - h.until),
            Some(h) if at >= h.from => h.from - life.active,
            _ => at - life.active,
        };
        let (state, last_update, reason) = if now_ms < life.active {
            (JobState::Queued, life.created, life.queue_reason)
        } else if now_ms >= life.end {
            (JobState::Done, life.end, 0)
        } else {
            match life.hold {
                Some(h) if now_ms < h.from => {
                    (JobState::Active, self.step(life.active, h.from, now_ms), 0)
                }
                Some(h) if now_ms < h.until => (h.state, h.from, h.reason),
                Some(h) => (JobState::Active, self.step(h.until, life.end, now_ms), 0),
                None => (
                    JobState::Active,
                    self.step(life.active, life.end, now_ms),
                    0,
                ),
            }
        };
        let moved_ms = if state == JobState::Queued {
            0
        } else {
            ran(last_update).max(0)
        };
        let kilobytes = if !life.moves_data {
            0
        } else if let Some(huge) = life.huge_kb {
            let total = ran(life.end).max(1);
            (u128::from(huge) * moved_ms as u128 / total as u128) as u64
        } else {
            life.rate.saturating_mul(moved_ms as u64 / 1000)
        };
        let files = if kilobytes == 0 {
            0
        } else {
            (kilobytes / life.file_kb).max(1)
        };
        let done = state == JobState::Done;
        let mut job = Job {
            job_id: index + 1,
            job_type: Some(life.job_type),
            policy_type: life.policy_type,
            state: Some(state),
            status: Some(if done { life.status } else { 0 }),
            queue_reason: Some(reason),
            kilobytes: Some(kilobytes),
            files: Some(files),
            dedup_ratio: life.dedup_ratio.filter(|_| done && kilobytes > 0),
            start_ms: life.created,
            end_ms: done.then_some(life.end),
            last_update_ms: last_update,
            client_name: life.client_name,
            id_as_string: life.id_as_string,
        };
        if let Some(mask) = life.sparse_mask {
            omit_attributes(&mut job, mask);
        }
        Some(job)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::time::Duration;

    use super::*;
    use crate::{Dataset, SimConfig};

    const HOUR: i64 = 3_600_000;

    fn live_config(jobs: u64, churn: u32) -> SimConfig {
        SimConfig {
            live: Some(LiveConfig {
                churn_per_minute: churn,
                ..LiveConfig::default()
            }),
            ..SimConfig::reproducible(jobs)
        }
    }

    fn rank(state: Option<JobState>) -> u8 {
        match state {
            Some(JobState::Queued) => 0,
            Some(JobState::Done) => 2,
            _ => 1,
        }
    }

    #[test]
    fn creation_counts_are_exact() {
        for churn in [1, 7, 60, 1000, 70_000] {
            let live = Live::new(
                &LiveConfig {
                    churn_per_minute: churn,
                    ..LiveConfig::default()
                },
                1_795_766_400_000,
                500,
            );
            for index in (0..2000).chain([u64::from(churn) * 3 + 1]) {
                let at = live.created_ms(index);
                assert!(live.created_by(at) > index, "{churn} {index}");
                assert!(live.created_by(at - 1) <= index, "{churn} {index}");
            }
            assert_eq!(live.created_ms(499), 1_795_766_400_000);
            if churn <= 60_000 {
                // At most one job per millisecond.
                assert_eq!(live.created_by(1_795_766_400_000), 500, "{churn}");
                assert!(live.created_ms(500) > 1_795_766_400_000);
            }
            assert_eq!(live.created_by(i64::MIN), 0);
        }
    }

    #[test]
    fn jobs_exist_from_creation_to_purge() {
        let cfg = live_config(1000, 60);
        let data = Dataset::new(&cfg);
        let anchor = cfg.anchor_ms();
        let retention = HOUR * 48;
        assert_eq!(data.job_id_range_at(anchor).1, 1000);
        assert_eq!(data.jobs_at(anchor).count(), 1000);
        assert_eq!(data.jobs_at(anchor - 1).count(), 999);
        assert_eq!(data.job_count(), 1000);
        let live = Live::new(&LiveConfig::default(), anchor, 1000);
        for index in [0, 1, 999, 1000, 1001, 5000] {
            let created = live.created_ms(index);
            assert_eq!(data.job_at(index, created - 1), None, "{index}");
            let first = data.job_at(index, created).expect("created");
            assert_eq!(first.state, Some(JobState::Queued));
            assert_eq!((first.start_ms, first.last_update_ms), (created, created));
            // Find its end (hourly looks: it stays DONE for 48 h), then check the purge.
            let end = (1..=MAX_LIFETIME_MS / HOUR + 1)
                .find_map(|h| {
                    data.job_at(index, created + h * HOUR)
                        .and_then(|j| j.end_ms)
                })
                .expect("finished");
            assert!(end - created <= MAX_LIFETIME_MS);
            assert!(data.job_at(index, end + retention - 1).is_some());
            assert_eq!(data.job_at(index, end + retention), None);
            assert_eq!(data.job_at(index, i64::MAX), None);
        }
        // Everything below the range is purged, and the range starts above 1 eventually.
        let later = anchor + 200 * HOUR;
        let (first, last) = data.job_id_range_at(later);
        assert!(first > 1 && first <= last);
        for id in (first.saturating_sub(3000)..first).step_by(7).skip(1) {
            assert_eq!(data.job_at(id - 1, later), None, "{id}");
        }
    }

    #[test]
    fn lifecycles_are_monotonic_and_consistent() {
        let cfg = SimConfig {
            sparse_fraction: 0.05,
            ..live_config(600, 20)
        };
        let data = Dataset::new(&cfg);
        let anchor = cfg.anchor_ms();
        let ids = 1..=1200u64;
        let mut previous: Vec<Option<Job<'_>>> = vec![None; 1201];
        let mut gone = BTreeSet::new();
        let mut states = BTreeSet::new();
        let mut end_of = vec![None; 1201];
        // Steps of 7 min 13 s (prime to the minute), with a few close steps.
        let mut now = anchor - 3 * HOUR;
        while now < anchor + 130 * HOUR {
            for id in ids.clone() {
                let slot = usize::try_from(id).expect("small");
                let job = data.job_at(id - 1, now);
                match (&previous[slot], &job) {
                    (Some(_), None) => {
                        gone.insert(id);
                    }
                    (None, Some(_)) => assert!(!gone.contains(&id), "{id} came back"),
                    (Some(before), Some(after)) => {
                        assert!(after.last_update_ms >= before.last_update_ms, "{id}");
                        assert!(rank(after.state) >= rank(before.state) || after.state.is_none());
                        assert!(after.kilobytes >= before.kilobytes || after.kilobytes.is_none());
                        assert!(after.files >= before.files || after.files.is_none());
                        assert_eq!(after.start_ms, before.start_ms);
                        if before != after {
                            assert!(after.last_update_ms > before.last_update_ms, "{id}");
                        }
                    }
                    (None, None) => {}
                }
                if let Some(job) = &job {
                    assert!(job.start_ms <= job.last_update_ms && job.last_update_ms <= now);
                    states.insert(job.state.map(JobState::as_str));
                    let done = job.state == Some(JobState::Done);
                    assert_eq!(job.end_ms.is_some(), done, "{job:?}");
                    if done {
                        assert_eq!(job.end_ms, Some(job.last_update_ms));
                        assert_eq!(job.queue_reason.unwrap_or(0), 0);
                        end_of[slot] = job.end_ms;
                    } else {
                        assert!(matches!(job.status, Some(0) | None));
                        assert_eq!(job.dedup_ratio, None);
                    }
                    if job.state == Some(JobState::Active) {
                        assert_eq!(job.queue_reason.unwrap_or(0), 0);
                    }
                    if job.state == Some(JobState::Queued) {
                        assert_eq!(job.kilobytes.unwrap_or(0), 0);
                        assert_eq!(job.last_update_ms, job.start_ms);
                    }
                }
                previous[slot] = job;
            }
            now += if now % 3 == 0 { 1_000 } else { 433_000 };
        }
        assert_eq!(states.len(), 7, "{states:?}");
        assert!(gone.len() > 1000, "{}", gone.len());
        // Some lower jobIds finished more than a day after a higher one.
        let laggards = end_of
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.map(|e| (i, e)))
            .filter(|(i, e)| {
                end_of
                    .iter()
                    .skip(i + 1)
                    .flatten()
                    .any(|later| *e - *later > 24 * HOUR)
            })
            .count();
        assert!(laggards > 5, "{laggards}");
    }

    #[test]
    fn progress_moves_in_steps() {
        let cfg = SimConfig {
            live: Some(LiveConfig {
                progress_interval: Duration::from_secs(30),
                ..LiveConfig::default()
            }),
            sparse_fraction: 0.0,
            ..SimConfig::reproducible(100)
        };
        let data = Dataset::new(&cfg);
        let anchor = cfg.anchor_ms();
        let mut seen = 0;
        for index in 0..100 {
            let mut updates = BTreeSet::new();
            for s in 0..7200 {
                if let Some(job) = data.job_at(index, anchor + s * 1000)
                    && job.state == Some(JobState::Active)
                {
                    updates.insert(job.last_update_ms);
                }
            }
            let steps: Vec<i64> = updates.iter().copied().collect();
            if steps.len() > 3 {
                seen += 1;
                // Steps of a continuous run are one interval apart.
                assert!(steps.windows(2).any(|w| w[1] - w[0] == 30_000), "{steps:?}");
            }
        }
        assert!(seen > 20, "{seen}");
    }
}
