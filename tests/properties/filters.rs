//! OData filters: a client name can never change the structure of the query.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

use chrono::{DateTime, Utc};
use nbu_otel::config;
use nbu_otel::netbackup::{ApiVersion, SiteClient, filter};
use nbu_sim::{Filter, Job, JobState, SimConfig, Simulator};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestRunner;

use crate::cases;

const CASES_FILTER_QUOTING: u32 = 50_000;
const CASES_FILTER_WINDOW: u32 = 20_000;
const CASES_FILTER_URL: u32 = 400;

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
        let site = config::load_str_with_env(&yaml, Path::new("."), &HashMap::new())
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
