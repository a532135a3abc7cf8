//! JSON:API documents of `/admin/jobs`, written straight into a string.
//!
//! Attribute names and types follow the 11.2 `admin.yaml` job schema and its example (about 80
//! attributes per job). Details that neither filters nor the ground truth use are drawn here,
//! from the job's own render stream, so a page is still a pure function of the dataset.

use super::hostile::render_hostile_job;
use super::json::JsonOut;
use crate::dataset::details::{JobDetails, is_backup_like, media_server, unit_name};
use crate::dataset::rng::Draws;
use crate::dataset::timefmt::{write_duration, write_timestamp};
use crate::dataset::vocabulary::PRIMARY_SERVER;
use crate::dataset::{Dataset, Job, JobState};

/// One page of jobs and its navigation.
#[derive(Debug)]
pub struct JobsPage<'a> {
    /// The jobs of the page, in walk order.
    pub items: Vec<Job<'a>>,
    /// `meta.pagination.limit`.
    pub limit: u64,
    /// `meta.pagination.next`: cursor of the last item when more jobs follow.
    pub next: Option<u64>,
    /// `meta.pagination.prev`: cursor of the first item when the page did not start the walk.
    pub prev: Option<u64>,
    /// `links.self.href`.
    pub self_href: String,
    /// `links.first.href`.
    pub first_href: String,
    /// `links.next.href`.
    pub next_href: Option<String>,
    /// Render hostile items (`Fault::HostileValues`) instead of the real ones.
    pub hostile: bool,
}

/// Renders a whole page as of the dataset's anchor (see [`render_jobs_page_at`]).
pub fn render_jobs_page(dataset: &Dataset, page: &JobsPage<'_>, base: &str) -> String {
    render_jobs_page_at(dataset, page, base, dataset.anchor_ms())
}

/// Renders a whole page of jobs as they are at `now_ms` (Unix milliseconds; the elapsed time
/// of unfinished jobs runs to it). `base` is the absolute API base
/// (`http://host:port/netbackup`) used in the per-job `file-lists` and `try-logs` links.
pub fn render_jobs_page_at(
    dataset: &Dataset,
    page: &JobsPage<'_>,
    base: &str,
    now_ms: i64,
) -> String {
    let mut out = JsonOut::with_capacity(512 + page.items.len() * 3200);
    out.begin_object();
    out.key("data").begin_array();
    for job in &page.items {
        if page.hostile {
            render_hostile_job(&mut out, job);
        } else {
            render_job(&mut out, dataset, job, base, now_ms);
        }
    }
    out.end_array();
    out.key("meta")
        .begin_object()
        .key("pagination")
        .begin_object();
    out.key("limit").u64(page.limit);
    if let Some(next) = page.next {
        out.key("next").str_fmt(format_args!("{next}"));
    }
    if let Some(prev) = page.prev {
        out.key("prev").str_fmt(format_args!("{prev}"));
    }
    out.end_object().end_object();
    out.key("links").begin_object();
    out.key("self").href(format_args!("{}", page.self_href));
    out.key("first").href(format_args!("{}", page.first_href));
    if let Some(next) = &page.next_href {
        out.key("next").href(format_args!("{next}"));
    }
    out.end_object();
    out.end_object();
    out.finish()
}

fn time(out: &mut JsonOut, name: &str, ms: i64) {
    let mut text = String::with_capacity(24);
    write_timestamp(&mut text, ms);
    out.key(name).str(&text);
}

fn duration(out: &mut JsonOut, name: &str, ms: i64) {
    let mut text = String::with_capacity(16);
    write_duration(&mut text, ms);
    out.key(name).str(&text);
}

fn ratio(r: &mut Draws, max_hundredths: u64) -> f64 {
    r.below(max_hundredths + 1) as f64 / 100.0
}

/// Renders one job resource object.
pub(crate) fn render_job(
    out: &mut JsonOut,
    dataset: &Dataset,
    job: &Job<'_>,
    base: &str,
    now_ms: i64,
) {
    let id = job.job_id;
    let (details, mut r) = JobDetails::draw(dataset, job, now_ms);
    let kind = job.job_type.unwrap_or("");
    let state = job.state;
    let done = state == Some(JobState::Done);
    let now_or_end = details.now_or_end_ms;
    let elapsed_ms = now_or_end - job.start_ms;
    let kb = job.kilobytes.unwrap_or(0);
    let files = job.files.unwrap_or(0);
    let backup_like = is_backup_like(kind);
    let parent = details.parent;
    let tries = details.tries;
    let try_start = details.try_start_ms;

    out.begin_object();
    out.key("links").begin_object();
    out.key("self").href(format_args!("/admin/jobs/{id}"));
    out.key("file-lists")
        .href(format_args!("{base}/admin/jobs/{id}/file-lists"));
    out.key("try-logs")
        .href(format_args!("{base}/admin/jobs/{id}/try-logs"));
    out.end_object();
    out.key("type").str("job");
    if job.id_as_string {
        out.key("id").str_fmt(format_args!("{id}"));
    } else {
        out.key("id").u64(id);
    }
    out.key("meta").begin_object().key("page").begin_object();
    out.key("cursor").str_fmt(format_args!("{id}"));
    out.end_object().end_object();

    out.key("attributes").begin_object();
    out.key("jobId").u64(id);
    out.key("parentJobId").u64(parent);
    out.key("activeProcessId").u64(details.active_pid);
    out.key("mainProcessId").u64(details.main_pid);
    if let Some(job_type) = job.job_type {
        out.key("jobType").str(job_type);
    }
    out.key("jobSubType").str(details.sub_type);
    match (job.policy_type, details.policy) {
        (Some(policy_type), Some((prefix, tier, n))) => {
            out.key("policyType").str(policy_type);
            out.key("policyName")
                .str_fmt(format_args!("{prefix}-{tier}-{n:02}"));
        }
        _ => {
            out.key("policyName").str("");
        }
    }
    let (schedule_type, schedule_name) = (details.schedule_type, details.schedule_name);
    out.key("scheduleType").str(schedule_type);
    out.key("scheduleName").str(schedule_name);
    out.key("clientName").str(job.client_name);
    out.key("controlHost").str(if kind == "IMAGEDELETE" {
        ""
    } else {
        PRIMARY_SERVER
    });
    out.key("jobOwner").str("root");
    out.key("jobGroup")
        .str(if kind == "IMAGEDELETE" { "" } else { "root" });
    if backup_like && done && matches!(job.status, Some(0 | 1)) {
        out.key("backupId").str_fmt(format_args!(
            "{}_{}",
            job.client_name,
            job.start_ms.div_euclid(1000)
        ));
    } else {
        out.key("backupId").str("");
    }
    out.key("sourceMediaId").str("");
    out.key("sourceStorageUnitName").str(details.source_unit);
    out.key("sourceMediaServerName").str(details.source_media);
    out.key("destinationMediaId").str("");
    out.key("destinationStorageUnitName")
        .str(details.destination_unit);
    out.key("destinationMediaServerName")
        .str(details.destination_media);
    let data_movement = match kind {
        "SNAPSHOT" | "SNAPDUPE" => "SNAPSHOT",
        "BACKUP" if r.chance(0.05) => "SYNTHETIC",
        _ => "STANDARD",
    };
    out.key("dataMovement").str(data_movement);
    out.key("streamNumber").u64(r.below(8));
    let copy = match kind {
        "DUPLICATE" | "REPLICATE" | "SNAPDUPE" => 2,
        _ if backup_like => 1,
        _ => 0,
    };
    out.key("copyNumber").u64(copy);
    out.key("priority")
        .u64(r.pick(&[(0, 80), (50_000, 15), (90_000, 5)]).unwrap_or(0));
    out.key("retentionLevel")
        .u64(if r.chance(0.1) { 25 } else { r.below(10) });
    out.key("compression").u64(r.below(2));
    if let Some(status) = job.status {
        out.key("status").u64(u64::from(status));
    }
    if let Some(state) = state {
        out.key("state").str(state.as_str());
    }
    out.key("done").u64(u64::from(done));
    if let Some(files) = job.files {
        out.key("numberOfFiles").u64(files);
    }
    let estimated = if done {
        files
    } else {
        files + r.below(files + 1)
    };
    out.key("estimatedFiles").u64(estimated);
    if let Some(kb) = job.kilobytes {
        out.key("kilobytesTransferred").u64(kb);
    }
    let to_transfer = if done {
        0
    } else {
        r.below(kb.min(1 << 40) + 1)
    };
    out.key("kilobytesToTransfer").u64(to_transfer);
    let seconds = (elapsed_ms / 1000).max(1) as u64;
    out.key("transferRate").u64(kb / seconds);
    let percent = match state {
        Some(JobState::Done) => 100,
        Some(JobState::Queued) | None => 0,
        _ => r.range(1, 99),
    };
    out.key("percentComplete").u64(percent);
    let flag = |on: bool| u64::from(on);
    out.key("restartable")
        .u64(flag(state == Some(JobState::Incomplete)));
    out.key("suspendable")
        .u64(flag(state == Some(JobState::Active)));
    out.key("resumable").u64(flag(matches!(
        state,
        Some(JobState::Suspended | JobState::Incomplete)
    )));
    out.key("killable").u64(1);
    out.key("frozenImage").u64(flag(kind == "SNAPSHOT"));
    out.key("transportType")
        .str(if r.chance(0.95) { "LAN" } else { "FAT" });
    let operation = match (state, kind) {
        (Some(JobState::Active), "BACKUP" | "DBBACKUP" | "ARCHIVE") => 3,
        (Some(JobState::Active), "RESTORE") => 14,
        (Some(JobState::Active), "DUPLICATE") => 11,
        (Some(JobState::Active), "REPLICATE") => 29,
        (Some(JobState::Active), _) => 30,
        (Some(JobState::Queued | JobState::Requeued), _) => 32,
        _ => 0,
    };
    out.key("currentOperation").u64(operation);
    if let Some(reason) = job.queue_reason {
        out.key("jobQueueReason").u64(u64::from(reason));
    }
    let queued = state.is_some_and(JobState::is_queued);
    let resource = match job.queue_reason {
        Some(2 | 1) if queued => "nbu-media01.example.com:hcart2-robot-tld-0",
        Some(3 | 12 | 31) if queued => media_server(&mut r),
        Some(0) | None => "",
        Some(_) if queued => unit_name(dataset, &mut r),
        Some(_) => "",
    };
    out.key("jobQueueResource").str(resource);
    out.key("robotName").str("");
    out.key("vaultName").str("");
    out.key("profileName").str("");
    out.key("sessionId").u64(0);
    out.key("numberOfTapeToEject").u64(0);
    out.key("submissionType").u64(0);
    out.key("dumpHost").str("");
    let instance = match job.policy_type {
        Some("SQL_SERVER") => "MSSQLSERVER\\sales",
        Some("OBACKUP") => "ORCL",
        Some("SAP") => "PRD",
        _ => "",
    };
    out.key("instanceDatabaseName").str(instance);
    out.key("auditUserName")
        .str(if kind == "RESTORE" { "admin" } else { "" });
    out.key("auditDomainName").str("");
    out.key("auditDomainType").u64(0);
    if kind == "RESTORE" {
        let image = job.start_ms.div_euclid(1000) - r.range(86_400, 30 * 86_400) as i64;
        out.key("restoreBackupIDs")
            .str_fmt(format_args!("{}_{image}", job.client_name));
    } else {
        out.key("restoreBackupIDs").str("");
    }
    time(out, "startTime", job.start_ms);
    if let Some(end) = job.end_ms {
        time(out, "endTime", end);
    }
    time(out, "activeTryStartTime", try_start);
    time(out, "lastUpdateTime", job.last_update_ms);
    let data_kb = match job.dedup_ratio {
        Some(dedup) => (kb as f64 * (1.0 - dedup / 100.0)) as u64,
        None => kb,
    };
    out.key("kilobytesDataTransferred").u64(data_kb);
    out.key("try").u64(tries);
    let workload = matches!(job.policy_type, Some("VMWARE" | "HYPERV" | "NUTANIX_AHV"));
    if workload {
        let (a, b) = (r.next_u64(), r.next_u64());
        out.key("assetID").str_fmt(format_args!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xffff,
            b >> 48,
            b & 0xffff_ffff_ffff
        ));
        out.key("assetDisplayableName").str(job.client_name);
        out.key("workloadDisplayName").str(job.client_name);
    } else {
        out.key("assetID").str("");
        out.key("assetDisplayableName").str("");
        out.key("workloadDisplayName").str("");
    }
    duration(out, "elapsedTime", elapsed_ms);
    duration(out, "activeElapsedTime", now_or_end - try_start);
    let children = if parent == 0 && kind == "BACKUP" {
        r.below(4)
    } else {
        0
    };
    out.key("childCount").u64(children);
    if parent > 0 {
        out.key("jobPath").str_fmt(format_args!("{parent}.{id}"));
    } else {
        out.key("jobPath").str_fmt(format_args!("{id}"));
    }
    if kind == "BACKUP" && done && kb > 0 && r.chance(0.6) {
        out.key("acceleratorOptimization").f64(ratio(&mut r, 9_999));
    }
    let application = match job.policy_type {
        Some("VMWARE") => "VMWARE",
        Some("HYPERV") => "HYPERV",
        Some("NUTANIX_AHV") => "AHV",
        _ => "NONE",
    };
    out.key("applicationType").str(application);
    out.key("cancellable").u64(flag(!done));
    if let Some(dedup) = job.dedup_ratio {
        out.key("compressionSpaceRatio").f64(ratio(&mut r, 5_000));
        out.key("dedupRatio").f64(dedup);
        out.key("dedupSpaceRatio")
            .f64(ratio(&mut r, (dedup * 100.0) as u64));
    }
    out.key("dteMode")
        .str(if r.chance(0.1) { "ON" } else { "OFF" });
    out.key("offHostType").str("STANDARD");
    if state == Some(JobState::Active) && backup_like {
        out.key("currentFile").str_fmt(format_args!(
            "/data/vol{}/file{:06}.dat",
            r.below(8),
            r.below(1_000_000)
        ));
    }
    out.end_object();
    out.end_object();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimConfig;

    #[test]
    fn pages_are_valid_json_with_the_vendor_shape() {
        let data = Dataset::new(&SimConfig::reproducible(3000));
        let page = JobsPage {
            items: data.jobs().collect(),
            limit: 3000,
            next: Some(3000),
            prev: None,
            self_href: "/netbackup/admin/jobs?x=\"1\"".to_owned(),
            first_href: "/netbackup/admin/jobs".to_owned(),
            next_href: None,
            hostile: false,
        };
        let text = render_jobs_page(&data, &page, "http://127.0.0.1:1/netbackup");
        let doc: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        let items = doc["data"].as_array().expect("data");
        assert_eq!(items.len(), 3000);
        let (mut int_ids, mut str_ids, mut most) = (0, 0, 0);
        for (item, job) in items.iter().zip(data.jobs()) {
            let attrs = item["attributes"].as_object().expect("attributes");
            most = most.max(attrs.len());
            assert_eq!(attrs["jobId"], job.job_id);
            assert_eq!(item["meta"]["page"]["cursor"], job.job_id.to_string());
            assert_eq!(item["type"], "job");
            match &item["id"] {
                serde_json::Value::Number(n) => {
                    int_ids += 1;
                    assert_eq!(n.as_u64(), Some(job.job_id));
                }
                serde_json::Value::String(s) => {
                    str_ids += 1;
                    assert_eq!(s, &job.job_id.to_string());
                }
                other => panic!("id {other}"),
            }
            assert_eq!(attrs.contains_key("endTime"), job.end_ms.is_some());
            assert_eq!(attrs.contains_key("state"), job.state.is_some());
            assert_eq!(
                attrs.get("clientName").and_then(|v| v.as_str()),
                Some(job.client_name)
            );
            assert_eq!(
                attrs.get("kilobytesTransferred").and_then(|v| v.as_u64()),
                job.kilobytes
            );
            assert_eq!(
                attrs.get("dedupRatio").and_then(|v| v.as_f64()),
                job.dedup_ratio
            );
            let start = attrs["startTime"].as_str().expect("startTime");
            assert_eq!(start.len(), 24, "{start}");
            assert!(start.ends_with('Z'));
        }
        assert!(int_ids > 0 && str_ids > 0);
        assert!(most >= 78, "{most}");
        assert_eq!(doc["meta"]["pagination"]["next"], "3000");
        assert_eq!(
            doc["links"]["self"]["href"],
            "/netbackup/admin/jobs?x=\"1\""
        );
    }

    #[test]
    fn a_page_of_100_is_cheap() {
        let data = Dataset::new(&SimConfig::reproducible(1_000_000));
        let started = std::time::Instant::now();
        let rounds = 20;
        let mut bytes = 0;
        for round in 0..rounds {
            let page = JobsPage {
                items: (0..100)
                    .filter_map(|i| data.job(round * 10_000 + i))
                    .collect(),
                limit: 100,
                next: None,
                prev: None,
                self_href: String::new(),
                first_href: String::new(),
                next_href: None,
                hostile: false,
            };
            bytes += render_jobs_page(&data, &page, "http://h/netbackup").len();
        }
        let per_page = started.elapsed() / rounds as u32;
        eprintln!(
            "page of 100 jobs: {per_page:?}, {} bytes",
            bytes / rounds as usize
        );
        // Debug builds are 10-30x slower than release; the release target is well under 1 ms.
        assert!(
            per_page < std::time::Duration::from_millis(50),
            "{per_page:?}"
        );
    }
}
