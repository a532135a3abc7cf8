//! The metric push at scale: requests cut to a Collector's message limit, removed sites gone
//! from the push after a reload, gzip.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use nbu_sim::{SimConfig, Simulator};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use prost::Message as _;

use crate::common::otlp::{Receiver, number, sorted_labels};
use crate::common::{load, site_yaml, start_sim, wait_for};
use crate::pipeline::{KEY, Running};

/// A data point: metric name and sorted attributes.
type Key = (String, Vec<(String, String)>);

/// Every data point of `requests` with its value (a histogram's count), in order.
fn points(requests: &[ExportMetricsServiceRequest]) -> Vec<(Key, f64)> {
    let mut out = Vec::new();
    for metric in requests
        .iter()
        .flat_map(|r| &r.resource_metrics)
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
    {
        let key = |attributes: &[opentelemetry_proto::tonic::common::v1::KeyValue]| {
            (metric.name.clone(), sorted_labels(attributes))
        };
        match &metric.data {
            Some(Data::Gauge(g)) => out.extend(
                g.data_points
                    .iter()
                    .map(|p| (key(&p.attributes), number(&p.value))),
            ),
            Some(Data::Sum(s)) => out.extend(
                s.data_points
                    .iter()
                    .map(|p| (key(&p.attributes), number(&p.value))),
            ),
            Some(Data::Histogram(h)) => out.extend(
                h.data_points
                    .iter()
                    .map(|p| (key(&p.attributes), p.count as f64)),
            ),
            other => panic!("{}: unexpected data {other:?}", metric.name),
        }
    }
    out
}

/// The metric names that appear in more than one of `requests`.
fn metrics_in_several(requests: &[ExportMetricsServiceRequest]) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for request in requests {
        let names: BTreeSet<&String> = request
            .resource_metrics
            .iter()
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
            .map(|m| &m.name)
            .collect();
        for name in names {
            *seen.entry(name.clone()).or_default() += 1;
        }
    }
    seen.into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(name, _)| name)
        .collect()
}

/// Collects and exports once, now, and returns the requests of that export.
async fn export_now(running: &Running, receiver: &Receiver) -> Vec<ExportMetricsServiceRequest> {
    let before = receiver.with(|r| r.metrics.len());
    let provider = running.pipeline.meter_provider.clone();
    tokio::task::spawn_blocking(move || provider.force_flush())
        .await
        .unwrap()
        .expect("the export finishes");
    receiver.with(|r| r.metrics[before..].to_vec())
}

/// A config for `sites` (name, simulator) pushing to `endpoint` only when asked.
fn config(sites: &[(&str, &Simulator)], endpoint: &str, otlp: &str) -> nbu_otel::config::Config {
    let sites: String = sites
        .iter()
        .map(|(name, sim)| {
            site_yaml(
                name,
                &sim.base_url(),
                "      jobs_window: 72h\n      jobs_interval: 1s\n      request_timeout: 900ms\n      storage_ttl: 1h\n",
            )
        })
        .collect();
    let yaml = format!(
        "sites:\n{sites}server:\n  listen: \"127.0.0.1:0\"\n  prometheus_bridge: true\notlp:\n  endpoint: {endpoint}\n  export_interval: 1h\n  timeout: 10s\n{otlp}"
    );
    load(&yaml, &[("NBU_KEY", KEY)])
}

fn sim_config(jobs: u64, storage_units: u32) -> SimConfig {
    SimConfig {
        jobs,
        storage_units,
        api_key: KEY.into(),
        ..SimConfig::default()
    }
}

/// The body of `/metrics` once a collection is published.
async fn collected(running: &Running) -> String {
    wait_for("a collection", Duration::from_secs(30), || async {
        let response = reqwest::get(&running.metrics_url).await.ok()?;
        let body = response.text().await.ok()?;
        body.contains("nbu_disk_bytes{").then_some(body)
    })
    .await
}

/// The series of the bridge, as OTLP names them: (name, sorted labels) of every gauge line.
fn bridge_gauges(body: &str) -> BTreeSet<Key> {
    crate::prometheus::parse_exposition(body)
        .into_iter()
        .flat_map(|(name, series)| series.into_keys().map(move |labels| (name.clone(), labels)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_larger_than_the_collector_limit_arrives_whole_in_several_requests() {
    const LIMIT: usize = 64 * 1024;
    let sim = start_sim(sim_config(3_000, 400)).await;
    let receiver = Receiver::start_limited("127.0.0.1:0".parse().unwrap(), LIMIT).await;
    let running = Running::start_with(config(
        &[("alpha", &sim)],
        &receiver.endpoint(),
        &format!("  max_message_bytes: {}\n", LIMIT - 1024),
    ))
    .await;
    collected(&running).await;

    let requests = export_now(&running, &receiver).await;
    let sizes: Vec<usize> = requests.iter().map(|r| r.encoded_len()).collect();
    let total: usize = sizes.iter().sum();
    assert!(
        total > 3 * LIMIT,
        "the export ({total} bytes) must need several requests"
    );
    assert!(
        sizes.iter().all(|s| *s < LIMIT - 1024 + 1),
        "every request under the limit: {sizes:?}"
    );
    assert!(
        requests.len() >= total.div_ceil(LIMIT),
        "{} requests",
        requests.len()
    );
    let several = metrics_in_several(&requests);
    assert!(
        !several.is_empty(),
        "a metric larger than the limit is cut between its points"
    );

    // None lost, none duplicated: each series once, and the gauges are the bridge's series.
    let got = points(&requests);
    let mut seen = BTreeSet::new();
    for (key, _) in &got {
        assert!(seen.insert(key.clone()), "{key:?} sent twice");
    }
    let body = collected(&running).await;
    let gauges: BTreeSet<&String> = requests
        .iter()
        .flat_map(|r| &r.resource_metrics)
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
        .filter(|m| matches!(m.data, Some(Data::Gauge(_))))
        .map(|m| &m.name)
        .collect();
    let pushed_gauges: BTreeSet<Key> = got
        .iter()
        .filter(|((name, _), _)| gauges.contains(name))
        .map(|((name, labels), _)| (name.replace('.', "_"), labels.clone()))
        .collect();
    let names: BTreeSet<&String> = pushed_gauges.iter().map(|(name, _)| name).collect();
    let bridge: BTreeSet<Key> = bridge_gauges(&body)
        .into_iter()
        .filter(|(name, _)| names.contains(name))
        .collect();
    assert!(bridge.len() > 1_000, "{} gauge series", bridge.len());
    assert_eq!(
        pushed_gauges, bridge,
        "the pushed gauge series are the bridge's"
    );

    // The same export without a limit: one request with the same points.
    let unlimited = Receiver::start("127.0.0.1:0".parse().unwrap()).await;
    running.stop().await;
    let running = Running::start_with(config(&[("alpha", &sim)], &unlimited.endpoint(), "")).await;
    collected(&running).await;
    let whole = export_now(&running, &unlimited).await;
    assert_eq!(whole.len(), 1, "under the default limit: one request");
    let gauge_keys = |requests: &[ExportMetricsServiceRequest]| -> BTreeSet<Key> {
        points(requests)
            .into_iter()
            .filter(|((name, _), _)| {
                name.starts_with("nbu.disk") || name.starts_with("nbu.storage")
            })
            .map(|(k, _)| k)
            .collect()
    };
    assert_eq!(gauge_keys(&requests), gauge_keys(&whole));

    running.stop().await;
    receiver.stop().await;
    unlimited.stop().await;
    sim.shutdown().await;
}

/// The sites named by the `site` attribute of each metric of `requests`.
fn sites_by_metric(requests: &[ExportMetricsServiceRequest]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for ((name, labels), _) in points(requests) {
        if let Some((_, site)) = labels.iter().find(|(k, _)| k == "site") {
            out.entry(name).or_default().insert(site.clone());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_removed_by_a_reload_is_gone_from_the_next_export() {
    let alpha = start_sim(sim_config(400, 5)).await;
    let beta = start_sim(sim_config(400, 5)).await;
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap()).await;
    let mut running = Running::start_with(config(
        &[("alpha", &alpha), ("beta", &beta)],
        &receiver.endpoint(),
        "",
    ))
    .await;
    // Both sites collected, their finished jobs recorded by the duration histogram and
    // their API requests counted.
    let both: BTreeSet<String> = ["alpha".to_owned(), "beta".to_owned()].into();
    wait_for(
        "both sites in every kind of series",
        Duration::from_secs(30),
        || async {
            let by_metric = sites_by_metric(&export_now(&running, &receiver).await);
            [
                "nbu.job.duration.seconds",
                "nbu.api.requests",
                "nbu.up",
                "nbu.disk_bytes",
            ]
            .iter()
            .all(|m| by_metric.get(*m) == Some(&both))
            .then_some(())
        },
    )
    .await;

    let summary = running
        .agent
        .reload(config(&[("alpha", &alpha)], &receiver.endpoint(), ""))
        .await;
    assert_eq!(summary.removed, ["beta"]);
    let after = export_now(&running, &receiver).await;
    let by_metric = sites_by_metric(&after);
    for (metric, sites) in &by_metric {
        assert!(
            !sites.contains("beta"),
            "{metric} still carries beta: {sites:?}"
        );
    }
    let alpha_only: BTreeSet<String> = ["alpha".to_owned()].into();
    for metric in ["nbu.job.duration.seconds", "nbu.api.requests", "nbu.up"] {
        assert_eq!(by_metric.get(metric), Some(&alpha_only), "{metric}");
    }
    // Series without a site stay.
    assert!(
        points(&after)
            .iter()
            .any(|((name, _), _)| name == "nbu.exporter.build_info"),
        "build info is still pushed"
    );

    running.stop().await;
    receiver.stop().await;
    alpha.shutdown().await;
    beta.shutdown().await;
}

/// The `grpc-encoding` of the metrics requests received from index `from` on.
fn encodings(receiver: &Receiver, from: usize) -> Vec<Option<String>> {
    receiver.with(|r| {
        r.metric_headers[from..]
            .iter()
            .map(|headers| {
                headers
                    .iter()
                    .find(|(k, _)| k == "grpc-encoding")
                    .map(|(_, v)| v.clone())
            })
            .collect()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_gzip_compressed_unless_compression_is_none() {
    let sim = start_sim(sim_config(100, 3)).await;
    for (otlp, want) in [("", Some("gzip")), ("  compression: none\n", None)] {
        let receiver = Receiver::start("127.0.0.1:0".parse().unwrap()).await;
        let running =
            Running::start_with(config(&[("alpha", &sim)], &receiver.endpoint(), otlp)).await;
        let requests = export_now(&running, &receiver).await;
        assert!(!requests.is_empty(), "an export arrived");
        let got = encodings(&receiver, 0);
        assert!(
            got.iter().all(|e| e.as_deref() == want),
            "{otlp:?}: grpc-encoding {got:?}, want {want:?}"
        );
        running.stop().await;
        receiver.stop().await;
    }
    sim.shutdown().await;
}

/// A CA, a certificate for `localhost` signed by it (PEM, with its key) and a client
/// certificate signed by it (PEM, with its key).
struct Pki {
    ca: String,
    server: (String, String),
    client: (String, String),
}

fn pki() -> Pki {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "collector CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let leaf = |names: Vec<String>, usage: ExtendedKeyUsagePurpose| {
        let mut params = CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    Pki {
        server: leaf(
            vec!["localhost".to_owned()],
            ExtendedKeyUsagePurpose::ServerAuth,
        ),
        client: leaf(
            vec!["nbu-otel".to_owned()],
            ExtendedKeyUsagePurpose::ClientAuth,
        ),
        ca: issuer.pem(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_requiring_mutual_tls_gets_the_export_only_with_the_client_certificate() {
    use tonic::transport::{Certificate, Identity, ServerTlsConfig};
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, pem: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, pem).unwrap();
        path.display().to_string()
    };
    let ca = write("ca.pem", &pki.ca);
    let cert = write("client.pem", &pki.client.0);
    let key = write("client-key.pem", &pki.client.1);
    let tls = ServerTlsConfig::new()
        .identity(Identity::from_pem(&pki.server.0, &pki.server.1))
        .client_ca_root(Certificate::from_pem(&pki.ca));
    let receiver = Receiver::start_tls("127.0.0.1:0".parse().unwrap(), tls).await;
    let endpoint = format!("https://localhost:{}", receiver.addr.port());
    let sim = start_sim(sim_config(100, 3)).await;

    // Without the client certificate, the handshake fails: nothing arrives.
    let running = Running::start_with(config(
        &[("alpha", &sim)],
        &endpoint,
        &format!("  ca_file: {ca}\n"),
    ))
    .await;
    collected(&running).await;
    assert!(export_now(&running, &receiver).await.is_empty());
    running.stop().await;

    // With it, over TLS and gzip, the export arrives.
    let running = Running::start_with(config(
        &[("alpha", &sim)],
        &endpoint,
        &format!("  ca_file: {ca}\n  client_cert_file: {cert}\n  client_key_file: {key}\n"),
    ))
    .await;
    collected(&running).await;
    let requests = export_now(&running, &receiver).await;
    assert!(
        sites_by_metric(&requests)
            .get("nbu.up")
            .is_some_and(|s| s.contains("alpha")),
        "the export arrived over mutual TLS"
    );
    assert_eq!(encodings(&receiver, 0), [Some("gzip".to_owned())]);
    running.stop().await;
    receiver.stop().await;
    sim.shutdown().await;
}
