//! Page parsing: arbitrary JSON never panics, and what parses folds without panicking.

use nbu_otel::collect::{JobBatch, JobStore, StorageAggregator};
use nbu_otel::netbackup::models::{ErrorBody, JobsPage, StorageUnitsPage};
use proptest::prelude::*;
use proptest::sample::select;

use crate::{cases, json_object, json_string};

const CASES_JSON_PAGES: u32 = 10_000;
const CASES_BROKEN_TEXT: u32 = 30_000;

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
