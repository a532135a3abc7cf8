//! The document of `GET /admin/jobs/{jobId}/try-logs`: one `parsedTryLogResponse` per try, as
//! in the 11.2 `admin.yaml` schema and example (relative `links` to each try, `id`
//! `<jobId>-<tryNumber>`, the required `tryJobId`, `tryNumber`, `tryStartTime`, `tryEndTime`,
//! `tryStatusCode`, `tryStatusMessage` and `tryLog`, plus the process, transfer, media server
//! and storage unit attributes).

use super::json::JsonOut;
use crate::dataset::Dataset;
use crate::dataset::Job;
use crate::dataset::details::JobDetails;
use crate::dataset::timefmt::write_timestamp;
use crate::dataset::tries::{Try, job_tries};

fn time(out: &mut JsonOut, name: &str, ms: i64) {
    let mut text = String::with_capacity(24);
    write_timestamp(&mut text, ms);
    out.key(name).str(&text);
}

fn render_try(out: &mut JsonOut, job_id: u64, t: &Try<'_>, count: u64) {
    let n = t.number;
    out.begin_object();
    out.key("links").begin_object();
    out.key("self")
        .href(format_args!("/admin/jobs/{job_id}/try-logs/{n}"));
    if n > 1 {
        out.key("prev")
            .href(format_args!("/admin/jobs/{job_id}/try-logs/{}", n - 1));
    }
    if n < count {
        out.key("next")
            .href(format_args!("/admin/jobs/{job_id}/try-logs/{}", n + 1));
    }
    out.key("first")
        .href(format_args!("/admin/jobs/{job_id}/try-logs/1"));
    out.key("last")
        .href(format_args!("/admin/jobs/{job_id}/try-logs/{count}"));
    out.end_object();
    out.key("type").str("parsedTryLogResponse");
    out.key("id").str_fmt(format_args!("{job_id}-{n}"));
    out.key("attributes").begin_object();
    out.key("tryJobId").u64(job_id);
    out.key("tryNumber").u64(n);
    time(out, "tryStartTime", t.start_ms);
    time(out, "tryEndTime", t.end_ms);
    out.key("tryStatusCode")
        .u64(u64::from(t.status.unwrap_or(0)));
    out.key("tryStatusMessage").str(t.status_message());
    out.key("tryProcessId").u64(t.pid);
    out.key("tryKbps").f64(t.kbps());
    out.key("tryKbWritten").u64(t.kilobytes);
    out.key("tryFilesWritten").u64(t.files);
    out.key("tryMediaServer").str(t.media_server);
    out.key("trySourceStorageUnit").str(t.source_unit);
    out.key("tryDestinationStorageUnit").str(t.destination_unit);
    out.key("tryLog").begin_array();
    for line in &t.log {
        out.begin_object();
        time(out, "timestamp", line.timestamp_ms);
        if let Some(severity) = line.severity {
            out.key("severity").str(severity);
        }
        out.key("message").str(&line.message);
        out.end_object();
    }
    out.end_array();
    out.end_object();
    out.end_object();
}

/// The try-logs document of `job` (as the jobs page shows it) at `now_ms`, the page's instant.
pub(crate) fn render_try_logs(dataset: &Dataset, job: &Job<'_>, now_ms: i64) -> String {
    let (details, _) = JobDetails::draw(dataset, job, now_ms);
    let tries = job_tries(dataset, job, &details, now_ms);
    let count = tries.len() as u64;
    let mut out = JsonOut::with_capacity(256 + tries.len() * 2048);
    out.begin_object();
    out.key("data").begin_array();
    for t in &tries {
        render_try(&mut out, job.job_id, t, count);
    }
    out.end_array();
    out.end_object();
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimConfig;

    #[test]
    fn documents_have_one_element_per_try() {
        let data = Dataset::new(&SimConfig {
            unfinished_fraction: 0.3,
            sparse_fraction: 0.1,
            ..SimConfig::reproducible(2000)
        });
        let anchor = data.anchor_ms();
        let mut multi = 0;
        for job in data.jobs() {
            let text = render_try_logs(&data, &job, anchor);
            let doc: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
            let items = doc["data"].as_array().expect("data");
            assert!(!items.is_empty() && items.len() <= 3);
            multi += usize::from(items.len() > 1);
            for (k, item) in items.iter().enumerate() {
                let a = &item["attributes"];
                assert_eq!(a["tryNumber"], k as u64 + 1);
                assert_eq!(a["tryJobId"], job.job_id);
                assert_eq!(item["id"], format!("{}-{}", job.job_id, k + 1));
                assert!(!a["tryLog"].as_array().expect("tryLog").is_empty());
            }
        }
        assert!(multi > 50, "{multi}");
    }
}
