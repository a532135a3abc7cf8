//! The deterministic dataset: job `i` is a pure function of the configuration and `i` (and, in
//! live mode, of the instant: see `live`).
//!
//! Only the facts that filters and the ground truth need live in [`Job`]; the other ~60
//! attributes of a job are drawn while it is rendered (`render::jobs`), from a separate stream of
//! the same key, so they cost nothing when a filter skips the job.

use super::job::{Job, JobState};
use super::job_draws::{HUGE_ONE_IN, draw_identity, omit_attributes};
use super::live::Live;
use super::optin::OptInData;
use super::rng::Draws;
use super::units::{StorageUnit, generate_units};
use super::vocabulary::{
    CLIENT_PREFIXES, DONE_STATUSES, DURATION_CLASSES, NO_DATA_STATUSES, QUEUE_REASONS,
    SPECIAL_CLIENTS, UNFINISHED_STATES,
};
use crate::config::{SimConfig, fraction};

/// Salt of the stream of a job's core facts.
const CORE: u64 = 0x636f_7265;
/// Salt of the stream of the client pool.
const CLIENTS: u64 = 0x636c_6e74;
/// Number of distinct clients.
const CLIENT_POOL: u64 = 1000;

/// The simulated domain: lazily generated jobs plus the storage units.
#[derive(Debug, Clone)]
pub struct Dataset {
    seed: u64,
    jobs: u64,
    anchor_ms: i64,
    history_ms: i64,
    unfinished_fraction: f64,
    sparse_fraction: f64,
    clients: Vec<String>,
    units: Vec<StorageUnit>,
    opt_in: OptInData,
    live: Option<Live>,
    backup_status: Option<u32>,
}

/// `units` with every disk unit used to `per_mille` of its capacity, when given.
fn fill_disks(mut units: Vec<StorageUnit>, per_mille: Option<u64>) -> Vec<StorageUnit> {
    let Some(per_mille) = per_mille.map(|p| p.min(1000)) else {
        return units;
    };
    for unit in &mut units {
        if let Some(total) = unit.total_bytes {
            let used = total / 1000 * per_mille;
            unit.used_bytes = Some(used);
            unit.free_bytes = Some(total - used);
        }
    }
    units
}

impl Dataset {
    /// The dataset of a configuration.
    pub fn new(config: &SimConfig) -> Self {
        Dataset {
            seed: config.seed,
            jobs: config.jobs,
            anchor_ms: config.anchor_ms(),
            history_ms: config.history_ms(),
            unfinished_fraction: fraction(config.unfinished_fraction),
            sparse_fraction: fraction(config.sparse_fraction),
            clients: client_pool(config.seed),
            units: fill_disks(
                generate_units(config.seed, config.storage_units),
                config.disk_used_per_mille,
            ),
            backup_status: config.backup_status,
            opt_in: OptInData::generate(config.seed, config.anchor_ms(), config.opt_in_scale),
            live: config
                .live
                .as_ref()
                .map(|live| Live::new(live, config.anchor_ms(), config.jobs)),
        }
    }

    /// The data of the opt-in endpoints.
    pub(crate) fn opt_in(&self) -> &OptInData {
        &self.opt_in
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// "Now" of the dataset, Unix milliseconds.
    pub(crate) fn anchor_ms(&self) -> i64 {
        self.anchor_ms
    }

    /// Number of jobs: all of them in static mode; in live mode, the jobs created at or before
    /// `anchor` (see [`Dataset::job_id_range_at`] for the jobs of an instant).
    pub fn job_count(&self) -> u64 {
        self.jobs
    }

    /// The client names jobs are drawn from.
    pub fn client_names(&self) -> &[String] {
        &self.clients
    }

    /// The storage units, sorted by name.
    pub fn storage_units(&self) -> &[StorageUnit] {
        &self.units
    }

    /// Whether the dataset is live (jobs change with the clock).
    pub fn is_live(&self) -> bool {
        self.live.is_some()
    }

    /// The `jobId`s that may exist at `now_ms` (Unix milliseconds), inclusive; empty when
    /// `first > last`. Static mode: `1..=job_count()` at every instant. Live mode: from the
    /// lowest job not certainly purged (creation spacing, longest life and retention tell) to
    /// the last job created at or before `now_ms`; some jobs in between may be purged already.
    pub fn job_id_range_at(&self, now_ms: i64) -> (u64, u64) {
        match &self.live {
            None => (1, self.jobs),
            Some(live) => {
                let (lo, hi) = live.index_range(now_ms);
                (lo.saturating_add(1), hi)
            }
        }
    }

    /// Job `index` (0-based; `jobId` `index + 1`) as it is at `now_ms` (Unix milliseconds):
    /// `None` when it does not exist then (live mode: not created yet, or purged). In static
    /// mode the same as [`Dataset::job`].
    pub fn job_at(&self, index: u64, now_ms: i64) -> Option<Job<'_>> {
        match &self.live {
            None => self.job(index),
            Some(live) => live.job(
                self.seed,
                &self.clients,
                self.sparse_fraction,
                index,
                now_ms,
            ),
        }
    }

    /// Job `index` at `now_ms` with every attribute, including those its page omits (see
    /// [`SimConfig::sparse_fraction`]): what NetBackup itself knows of it, such as the status
    /// its try logs carry. The same draws as [`Dataset::job_at`]: the omission is the last one.
    pub(crate) fn full_job_at(&self, index: u64, now_ms: i64) -> Option<Job<'_>> {
        match &self.live {
            None => (index < self.jobs).then(|| self.generate(index, 0.0)),
            Some(live) => live.job(self.seed, &self.clients, 0.0, index, now_ms),
        }
    }

    /// The instant the pages show the jobs at for a request at `now_ms`: `now_ms` for a live
    /// dataset, the anchor for a static one (whatever the clock says).
    pub(crate) fn render_instant(&self, now_ms: i64) -> i64 {
        if self.is_live() {
            now_ms
        } else {
            self.anchor_ms
        }
    }

    /// Every job that exists at `now_ms`, as it is then, in `jobId` order. In static mode the
    /// same as [`Dataset::jobs`].
    pub fn jobs_at(&self, now_ms: i64) -> impl Iterator<Item = Job<'_>> + '_ {
        let (first, last) = self.job_id_range_at(now_ms);
        (first..=last).filter_map(move |id| self.job_at(id - 1, now_ms))
    }

    /// Job `index` (0-based; its `jobId` is `index + 1`) of the static dataset, or `None` past
    /// the end. A live dataset's jobs depend on the instant: use [`Dataset::job_at`].
    pub fn job(&self, index: u64) -> Option<Job<'_>> {
        (index < self.jobs).then(|| self.generate(index, self.sparse_fraction))
    }

    /// Iterates over every job in `jobId` order.
    pub fn jobs(&self) -> impl Iterator<Item = Job<'_>> + '_ {
        (0..self.jobs).map(|index| self.generate(index, self.sparse_fraction))
    }

    /// Job `index` of the static dataset; `sparse` is the chance that it lacks some attributes.
    fn generate(&self, index: u64, sparse: f64) -> Job<'_> {
        let mut d = Draws::new(self.seed, index, CORE);
        let (job_type, policy_type, client_name) = draw_identity(&mut d, &self.clients);
        let state = if d.chance(self.unfinished_fraction) {
            d.pick(UNFINISHED_STATES).unwrap_or(JobState::Active)
        } else {
            JobState::Done
        };
        let (lo, hi) = d.pick(DURATION_CLASSES).unwrap_or((60, 300));
        let duration_ms = i64::try_from(d.range(lo * 1000, hi * 1000)).unwrap_or(0);
        // Kilobytes per second: 2 MB/s to 600 MB/s.
        let rate = d.range(2_000, 600_000);
        let moves_data = !matches!(job_type, "IMAGEDELETE" | "VERIFY");
        let huge = moves_data && d.below(HUGE_ONE_IN) == 0;
        let huge_kb = (1u64 << 52) - d.below(1 << 44);
        let file_kb = d.range(8, 60_000);

        let mut status = 0;
        let mut queue_reason = 0;
        let (start_ms, end_ms, moved_ms, last_update_ms);
        match state {
            JobState::Done => {
                let end = self
                    .anchor_ms
                    .saturating_sub(d.below(self.history_ms as u64 + 1) as i64);
                status = d.pick(DONE_STATUSES).unwrap_or(0);
                if job_type == "BACKUP"
                    && let Some(forced) = self.backup_status
                {
                    status = forced;
                }
                start_ms = end.saturating_sub(duration_ms);
                end_ms = Some(end);
                moved_ms = if NO_DATA_STATUSES.contains(&status) {
                    0
                } else {
                    duration_ms
                };
                last_update_ms = end.saturating_add(d.below(1000) as i64);
            }
            JobState::Queued | JobState::Requeued => {
                queue_reason = d.pick(QUEUE_REASONS).unwrap_or(0);
                start_ms = self
                    .anchor_ms
                    .saturating_sub(d.range(1_000, 4 * 3_600_000) as i64);
                end_ms = None;
                moved_ms = if state == JobState::Requeued {
                    duration_ms / 4
                } else {
                    0
                };
                last_update_ms = start_ms.max(self.anchor_ms - d.below(60_000) as i64);
            }
            JobState::Active | JobState::Suspended | JobState::Incomplete => {
                let elapsed = if state == JobState::Active {
                    duration_ms
                } else {
                    d.range(3_600_000, 72 * 3_600_000) as i64
                };
                start_ms = self.anchor_ms.saturating_sub(elapsed);
                end_ms = None;
                moved_ms = elapsed / 2;
                last_update_ms = start_ms.max(self.anchor_ms - d.below(60_000) as i64);
            }
        }
        let kilobytes = if !moves_data {
            0
        } else if huge && moved_ms > 0 {
            huge_kb
        } else {
            rate.saturating_mul(moved_ms as u64 / 1000)
        };
        let files = if kilobytes == 0 {
            0
        } else {
            (kilobytes / file_kb).max(1)
        };
        let dedup_ratio = (state == JobState::Done
            && kilobytes > 0
            && matches!(job_type, "BACKUP" | "DUPLICATE" | "REPLICATE" | "DBBACKUP")
            && d.chance(0.85))
        .then(|| d.range(1_000, 9_990) as f64 / 100.0);

        let mut job = Job {
            job_id: index + 1,
            job_type: Some(job_type),
            policy_type,
            state: Some(state),
            status: Some(status),
            queue_reason: Some(queue_reason),
            kilobytes: Some(kilobytes),
            files: Some(files),
            dedup_ratio,
            start_ms,
            end_ms,
            last_update_ms,
            client_name,
            id_as_string: d.chance(0.5),
        };
        if d.chance(sparse) {
            omit_attributes(&mut job, d.next_u64());
        }
        job
    }
}

/// The client host names of a seed.
fn client_pool(seed: u64) -> Vec<String> {
    (0..CLIENT_POOL)
        .map(|k| {
            let special = match k {
                7 => SPECIAL_CLIENTS.first(),
                11 => SPECIAL_CLIENTS.get(1),
                13 => SPECIAL_CLIENTS.get(2),
                17 => SPECIAL_CLIENTS.get(3),
                _ => None,
            };
            match special {
                Some(name) => (*name).to_owned(),
                None => {
                    let mut d = Draws::new(seed, k, CLIENTS);
                    let prefix = CLIENT_PREFIXES
                        .get(d.below(CLIENT_PREFIXES.len() as u64) as usize)
                        .copied()
                        .unwrap_or("host");
                    format!("{prefix}-{k:04}.example.com")
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_pure_functions_of_seed_and_index() {
        let a = Dataset::new(&SimConfig::reproducible(1000));
        let b = Dataset::new(&SimConfig::reproducible(5));
        assert_eq!(a.job(3), b.job(3));
        assert_eq!(a.job(1000), None);
        let other = Dataset::new(&SimConfig {
            seed: 43,
            ..SimConfig::reproducible(1000)
        });
        assert!((0..50).any(|i| a.job(i) != other.job(i)));
    }

    #[test]
    fn jobs_are_consistent_and_varied() {
        let cfg = SimConfig::reproducible(50_000);
        let data = Dataset::new(&cfg);
        let anchor = cfg.anchor_ms();
        let mut huge = 0;
        let mut states = std::collections::BTreeSet::new();
        let mut types = std::collections::BTreeSet::new();
        let (mut string_ids, mut no_dedup, mut sparse) = (0, 0, 0);
        for job in data.jobs() {
            assert!(job.start_ms <= job.last_update_ms);
            match job.state {
                Some(JobState::Done) => {
                    let end = job.end_ms.expect("finished jobs end");
                    assert!(job.start_ms <= end && end <= anchor);
                    assert!(end >= anchor - cfg.history_ms());
                    assert!(job.last_update_ms >= end);
                }
                _ => {
                    assert_eq!(job.end_ms, None);
                    assert_eq!(job.dedup_ratio, None);
                    assert!(matches!(job.status, Some(0) | None));
                }
            }
            if let Some(kb) = job.kilobytes {
                assert!(kb <= u64::MAX / 1024);
                if kb > 1 << 50 {
                    huge += 1;
                }
            }
            if job.job_type == Some("IMAGEDELETE") {
                assert_eq!(job.policy_type, None);
            }
            states.insert(job.state.map(JobState::as_str));
            types.insert(job.job_type);
            string_ids += u32::from(job.id_as_string);
            no_dedup += u32::from(job.dedup_ratio.is_none());
            sparse += u32::from(job.job_type.is_none() || job.status.is_none());
        }
        assert!(huge > 5, "{huge}");
        assert_eq!(states.len(), 7, "{states:?}");
        assert!(types.len() >= 12);
        assert!(string_ids > 20_000 && string_ids < 30_000);
        assert!(no_dedup > 1000);
        assert!(sparse > 100);
    }
}
