//! Property tests: hostile NetBackup responses, aggregation arithmetic, OData filter quoting
//! and configuration loading, over generated inputs.
//!
//! Every property runs a fixed number of cases (`CASES_*` below, about 134,000 in all) so that
//! the whole file stays well under a minute in a debug build on a small machine (13 to 20 s
//! on two busy cores); `PROPTEST_CASES` does not change them. A failing case is shrunk, and
//! the `proptest!` ones are saved by proptest in `tests/properties.proptest-regressions`
//! (commit that file) so they are replayed first on the next run.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;

use chrono::{DateTime, FixedOffset, SecondsFormat, TimeZone, Utc};
use nbu_otel::collect::summary::{ActionPolicyKey, DurationHistogram, JobsSummary, Mean};
use nbu_otel::collect::{JobBatch, JobStore, StorageAggregator};
use nbu_otel::config::{self, Config, ConfigError};
use nbu_otel::netbackup::models::{ErrorBody, JobsPage, StorageUnitsPage};
use nbu_otel::netbackup::{ApiVersion, SiteClient, filter};
use nbu_sim::{Filter, Job, JobFacts, JobState, SimConfig, Simulator, Window, fold_jobs};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestRunner;

#[path = "it/common/truth.rs"]
mod truth;

const CASES_JSON_PAGES: u32 = 10_000;
const CASES_BROKEN_TEXT: u32 = 30_000;
const CASES_JOB_MODEL: u32 = 4_000;
const CASES_STORAGE_MODEL: u32 = 8_000;
const CASES_FILTER_QUOTING: u32 = 50_000;
const CASES_FILTER_WINDOW: u32 = 20_000;
const CASES_FILTER_URL: u32 = 400;
const CASES_CONFIG_TEXT: u32 = 6_000;
const CASES_CONFIG_VALUES: u32 = 6_000;

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        // Keep a failing run short too: shrinking stops after this many steps.
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    }
}

// =============================================================================================
// 1. Page parsing: arbitrary JSON never panics, and what parses folds without panicking.
// =============================================================================================

/// Number tokens at and beyond the edges of the 64-bit types and of `f64`.
const EDGE_NUMBERS: &[&str] = &[
    "0",
    "-0",
    "-0.0",
    "1",
    "-1",
    "0.5",
    "1.0",
    "1E2",
    "9007199254740993",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999999999",
    "-99999999999999999999999999999999",
    "1e19",
    "1e20",
    "1e308",
    "-1e308",
    "1.7976931348623157e308",
    "1e309",
    "-1e400",
    "4.9e-324",
    "1e-400",
    "0.0000000000000000000001",
];

/// Texts that look like the values NetBackup sends, and some that almost do.
const EDGE_TEXTS: &[&str] = &[
    "",
    " ",
    "DONE",
    "QUEUED",
    "REQUEUED",
    "ACTIVE",
    "BACKUP",
    "Tape",
    "tape",
    "Disk",
    "MEDIA_SERVER",
    "42",
    " 42 ",
    "-5",
    "1e3",
    "NaN",
    "inf",
    "true",
    "null",
    "2026-11-27T07:00:00.000Z",
    "2026-11-27T07:00:00+01:00",
    "2026-13-01T00:00:00Z",
    "1969-12-31T23:59:59.999Z",
    "9999-12-31T23:59:59Z",
    "0000-01-01T00:00:00Z",
    "客户端",
    "o'brien",
    "\u{202e}rtl",
    "\u{0}",
];

/// Attribute and member names the models read, plus look-alikes.
const KEYS: &[&str] = &[
    "data",
    "meta",
    "pagination",
    "next",
    "count",
    "last",
    "attributes",
    "id",
    "type",
    "links",
    "jobId",
    "jobType",
    "policyType",
    "state",
    "status",
    "jobQueueReason",
    "kilobytesTransferred",
    "numberOfFiles",
    "dedupRatio",
    "startTime",
    "endTime",
    "name",
    "storageType",
    "storageCategory",
    "storageSubType",
    "storageServerType",
    "freeCapacityBytes",
    "usedCapacityBytes",
    "totalCapacityBytes",
    "maxConcurrentJobs",
    "maxFragmentSizeMegabytes",
    "isCloudSTU",
    "wormCapable",
    "useWorm",
    "replicationCapable",
    "instantAccessEnabled",
    "errorCode",
    "errorMessage",
    "JobId",
    "job_id",
    "",
];

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

/// Up to a dozen arbitrary characters (proptest favours the unusual ones); cheaper to generate
/// than `any::<String>()` in a debug build.
fn short_unicode() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..12).prop_map(String::from_iter)
}

/// A JSON scalar, as text.
fn json_leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => select(vec!["null", "true", "false"]).prop_map(str::to_owned),
        2 => select(EDGE_NUMBERS).prop_map(str::to_owned),
        2 => any::<i64>().prop_map(|v| v.to_string()),
        1 => any::<u64>().prop_map(|v| v.to_string()),
        1 => any::<f64>().prop_map(|v| serde_json::to_string(&v).unwrap_or_default()),
        2 => select(EDGE_TEXTS).prop_map(json_string),
        1 => select(EDGE_NUMBERS).prop_map(json_string),
        1 => short_unicode().prop_map(|s| json_string(&s)),
        // Escapes serde_json must decode or refuse: a lone surrogate, a pair, a NUL.
        1 => select(vec![r#""\ud800""#, r#""\ud83d\ude00""#, r#""\u0000""#, r#""a\/b""#])
            .prop_map(str::to_owned),
    ]
}

fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => select(KEYS).prop_map(json_string),
        1 => short_unicode().prop_map(|s| json_string(&s)),
    ]
}

fn json_object(members: Vec<(String, String)>) -> String {
    let body: Vec<String> = members
        .into_iter()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect();
    format!("{{{}}}", body.join(","))
}

/// Any JSON value, as text: scalars, arrays and objects nested a few levels.
fn json_value() -> BoxedStrategy<String> {
    json_leaf()
        .prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5)
                    .prop_map(|items| format!("[{}]", items.join(","))),
                prop::collection::vec((json_key(), inner), 0..5).prop_map(json_object),
            ]
        })
        .boxed()
}

/// A JSON:API resource, mostly shaped like a job or storage unit, sometimes not at all.
fn resource() -> impl Strategy<Value = String> {
    let attributes = prop::collection::vec((json_key(), json_value()), 0..8).prop_map(json_object);
    prop_oneof![
        8 => (
            attributes,
            json_value(),
            prop::option::of(json_value()),
            prop::collection::vec((json_key(), json_value()), 0..2),
        )
            .prop_map(|(attributes, id, links, extra)| {
                let mut members = vec![
                    (json_string("type"), json_string("job")),
                    (json_string("id"), id),
                    (json_string("attributes"), attributes),
                ];
                if let Some(links) = links {
                    members.push((json_string("links"), links));
                }
                members.extend(extra);
                json_object(members)
            }),
        1 => json_value(),
    ]
}

/// A page: `data` (usually a list of resources) and `meta.pagination`, with strays.
fn page_document() -> impl Strategy<Value = String> {
    let data = prop_oneof![
        8 => prop::collection::vec(resource(), 0..4).prop_map(|r| format!("[{}]", r.join(","))),
        1 => json_value(),
    ];
    let pagination = prop::collection::vec(
        (
            select(vec!["next", "count", "last", "offset", "limit"]).prop_map(json_string),
            json_value(),
        ),
        0..4,
    )
    .prop_map(json_object);
    let meta = prop_oneof![
        4 => pagination.prop_map(|p| json_object(vec![(json_string("pagination"), p)])),
        1 => json_value(),
    ];
    prop_oneof![
        10 => (
            prop::option::of(data),
            prop::option::of(meta),
            prop::collection::vec((json_key(), json_value()), 0..2),
        )
            .prop_map(|(data, meta, extra)| {
                let mut members = Vec::new();
                if let Some(d) = data {
                    members.push((json_string("data"), d));
                }
                if let Some(m) = meta {
                    members.push((json_string("meta"), m));
                }
                members.extend(extra);
                json_object(members)
            }),
        1 => json_value(),
    ]
}

/// Parses `text` as a jobs page and folds it like the collector does; checks the counting
/// invariants that hold for any input. Returns whether it parsed.
fn fold_jobs_page(text: &str) -> Result<bool, TestCaseError> {
    let Ok(page) = serde_json::from_str::<JobsPage<'_>>(text) else {
        return Ok(false);
    };
    let store = JobStore::new();
    let mut batch = JobBatch::for_store(&store);
    let mut folded = 0u64;
    for resource in &page.data {
        if let Some(attributes) = &resource.attributes {
            folded += 1;
            batch.add(attributes);
        }
    }
    let unkeyed = batch.unkeyed;
    let read = batch.len() as u64;
    prop_assert_eq!(
        read + unkeyed,
        folded,
        "every job is stored or counted as unkeyed"
    );
    let mut store = store;
    let mut timed = 0u64;
    store.replace(batch, i64::MIN, |f| timed += u64::from(f.seconds.is_some()));
    // The cursor is read as the walker reads it.
    let _next = page
        .meta
        .as_ref()
        .and_then(|m| m.pagination.as_ref())
        .and_then(|p| p.next.as_str());
    let summary = store.summary();
    // Jobs met twice (same jobId) are stored once.
    prop_assert!(summary.jobs <= read);
    prop_assert_eq!(summary.jobs, store.len() as u64);
    // Counts by status cover the finished jobs; states cover every job.
    let done: u64 = summary
        .state_counts
        .iter()
        .filter(|(k, _)| k.state == "DONE")
        .map(|(_, n)| n)
        .sum();
    prop_assert_eq!(summary.counts.values().sum::<u64>(), done);
    prop_assert_eq!(summary.status_counts.values().sum::<u64>(), done);
    prop_assert_eq!(summary.state_counts.values().sum::<u64>(), summary.jobs);
    prop_assert_eq!(
        summary.durations.values().map(|h| h.count).sum::<u64>(),
        timed
    );
    Ok(true)
}

/// Parses `text` as a storage-units page and folds it; a unit is kept only with a name.
fn fold_storage_page(text: &str) -> Result<bool, TestCaseError> {
    let Ok(page) = serde_json::from_str::<StorageUnitsPage<'_>>(text) else {
        return Ok(false);
    };
    let mut agg = StorageAggregator::new();
    agg.add_page();
    let mut folded = 0usize;
    for resource in &page.data {
        match &resource.attributes {
            Some(attributes) => {
                folded += 1;
                agg.add(resource.id.as_str(), attributes);
            }
            None => agg.add_invalid(1),
        }
    }
    let _next = page
        .meta
        .as_ref()
        .and_then(|m| m.pagination.as_ref())
        .map(|p| (p.count.valid(), p.next.valid(), p.last.valid()));
    let summary = agg.finish();
    prop_assert!(summary.units.len() <= folded);
    for (key, unit) in &summary.units {
        prop_assert!(!key.name.is_empty());
        if let Some(bytes) = unit.max_fragment_size_bytes {
            prop_assert!(bytes % (1024 * 1024) == 0 || bytes == u64::MAX);
        }
    }
    Ok(true)
}

proptest! {
    #![proptest_config(cases(CASES_JSON_PAGES))]

    /// Arbitrary JSON documents, mostly page-shaped, never panic the models or the folds.
    #[test]
    fn arbitrary_json_pages_never_panic(doc in page_document()) {
        fold_jobs_page(&doc)?;
        fold_storage_page(&doc)?;
        let _ = ErrorBody::summary(doc.as_bytes());
    }
}

/// A small valid page to break: truncate, splice bytes in, flip bytes.
const VALID_PAGE: &str = r#"{"data":[{"type":"job","id":"7","attributes":{"jobId":7,"jobType":"BACKUP","policyType":"VMWARE","state":"DONE","status":0,"kilobytesTransferred":18014398509481983,"numberOfFiles":3,"dedupRatio":2.5,"startTime":"2026-11-27T07:00:00.000Z","endTime":"2026-11-27T07:02:00.000Z","name":"stu","storageType":"Disk","freeCapacityBytes":1,"isCloudSTU":false}}],"meta":{"pagination":{"next":"7","count":1,"last":0}}}"#;

fn broken_text() -> impl Strategy<Value = Vec<u8>> {
    let len = VALID_PAGE.len();
    prop_oneof![
        2 => prop::collection::vec(any::<u8>(), 0..96),
        2 => (0..=len).prop_map(|cut| VALID_PAGE.as_bytes()[..cut].to_vec()),
        3 => (0..len, prop::collection::vec(any::<u8>(), 1..4)).prop_map(|(at, bytes)| {
            let mut text = VALID_PAGE.as_bytes().to_vec();
            text.splice(at..at, bytes);
            text
        }),
        3 => prop::collection::vec((0..len, any::<u8>()), 1..4).prop_map(|flips| {
            let mut text = VALID_PAGE.as_bytes().to_vec();
            for (at, byte) in flips {
                text[at] = byte;
            }
            text
        }),
    ]
}

proptest! {
    #![proptest_config(cases(CASES_BROKEN_TEXT))]

    /// Truncated, spliced and corrupted bodies (including invalid UTF-8) never panic.
    #[test]
    fn broken_bodies_never_panic(bytes in broken_text()) {
        if let Ok(text) = std::str::from_utf8(&bytes) {
            fold_jobs_page(text)?;
            fold_storage_page(text)?;
        }
        let _ = serde_json::from_slice::<JobsPage<'_>>(&bytes);
        let _ = serde_json::from_slice::<StorageUnitsPage<'_>>(&bytes);
        let _ = ErrorBody::summary(&bytes);
    }
}

#[test]
fn the_corrupted_page_is_valid_before_corruption() {
    // Guards the generator above: the page it breaks must parse and fold.
    assert_eq!(fold_jobs_page(VALID_PAGE).ok(), Some(true));
    assert_eq!(fold_storage_page(VALID_PAGE).ok(), Some(true));
}

// =============================================================================================
// 2. Aggregation: generated jobs against the simulator's ground truth of what must be reported.
// =============================================================================================

/// What a text attribute reads as.
#[derive(Debug, Clone, PartialEq)]
enum TextIs {
    Absent,
    Valid(String),
    Invalid,
}

/// What a numeric attribute reads as.
#[derive(Debug, Clone, Copy, PartialEq)]
enum NumIs<T> {
    Absent,
    Valid(T),
    Invalid,
}

/// One attribute: its JSON token (`None`: the key is left out) and what it must read as.
#[derive(Debug, Clone)]
struct Attr<E> {
    token: Option<String>,
    is: E,
}

fn attr<E>(token: impl Into<String>, is: E) -> Attr<E> {
    Attr {
        token: Some(token.into()),
        is,
    }
}

fn text_attr(words: &'static [&'static str]) -> impl Strategy<Value = Attr<TextIs>> {
    prop_oneof![
        8 => select(words).prop_map(|w| attr(json_string(w), TextIs::Valid(w.to_owned()))),
        1 => "\\PC{0,6}".prop_map(|s| attr(json_string(&s), TextIs::Valid(s))),
        1 => any::<i32>().prop_map(|n| attr(n.to_string(), TextIs::Valid(n.to_string()))),
        1 => Just(Attr { token: None, is: TextIs::Absent }),
        1 => Just(attr("null", TextIs::Absent)),
        1 => select(vec!["{}", "[]", "{\"a\":\"DONE\"}", "[\"DONE\"]"])
            .prop_map(|t| attr(t, TextIs::Invalid)),
    ]
}

/// A `Num<u64>` attribute, with values near the `* 1024` overflow and beyond 64 bits.
fn u64_attr() -> impl Strategy<Value = Attr<NumIs<u64>>> {
    const KB_EDGE: u64 = u64::MAX / 1024;
    let value = prop_oneof![
        4 => 0..1_000_000u64,
        2 => (KB_EDGE - 4)..=(KB_EDGE + 4),
        2 => any::<u64>(),
        1 => (u64::MAX - 4)..=u64::MAX,
    ];
    prop_oneof![
        8 => (value, 0..4u8).prop_map(|(v, form)| {
            let token = match form {
                // serde_json (without its `float_roundtrip` feature) reads `N.0` exactly only
                // while N * 10 fits in 53 bits; beyond that it may be off by an ULP, so an
                // integral float reads as fractional and is (correctly) counted invalid.
                0 if v < (1 << 53) / 10 => format!("{v}.0"),
                1 => format!("\" {v} \""),
                _ => v.to_string(),
            };
            attr(token, NumIs::Valid(v))
        }),
        1 => Just(Attr { token: None, is: NumIs::Absent }),
        1 => Just(attr("null", NumIs::Absent)),
        3 => select(vec![
            "-1", "-9223372036854775808", "18446744073709551616",
            "99999999999999999999999", "1.5", "1e20", "-0.5", "\"abc\"", "\"\"", "\"-3\"",
            "true", "[1]", "{\"a\":1}",
        ])
        .prop_map(|t| attr(t, NumIs::Invalid)),
    ]
}

/// A `Num<i64>` attribute (status, queue reason).
fn i64_attr() -> impl Strategy<Value = Attr<NumIs<i64>>> {
    let value = prop_oneof![4 => -5..200i64, 1 => any::<i64>()];
    prop_oneof![
        8 => (value, any::<bool>()).prop_map(|(v, quoted)| {
            let token = if quoted { format!("\"{v}\"") } else { v.to_string() };
            attr(token, NumIs::Valid(v))
        }),
        1 => Just(Attr { token: None, is: NumIs::Absent }),
        1 => Just(attr("null", NumIs::Absent)),
        2 => select(vec![
            "9223372036854775808", "18446744073709551615", "-9223372036854775809", "1.5",
            "1e300", "\"x\"", "true", "[]", "{}",
        ])
        .prop_map(|t| attr(t, NumIs::Invalid)),
    ]
}

/// A `Num<f64>` attribute (dedup ratio); negative values are counted invalid by the fold.
fn f64_attr() -> impl Strategy<Value = Attr<NumIs<f64>>> {
    let finite = any::<f64>().prop_filter("finite", |f| f.is_finite());
    prop_oneof![
        4 => (0.0..100.0f64).prop_map(|v| attr(serde_json::to_string(&v).unwrap_or_default(), NumIs::Valid(v))),
        2 => finite.prop_map(|v| attr(serde_json::to_string(&v).unwrap_or_default(), NumIs::Valid(v))),
        1 => (0..100u32).prop_map(|v| attr(v.to_string(), NumIs::Valid(f64::from(v)))),
        1 => Just(Attr { token: None, is: NumIs::Absent }),
        1 => Just(attr("null", NumIs::Absent)),
        1 => select(vec!["\"abc\"", "\"NaN\"", "\"inf\"", "true", "[1]", "{}"])
            .prop_map(|t| attr(t, NumIs::Invalid)),
    ]
}

/// How a time attribute is written.
#[derive(Debug, Clone, PartialEq)]
enum TimeIs {
    Absent,
    /// A valid RFC 3339 text for this many Unix milliseconds.
    At(i64),
    /// Text that is not an RFC 3339 date-time.
    Junk,
    /// An object or array.
    Invalid,
}

fn rfc3339(ms: i64, style: u8) -> String {
    let at = Utc
        .timestamp_millis_opt(ms)
        .single()
        .unwrap_or_else(|| panic!("generated time {ms} out of range"));
    match style {
        0 => at.to_rfc3339_opts(SecondsFormat::Millis, true),
        1 => at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        _ => {
            let offset = FixedOffset::east_opt(5 * 3600 + 1800).unwrap_or_else(|| unreachable!());
            at.with_timezone(&offset)
                .to_rfc3339_opts(SecondsFormat::Millis, false)
        }
    }
}

fn time_attr(at_ms: i64) -> impl Strategy<Value = Attr<TimeIs>> {
    prop_oneof![
        8 => (0..3u8).prop_map(move |style| attr(json_string(&rfc3339(at_ms, style)), TimeIs::At(at_ms))),
        1 => Just(Attr { token: None, is: TimeIs::Absent }),
        1 => Just(attr("null", TimeIs::Absent)),
        1 => select(vec![
            "\"yesterday\"", "\"\"", "\"2026-13-01T00:00:00Z\"", "\"2026-11-27 07:00:00\"",
            "12345", "true",
        ])
        .prop_map(|t| attr(t, TimeIs::Junk)),
        1 => select(vec!["{}", "[\"2026-11-27T07:00:00Z\"]"]).prop_map(|t| attr(t, TimeIs::Invalid)),
    ]
}

/// A generated job: every attribute the fold reads, plus an unknown one.
#[derive(Debug, Clone)]
struct GenJob {
    job_id: Attr<NumIs<u64>>,
    job_type: Attr<TextIs>,
    policy_type: Attr<TextIs>,
    state: Attr<TextIs>,
    status: Attr<NumIs<i64>>,
    reason: Attr<NumIs<i64>>,
    kilobytes: Attr<NumIs<u64>>,
    files: Attr<NumIs<u64>>,
    dedup: Attr<NumIs<f64>>,
    start: Attr<TimeIs>,
    end: Attr<TimeIs>,
}

const STATES: &[&str] = &[
    "DONE",
    "DONE",
    "QUEUED",
    "REQUEUED",
    "ACTIVE",
    "SUSPENDED",
    "INCOMPLETE",
    "done",
    "",
];
const JOB_TYPES: &[&str] = &[
    "BACKUP",
    "RESTORE",
    "DUPLICATION",
    "IMAGEDELETE",
    "",
    "备份",
];
const POLICY_TYPES: &[&str] = &["VMWARE", "STANDARD", "MS-SQL-SERVER", ""];

fn gen_job() -> impl Strategy<Value = GenJob> {
    // Start between 1970 and 2096; the end from 1 day before to 11 days after it.
    let times = (0..4_000_000_000_000i64, -86_400_000..1_000_000_000i64)
        .prop_flat_map(|(start, delta)| (time_attr(start), time_attr(start + delta)));
    (
        (
            u64_attr(),
            text_attr(JOB_TYPES),
            text_attr(POLICY_TYPES),
            text_attr(STATES),
        ),
        (i64_attr(), i64_attr(), u64_attr(), u64_attr(), f64_attr()),
        times,
    )
        .prop_map(
            |(
                (job_id, job_type, policy_type, state),
                (status, reason, kilobytes, files, dedup),
                (start, end),
            )| GenJob {
                job_id,
                job_type,
                policy_type,
                state,
                status,
                reason,
                kilobytes,
                files,
                dedup,
                start,
                end,
            },
        )
}

impl GenJob {
    fn to_json(&self) -> String {
        let mut members = vec![(json_string("unknownAttribute"), "{\"x\":[1,2]}".to_owned())];
        let mut put = |key: &str, token: &Option<String>| {
            if let Some(t) = token {
                members.push((json_string(key), t.clone()));
            }
        };
        put("jobId", &self.job_id.token);
        put("jobType", &self.job_type.token);
        put("policyType", &self.policy_type.token);
        put("state", &self.state.token);
        put("status", &self.status.token);
        put("jobQueueReason", &self.reason.token);
        put("kilobytesTransferred", &self.kilobytes.token);
        put("numberOfFiles", &self.files.token);
        put("dedupRatio", &self.dedup.token);
        put("startTime", &self.start.token);
        put("endTime", &self.end.token);
        json_object(vec![
            (json_string("type"), json_string("job")),
            (json_string("attributes"), json_object(members)),
        ])
    }
}

/// What the summary must say, computed independently of the aggregator: the simulator's
/// ground-truth fold of what each generated job reads as, and the values the aggregator must
/// count as invalid.
#[derive(Debug, Default)]
struct Expected {
    summary: JobsSummary,
    finished_with_id: u64,
    invalid: u64,
}

/// What a generated job reads as, for the ground-truth fold: invalid values read as absent (a
/// negative dedup ratio is invalid too).
fn facts(j: &GenJob) -> JobFacts<'_> {
    fn text(t: &TextIs) -> Option<&str> {
        match t {
            TextIs::Valid(s) => Some(s),
            TextIs::Absent | TextIs::Invalid => None,
        }
    }
    fn num<T>(n: NumIs<T>) -> Option<T> {
        match n {
            NumIs::Valid(v) => Some(v),
            NumIs::Absent | NumIs::Invalid => None,
        }
    }
    fn time(t: &TimeIs) -> Option<i64> {
        match t {
            TimeIs::At(ms) => Some(*ms),
            TimeIs::Absent | TimeIs::Junk | TimeIs::Invalid => None,
        }
    }
    JobFacts {
        job_type: text(&j.job_type.is),
        policy_type: text(&j.policy_type.is),
        state: text(&j.state.is),
        status: num(j.status.is),
        queue_reason: num(j.reason.is),
        kilobytes: num(j.kilobytes.is),
        files: num(j.files.is),
        dedup_ratio: num(j.dedup.is).filter(|r| *r >= 0.0),
        start_ms: time(&j.start.is),
        end_ms: time(&j.end.is),
    }
}

/// The values of a generated job that cannot be right: counted whatever the state, except the
/// queue reason (read for queued jobs only) and the times (read for `DONE` jobs only).
fn invalid_values(j: &GenJob) -> u64 {
    let mut invalid = 0;
    for text in [&j.job_type.is, &j.policy_type.is, &j.state.is] {
        invalid += u64::from(*text == TextIs::Invalid);
    }
    invalid += u64::from(j.status.is == NumIs::Invalid);
    invalid += u64::from(j.kilobytes.is == NumIs::Invalid);
    invalid += u64::from(j.files.is == NumIs::Invalid);
    let state = match &j.state.is {
        TextIs::Valid(s) => Some(s.as_str()),
        _ => None,
    };
    if matches!(state, Some("QUEUED" | "REQUEUED")) {
        invalid += u64::from(j.reason.is == NumIs::Invalid);
    }
    match j.dedup.is {
        NumIs::Valid(r) if r >= 0.0 => {}
        NumIs::Valid(_) | NumIs::Invalid => invalid += 1,
        NumIs::Absent => {}
    }
    if state == Some("DONE") {
        match (&j.start.is, &j.end.is) {
            (TimeIs::Invalid, _) | (_, TimeIs::Invalid) => invalid += 1,
            (TimeIs::Absent, _) | (_, TimeIs::Absent) => {}
            (TimeIs::At(s), TimeIs::At(end)) if end >= s => {}
            // Junk text, or an end before the start.
            _ => invalid += 1,
        }
    }
    invalid
}

fn expected(jobs: &[GenJob]) -> Expected {
    // No jobs window: the fold counts every generated job, as the store does below.
    let truth = fold_jobs(jobs.iter().map(facts), Window::Everything);
    Expected {
        finished_with_id: truth.durations.values().map(|d| d.count).sum(),
        invalid: jobs.iter().map(invalid_values).sum(),
        summary: truth::jobs_summary(&truth),
    }
}

fn fold_generated(jobs: &[GenJob]) -> (JobsSummary, u64) {
    // The store keys jobs by jobId: give each generated job its own.
    let jobs: Vec<GenJob> = jobs
        .iter()
        .zip(1u64..)
        .map(|(j, id)| GenJob {
            job_id: attr(id.to_string(), NumIs::Valid(id)),
            ..j.clone()
        })
        .collect();
    let text = format!(
        "{{\"data\":[{}],\"meta\":{{\"pagination\":{{\"next\":null}}}}}}",
        jobs.iter()
            .map(GenJob::to_json)
            .collect::<Vec<_>>()
            .join(",")
    );
    let page: JobsPage<'_> = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("generated page must parse: {e}\n{text}"));
    assert_eq!(page.data.len(), jobs.len());
    let mut store = JobStore::new();
    let mut batch = JobBatch::for_store(&store);
    for resource in &page.data {
        let attributes = resource
            .attributes
            .as_ref()
            .unwrap_or_else(|| panic!("every generated job has attributes"));
        batch.add(attributes);
    }
    let mut finished = 0;
    store.replace(batch, i64::MIN, |f| {
        finished += u64::from(f.seconds.is_some())
    });
    (store.summary(), finished)
}

proptest! {
    #![proptest_config(cases(CASES_JOB_MODEL))]

    /// Every family of the jobs summary equals an independent model of the generated jobs.
    #[test]
    fn job_aggregates_match_the_model(jobs in prop::collection::vec(gen_job(), 0..16)) {
        let (s, finished) = fold_generated(&jobs);
        let e = expected(&jobs);
        let n = jobs.len() as u64;

        prop_assert_eq!(s.jobs, n);
        let done = s.state_counts.iter().filter(|(k, _)| k.state == "DONE").map(|(_, v)| v).sum::<u64>();
        prop_assert_eq!(s.counts.values().sum::<u64>(), done, "counts add up to the finished jobs folded");
        // status_counts and counts agree per action.
        let mut by_action: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for (k, v) in &s.counts {
            by_action.entry(k.action.as_str()).or_default().0 += v;
        }
        for (k, v) in &s.status_counts {
            by_action.entry(k.action.as_str()).or_default().1 += v;
        }
        for (action, (counts, statuses)) in &by_action {
            prop_assert_eq!(counts, statuses, "action {:?}", action);
        }
        prop_assert_eq!(&s.counts, &e.summary.counts);
        prop_assert_eq!(&s.status_counts, &e.summary.status_counts);
        prop_assert_eq!(&s.bytes, &e.summary.bytes, "bytes are the saturating sum of kb * 1024");
        prop_assert_eq!(&s.state_counts, &e.summary.state_counts);
        prop_assert_eq!(&s.queued_counts, &e.summary.queued_counts);
        prop_assert_eq!(&s.files, &e.summary.files);
        let counts = |m: &BTreeMap<ActionPolicyKey, Mean>| -> BTreeMap<ActionPolicyKey, u64> {
            m.iter().map(|(k, v)| (k.clone(), v.count)).collect()
        };
        prop_assert_eq!(counts(&s.dedup_ratio), counts(&e.summary.dedup_ratio));
        let durations = |m: &BTreeMap<ActionPolicyKey, DurationHistogram>| -> BTreeMap<ActionPolicyKey, u64> {
            m.iter().map(|(k, h)| (k.clone(), h.count)).collect()
        };
        prop_assert_eq!(
            durations(&s.durations),
            durations(&e.summary.durations),
            "one duration per DONE job with start <= end"
        );
        for h in s.durations.values() {
            prop_assert_eq!(h.bucket_counts.iter().sum::<u64>(), h.count);
            prop_assert!(h.sum >= 0.0 && h.sum.is_finite());
        }
        prop_assert_eq!(finished, e.finished_with_id);
        prop_assert_eq!(s.invalid_values, e.invalid, "invalid values counted exactly");
    }
}

/// A generated storage unit: its capacity numbers and whether it is tape.
#[derive(Debug, Clone)]
struct GenUnit {
    storage_type: Attr<TextIs>,
    free: Attr<NumIs<u64>>,
    fragment_mb: Attr<NumIs<u64>>,
    cloud: Attr<Option<bool>>,
}

fn gen_unit() -> impl Strategy<Value = GenUnit> {
    let flag = prop_oneof![
        2 => any::<bool>().prop_map(|b| attr(b.to_string(), Some(b))),
        1 => Just(Attr { token: None, is: Some(false) }),
        1 => select(vec!["\"maybe\"", "1", "[]"]).prop_map(|t| attr(t, None)),
    ];
    (
        text_attr(&["Disk", "Tape", "tape", "DISK", "Cloud"]),
        u64_attr(),
        u64_attr(),
        flag,
    )
        .prop_map(|(storage_type, free, fragment_mb, cloud)| GenUnit {
            storage_type,
            free,
            fragment_mb,
            cloud,
        })
}

proptest! {
    #![proptest_config(cases(CASES_STORAGE_MODEL))]

    /// Storage units: tape has no disk values, fragment sizes saturate, junk is counted.
    #[test]
    fn storage_aggregates_match_the_model(units in prop::collection::vec(gen_unit(), 0..8)) {
        let items: Vec<String> = units
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let mut members = vec![(json_string("name"), json_string(&format!("stu{i}")))];
                for (key, token) in [
                    ("storageType", &u.storage_type.token),
                    ("freeCapacityBytes", &u.free.token),
                    ("maxFragmentSizeMegabytes", &u.fragment_mb.token),
                    ("isCloudSTU", &u.cloud.token),
                ] {
                    if let Some(t) = token {
                        members.push((json_string(key), t.clone()));
                    }
                }
                json_object(vec![
                    (json_string("id"), json_string(&format!("id{i}"))),
                    (json_string("attributes"), json_object(members)),
                ])
            })
            .collect();
        let text = format!("{{\"data\":[{}]}}", items.join(","));
        let page: StorageUnitsPage<'_> = serde_json::from_str(&text)
            .map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
        let mut agg = StorageAggregator::new();
        for r in &page.data {
            if let Some(a) = &r.attributes {
                agg.add(r.id.as_str(), a);
            }
        }
        let s = agg.finish();
        prop_assert_eq!(s.units.len(), units.len());
        let mut invalid = 0;
        for (i, u) in units.iter().enumerate() {
            let (_, got) = s
                .units
                .iter()
                .find(|(k, _)| k.name == format!("stu{i}"))
                .ok_or_else(|| TestCaseError::fail(format!("unit stu{i} missing")))?;
            let tape = matches!(&u.storage_type.is, TextIs::Valid(t) if t.eq_ignore_ascii_case("tape"));
            let free = match u.free.is {
                NumIs::Valid(v) => Some(v),
                NumIs::Invalid => {
                    invalid += 1;
                    None
                }
                NumIs::Absent => None,
            };
            prop_assert_eq!(got.free_bytes, free.filter(|_| !tape));
            let fragment = match u.fragment_mb.is {
                NumIs::Valid(v) => Some(v.saturating_mul(1024 * 1024)),
                NumIs::Invalid => {
                    invalid += 1;
                    None
                }
                NumIs::Absent => None,
            };
            prop_assert_eq!(got.max_fragment_size_bytes, fragment);
            match u.cloud.is {
                Some(b) => prop_assert_eq!(got.info.is_cloud, b),
                None => {
                    invalid += 1;
                    prop_assert!(!got.info.is_cloud);
                }
            }
        }
        prop_assert_eq!(s.invalid_values, invalid);
    }
}

// =============================================================================================
// 3. OData filters: a client name can never change the structure of the query.
// =============================================================================================

/// Names built to break naive quoting, plus arbitrary Unicode.
fn client_name() -> impl Strategy<Value = String> {
    let fragment = select(vec![
        "'",
        "''",
        "'''",
        " or ",
        " and ",
        " or '1'='1",
        ")",
        "(",
        "%",
        "%27",
        "%20",
        "+",
        "&",
        "=",
        "#",
        "?",
        "/",
        "\\",
        "\"",
        " ",
        "\t",
        "\n",
        "\u{a0}",
        "\u{3000}",
        "\u{0}",
        "\u{202e}",
        "客户端",
        "null",
        "eq",
        "clientName eq 'x'",
        "state ne 'DONE'",
        "a",
    ]);
    prop_oneof![
        3 => any::<String>(),
        3 => prop::collection::vec(fragment, 0..8).prop_map(|parts| parts.concat()),
        2 => "[ a-zA-Z0-9'%()+&=#?/\\\\,;:\"-]{0,24}",
    ]
}

fn job_of(client_name: &str) -> Job<'_> {
    Job {
        job_id: 1,
        job_type: Some("BACKUP"),
        policy_type: None,
        state: Some(JobState::Done),
        status: Some(0),
        queue_reason: Some(0),
        kilobytes: Some(1),
        files: Some(1),
        dedup_ratio: None,
        start_ms: 1_795_752_000_000,
        end_ms: Some(1_795_766_400_000),
        last_update_ms: 1_795_766_400_000,
        client_name,
        id_as_string: false,
    }
}

proptest! {
    #![proptest_config(cases(CASES_FILTER_QUOTING))]

    /// `client_is(name)` parses into exactly one comparison whose literal is `name`.
    #[test]
    fn a_client_name_stays_one_literal(name in client_name()) {
        let text = filter::client_is(&name);
        let parsed = Filter::parse(&text)
            .map_err(|e| TestCaseError::fail(format!("{text:?} does not parse: {e}")))?;
        // The simulator's `Filter` keeps its terms private; its derived `Debug` shows the whole
        // structure, so compare it with the one structure allowed.
        let want = format!(
            "Filter {{ terms: [Term {{ field: ClientName, op: Eq, value: Text({name:?}) }}] }}"
        );
        prop_assert_eq!(format!("{parsed:?}"), want);
        // And it means what it says: that client and no other.
        prop_assert!(parsed.matches(&job_of(&name)));
        let longer = format!("{name}x");
        prop_assert!(!parsed.matches(&job_of(&longer)));
        let mut shorter = name.clone();
        if shorter.pop().is_some() {
            prop_assert!(!parsed.matches(&job_of(&shorter)));
        }
    }
}

proptest! {
    #![proptest_config(cases(CASES_FILTER_WINDOW))]

    /// The finished-jobs window filter selects exactly the jobs that ended after the cutoff,
    /// for any cutoff between 1970 and 2200 (millisecond precision).
    #[test]
    fn the_window_filter_is_exact_to_the_millisecond(cutoff_ms in 0..7_258_118_400_000i64) {
        let cutoff = DateTime::<Utc>::from_timestamp_millis(cutoff_ms)
            .ok_or_else(|| TestCaseError::fail("cutoff out of range"))?;
        let text = filter::finished_jobs_since(cutoff);
        let parsed = Filter::parse(&text)
            .map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        let ended = |end_ms: i64| Job { end_ms: Some(end_ms), ..job_of("c") };
        prop_assert!(parsed.matches(&ended(cutoff_ms + 1)), "{}", text);
        prop_assert!(!parsed.matches(&ended(cutoff_ms)), "{}", text);
        let running = Job { state: Some(JobState::Active), end_ms: Some(cutoff_ms + 1), ..job_of("c") };
        prop_assert!(!parsed.matches(&running));
        prop_assert!(Filter::parse(&filter::unfinished_jobs())
            .map_err(|e| TestCaseError::fail(e.to_string()))?
            .matches(&running));
    }
}

/// The filter travels through the real client's URL encoding to the simulator, whose request
/// log shows the raw query: every byte outside the unreserved set is percent-encoded (spaces as
/// `%20`, never `+`), the query has exactly its two parameters, and decoding gives back the
/// filter text exactly. The simulator parsed it (HTTP 200), so the round trip is complete.
#[test]
fn a_client_name_survives_the_url_round_trip() {
    const KEY: &str = "prop-url-key-0123456789";
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (sim, client) = runtime.block_on(async {
        let sim = Simulator::start(
            SimConfig {
                jobs: 10,
                storage_units: 1,
                api_key: KEY.into(),
                ..SimConfig::default()
            },
            "127.0.0.1:0".parse::<SocketAddr>().expect("addr"),
        )
        .await
        .expect("simulator starts");
        let yaml = format!(
            "sites:\n  - name: urls\n    url: {}\n    api_key: {KEY}\n    collection:\n      \
             requests_per_second: 1000\n      max_retries: 0\n      request_timeout: 10s\n",
            sim.base_url()
        );
        let site = load(&yaml, Path::new("."), &HashMap::new())
            .unwrap_or_else(|e| panic!("{e}"))
            .sites
            .remove(0);
        let client = SiteClient::new(&(&site).into()).expect("client");
        (sim, client)
    });
    let mut runner = TestRunner::new(ProptestConfig {
        failure_persistence: None,
        ..cases(CASES_FILTER_URL)
    });
    let result = runner.run(&client_name(), |name| {
        runtime.block_on(async {
            sim.clear_requests();
            let filter = filter::client_is(&name);
            let query = [("filter", filter.clone()), ("page[limit]", "1".to_owned())];
            client
                .get("/admin/jobs", &query, ApiVersion::V14_0)
                .await
                .map_err(|e| TestCaseError::fail(format!("{name:?}: {e}")))?;
            let log = sim.requests();
            prop_assert_eq!(log.len(), 1);
            let raw = &log[0].query;
            prop_assert!(
                raw.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._*%=&".contains(&b)),
                "unencoded byte in {:?}",
                raw
            );
            prop_assert_eq!(raw.matches('&').count(), 1, "{}", raw);
            prop_assert_eq!(raw.matches('=').count(), 2, "{}", raw);
            let pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            prop_assert_eq!(
                pairs,
                vec![
                    ("filter".to_owned(), filter),
                    ("page[limit]".to_owned(), "1".to_owned())
                ]
            );
            prop_assert_eq!(log[0].status, 200);
            Ok(())
        })
    });
    runtime.block_on(sim.shutdown());
    if let Err(e) = result {
        panic!("{e}");
    }
}

// =============================================================================================
// 4. Configuration: arbitrary text and values never panic; every error names a field.
// =============================================================================================

const SECRET: &str = "s3cr3t-API-key-never-shown";

fn load(yaml: &str, dir: &Path, env: &HashMap<String, String>) -> Result<Config, ConfigError> {
    config::load_str_with_env(yaml, dir, env)
}

const SECTIONS: &[&str] = &[
    "sites",
    "collection",
    "server",
    "otlp",
    "traces",
    "logging",
    "service",
];

/// Checks what a load may return: `Ok` only with values inside their documented ranges; `Err`
/// with at least one problem, each naming a field that exists in the input (a key of the text,
/// a section, the file, or a variable), and no message showing the secret.
fn check_load(
    yaml: &str,
    env: &HashMap<String, String>,
    result: Result<Config, ConfigError>,
) -> Result<(), TestCaseError> {
    match result {
        Ok(c) => {
            prop_assert!(!c.sites.is_empty());
            for s in &c.sites {
                let k = &s.collection;
                prop_assert!((1..=100).contains(&k.jobs_page_size));
                prop_assert!((1..=500).contains(&k.storage_page_size));
                prop_assert!((1..=64).contains(&k.max_concurrent_requests));
                prop_assert!(k.max_retries <= 10);
                prop_assert!(k.requests_per_second > 0.0 && k.requests_per_second <= 1000.0);
                prop_assert!(!s.name.is_empty());
            }
            prop_assert!((0.0..=1.0).contains(&c.traces.sampling_ratio));
            prop_assert!(!format!("{c:?}").contains(SECRET), "Debug shows no secret");
        }
        Err(e) => {
            prop_assert!(!e.errors().is_empty(), "an error with no problem in it");
            let text = e.to_string();
            prop_assert!(
                !text.contains(SECRET),
                "an error shows the secret:\n{}",
                text
            );
            for problem in e.errors() {
                let field = problem.field.as_str();
                prop_assert!(!problem.message.trim().is_empty(), "{:?}", problem);
                prop_assert!(!field.is_empty() && !field.contains('\n'), "{:?}", problem);
                let root = field.split(['.', '[']).next().unwrap_or_default();
                // An unknown top-level key is named as the parser read it, which may differ
                // from the text (escapes, folded lines), so it is recognised by its message.
                let unknown_top_level_key = root == field
                    && problem
                        .message
                        .starts_with("unknown key; the top level accepts");
                let named = field == "<file>"
                    || env.contains_key(field)
                    || SECTIONS.contains(&root)
                    || unknown_top_level_key
                    || yaml.contains(root);
                prop_assert!(named, "{:?} names no field of\n{}", problem, yaml);
            }
        }
    }
    Ok(())
}

/// YAML scalars and small collections, including the awkward ones.
fn yaml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(vec![
            "0", "1", "-1", "100", "101", "500", "501", "64", "65", "10", "11",
            "99999999999999999999999999", "-99999999999999999999", "1e308", "-1e308", "1e999",
            ".inf", "-.inf", ".nan", "0x1F", "0o17", "1_000", "0.5", "1.5", "2.0", "-0.0",
            "true", "false", "yes", "no", "on", "off", "null", "~", "''", "\"\"",
            "30s", "0s", "-1s", "1h 30m", "500ms", "1ns", "18446744073709551615s",
            "999999999999999999y", "5 parsecs", "1d", "30",
            "http://127.0.0.1:1556/netbackup", "https://[::1]:1556/netbackup", "ftp://x",
            "not a url", "http://user:pw@host/", "https://", "0.0.0.0:9440", "[::]:9440",
            "127.0.0.1:99999", "localhost:9440",
            "14.0", "13.0", "12.0", "10.0", "9.0", "latest",
            "text", "json", "xml", "gzip", "none", "zstd", "debug", "nbu_otel=trace,warn",
            "${PLAIN}", "${UNSET_VAR}", "${UNSET_VAR:-30s}", "$${LITERAL}", "${", "${BAD-NAME}",
            "\"${PLAIN}${PLAIN}\"", "${PLAIN:-x}",
            "[1, 2]", "[]", "{}", "{a: 1}", "[[[]]]",
            "&anchor 5", "*anchor", "*undefined", "!!str 5", "!!binary aGk=", "!custom x",
            "|\n  block", ">\n  folded", "'it''s'", "\"tab\\there\"", "\"\\u0000\"", "#comment",
            ": colon", "- item", "key: value",
        ])
        .prop_map(str::to_owned),
        1 => any::<i64>().prop_map(|v| v.to_string()),
        1 => any::<f64>().prop_map(|v| format!("{v:?}")),
        1 => any::<String>().prop_map(|s| json_string(&s)),
        1 => "[ -~]{0,16}".prop_map(|s| format!("'{}'", s.replace('\'', "''"))),
    ]
}

/// Where a generated value goes: `(section, key)`, `section` `site`/`site.tls`/`site.collection`
/// meaning the first site.
const FIELDS: &[(&str, &str)] = &[
    ("site", "name"),
    ("site", "url"),
    ("site", "api_key"),
    ("site", "api_version"),
    ("site", "bogus_key"),
    ("site.tls", "insecure_skip_verify"),
    ("site.tls", "ca_file"),
    ("site.collection", "jobs_window"),
    ("site.collection", "jobs_page_size"),
    ("site.collection", "max_retry_time"),
    ("collection", "jobs_window"),
    ("collection", "jobs_interval"),
    ("collection", "storage_ttl"),
    ("collection", "jobs_page_size"),
    ("collection", "storage_page_size"),
    ("collection", "request_timeout"),
    ("collection", "max_retries"),
    ("collection", "max_retry_time"),
    ("collection", "requests_per_second"),
    ("collection", "max_concurrent_requests"),
    ("collection", "typo_key"),
    ("server", "listen"),
    ("server", "prometheus_bridge"),
    ("otlp", "enabled"),
    ("otlp", "endpoint"),
    ("otlp", "timeout"),
    ("otlp", "export_interval"),
    ("otlp", "compression"),
    ("otlp", "ca_file"),
    ("otlp", "client_cert_file"),
    ("otlp", "client_key_file"),
    ("otlp", "headers"),
    ("traces", "enabled"),
    ("traces", "sampling_ratio"),
    ("logging", "level"),
    ("logging", "format"),
    ("service", "name"),
    ("service", "instance_id"),
];

/// File fields take a value from a safe list: an arbitrary path could name a device such as
/// `/dev/zero`, which is not what this property is about.
const FILE_VALUES: &[&str] = &[
    "missing.pem",
    "''",
    "/nonexistent/ca.pem",
    ".",
    "ca.pem",
    "key.txt",
    "${UNSET_VAR}",
    "[a]",
];

fn is_file_field(key: &str) -> bool {
    key.ends_with("_file")
}

fn field_value(index: usize) -> BoxedStrategy<(usize, String)> {
    let (_, key) = FIELDS[index];
    if is_file_field(key) {
        select(FILE_VALUES)
            .prop_map(move |v| (index, v.to_owned()))
            .boxed()
    } else {
        yaml_value().prop_map(move |v| (index, v)).boxed()
    }
}

/// A valid configuration with some fields set to generated values.
fn config_document() -> impl Strategy<Value = String> {
    prop::collection::vec((0..FIELDS.len()).prop_flat_map(field_value), 0..5).prop_map(
        |overrides| {
            let mut sections: BTreeMap<&str, Vec<(&str, String)>> = BTreeMap::new();
            sections.entry("site").or_default().extend([
                ("name", "primary-a".to_owned()),
                ("url", "https://nbu.example.com:1556/netbackup".to_owned()),
                ("api_key", "${NBU_KEY}".to_owned()),
            ]);
            for (index, value) in overrides {
                let (section, key) = FIELDS[index];
                let entries = sections.entry(section).or_default();
                entries.retain(|(k, _)| *k != key);
                entries.push((key, value));
            }
            let mut yaml = String::from("sites:\n  - ");
            let mut first = true;
            for (section, indent) in [
                ("site", "    "),
                ("site.tls", "      "),
                ("site.collection", "      "),
            ] {
                let Some(entries) = sections.get(section) else {
                    continue;
                };
                if let Some(sub) = section.strip_prefix("site.") {
                    yaml.push_str(&format!("    {sub}:\n"));
                }
                for (key, value) in entries {
                    let lead = if first { "" } else { indent };
                    first = false;
                    yaml.push_str(&format!("{lead}{key}: {}\n", indent_block(value, indent)));
                }
            }
            if first {
                yaml.push_str("{}\n");
            }
            for (section, entries) in &sections {
                if section.starts_with("site") {
                    continue;
                }
                yaml.push_str(&format!("{section}:\n"));
                for (key, value) in entries {
                    yaml.push_str(&format!("  {key}: {}\n", indent_block(value, "  ")));
                }
            }
            yaml
        },
    )
}

/// Block scalars (`|`, `>`) continue on indented lines: indent them under their key.
fn indent_block(value: &str, indent: &str) -> String {
    value.replace('\n', &format!("\n{indent}"))
}

/// Environment for a load: the key variable plus some overrides, known and unknown.
fn environment() -> impl Strategy<Value = HashMap<String, String>> {
    let name = select(vec![
        "NBU_OTEL_COLLECTION__JOBS_INTERVAL",
        "NBU_OTEL_COLLECTION__JOBS_PAGE_SIZE",
        "NBU_OTEL_COLLECTION__REQUESTS_PER_SECOND",
        "NBU_OTEL_SERVER__LISTEN",
        "NBU_OTEL_OTLP__ENDPOINT",
        "NBU_OTEL_OTLP__HEADERS__AUTHORIZATION",
        "NBU_OTEL_TRACES__SAMPLING_RATIO",
        "NBU_OTEL_LOGGING__FORMAT",
        "NBU_OTEL_COLLECTION_JOBS_INTERVAL",
        "NBU_OTEL_NOPE__NOTHING",
        "NBU_OTEL_SITES__0__URL",
        "NBU_OTEL_CONFIG",
        "UNRELATED",
    ]);
    let value = prop_oneof![
        select(vec![
            "30s",
            "50",
            "0",
            "-1",
            "1e9",
            "",
            "true",
            "json",
            "[::]:9440",
            "http://x:4317",
            "${NBU_KEY}"
        ])
        .prop_map(str::to_owned),
        "[ -~]{0,12}",
    ];
    prop::collection::vec((name, value), 0..3).prop_map(|vars| {
        let mut env: HashMap<String, String> =
            vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        env.insert("NBU_KEY".to_owned(), SECRET.to_owned());
        // A variable that is not a secret, for references in other fields (a secret variable
        // referenced from a non-secret field is shown like any value of that field).
        env.insert("PLAIN".to_owned(), "plain-value".to_owned());
        env
    })
}

/// Text that looks a little like YAML: indented `key: value` lines, list dashes, flow
/// collections, and sometimes plain noise.
fn yaml_ish_text() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        3 => select(vec![
            "sites", "name", "url", "api_key", "api_key_file", "tls", "ca_file",
            "insecure_skip_verify", "collection", "jobs_page_size", "server", "listen", "otlp",
            "headers", "endpoint", "traces", "logging", "level", "service", "<<",
        ])
        .prop_map(str::to_owned),
        1 => "[a-z_]{1,8}",
    ];
    let line = (
        0..4usize,
        any::<bool>(),
        key,
        prop::option::of(yaml_value()),
    )
        .prop_map(|(depth, dash, key, value)| {
            let dash = if dash { "- " } else { "" };
            let value = value
                .map(|v| format!(" {}", v.replace('\n', " ")))
                .unwrap_or_default();
            format!("{}{dash}{key}:{value}", "  ".repeat(depth))
        });
    prop_oneof![
        6 => prop::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n")),
        1 => "[ -~\n\t]{0,160}",
        1 => any::<String>(),
        1 => "[\\[\\]{}:,'\"&*!|>%@#\\- \n]{0,80}",
    ]
}

/// Runs `property` over `cases` values of `strategy` with a directory holding `ca.pem` (junk)
/// and `key.txt` (the secret) for the file fields.
fn run_config_cases<S: Strategy>(
    cases_n: u32,
    strategy: S,
    property: impl Fn(&Path, S::Value) -> Result<(), TestCaseError>,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("ca.pem"), "not a certificate\n").expect("write");
    std::fs::write(dir.path().join("key.txt"), format!("{SECRET}\n")).expect("write");
    let mut runner = TestRunner::new(ProptestConfig {
        failure_persistence: None,
        ..cases(cases_n)
    });
    if let Err(e) = runner.run(&strategy, |value| property(dir.path(), value)) {
        panic!("{e}");
    }
}

/// YAML-ish text never panics the loader; errors name a field; the secret never shows.
#[test]
fn arbitrary_config_text_never_panics() {
    run_config_cases(
        CASES_CONFIG_TEXT,
        (yaml_ish_text(), environment()),
        |dir, (yaml, env)| check_load(&yaml, &env, load(&yaml, dir, &env)),
    );
}

/// Arbitrary values in known fields: never a panic, `Ok` only within documented ranges,
/// every error names its field, the secret never shows.
#[test]
fn arbitrary_values_in_known_fields() {
    run_config_cases(
        CASES_CONFIG_VALUES,
        (config_document(), environment()),
        |dir, (yaml, env)| check_load(&yaml, &env, load(&yaml, dir, &env)),
    );
}

#[test]
fn the_base_config_document_loads() {
    // Guards the generator above: with no generated values the document is valid.
    let mut runner = TestRunner::deterministic();
    let env: HashMap<String, String> = [("NBU_KEY".to_owned(), SECRET.to_owned())].into();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut loaded = 0;
    for _ in 0..200 {
        let tree = config_document()
            .new_tree(&mut runner)
            .unwrap_or_else(|e| panic!("{e}"));
        let yaml = proptest::strategy::ValueTree::current(&tree);
        loaded += usize::from(load(&yaml, dir.path(), &env).is_ok());
    }
    assert!(
        loaded > 0,
        "no generated document ever loads: the generator is broken"
    );
    let base = "sites:\n  - name: primary-a\n    url: https://nbu.example.com:1556/netbackup\n    api_key: ${NBU_KEY}\n";
    load(base, dir.path(), &env).unwrap_or_else(|e| panic!("{e}"));
}
