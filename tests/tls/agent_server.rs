//! The agent's own HTTPS server: it serves with its certificate, and refuses a key that does
//! not match it.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_server_serves_https_with_its_certificate() {
    let ca = TestCa::new("nbu-otel test CA");
    let key = KeyPair::generate().expect("server key");
    let cert = server_params(&["127.0.0.1", "localhost"])
        .signed_by(&key, &ca.issuer)
        .expect("server cert");
    let dir = tempfile::tempdir().expect("tempdir");
    let cert_file = write_pem(
        dir.path(),
        "server.pem",
        &format!("{}{}", cert.pem(), ca.pem()),
    );
    let key_file = write_pem(dir.path(), "server.key", &key.serialize_pem());
    let acceptor = nbu_otel::server::tls_acceptor(&cert_file, &key_file).expect("acceptor");
    let store = nbu_otel::telemetry::instruments::SnapshotStore::new();
    let readiness = nbu_otel::readiness::Readiness::new(store, Duration::from_secs(5), None);
    let router = nbu_otel::server::router(readiness, None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(nbu_otel::server::serve(
        listener,
        router,
        Some(acceptor),
        async {
            let _ = stopped.await;
        },
    ));

    let ca_cert = reqwest::Certificate::from_pem(ca.pem().as_bytes()).expect("CA PEM");
    let client = reqwest::Client::builder()
        .tls_certs_only([ca_cert])
        .build()
        .expect("client");
    let ok = client
        .get(format!("https://127.0.0.1:{}/healthz", addr.port()))
        .send()
        .await
        .expect("HTTPS works");
    assert_eq!(ok.status(), 200);
    // Plain HTTP to the TLS port gets no answer.
    let plain = reqwest::get(format!("http://127.0.0.1:{}/healthz", addr.port())).await;
    assert!(plain.is_err() || plain.is_ok_and(|r| r.status() != 200));
    // A client that does not trust the CA refuses the server.
    let untrusting = reqwest::Client::new()
        .get(format!("https://127.0.0.1:{}/healthz", addr.port()))
        .send()
        .await;
    assert!(untrusting.is_err());
    let _ = stop.send(());
    server
        .await
        .expect("server task")
        .expect("server ends cleanly");
}

#[test]
fn a_server_key_that_does_not_match_is_refused_naming_the_field() {
    let ca = TestCa::new("nbu-otel test CA");
    let key = KeyPair::generate().expect("key");
    let other = KeyPair::generate().expect("other key");
    let cert = server_params(&["127.0.0.1"])
        .signed_by(&key, &ca.issuer)
        .expect("cert");
    let dir = tempfile::tempdir().expect("tempdir");
    let cert_file = write_pem(dir.path(), "server.pem", &cert.pem());
    let key_file = write_pem(dir.path(), "server.key", &other.serialize_pem());
    let err = nbu_otel::server::tls_acceptor(&cert_file, &key_file)
        .err()
        .expect("refused");
    assert!(err.to_string().contains("server.tls_key_file"), "{err}");
    let missing = nbu_otel::server::tls_acceptor(&dir.path().join("none.pem"), &key_file)
        .err()
        .expect("refused");
    assert!(
        missing.to_string().contains("server.tls_cert_file"),
        "{missing}"
    );
}
