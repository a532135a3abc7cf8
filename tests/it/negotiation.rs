//! API version negotiation against servers that support one version each.

use nbu_otel::collect::SiteCollector;
use nbu_otel::netbackup::{ApiFailure, ApiVersion};
use nbu_sim::SimConfig;

use crate::common::{sim_version, site, start_sim};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negotiation_lands_on_the_only_supported_version() {
    for version in ApiVersion::NEWEST_FIRST {
        let sim = start_sim(SimConfig {
            jobs: 50,
            api_key: "k-neg".into(),
            supported_versions: vec![sim_version(version)],
            ..SimConfig::default()
        })
        .await;
        let collector =
            SiteCollector::new(site("neg", &sim.base_url(), "k-neg", "")).expect("client builds");
        assert_eq!(collector.negotiate().await.ok(), Some(version));
        // Newest first: every newer version was tried (and refused) before.
        let asked: Vec<String> = sim
            .requests()
            .iter()
            .filter_map(|r| r.accept_version.clone())
            .collect();
        let expected: Vec<String> = ApiVersion::NEWEST_FIRST
            .iter()
            .take_while(|v| **v >= version)
            .map(|v| v.as_str().to_owned())
            .collect();
        assert_eq!(asked, expected);
        // A full collection then works with that version.
        let report = collector.collect_all().await;
        assert!(report.is_ok(), "{:?}", report.errors());
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_versions_refused_is_a_clear_error_naming_the_site() {
    let sim = start_sim(SimConfig {
        jobs: 10,
        api_key: "k-none".into(),
        supported_versions: vec![],
        ..SimConfig::default()
    })
    .await;
    let collector = SiteCollector::new(site("old-primary", &sim.base_url(), "k-none", ""))
        .expect("client builds");
    let err = collector
        .negotiate()
        .await
        .expect_err("no version is accepted");
    assert!(
        matches!(&err.failure, ApiFailure::VersionUnsupported { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("old-primary"), "{text}");
    assert!(text.contains("14.0, 13.0, 12.0, 10.0"), "{text}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_version_is_used_without_trying_others() {
    let sim = start_sim(SimConfig {
        jobs: 10,
        api_key: "k-pin".into(),
        ..SimConfig::default()
    })
    .await;
    let mut site = site("pinned", &sim.base_url(), "k-pin", "");
    site.api_version = Some(ApiVersion::V12_0);
    let collector = SiteCollector::new(site).expect("client builds");
    assert_eq!(collector.negotiate().await.ok(), Some(ApiVersion::V12_0));
    let asked: Vec<_> = sim
        .requests()
        .iter()
        .filter_map(|r| r.accept_version.clone())
        .collect();
    assert_eq!(asked, vec!["12.0".to_owned()]);
    sim.shutdown().await;
}
