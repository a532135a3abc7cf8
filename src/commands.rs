//! The work of the one-shot commands, `check` and `once`, on every site of a configuration.
//! The binary prints the results and turns them into exit codes.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::agent::join_sites;
use crate::collect::job_event::{EventFilter, JobEvent, Reason, ReasonMissing};
use crate::collect::outbox::{check_state_dir, read_checkpoint};
use crate::collect::{JobSync, ProgressSink, SiteCollector, SiteReport, reasons, sources};
use crate::config::{Config, EventsConfig, FirstStart, SiteConfig, SourceId};
use crate::netbackup::{ApiError, ApiFailure};
use crate::report::{CheckResult, FailedJobs};

/// Runs `work` for every site of `config`, all at once, each in a task of its own; the results
/// in configuration order. Work that panics becomes `failed(site, error)`: a failed site,
/// never a missing one.
async fn per_site<T, Fut>(
    config: &Config,
    work: impl Fn(SiteConfig) -> Fut,
    failed: impl Fn(&SiteConfig, ApiError) -> T,
) -> Vec<T>
where
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    join_sites(config.sites.iter().cloned().map(work))
        .await
        .into_iter()
        .zip(&config.sites)
        .map(|(result, site)| {
            result.unwrap_or_else(|e| {
                let detail = e.to_string();
                failed(
                    site,
                    ApiError::of_site(&site.name, ApiFailure::Internal { detail }),
                )
            })
        })
        .collect()
}

/// A `check` result for a site that could not be probed at all.
fn check_failed(site: &SiteConfig, error: ApiError, elapsed: Duration) -> CheckResult {
    CheckResult {
        site: site.name.clone(),
        url: site.url.to_string(),
        outcome: Err(error),
        elapsed,
        sources: Vec::new(),
    }
}

/// Probes every site (TLS, key, API version), all at once; the results in configuration order.
/// A probe that panics is a failed site, never a missing one.
pub async fn check_sites(config: &Config) -> Vec<CheckResult> {
    let probe = |site: SiteConfig| async move {
        let started = Instant::now();
        let collector = match SiteCollector::new(site.clone()) {
            Ok(collector) => collector,
            Err(e) => return check_failed(&site, e, started.elapsed()),
        };
        let outcome = collector.negotiate().await;
        let sources = match &outcome {
            Ok(version) => site
                .sources
                .enabled()
                .map(|(id, _)| (id, sources::supported(id, *version)))
                .collect::<Vec<(SourceId, bool)>>(),
            Err(_) => Vec::new(),
        };
        CheckResult {
            site: site.name,
            url: site.url.to_string(),
            outcome,
            elapsed: started.elapsed(),
            sources,
        }
    };
    per_site(config, probe, |site, e| {
        check_failed(site, e, Duration::ZERO)
    })
    .await
}

/// What `check` says of `sharding`: nothing for one replica; else which shard this replica
/// is and which sites every shard collects (the whole plan, computed locally).
pub fn shard_lines(config: &Config) -> Vec<String> {
    let plan = &config.shards;
    if !plan.is_sharded() {
        return Vec::new();
    }
    let mut lines = vec![format!(
        "sharding: this replica is shard {} of {} (0 to {}) and collects {} of {} site(s)",
        plan.index,
        plan.count,
        plan.count - 1,
        config.sites.len(),
        plan.sites.len()
    )];
    for shard in 0..plan.count {
        let sites: Vec<&str> = plan.sites_of(shard).collect();
        lines.push(format!(
            "  shard {shard}{}: {} site(s){}{}",
            if shard == plan.index {
                " (this replica)"
            } else {
                ""
            },
            sites.len(),
            if sites.is_empty() { "" } else { ": " },
            sites.join(", ")
        ));
    }
    lines
}

/// What `check` says of the job events: whether they are on, where their checkpoints live
/// and whether the agent can write there, and how far each site was reported. Reads files;
/// writes nothing.
pub fn events_lines(config: &Config) -> Vec<String> {
    let events = &config.events;
    if !events.enabled {
        return vec!["job events: off (events.enabled)".to_owned()];
    }
    let mut lines = vec![format!(
        "job events: on, OTLP log records to {}; reasons from try logs: {}",
        config.otlp.endpoint,
        if events.try_logs {
            format!("at most {} per site and cycle", events.try_logs_per_cycle)
        } else {
            "off".to_owned()
        }
    )];
    let Some(dir) = &events.state_dir else {
        lines.push(
            "  checkpoints: in memory only (events.state_dir unset): jobs that finish while \
             the agent is down are not reported after a restart"
                .to_owned(),
        );
        return lines;
    };
    if !dir.is_dir() {
        lines.push(format!(
            "  checkpoints: {} does not exist yet; the agent creates it at start",
            dir.display()
        ));
        return lines;
    }
    match check_state_dir(dir) {
        Ok(()) => lines.push(format!("  checkpoints: {} (writable)", dir.display())),
        Err(e) => lines.push(format!(
            "  checkpoints: NOT WRITABLE ({e}): kept in memory only, a restart loses jobs"
        )),
    }
    for site in &config.sites {
        let line = match read_checkpoint(dir, &site.name) {
            Ok(Some(c)) => format!(
                "  {}: reported up to {}{}",
                site.name,
                chrono::DateTime::from_timestamp_millis(c.reported_to_ms)
                    .map_or_else(|| "the beginning".to_owned(), |t| t.to_rfc3339()),
                if c.reported_after.is_empty() {
                    String::new()
                } else {
                    format!(" and {} job(s) after it", c.reported_after.len())
                }
            ),
            Ok(None) => format!(
                "  {}: no checkpoint yet (first start: {})",
                site.name,
                match events.first_start {
                    FirstStart::New => "only jobs finishing from then on",
                    FirstStart::Window => "every failure of the jobs window",
                }
            ),
            Err(e) => format!("  {}: CHECKPOINT UNREADABLE: {e}", site.name),
        };
        lines.push(line);
    }
    lines
}

/// Reads the jobs window of every site once, all at once, and the reasons of its newest
/// failed jobs (at most `events.try_logs_per_cycle` lookups per site, as the agent would).
pub async fn failed_jobs(config: &Config) -> Vec<FailedJobs> {
    let events = config.events.clone();
    let run = move |site: SiteConfig| {
        let events = events.clone();
        async move {
            let name = site.name.clone();
            let result = site_failed_jobs(site, &events).await;
            FailedJobs { site: name, result }
        }
    };
    per_site(config, run, |site, e| FailedJobs {
        site: site.name.clone(),
        result: Err(e),
    })
    .await
}

async fn site_failed_jobs(
    site: SiteConfig,
    config: &EventsConfig,
) -> Result<Vec<JobEvent>, ApiError> {
    let name: Arc<str> = Arc::from(site.name.as_str());
    let collector = SiteCollector::new(site)?;
    let version = collector.negotiate().await?;
    let filter = EventFilter {
        include_successes: config.include_successes,
    };
    let mut sync = JobSync::new();
    sync.set_event_filter(Some(filter));
    let seen_ms = chrono::Utc::now().timestamp_millis();
    let mut jobs = Vec::new();
    collector
        .sync_jobs(&mut sync, version, |finished| {
            if filter.reports(finished.status) {
                jobs.push(JobEvent::new(&name, finished, seen_ms));
            }
        })
        .await
        .result?;
    jobs.sort_by_key(|j| std::cmp::Reverse((j.time_ms(), j.job_id)));
    let budget = if config.try_logs {
        config.try_logs_per_cycle as usize
    } else {
        0
    };
    let wanted: Vec<u64> = jobs
        .iter()
        .filter(|j| j.reason == Reason::Pending)
        .take(budget)
        .map(|j| j.job_id)
        .collect();
    let found = reasons::look_up(
        collector.client(),
        version,
        &wanted,
        config.reason_max_bytes,
    )
    .await;
    for (job_id, reason, _, _) in found {
        if let Some(job) = jobs.iter_mut().find(|j| j.job_id == job_id) {
            job.reason = reason;
        }
    }
    let missing = if config.try_logs {
        ReasonMissing::Budget
    } else {
        ReasonMissing::Disabled
    };
    for job in jobs.iter_mut().filter(|j| j.reason == Reason::Pending) {
        job.reason = Reason::Missing(missing);
    }
    Ok(jobs)
}

/// Collects every site once, all at once, each jobs walk reporting its progress to the sink
/// `progress` gives for the site (if any); the reports in configuration order. A collection
/// that panics is a failed site, never a missing one.
pub async fn collect_sites(
    config: &Config,
    progress: impl Fn(&str) -> Option<ProgressSink>,
) -> Vec<SiteReport> {
    let run = |site: SiteConfig| {
        let sink = progress(&site.name);
        async move {
            let name = site.name.clone();
            match SiteCollector::new(site) {
                Ok(collector) => collector.collect_all_with_progress(sink).await,
                Err(e) => SiteReport::failed(&name, e),
            }
        }
    };
    per_site(config, run, |site, e| SiteReport::failed(&site.name, e)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(sites: &[&str]) -> Config {
        let mut yaml = String::from("sites:\n");
        for name in sites {
            yaml.push_str(&format!(
                "  - name: {name}\n    url: http://127.0.0.1:9/netbackup\n    api_key: k\n"
            ));
        }
        crate::config::load_str_with_env(&yaml, std::path::Path::new("."), &Default::default())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn check_tells_where_job_events_stand() {
        let off = config(&["a"]);
        assert_eq!(events_lines(&off), ["job events: off (events.enabled)"]);
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut on = config(&["a", "b"]);
        on.events.enabled = true;
        on.events.state_dir = Some(dir.path().to_path_buf());
        let checkpoint = crate::collect::outbox::Checkpoint {
            reported_to_ms: 1_795_000_000_000,
            reported_after: [(7, 1_795_000_001_000)].into(),
        };
        crate::collect::outbox::write_checkpoint(dir.path(), "a", &checkpoint)
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("events-b.json"), "{").unwrap_or_else(|e| panic!("{e}"));
        let lines = events_lines(&on).join("\n");
        assert!(lines.contains("(writable)"), "{lines}");
        assert!(
            lines.contains("a: reported up to 2026-11-18T") && lines.contains("1 job(s) after it"),
            "{lines}"
        );
        assert!(lines.contains("b: CHECKPOINT UNREADABLE"), "{lines}");
        on.events.state_dir = None;
        assert!(events_lines(&on).join("\n").contains("in memory only"));
    }

    #[test]
    fn check_tells_of_a_state_dir_still_to_create_and_of_sites_without_checkpoints() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut on = config(&["a"]);
        on.events.enabled = true;
        on.events.try_logs = false;
        on.events.state_dir = Some(dir.path().join("later"));
        let lines = events_lines(&on).join("\n");
        assert!(lines.contains("reasons from try logs: off"), "{lines}");
        assert!(lines.contains("does not exist yet"), "{lines}");
        on.events.state_dir = Some(dir.path().to_path_buf());
        on.events.first_start = FirstStart::Window;
        let lines = events_lines(&on).join("\n");
        assert!(
            lines.contains("a: no checkpoint yet (first start: every failure of the jobs window)"),
            "{lines}"
        );
    }

    #[test]
    fn check_shows_every_shard_and_the_replicas_own() {
        let names: Vec<String> = (1..=12).map(|i| format!("site-{i}")).collect();
        let mut yaml = String::from("sites:\n");
        for name in &names {
            yaml.push_str(&format!(
                "  - name: {name}\n    url: http://127.0.0.1:9/netbackup\n    api_key: k\n"
            ));
        }
        let env = [
            ("NBU_OTEL_SHARDING__COUNT", "3"),
            ("NBU_OTEL_SHARDING__INDEX", "2"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .into();
        let sharded = crate::config::load_str_with_env(&yaml, std::path::Path::new("."), &env)
            .unwrap_or_else(|e| panic!("{e}"));
        let lines = shard_lines(&sharded);
        assert_eq!(
            lines.first().map(String::as_str),
            Some(
                format!(
                    "sharding: this replica is shard 2 of 3 (0 to 2) and collects {} of 12 site(s)",
                    sharded.sites.len()
                )
                .as_str()
            )
        );
        // Each site on exactly one shard's line, by the assignment's own function.
        for name in &names {
            let shard = crate::config::shards::shard_of(name, 3);
            let on: Vec<&String> = lines[1..]
                .iter()
                .filter(|l| l.split([':', ',', ' ']).any(|w| w == name))
                .collect();
            assert_eq!(on.len(), 1, "{name}: {lines:?}");
            assert!(
                on[0].starts_with(&format!("  shard {shard}")),
                "{name}: {lines:?}"
            );
        }
        assert!(
            lines[3].starts_with("  shard 2 (this replica): "),
            "{lines:?}"
        );
        assert!(
            shard_lines(&config(&["a"])).is_empty(),
            "nothing for one replica"
        );
    }

    #[tokio::test]
    async fn work_that_panics_is_a_failed_site_in_its_place() {
        let config = config(&["first", "crashing", "last"]);
        let results = per_site(
            &config,
            |site| async move {
                assert_ne!(site.name, "crashing", "the work of this site panics");
                Ok::<String, String>(site.name)
            },
            |site, error| Err(format!("{} {}: {error}", site.name, error.kind())),
        )
        .await;
        assert_eq!(results[0], Ok("first".to_owned()));
        let failed = results[1].as_ref().expect_err("the panic is a failure");
        assert!(failed.starts_with("crashing internal: "), "{failed}");
        assert!(failed.contains("the work of this site panics"), "{failed}");
        assert_eq!(results[2], Ok("last".to_owned()));
    }
}
