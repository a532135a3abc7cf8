use super::*;
use proptest::prelude::*;

/// What the serde models make of `text`.
fn serde(text: &str) -> Result<String, String> {
    serde_json::from_str::<JobsPage<'_>>(text)
        .map(|p| format!("{p:?}"))
        .map_err(|e| e.to_string())
}

fn direct(text: &str) -> Result<String, ScanError> {
    jobs_page(text.as_bytes()).map(|p| format!("{p:?}"))
}

/// The defect of each record of `body` as the direct reader reads it.
fn defects(body: &[u8]) -> Vec<Option<RecordDefect>> {
    let page = jobs_page(body).unwrap_or_else(|e| panic!("refused at {}", e.0));
    page.data.iter().map(|r| r.defect).collect()
}

/// The direct reader reads `text` exactly as the serde models do.
#[track_caller]
fn same(text: &str) {
    let expected = serde(text).unwrap_or_else(|e| panic!("serde refuses {text}: {e}"));
    assert_eq!(direct(text), Ok(expected), "{text}");
}

/// The direct reader refuses `text` (and leaves it to serde_json).
#[track_caller]
fn refused(text: &str) {
    assert!(direct(text).is_err(), "{text} should be refused");
}

fn page(attributes: &str) -> String {
    format!(
        r#"{{"data":[{{"id":1,"attributes":{attributes}}}],"meta":{{"pagination":{{"next":"1"}}}}}}"#
    )
}

#[test]
fn simulated_pages_read_as_with_serde() {
    use nbu_sim::{self as sim, Dataset, SimConfig};
    let config = SimConfig {
        seed: 7,
        jobs: 400,
        ..SimConfig::default()
    };
    let dataset = Dataset::new(&config);
    for (p, hostile) in [(0, false), (1, true), (2, false), (3, true)] {
        let items: Vec<_> = (p * 100..(p + 1) * 100)
            .filter_map(|i| dataset.job(i))
            .collect();
        let page = sim::JobsPage {
            limit: 100,
            next: items.last().map(|j| j.job_id),
            prev: None,
            self_href: "/netbackup/admin/jobs".into(),
            first_href: "/netbackup/admin/jobs".into(),
            next_href: None,
            items,
            hostile,
        };
        let body = sim::render_jobs_page(&dataset, &page, "http://127.0.0.1:1/netbackup");
        let read = JobsPage::from_body(body.as_bytes())
            .map(|p| format!("{p:?}"))
            .map_err(|e| e.to_string());
        assert!(read == serde(&body), "page {p}");
        if !hostile {
            // The usual shape never needs serde_json.
            assert!(direct(&body).ok() == serde(&body).ok(), "page {p}");
        }
    }
}

#[test]
fn tolerant_values_read_as_with_serde() {
    for attributes in [
        r#"{}"#,
        r#"{"jobId":null,"jobType":null,"status":null,"dedupRatio":null}"#,
        r#"{"jobId":-5,"status":1e300,"dedupRatio":"abc","jobType":{"a":[1,{}]},"state":[1]}"#,
        r#"{"jobId":18446744073709551616,"status":-9223372036854775809}"#,
        r#"{"jobId":99999999999999999999999999,"numberOfFiles":18446744073709551615}"#,
        r#"{"status":-9223372036854775808,"jobQueueReason":9223372036854775808}"#,
        r#"{"jobId":"9007199254740993","jobType":12,"policyType":-3,"state":true}"#,
        r#"{"jobType":1.5,"policyType":1e20,"state":false,"startTime":-0,"endTime":0}"#,
        r#"{"jobId":-0,"status":-0,"dedupRatio":-0,"kilobytesTransferred":0.0}"#,
        r#"{"dedupRatio":2.5,"numberOfFiles":3.0,"kilobytesTransferred":" 42 "}"#,
        r#"{"dedupRatio":1E2,"status":"-3","jobQueueReason":"1.0","numberOfFiles":"x"}"#,
        r#"{"jobType":"a\"b\\c\/d\b\f\n\r\t","state":"snow\u2603 smile\ud83d\ude00"}"#,
        r#"{"job\u0049d":7,"unknown":"x\u0000y","other":[[],[[]],{"a":{"b":null}}]}"#,
        r#"{"startTime":"2026-11-27T07:00:00.000Z","endTime":"客户端 o'brien"}"#,
        "{ \"jobId\" : 1 ,\n\t\"jobType\"\r: \"BACKUP\" }",
    ] {
        same(&page(attributes));
    }
    same(r#"{"data":[]}"#);
    same(r#"{"meta":null}"#);
    same(r#"{"data":[{"attributes":null},{},{"attributes":{}}],"meta":{"pagination":null}}"#);
    same(r#"{"links":{"next":{"href":"x"}},"data":[],"meta":{"pagination":{"next":7}}}"#);
    same(r#"  {"data":[{"attributes":{"jobId":1}}]}  "#);
}

#[test]
fn floats_are_parsed_exactly() {
    for token in [
        "2.5",
        "0.1",
        "1.7976931348623157e308",
        "5e-324",
        "3.0000000000000004",
    ] {
        let text = page(&format!(r#"{{"dedupRatio":{token}}}"#));
        let read = jobs_page(text.as_bytes())
            .map(|p| p.data[0].attributes.as_ref().map(|a| a.dedup_ratio));
        assert_eq!(
            read,
            Ok(Some(Num::Valid(token.parse::<f64>().unwrap_or(f64::NAN))))
        );
    }
    // Beyond f64: an invalid value rather than a refused page.
    let text = page(r#"{"dedupRatio":1e400,"jobType":-1e400,"status":1e400}"#);
    let a =
        jobs_page(text.as_bytes()).map(|p| p.data.into_iter().next().and_then(|r| r.attributes));
    let a = a.ok().flatten().unwrap_or_default();
    assert_eq!(a.dedup_ratio, Num::Invalid);
    assert_eq!(a.status, Num::Invalid);
    assert_eq!(a.job_type, Text::Invalid);
}

#[test]
fn plain_strings_are_borrowed() {
    let text = page(r#"{"jobType":"BACKUP","state":"a\nb"}"#);
    let page = jobs_page(text.as_bytes()).unwrap_or_else(|e| panic!("{e:?}"));
    let a = page.data[0].attributes.as_ref();
    assert!(matches!(
        a.map(|a| &a.job_type),
        Some(Text::Valid(Cow::Borrowed("BACKUP")))
    ));
    assert!(matches!(a.map(|a| &a.state), Some(Text::Valid(Cow::Owned(s))) if s == "a\nb"));
}

#[test]
fn broken_documents_are_refused() {
    for text in [
        "",
        "   ",
        "null",
        r#"{"data":[]} x"#,
        r#"{"data":[]}{}"#,
        r#"{"data":null}"#,
        r#"{"data":[1]}"#,
        r#"{"data":[],"data":[]}"#,
        r#"{"data":[{"attributes":"x"}]}"#,
        r#"{"data":[],"meta":{"pagination":{"next":"a","next":"b"}}}"#,
        r#"{"data":[],"meta":{"pagination":{"next":"a\qb"}}}"#,
        r#"{"data":[],}"#,
        r#"{"data":[,]}"#,
        r#"{"data":[{"attributes":{"x":.5}}]}"#,
        r#"{"data":[{"attributes":{"x":+1}}]}"#,
        r#"{"data":[{"attributes":{"x":tru}}]}"#,
        r#"{"data":[{"attributes":{"x":[1,{"a":2}}}]}"#,
        r#"{"data":[{"attributes":{"jobId":1}}"#,
        r#"{"data":[{"attributes":{"jobId":"1"#,
        r#"{"data":[{"attributes":{"x":"1\"}}]}"#,
        r#"{"data"[]}"#,
        r#"{'data':[]}"#,
    ] {
        refused(text);
        assert!(serde(text).is_err(), "serde accepts {text}");
    }
    // Broken bytes between tokens break the document.
    assert!(jobs_page(b"{\xc3(\"data\":[]}").is_err());
    // Shapes serde reads (a struct as an array of its members) and the reader leaves to it.
    for text in [
        "[]",
        r#"[[{"attributes":[7]}]]"#,
        r#"{"data":[{"attributes":[]}]}"#,
        r#"{"meta":[]}"#,
    ] {
        refused(text);
        let read = JobsPage::from_body(text.as_bytes())
            .map(|p| format!("{p:?}"))
            .map_err(|e| e.to_string());
        assert!(read.is_ok() && read == serde(text), "{text}");
    }
    let deep = format!("{{\"x\":{}{}}}", "[".repeat(200), "]".repeat(200));
    refused(&deep);
}

/// A page of three jobs whose second one carries `member`, the others are clean.
fn three_jobs(member: &[u8]) -> Vec<u8> {
    let mut body = br#"{"data":[{"attributes":{"jobId":1,"jobType":"BACKUP"}},"#.to_vec();
    body.extend_from_slice(br#"{"attributes":{"jobId":2,"#);
    body.extend_from_slice(member);
    body.extend_from_slice(br#","jobType":"BACKUP"}},{"attributes":{"jobId":3}}],"#);
    body.extend_from_slice(br#""meta":{"pagination":{"next":"3"}}}"#);
    body
}

#[test]
fn what_the_agent_does_not_read_is_not_checked() {
    for member in [
        &b"\"clientName\":\"vm\xc3\x28web\""[..],
        b"\"clientName\":\"\xff\xfe\"",
        b"\"clientName\":\"a\tb\"",
        b"\"clientName\":\"a\\qb\"",
        b"\"clientName\":\"\\u12\"",
        b"\"clientName\":\"\\ud800\"",
        b"\"x\xff\":1",
        b"\"x\":01",
        b"\"x\":1.",
        b"\"x\":1e",
        b"\"x\":-",
        b"\"x\":{\"a\":[\"\xff]}\",{}]}",
    ] {
        let body = three_jobs(member);
        let quoted = String::from_utf8_lossy(member);
        assert_eq!(defects(&body), vec![None; 3], "{quoted}");
        let page = JobsPage::from_body(&body).unwrap_or_else(|e| panic!("{quoted}: {e}"));
        let second = page.data.get(1).and_then(|r| r.attributes.as_ref());
        assert_eq!(second.map(|a| a.job_id), Some(Num::Valid(2)), "{quoted}");
        assert_eq!(
            second.and_then(|a| a.job_type.as_str()),
            Some("BACKUP"),
            "{quoted}"
        );
    }
}

#[test]
fn a_record_broken_in_a_member_the_agent_reads_is_marked_and_the_rest_read() {
    use RecordDefect::{BadNumber, BadText, Duplicate};
    for (member, defect) in [
        (&b"\"state\":\"DO\xc3\x28NE\""[..], BadText("state")),
        (b"\"startTime\":\"\xff\"", BadText("startTime")),
        (b"\"policyType\":\"a\tb\"", BadText("policyType")),
        (b"\"state\":\"\\ud800\"", BadText("state")),
        (b"\"state\":\"\\udc00x\"", BadText("state")),
        (b"\"endTime\":\"a\\qb\"", BadText("endTime")),
        (b"\"status\":\"\xff1\"", BadText("status")),
        (b"\"status\":01", BadNumber("status")),
        (
            b"\"kilobytesTransferred\":1.",
            BadNumber("kilobytesTransferred"),
        ),
        (b"\"jobId\":7", Duplicate("jobId")),
        (b"\"jobType\":null,\"jobType\":\"x\"", Duplicate("jobType")),
    ] {
        let body = three_jobs(member);
        let quoted = String::from_utf8_lossy(member);
        assert_eq!(defects(&body), vec![None, Some(defect), None], "{quoted}");
        // The other records are read as they are.
        let page = JobsPage::from_body(&body).unwrap_or_else(|e| panic!("{quoted}: {e}"));
        let ids: Vec<_> = page
            .data
            .iter()
            .filter(|r| r.defect.is_none())
            .filter_map(|r| r.attributes.as_ref()?.job_id.valid())
            .collect();
        assert_eq!(ids, [1, 3], "{quoted}");
    }
    let twice = br#"{"data":[{"attributes":{},"attributes":{}},{"attributes":{}}]}"#;
    assert_eq!(
        defects(twice),
        [Some(RecordDefect::Duplicate("attributes")), None]
    );
}

/// A JSON value of the shapes pages carry, as text.
fn json_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        any::<i64>().prop_map(|v| v.to_string()),
        any::<u64>().prop_map(|v| v.to_string()),
        (any::<i32>(), 0..4u32)
            .prop_map(|(v, d)| format!("{}", f64::from(v) / 10f64.powi(d as i32))),
        Just("123456789012345678901234567890".to_owned()),
        Just("-0".to_owned()),
        "\\PC{0,8}".prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
        prop::sample::select(vec![
            "\"BACKUP\"",
            "\"DONE\"",
            "\"a\\\"b\"",
            "\" 17 \"",
            "\"-4\"",
            "\"2026-11-27T07:00:00Z\""
        ])
        .prop_map(str::to_owned),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((key(), inner), 0..4).prop_map(|m| {
                let members: Vec<String> =
                    m.into_iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

fn key() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
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
        "lastUpdateTime",
        "data",
        "meta",
        "pagination",
        "next",
        "attributes",
        "id",
        "links",
        "x",
        "",
    ])
}

fn attributes() -> impl Strategy<Value = String> {
    prop::collection::vec((key(), json_value()), 0..14).prop_map(|m| {
        let members: Vec<String> = m
            .into_iter()
            .map(|(k, v)| format!("\"{k}\" : {v}"))
            .collect();
        format!("{{ {} }}", members.join(" ,"))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Whatever the direct reader accepts, the serde models read the same way, record by
    /// record: a record serde refuses is one the reader marks as broken.
    #[test]
    fn accepted_pages_read_as_with_serde(
        jobs in prop::collection::vec(prop_oneof![4 => attributes(), 1 => json_value()], 0..4),
        next in json_value(),
    ) {
        let data: Vec<String> = jobs.iter().map(|a| format!("{{\"type\":\"job\",\"attributes\":{a}}}")).collect();
        let text = format!("{{\"data\":[{}],\"meta\":{{\"pagination\":{{\"next\":{next}}}}}}}", data.join(","));
        if let Ok(read) = jobs_page(text.as_bytes()) {
            prop_assert_eq!(read.data.len(), data.len());
            for (record, json) in read.data.iter().zip(&data) {
                let alone = format!("{{\"data\":[{json}]}}");
                match serde_json::from_str::<JobsPage<'_>>(&alone) {
                    Ok(page) => prop_assert_eq!(format!("{record:?}"), format!("{:?}", page.data[0])),
                    Err(_) => prop_assert!(record.defect.is_some(), "{}", json),
                }
            }
            let meta = format!("{{\"meta\":{{\"pagination\":{{\"next\":{next}}}}}}}");
            let expected = serde_json::from_str::<JobsPage<'_>>(&meta).map(|p| format!("{:?}", p.meta));
            prop_assert_eq!(Ok(format!("{:?}", read.meta)), expected.map_err(|e| e.to_string()));
        }
    }
}
