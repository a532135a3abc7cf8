//! Aggregation: generated jobs against the simulator's ground truth of what must be reported.

use std::collections::BTreeMap;

use chrono::{FixedOffset, SecondsFormat, TimeZone, Utc};
use nbu_otel::collect::summary::{ActionPolicyKey, DurationHistogram, JobsSummary, Mean};
use nbu_otel::collect::{JobBatch, JobStore, StorageAggregator};
use nbu_otel::netbackup::models::{JobsPage, StorageUnitsPage};
use nbu_sim::{JobFacts, Window, fold_jobs};
use proptest::prelude::*;
use proptest::sample::select;

use crate::truth;
use crate::{cases, json_object, json_string};

const CASES_JOB_MODEL: u32 = 4_000;
const CASES_STORAGE_MODEL: u32 = 8_000;

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
