//! Hostile items for [`crate::Fault::HostileValues`]: syntactically valid JSON whose values
//! break every assumption a parser may make about types, ranges and presence.
//!
//! Each item picks one variant from its key (`jobId`, or the index of a storage unit), so a
//! page of consecutive items shows every variant, and every item also carries unknown fields
//! with nested objects and arrays. No value needs more than `f64` to parse (`1e308`, not
//! `1e400`), and strings hold no lone surrogate, so a generic JSON parser reads the whole page.

use super::json::{JsonOut, escape_into};
use crate::dataset::Job;
use crate::dataset::StorageUnit;
use crate::dataset::timefmt::write_timestamp;

/// An integer beyond `u64` (and `i64`).
const HUGE: &str = "123456789012345678901234567890";
/// 2^64: one past `u64::MAX`.
const TWO_POW_64: &str = "18446744073709551616";
/// 2^63: fits `u64`, one past `i64::MAX`.
const TWO_POW_63: &str = "9223372036854775808";

/// Unknown fields every hostile item carries, as `"key":value` pairs.
const EXTRA_FIELDS: [(&str, &str); 4] = [
    (
        "xSimUnknownObject",
        r#"{"level1":{"level2":{"list":[1,"two",null,true,{"deep":[[],{}]}]}},"n":null}"#,
    ),
    (
        "xSimUnknownArray",
        r#"[{"a":1},[2,[3]],"four",null,-5.5e-3]"#,
    ),
    ("xSimUnknownNumber", HUGE),
    (
        "xSimUnknownText",
        r#""nul\u0000 snow\u2603 smile\ud83d\ude00""#,
    ),
];

/// A JSON string token.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    escape_into(&mut out, text);
    out.push('"');
    out
}

fn timestamp(ms: i64) -> String {
    let mut text = String::with_capacity(26);
    text.push('"');
    write_timestamp(&mut text, ms);
    text.push('"');
    text
}

/// An ordered list of attributes as raw JSON tokens.
#[derive(Debug, Default)]
struct Fields(Vec<(&'static str, String)>);

impl Fields {
    fn put(&mut self, key: &'static str, token: impl Into<String>) {
        let token = token.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = token,
            None => self.0.push((key, token)),
        }
    }

    fn write(&self, out: &mut JsonOut) {
        out.begin_object();
        for (key, token) in &self.0 {
            out.key(key).raw(token);
        }
        for (key, token) in EXTRA_FIELDS {
            out.key(key).raw(token);
        }
        out.end_object();
    }
}

fn opt_str(value: Option<&str>) -> String {
    value.map_or_else(|| "null".to_owned(), quoted)
}

fn opt_u64(value: Option<impl std::fmt::Display>) -> String {
    value.map_or_else(|| "null".to_owned(), |v| v.to_string())
}

/// The plausible attributes of a job, before a variant spoils them.
fn job_fields(job: &Job<'_>) -> Fields {
    let mut f = Fields::default();
    f.put("jobId", job.job_id.to_string());
    f.put("parentJobId", "0");
    f.put("jobType", opt_str(job.job_type));
    f.put("policyType", opt_str(job.policy_type));
    f.put("policyName", quoted("hostile-policy"));
    f.put("clientName", quoted(job.client_name));
    f.put("status", opt_u64(job.status));
    f.put("state", opt_str(job.state.map(|s| s.as_str())));
    f.put("done", if job.end_ms.is_some() { "1" } else { "0" });
    f.put("numberOfFiles", opt_u64(job.files));
    f.put("kilobytesTransferred", opt_u64(job.kilobytes));
    f.put("jobQueueReason", opt_u64(job.queue_reason));
    f.put(
        "percentComplete",
        if job.end_ms.is_some() { "100" } else { "0" },
    );
    f.put("startTime", timestamp(job.start_ms));
    if let Some(end) = job.end_ms {
        f.put("endTime", timestamp(end));
    }
    f.put("lastUpdateTime", timestamp(job.last_update_ms));
    if let Some(dedup) = job.dedup_ratio.filter(|d| d.is_finite()) {
        f.put("dedupRatio", dedup.to_string());
    }
    f
}

/// Number of job variants.
pub(crate) const JOB_VARIANTS: u64 = 10;

/// Renders one hostile job resource object; the variant is `jobId % JOB_VARIANTS`.
pub(crate) fn render_hostile_job(out: &mut JsonOut, job: &Job<'_>) {
    let id = job.job_id;
    let variant = id % JOB_VARIANTS;
    let mut f = job_fields(job);
    let mut id_token = id.to_string();
    let mut type_token = quoted("job");
    let mut cursor_token = quoted(&id.to_string());
    let mut links_token = format!(r#"{{"self":{{"href":"/admin/jobs/{id}"}}}}"#);
    let mut attributes: Option<&str> = None;
    match variant {
        // Nulls everywhere a value is expected.
        0 => {
            for key in [
                "jobType",
                "policyType",
                "policyName",
                "clientName",
                "status",
                "state",
                "done",
                "numberOfFiles",
                "kilobytesTransferred",
                "jobQueueReason",
                "startTime",
                "endTime",
                "lastUpdateTime",
                "dedupRatio",
            ] {
                f.put(key, "null");
            }
        }
        // Everything but jobId missing.
        1 => f.0.retain(|(key, _)| *key == "jobId"),
        // Integers beyond u64 and i64.
        2 => {
            f.put("kilobytesTransferred", HUGE);
            f.put("numberOfFiles", TWO_POW_64);
            f.put("status", TWO_POW_63);
            f.put("jobQueueReason", HUGE);
            f.put("parentJobId", format!("-{HUGE}"));
            f.put("percentComplete", TWO_POW_64);
        }
        // Floats at the edge of f64, and fractions where integers belong.
        3 => {
            f.put("jobId", format!("{id}.0"));
            f.put("kilobytesTransferred", "1e308");
            f.put("numberOfFiles", "1.5");
            f.put("status", "-1e308");
            f.put("dedupRatio", "1e308");
            f.put("percentComplete", "100.0000001");
            f.put("jobQueueReason", "2.5e-7");
        }
        // Negative counters.
        4 => {
            f.put("kilobytesTransferred", "-1024");
            f.put("numberOfFiles", "-5");
            f.put("status", "-1");
            f.put("jobQueueReason", "-3");
            f.put("percentComplete", "-50");
            f.put("parentJobId", "-1");
            f.put("dedupRatio", "-12.5");
        }
        // Strings where numbers belong.
        5 => {
            f.put("jobId", quoted(&id.to_string()));
            f.put("status", quoted("abc"));
            f.put("kilobytesTransferred", quoted("1024"));
            f.put("numberOfFiles", quoted("many"));
            f.put("percentComplete", quoted(""));
            f.put("jobQueueReason", quoted("QUEUED"));
            f.put("done", quoted("yes"));
            f.put("dedupRatio", quoted("NaN"));
        }
        // Numbers, booleans and containers where strings belong.
        6 => {
            f.put("jobType", "12");
            f.put("policyType", "3");
            f.put("state", "1");
            f.put("clientName", "42");
            f.put("policyName", "[]");
            f.put("startTime", "1700000000");
            f.put("endTime", "true");
            f.put("lastUpdateTime", r#"{"at":"now"}"#);
        }
        // Odd resource structure: id as an object, type as an array, links as a string.
        7 => {
            id_token = format!(r#"{{"value":{id},"nested":[1,{{"x":null}}]}}"#);
            type_token = r#"["job"]"#.to_owned();
            cursor_token = id.to_string();
            links_token = quoted("none");
        }
        // No attributes object at all.
        8 => attributes = Some("null"),
        // Attributes as an array.
        _ => attributes = Some(r#"[1,"two",null,{"jobId":-1}]"#),
    }
    out.begin_object();
    out.key("links").raw(&links_token);
    out.key("type").raw(&type_token);
    out.key("id").raw(&id_token);
    out.key("meta").begin_object().key("page").begin_object();
    out.key("cursor").raw(&cursor_token);
    out.end_object().end_object();
    out.key("attributes");
    match attributes {
        Some(token) => {
            out.raw(token);
        }
        None => f.write(out),
    }
    out.key("xSimExtra")
        .raw(r#"{"k":[null,{"v":[1e308,-0.0,0]}],"s":"x"}"#);
    out.end_object();
}

/// Number of storage unit variants.
pub(crate) const UNIT_VARIANTS: u64 = 5;

/// Renders one hostile storage unit; the variant is `index % UNIT_VARIANTS`, where `index` is
/// the unit's position in the listing.
pub(crate) fn render_hostile_unit(out: &mut JsonOut, unit: &StorageUnit, index: u64) {
    let mut f = Fields::default();
    f.put("name", quoted(&unit.name));
    f.put("storageType", quoted(unit.storage_type));
    f.put("storageSubType", quoted(unit.storage_sub_type));
    f.put("storageServerType", quoted(unit.storage_server_type));
    f.put("storageCategory", quoted(unit.storage_category));
    f.put("useAnyAvailableMediaServer", "true");
    f.put("accelerator", unit.accelerator.to_string());
    f.put("isCloudSTU", unit.is_cloud.to_string());
    f.put("wormCapable", unit.worm_capable.to_string());
    f.put("freeCapacityBytes", opt_u64(unit.free_bytes));
    f.put("totalCapacityBytes", opt_u64(unit.total_bytes));
    f.put("usedCapacityBytes", opt_u64(unit.used_bytes));
    f.put("maxConcurrentJobs", opt_u64(unit.max_concurrent_jobs));
    f.put(
        "mediaServerDetails",
        format!(
            r#"[{{"name":{},"operatingSystem":"linux"}}]"#,
            quoted(unit.media_server)
        ),
    );
    let mut id_token = quoted(&unit.name);
    match index % UNIT_VARIANTS {
        // Capacities beyond u64 and i64.
        0 => {
            f.put("freeCapacityBytes", HUGE);
            f.put("totalCapacityBytes", TWO_POW_64);
            f.put("usedCapacityBytes", TWO_POW_63);
            f.put("maxConcurrentJobs", HUGE);
        }
        // Float capacities at the edge of f64, and a boolean as a string.
        1 => {
            f.put("freeCapacityBytes", "1e308");
            f.put("totalCapacityBytes", "1e308");
            f.put("usedCapacityBytes", "-1e308");
            f.put("isCloudSTU", quoted("true"));
        }
        // Nulls.
        2 => {
            for key in [
                "freeCapacityBytes",
                "totalCapacityBytes",
                "usedCapacityBytes",
                "maxConcurrentJobs",
                "storageType",
                "isCloudSTU",
                "mediaServerDetails",
            ] {
                f.put(key, "null");
            }
        }
        // Negative capacities.
        3 => {
            f.put("freeCapacityBytes", "-1");
            f.put("totalCapacityBytes", "-1099511627776");
            f.put("usedCapacityBytes", "-5");
            f.put("maxConcurrentJobs", "-2");
        }
        // Booleans as strings and numbers, capacities as strings, id as an object.
        _ => {
            f.put("isCloudSTU", quoted("true"));
            f.put("accelerator", quoted("false"));
            f.put("useAnyAvailableMediaServer", quoted("yes"));
            f.put("wormCapable", "1");
            f.put("totalCapacityBytes", quoted("10 TB"));
            f.put("freeCapacityBytes", quoted(""));
            f.put("usedCapacityBytes", quoted("abc"));
            f.put("storageType", "5");
            id_token = format!(r#"{{"name":{}}}"#, quoted(&unit.name));
        }
    }
    out.begin_object();
    out.key("links").begin_object();
    out.key("self")
        .href(format_args!("/storage/storage-units/{}", unit.name));
    out.end_object();
    out.key("type").str("storageUnit");
    out.key("id").raw(&id_token);
    out.key("attributes");
    f.write(out);
    out.key("relationships").begin_object().end_object();
    out.key("xSimExtra").raw(r#"{"k":[null,{"v":[]}]}"#);
    out.end_object();
}
