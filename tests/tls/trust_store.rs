//! One trust store: a CA in the system's store is trusted for NetBackup and for both OTLP
//! transports.

use super::*;

/// Metrics exports a plaintext gRPC receiver behind a TLS front got.
#[derive(Clone, Default)]
struct MetricsSink(Arc<Mutex<usize>>);

#[tonic::async_trait]
impl opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::MetricsService
    for MetricsSink
{
    async fn export(
        &self,
        _request: tonic::Request<
            opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest,
        >,
    ) -> Result<
        tonic::Response<
            opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse,
        >,
        tonic::Status,
    > {
        *lock(&self.0) += 1;
        Ok(tonic::Response::new(Default::default()))
    }
}

/// A plaintext OTLP/gRPC metrics receiver; its address and its count of exports.
async fn grpc_metrics_receiver() -> (SocketAddr, Arc<Mutex<usize>>) {
    use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::MetricsServiceServer;
    let listener = TcpListener::bind(SocketAddr::new(LOOPBACK, 0))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let sink = MetricsSink::default();
    let count = sink.0.clone();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(
                MetricsServiceServer::new(sink)
                    .accept_compressed(tonic::codec::CompressionEncoding::Gzip),
            )
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    (addr, count)
}

/// A plaintext OTLP/HTTP receiver of spans; its address and its count of exports.
async fn http_traces_receiver() -> (SocketAddr, Arc<Mutex<usize>>) {
    let count = Arc::new(Mutex::new(0usize));
    let seen = count.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move || {
            let seen = seen.clone();
            async move {
                *lock(&seen) += 1;
                (
                    [("content-type", "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
            }
        }),
    );
    let listener = TcpListener::bind(SocketAddr::new(LOOPBACK, 0))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, count)
}

/// One trust store: with a private CA only in the system's trust store (here `SSL_CERT_FILE`,
/// where `update-ca-certificates` would have put it), the real binary verifies NetBackup, a
/// Collector over gRPC (the metrics) and one over HTTP (the spans), with no `ca_file` for any;
/// without it, NetBackup is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_in_the_system_trust_store_is_trusted_for_netbackup_and_both_otlp_transports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator().await;
    let ca = TestCa::new("Corporate test CA");
    let ca_file = write_pem(dir.path(), "corporate-ca.pem", &ca.pem());
    let names = ["127.0.0.1", "localhost"];
    let nbu = TlsFront::start(ca.server_cert(&names), sim.addr()).await;
    let (grpc, exports) = grpc_metrics_receiver().await;
    let grpc_front = TlsFront::start(ca.server_cert(&names), grpc).await;
    let (http, spans) = http_traces_receiver().await;
    let http_front = TlsFront::start(ca.server_cert(&names), http).await;
    let config = write_pem(
        dir.path(),
        "nbu-otel.yaml",
        &format!(
            "sites:\n  - name: tlssite\n    url: https://localhost:{}/netbackup\n    api_key: ${{KEY}}\n    collection:\n      jobs_interval: 1s\n      request_timeout: 900ms\n\
             otlp:\n  endpoint: https://localhost:{}\n  export_interval: 1s\n  timeout: 900ms\n  traces:\n    protocol: http/protobuf\n    endpoint: https://localhost:{}/v1/traces\n\
             traces:\n  enabled: true\n",
            nbu.port(),
            grpc_front.port(),
            http_front.port()
        ),
    );
    let bin = env!("CARGO_BIN_EXE_nbu-otel");
    // Without the CA in the trust store, NetBackup's certificate is refused.
    let refused = tokio::process::Command::new(bin)
        .args(["check", "--config"])
        .arg(&config)
        .env("KEY", KEY)
        .env("SSL_CERT_FILE", dir.path().join("no-such-bundle.pem"))
        .output()
        .await
        .expect("check runs");
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let refused_handshakes = lock(&nbu.handshake_errors).len();
    assert!(refused_handshakes > 0, "refused in the handshake");
    // With it, everything is verified.
    let mut agent = tokio::process::Command::new(bin)
        .args(["run", "--config"])
        .arg(&config)
        .env("KEY", KEY)
        .env("SSL_CERT_FILE", &ca_file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run starts");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let collected = sim.requests().iter().any(|r| r.status == 200);
        if collected && *lock(&exports) > 0 && *lock(&spans) > 0 {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            let _ = agent.start_kill();
            let out = agent.wait_with_output().await.expect("output");
            panic!(
                "NetBackup {collected}, metric exports {}, span exports {}:\n{}",
                lock(&exports),
                lock(&spans),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = agent.start_kill();
    assert_eq!(lock(&nbu.handshake_errors).len(), refused_handshakes);
    for front in [&grpc_front, &http_front] {
        assert!(lock(&front.handshake_errors).is_empty());
    }
}
