//! Human and machine output of the `once` and `check` commands.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Map, Value as Json, json};

use crate::collect::SiteReport;
use crate::collect::job_event::{JobEvent, Severity};
use crate::config::SourceId;
use crate::netbackup::{ApiError, ApiFailure, ApiVersion};
use crate::telemetry::catalog::{CATALOG, Value};

/// One collection of every site as JSON: per site its status, errors and every series of the
/// metric catalog (Prometheus names and labels).
pub fn once_json(reports: &[SiteReport]) -> Json {
    let sites: Vec<Json> = reports.iter().map(site_json).collect();
    json!({ "sites": sites })
}

fn site_json(report: &SiteReport) -> Json {
    let snapshot = &report.snapshot;
    let mut series = Vec::new();
    for metric in CATALOG.iter().filter(|m| m.reads_snapshots()) {
        let name = metric.prometheus_name();
        metric.read_series(snapshot, &mut |labels, value| {
            let mut map = Map::new();
            for (k, v) in labels {
                map.insert((*k).to_owned(), Json::String((*v).to_owned()));
            }
            let value = match value {
                Value::U64(v) => json!(v),
                Value::F64(v) => json!(v),
                Value::Histogram(h) => json!({
                    "bucket_counts": h.bucket_counts,
                    "sum": h.sum,
                    "count": h.count,
                }),
            };
            let mut entry = Map::new();
            entry.insert("name".to_owned(), Json::String(name.clone()));
            entry.insert("labels".to_owned(), Json::Object(map));
            entry.insert("value".to_owned(), value);
            series.push(Json::Object(entry));
        });
    }
    let errors: Vec<Json> = source_errors(report)
        .into_iter()
        .map(|(source, e)| json!({ "source": source, "kind": e.kind(), "message": e.to_string() }))
        .collect();
    let mut out = json!({
        "site": report.site,
        "ok": report.is_ok() && report.sources_ok(),
        "api_version": report.api_version.as_ref().ok().map(|v| v.as_str()),
        "response_time_ms": report.response_time.as_secs_f64() * 1000.0,
        "jobs": report.jobs.result.as_ref().ok().map(|j| json!({
            "jobs": j.jobs, "pages": j.pages, "invalid_values": j.invalid_values,
            "elapsed_ms": report.jobs.elapsed.as_millis() as u64,
        })),
        "storage": report.storage.result.as_ref().ok().map(|s| json!({
            "units": s.units.len(), "pages": s.pages, "invalid_values": s.invalid_values,
            "elapsed_ms": report.storage.elapsed.as_millis() as u64,
        })),
        "errors": errors,
    });
    if let Json::Object(map) = &mut out {
        map.insert("series".to_owned(), Json::Array(series));
    }
    out
}

fn source_errors(report: &SiteReport) -> Vec<(&'static str, &ApiError)> {
    match &report.api_version {
        Err(e) => vec![("version", e)],
        Ok(_) => {
            let mut out = Vec::new();
            if let Err(e) = &report.jobs.result {
                out.push(("jobs", e));
            }
            if let Err(e) = &report.storage.result {
                out.push(("storage", e));
            }
            for (id, outcome) in &report.sources {
                if let Some(Err(e)) = outcome.as_ref().map(|o| &o.result) {
                    out.push((id.name(), e));
                }
            }
            out
        }
    }
}

/// One collection of every site as readable tables.
pub fn once_table(reports: &[SiteReport]) -> String {
    let mut out = String::new();
    for report in reports {
        let verdict = if report.is_ok() && report.sources_ok() {
            "OK"
        } else {
            "FAILED"
        };
        let version = report
            .api_version
            .as_ref()
            .map_or_else(|_| "-".to_owned(), |v| v.to_string());
        let _ = writeln!(
            out,
            "site {}: {verdict} (API {version}, probe {})",
            report.site,
            millis(report.response_time)
        );
        for (source, e) in source_errors(report) {
            let _ = writeln!(out, "  error [{source}, {}]: {e}", e.kind());
        }
        if let Ok(jobs) = &report.jobs.result {
            let _ = writeln!(
                out,
                "\n  jobs: {} in {} pages, {} invalid values skipped, {}",
                jobs.jobs,
                jobs.pages,
                jobs.invalid_values,
                millis(report.jobs.elapsed)
            );
            let mut rows = vec![[
                "ACTION".to_owned(),
                "POLICY TYPE".to_owned(),
                "STATUS".to_owned(),
                "JOBS".to_owned(),
                "BYTES".to_owned(),
            ]];
            for (key, count) in &jobs.counts {
                let bytes = jobs.bytes.get(key).copied().unwrap_or(0);
                rows.push([
                    key.action.clone(),
                    key.policy_type.clone(),
                    key.status.clone(),
                    count.to_string(),
                    human_bytes(bytes),
                ]);
            }
            table(&mut out, &rows);
            if !jobs.queued_counts.is_empty() {
                let mut rows = vec![[
                    "ACTION".to_owned(),
                    "QUEUE REASON".to_owned(),
                    "QUEUED".to_owned(),
                ]];
                for (key, n) in &jobs.queued_counts {
                    rows.push([key.action.clone(), key.reason.clone(), n.to_string()]);
                }
                out.push('\n');
                table(&mut out, &rows);
            }
        }
        if let Ok(storage) = &report.storage.result {
            let _ = writeln!(
                out,
                "\n  storage: {} units in {} pages, {}",
                storage.units.len(),
                storage.pages,
                millis(report.storage.elapsed)
            );
            let mut rows = vec![[
                "NAME".to_owned(),
                "TYPE".to_owned(),
                "FREE".to_owned(),
                "USED".to_owned(),
                "CAPACITY".to_owned(),
            ]];
            for (key, unit) in &storage.units {
                let show = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), human_bytes);
                rows.push([
                    key.name.clone(),
                    key.server_type.clone(),
                    show(unit.free_bytes),
                    show(unit.used_bytes),
                    show(unit.capacity_bytes),
                ]);
            }
            table(&mut out, &rows);
        }
        out.push('\n');
    }
    out
}

/// What `check` found for one site.
#[derive(Debug)]
pub struct CheckResult {
    /// Site name.
    pub site: String,
    /// Site URL.
    pub url: String,
    /// The negotiated version or the error.
    pub outcome: Result<ApiVersion, ApiError>,
    /// How long the probe took.
    pub elapsed: Duration,
    /// The enabled opt-in sources and whether the negotiated version has their endpoints.
    pub sources: Vec<(SourceId, bool)>,
}

/// The `check` table: reachable, TLS, key, API version and a verdict per site.
pub fn check_table(results: &[CheckResult]) -> String {
    let mut rows = vec![[
        "SITE".to_owned(),
        "URL".to_owned(),
        "REACHABLE".to_owned(),
        "TLS".to_owned(),
        "KEY".to_owned(),
        "API".to_owned(),
        "VERDICT".to_owned(),
    ]];
    let mut details = String::new();
    for r in results {
        let https = r.url.starts_with("https://");
        let tls_ok = if https { "ok" } else { "plain http" };
        let (reachable, tls, key, api, verdict) = match &r.outcome {
            Ok(v) => ("yes", tls_ok, "accepted", v.to_string(), "OK".to_owned()),
            Err(e) if matches!(e.failure, ApiFailure::Unauthorized { .. }) => {
                ("yes", tls_ok, "REFUSED", "-".into(), verdict(e))
            }
            Err(e) if matches!(e.failure, ApiFailure::VersionUnsupported { .. }) => {
                ("yes", tls_ok, "accepted", "none".into(), verdict(e))
            }
            Err(e) if matches!(e.failure, ApiFailure::Tls { .. }) => {
                ("yes", "FAILED", "-", "-".into(), verdict(e))
            }
            Err(e)
                if matches!(
                    e.failure,
                    ApiFailure::Connect { .. } | ApiFailure::Timeout { .. }
                ) =>
            {
                ("NO", "-", "-", "-".into(), verdict(e))
            }
            // The server was never asked: the client could not be built, or the agent failed.
            Err(e)
                if matches!(
                    e.failure,
                    ApiFailure::Setup { .. } | ApiFailure::Internal { .. }
                ) =>
            {
                ("-", "-", "-", "-".into(), verdict(e))
            }
            Err(e) => ("yes", tls_ok, "?", "-".into(), verdict(e)),
        };
        rows.push([
            r.site.clone(),
            r.url.clone(),
            reachable.into(),
            tls.into(),
            key.into(),
            api,
            verdict,
        ]);
        if let Err(e) = &r.outcome {
            let _ = writeln!(details, "{}: {e}", r.site);
        }
        if let (Ok(version), false) = (&r.outcome, r.sources.is_empty()) {
            let sources: Vec<String> = r
                .sources
                .iter()
                .map(|(id, supported)| {
                    if *supported {
                        format!("{id} collected")
                    } else {
                        format!("{id} skipped (API {version} has no endpoint for it)")
                    }
                })
                .collect();
            let _ = writeln!(
                details,
                "{}: opt-in sources: {}",
                r.site,
                sources.join(", ")
            );
        }
    }
    let mut out = String::new();
    table(&mut out, &rows);
    if !details.is_empty() {
        out.push('\n');
        out.push_str(&details);
    }
    out
}

/// The failed jobs of one site's jobs window, for `once --failed-jobs`.
#[derive(Debug)]
pub struct FailedJobs {
    /// The site.
    pub site: String,
    /// Its failed jobs (and successes, with `events.include_successes`), newest end first, with
    /// NetBackup's reasons for the newest `events.try_logs_per_cycle`; or why they could not be
    /// read.
    pub result: Result<Vec<JobEvent>, ApiError>,
}

/// The widest reason a `once --failed-jobs` table shows (the JSON has it whole).
const REASON_COLUMN: usize = 100;

/// The end of a job as UTC text.
fn ended(job: &JobEvent) -> String {
    job.end_ms
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map_or_else(
            || "-".to_owned(),
            |t| t.format("%Y-%m-%d %H:%M:%SZ").to_string(),
        )
}

/// The failed jobs of every site as a table, newest first, with NetBackup's reason (or why
/// there is none), a site that could not be read as a line of its own.
pub fn failed_jobs_table(sites: &[FailedJobs]) -> String {
    let mut out = String::new();
    for site in sites {
        let jobs = match &site.result {
            Ok(jobs) => jobs,
            Err(e) => {
                let _ = writeln!(out, "{}: FAILED ({}): {e}", site.site, e.kind());
                continue;
            }
        };
        let _ = writeln!(out, "{}: {} job(s)", site.site, jobs.len());
        if jobs.is_empty() {
            continue;
        }
        let mut rows = vec![[
            "JOB".to_owned(),
            "ENDED".to_owned(),
            "TYPE".to_owned(),
            "CLIENT".to_owned(),
            "POLICY".to_owned(),
            "STATUS".to_owned(),
            "REASON".to_owned(),
        ]];
        for job in jobs {
            let d = &job.details;
            let reason = match (job.reason_text(), job.reason_missing()) {
                (Some(text), _) => text.to_owned(),
                (None, Some(why)) => format!(
                    "{} (reason: {})",
                    job.status_message().unwrap_or("-"),
                    why.as_str()
                ),
                (None, None) => job.status_message().unwrap_or("-").to_owned(),
            };
            let reason: String = if reason.chars().count() > REASON_COLUMN {
                reason
                    .chars()
                    .take(REASON_COLUMN - 1)
                    .chain(['…'])
                    .collect()
            } else {
                reason
            };
            rows.push([
                job.job_id.to_string(),
                ended(job),
                job.job_type.to_string(),
                d.client.as_deref().unwrap_or("-").to_owned(),
                d.policy_name.as_deref().unwrap_or("-").to_owned(),
                job.status.map_or_else(|| "?".to_owned(), |s| s.to_string()),
                reason,
            ]);
        }
        table(&mut out, &rows);
    }
    out
}

/// The failed jobs of every site as JSON: one object per site with its jobs (every attribute
/// a job event carries) or its error.
pub fn failed_jobs_json(sites: &[FailedJobs]) -> Json {
    let sites: Vec<Json> = sites
        .iter()
        .map(|site| match &site.result {
            Err(e) => json!({"site": site.site, "error": e.to_string(), "error_type": e.kind()}),
            Ok(jobs) => json!({
                "site": site.site,
                "jobs": jobs.iter().map(job_json).collect::<Vec<_>>(),
            }),
        })
        .collect();
    json!({ "sites": sites })
}

fn job_json(job: &JobEvent) -> Json {
    let d = &job.details;
    json!({
        "job_id": job.job_id,
        "parent_job_id": d.parent_job_id,
        "end_time": job.end_ms.and_then(chrono::DateTime::from_timestamp_millis).map(|t| t.to_rfc3339()),
        "type": job.job_type,
        "sub_type": d.sub_type,
        "client": d.client,
        "policy": d.policy_name,
        "policy_type": job.policy_type,
        "schedule": d.schedule,
        "status": job.status,
        "status_message": job.status_message(),
        "severity": match job.severity() {
            Severity::Info => "INFO",
            Severity::Warn => "WARN",
            Severity::Error => "ERROR",
        },
        "tries": d.tries,
        "bytes": job.bytes,
        "files": d.files,
        "duration_seconds": job.duration_seconds,
        "storage_unit": d.storage_unit,
        "media_server": d.media_server,
        "reason": job.reason_text(),
        "reason_missing": job.reason_missing().map(|m| m.as_str()),
        "summary": job.body(),
    })
}

fn verdict(e: &ApiError) -> String {
    format!("FAILED ({})", e.kind())
}

fn table<const N: usize>(out: &mut String, rows: &[[String; N]]) {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in rows {
        out.push_str("  ");
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            if i + 1 == N {
                out.push_str(cell);
            } else {
                let _ = write!(out, "{cell:<w$}  ");
            }
        }
        out.push('\n');
    }
}

fn millis(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

/// Bytes in binary units with one decimal: `1.5 GiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes_units() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(u64::MAX), "16.0 EiB");
    }
}
