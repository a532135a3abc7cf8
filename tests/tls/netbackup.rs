//! The agent's TLS to NetBackup: what is refused by default, what `tls.ca_file` trusts, the
//! hostname check, and `insecure_skip_verify` with its warning.

use super::*;

#[tokio::test(flavor = "current_thread")]
async fn a_netbackup_certificate_from_an_unknown_ca_is_refused_by_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator().await;
    let ca = TestCa::new("NetBackup test CA");
    let front = TlsFront::start(ca.server_cert(&["127.0.0.1", "localhost"]), sim.addr()).await;
    let detail = refused(
        site("127.0.0.1", front.port(), "", dir.path()),
        &sim,
        &front,
    )
    .await;
    assert!(
        detail.contains("certificate") && detail.contains("unknownissuer"),
        "the message says the certificate's issuer is not trusted: {detail}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_self_signed_certificate_is_refused_by_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator().await;
    let front = TlsFront::start(self_signed_cert(&["127.0.0.1"]), sim.addr()).await;
    let detail = refused(
        site("127.0.0.1", front.port(), "", dir.path()),
        &sim,
        &front,
    )
    .await;
    assert!(detail.contains("certificate"), "{detail}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_self_signed_ca_certificate_as_server_certificate_is_explained() {
    // What `openssl req -x509` makes by default: a self-signed certificate with CA:TRUE,
    // which the operator then puts in ca_file.
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator().await;
    let key = KeyPair::generate().expect("key");
    let mut params = server_params(&["127.0.0.1"]);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).expect("self-signed CA");
    let ca_file = write_pem(dir.path(), "server.pem", &cert.pem());
    let front = TlsFront::start(
        ServerCert {
            chain: vec![cert.der().clone()],
            key: key.into(),
        },
        sim.addr(),
    )
    .await;
    let tls = format!("      ca_file: {}\n", ca_file.display());
    let site = site("127.0.0.1", front.port(), &tls, dir.path());
    let collector = SiteCollector::new(site.clone()).expect("client builds");
    let err = collector.negotiate().await.expect_err("refused");
    let text = err.to_string();
    assert!(text.contains("CA:TRUE"), "says what is wrong: {text}");
    assert!(
        text.contains("tls.ca_file") && text.contains("/security/cacert"),
        "says what to configure instead: {text}"
    );
    let detail = refused(site.clone(), &sim, &front).await;
    assert!(detail.contains("ca:true"), "{detail}");
    // `check` prints the same explanation.
    let table = nbu_otel::report::check_table(&[nbu_otel::report::CheckResult {
        site: site.name.clone(),
        url: site.url.to_string(),
        outcome: Err(err),
        elapsed: Duration::ZERO,
        sources: Vec::new(),
    }]);
    assert!(table.contains("/security/cacert"), "{table}");
}

#[tokio::test(flavor = "current_thread")]
async fn the_netbackup_ca_in_ca_file_is_trusted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator().await;
    let ca = TestCa::new("NetBackup test CA");
    let ca_file = write_pem(dir.path(), "nbu-ca.pem", &ca.pem());
    let front = TlsFront::start(ca.server_cert(&["127.0.0.1", "localhost"]), sim.addr()).await;
    let tls = format!("      ca_file: {}\n", ca_file.display());
    let collector =
        SiteCollector::new(site("127.0.0.1", front.port(), &tls, dir.path())).expect("builds");
    let version = collector.negotiate().await.expect("verified connection");
    assert_eq!(version, ApiVersion::V14_0);
    let storage = collector.collect_storage(version).await;
    let summary = storage.result.expect("storage over TLS");
    assert_eq!(summary.units.len(), 2);
    let log = sim.requests();
    assert!(log.len() >= 2, "{log:?}");
    assert!(
        log.iter().all(|r| r.authorization_matched),
        "the key arrived intact"
    );
    assert!(lock(&front.handshake_errors).is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn a_relative_ca_file_and_a_dns_name_work_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator().await;
    let ca = TestCa::new("NetBackup test CA");
    write_pem(dir.path(), "relative-ca.pem", &ca.pem());
    let front = TlsFront::start(ca.server_cert(&["localhost"]), sim.addr()).await;
    // `localhost` may resolve to ::1 first; the front listens on 127.0.0.1 only, and the
    // client falls back to the next address.
    let tls = "      ca_file: relative-ca.pem\n";
    let collector =
        SiteCollector::new(site("localhost", front.port(), tls, dir.path())).expect("builds");
    assert_eq!(
        collector.negotiate().await.expect("verified"),
        ApiVersion::V14_0
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_hostname_mismatch_is_refused_even_with_the_right_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator().await;
    let ca = TestCa::new("NetBackup test CA");
    let ca_file = write_pem(dir.path(), "nbu-ca.pem", &ca.pem());
    let tls = format!("      ca_file: {}\n", ca_file.display());
    for host in ["127.0.0.1", "localhost"] {
        let front = TlsFront::start(ca.server_cert(&["other.example"]), sim.addr()).await;
        let detail = refused(site(host, front.port(), &tls, dir.path()), &sim, &front).await;
        assert!(
            detail.contains("certificate") && detail.contains("not valid for name"),
            "the message says the certificate is for another name ({host}): {detail}"
        );
        assert!(detail.contains("other.example"), "{detail}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_ca_file_with_another_ca_does_not_trust_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator().await;
    let real = TestCa::new("NetBackup test CA");
    let other = TestCa::new("Some other CA");
    let ca_file = write_pem(dir.path(), "other-ca.pem", &other.pem());
    let front = TlsFront::start(real.server_cert(&["127.0.0.1"]), sim.addr()).await;
    let tls = format!("      ca_file: {}\n", ca_file.display());
    let detail = refused(
        site("127.0.0.1", front.port(), &tls, dir.path()),
        &sim,
        &front,
    )
    .await;
    assert!(detail.contains("certificate"), "{detail}");
}

/// Collects everything the test thread logs.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        lock(&self.0).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&lock(&self.0)).into_owned()
    }
}

fn capture_logs() -> (LogBuffer, tracing::subscriber::DefaultGuard) {
    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // The runtime is current_thread: every task of the test runs on this thread.
    (buffer, tracing::subscriber::set_default(subscriber))
}

#[tokio::test(flavor = "current_thread")]
async fn insecure_skip_verify_accepts_any_certificate_and_warns() {
    let (logs, _guard) = capture_logs();
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator().await;
    // Self-signed and for another name: every check would fail.
    let front = TlsFront::start(self_signed_cert(&["other.example"]), sim.addr()).await;
    let tls = "      insecure_skip_verify: true\n";
    let collector =
        SiteCollector::new(site("127.0.0.1", front.port(), tls, dir.path())).expect("builds");
    let version = collector.negotiate().await.expect("verification is off");
    assert_eq!(version, ApiVersion::V14_0);
    assert!(sim.requests().iter().all(|r| r.authorization_matched));

    let text = logs.text();
    let warning = text
        .lines()
        .find(|l| l.contains("WARN") && l.contains("insecure_skip_verify"))
        .unwrap_or_else(|| panic!("no warning about insecure_skip_verify in:\n{text}"));
    assert!(warning.contains("tlssite"), "names the site: {warning}");
    assert!(
        warning.contains("verification is OFF"),
        "says what it means: {warning}"
    );
    assert!(!text.contains(KEY), "the key is never logged:\n{text}");
}

#[tokio::test(flavor = "current_thread")]
async fn verified_sites_log_no_tls_warning() {
    let (logs, _guard) = capture_logs();
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = TestCa::new("NetBackup test CA");
    let ca_file = write_pem(dir.path(), "nbu-ca.pem", &ca.pem());
    let tls = format!("      ca_file: {}\n", ca_file.display());
    SiteCollector::new(site("127.0.0.1", 1556, &tls, dir.path())).expect("builds");
    SiteCollector::new(site("127.0.0.1", 1556, "", dir.path())).expect("builds");
    let text = logs.text();
    assert!(!text.contains("WARN"), "unexpected warning:\n{text}");
}

#[test]
fn a_ca_file_without_a_certificate_is_a_setup_error() {
    // Junk, or a key where the certificate should be: without this check the client would
    // start with an empty trust store and refuse every server with a misleading error.
    let dir = tempfile::tempdir().expect("tempdir");
    let key_pem = KeyPair::generate().expect("key").serialize_pem();
    for (name, content) in [("junk.pem", "not a certificate\n"), ("key.pem", &key_pem)] {
        let file = write_pem(dir.path(), name, content);
        let tls = format!("      ca_file: {}\n", file.display());
        match SiteCollector::new(site("127.0.0.1", 1556, &tls, dir.path())) {
            Err(ApiError {
                site,
                failure: ApiFailure::Setup { detail },
                ..
            }) => {
                assert_eq!(site, "tlssite");
                assert!(
                    detail.contains(name) && detail.contains("no PEM certificate"),
                    "{detail}"
                );
            }
            Err(other) => panic!("expected a setup error, got {other:?}"),
            Ok(_) => panic!("{name}: a CA file without a certificate was accepted"),
        }
    }
}
