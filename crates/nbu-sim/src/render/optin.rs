//! JSON items of `/manage/alerts`, `/malware/latest-scan-results`, `/catalog/images` and
//! `/servicecatalog/slos`, in the shape of each API version's vendor schema.

use super::json::JsonOut;
use crate::dataset::optin::{Alert, Image, ScanResult, Slo, scan_state_in};
use crate::dataset::timefmt::write_timestamp;
use crate::version::ApiVersion;

/// Writes a timestamp string value.
pub(crate) fn time(out: &mut JsonOut, ms: i64) {
    let mut text = String::with_capacity(24);
    write_timestamp(&mut text, ms);
    out.str(&text);
}

/// Writes `"links":{"self":{"href":...}}`.
pub(crate) fn self_link(out: &mut JsonOut, href: std::fmt::Arguments<'_>) {
    out.key("links").begin_object();
    out.key("self").href(href);
    out.end_object();
}

/// An alert.
pub(crate) fn alert(out: &mut JsonOut, a: &Alert) {
    out.begin_object();
    out.key("type").str("alert");
    out.key("id").str_fmt(format_args!("{}", a.id));
    self_link(out, format_args!("/manage/alerts/{}", a.id));
    out.key("attributes").begin_object();
    out.key("titleId").u64(a.title_id);
    out.key("title").str(a.title);
    out.key("descriptionId").u64(a.title_id + 100);
    out.key("description").str_fmt(format_args!(
        "{} (status {}) for client {}",
        a.title, a.status, a.client
    ));
    out.key("category").str(a.category);
    out.key("subCategory").str(a.sub_category);
    out.key("severity").str(&a.severity);
    out.key("context").str(a.context);
    out.key("createdDateTime");
    time(out, a.created_ms);
    out.key("tags").begin_array().str("job").end_array();
    out.key("systemDefined").bool(true);
    out.key("params").begin_object();
    out.key("clientName").str(&a.client);
    out.key("jobId").str_fmt(format_args!("{}", a.job_id));
    out.key("status").str_fmt(format_args!("{}", a.status));
    out.key("policyType").str(a.sub_category);
    out.end_object();
    out.end_object();
    out.end_object();
}

/// A latest scan result; API 10.0 names the impacted count `noOfFilesImpacted` and lacks three
/// scan states.
pub(crate) fn scan(out: &mut JsonOut, s: &ScanResult, version: ApiVersion) {
    let v10 = version < ApiVersion::V12_0;
    out.begin_object();
    out.key("type").str("scanResult");
    out.key("id").str(&s.id);
    out.key("attributes").begin_object();
    out.key("scanState").str(scan_state_in(s.scan_state, v10));
    out.key("scanResult").str(s.scan_result);
    out.key(if v10 {
        "noOfFilesImpacted"
    } else {
        "numberOfFilesImpacted"
    })
    .u64(s.files_impacted);
    out.key("numberOfFilesScanned").u64(s.files_scanned);
    out.key("totalNumberOfFiles").u64(s.total_files);
    out.key("dateOfScan");
    time(out, s.date_of_scan_ms);
    out.key("startDateOfScan");
    time(out, s.date_of_scan_ms - 60_000);
    if s.scan_state == "SCAN_COMPLETED" {
        out.key("endDateOfScan");
        time(out, s.date_of_scan_ms);
    }
    out.key("policyType").str(s.policy_type);
    out.key("backupType").str(s.backup_type);
    out.key("signature").str(&s.signature);
    out.key("client").str(&s.client);
    out.key("displayName").str(&s.client);
    out.key("mediaServerName").str(s.media_server);
    out.key("backupTime")
        .u64(u64::try_from(s.backup_time_s).unwrap_or(0));
    out.key("triggerMethod").str("AUTOMATIC");
    out.key("hierarchyLevel").u64(0);
    if !v10 {
        out.key("policyName").str(&s.policy_name);
    }
    out.end_object();
    out.key("relationships").begin_object();
    out.key("malwareTool")
        .begin_object()
        .key("data")
        .begin_object();
    out.key("type").str("malwareTool");
    out.key("id").str("1");
    out.end_object().end_object();
    out.end_object();
    out.end_object();
}

/// The `anomalySeverity` shown with an `anomalyStatus`.
fn anomaly_severity(status: &str) -> &'static str {
    match status {
        "ANOMALOUS" => "HIGH",
        "NOT_PROCESSED" => "NOT_PROCESSED",
        "UNDEFINED" => "UNDEFINED",
        "NOT_REVIEWED" => "MEDIUM",
        _ => "LOW",
    }
}

/// A catalog image: `anomalyStatus` and its companions from 12.0 on, `malwareStatus` and
/// `fileHashSearchResult` from 13.0 on.
pub(crate) fn image(out: &mut JsonOut, i: &Image, version: ApiVersion) {
    out.begin_object();
    out.key("type").str("image");
    out.key("id").str(&i.backup_id);
    self_link(out, format_args!("/catalog/images/{}", i.backup_id));
    out.key("attributes").begin_object();
    out.key("backupTime");
    time(out, i.backup_time_ms);
    out.key("clientName").str(&i.client);
    out.key("policyName").str(&i.policy_name);
    out.key("policyType").str(i.policy_type);
    out.key("scheduleName").str(i.schedule_name);
    out.key("scheduleType").str(i.schedule_type);
    out.key("backupStatus").u64(0);
    out.key("kbytes").u64(i.kbytes);
    out.key("numFiles").u64(i.files);
    out.key("jobId").u64(i.job_id);
    out.key("elapsedTimeSeconds").u64(i.elapsed_s);
    out.key("kbytesDataTransferred").u64(i.kbytes);
    out.key("expiration");
    time(out, i.backup_time_ms + 30 * 86_400_000);
    out.key("numCopies").u64(1);
    out.key("streamNumber").u64(0);
    out.key("malwareScanResult").str(i.malware_scan_result);
    out.key("imageDteMode").str("OFF");
    out.key("intelligentCatalogArchiving").str("NO");
    out.key("isOptimized").bool(false);
    if version >= ApiVersion::V12_0 {
        out.key("anomalyStatus").str(i.anomaly_status);
        out.key("anomalySeverity")
            .str(anomaly_severity(i.anomaly_status));
        out.key("anomalyScore")
            .f64(if i.anomaly_status == "ANOMALOUS" {
                0.87
            } else {
                0.0
            });
        out.key("fileScanResult").str("NOT_PROCESSED");
    }
    if version >= ApiVersion::V13_0 {
        out.key("malwareStatus").str(i.malware_status);
        out.key("fileHashSearchResult").str(
            if i.malware_status == "INFECTION_DETECTED_BY_FILE_HASH_SEARCH" {
                "IMPACTED"
            } else {
                "NO_FILE_HASH_FOUND"
            },
        );
    }
    out.key("fragments").begin_array().end_array();
    out.end_object();
    out.end_object();
}

/// An SLO (`slov3`).
pub(crate) fn slo(out: &mut JsonOut, s: &Slo) {
    out.begin_object();
    out.key("type").str("slov3");
    out.key("id").str(&s.id);
    self_link(out, format_args!("/servicecatalog/slos/{}", s.id));
    out.key("attributes").begin_object();
    out.key("name").str(&s.name);
    out.key("description")
        .str_fmt(format_args!("Protection plan {}", s.name));
    out.key("policyNamePrefix").str_fmt(format_args!(
        "{}+{}",
        s.workload_type,
        s.id.get(..8).unwrap_or(&s.id)
    ));
    out.key("workloadType").str(s.workload_type);
    out.key("subscribeAllowed").bool(true);
    out.key("subscriptionCount").u64(s.subscriptions);
    out.key("schedules").begin_array().begin_object();
    out.key("scheduleType").str("FULL");
    out.key("scheduleName").str("full");
    out.key("frequencySeconds").u64(604_800);
    out.end_object().end_array();
    out.key("capabilities").begin_array().end_array();
    out.end_object();
    out.end_object();
}
