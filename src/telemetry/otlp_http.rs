//! OTLP/HTTP (`http/protobuf`): one HTTP client per signal, built from its settings (the
//! system's trust store or the CA file, the client certificate, the headers as secrets, the
//! environment's proxy unless `otlp.proxy_from_env` is off), and requests posted with the
//! retries of [`super::export_retry`].

use std::io::Write as _;
use std::time::{Duration, SystemTime};

use flate2::Compression as GzipLevel;
use flate2::write::GzEncoder;
use reqwest::header::{
    CONTENT_ENCODING, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER,
};
use secrecy::ExposeSecret as _;
use url::Url;

use super::export_retry::{Attempt, http_retryable, retrying};
use super::exporter_error::{ExporterError, read_tls_file};
use crate::config::{OtlpCompression, SignalExport};
use crate::netbackup::parse_retry_after;

/// The largest answer read (an answer holds at most a partial-success message).
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// The longest part of an error answer quoted in an error.
const QUOTED_BYTES: usize = 200;

/// The HTTP client of one signal's export.
pub fn client(export: &SignalExport) -> Result<reqwest::Client, ExporterError> {
    let build = |e: String| ExporterError::Build(format!("{}: {e}", export.signal.name()));
    let mut headers = HeaderMap::new();
    for (name, value) in &export.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ExporterError::Header(name.clone()))?;
        let mut value = HeaderValue::from_str(value.expose_secret())
            .map_err(|_| ExporterError::Header(name.to_string()))?;
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("nbu-otel/", env!("CARGO_PKG_VERSION")))
        .default_headers(headers)
        .connect_timeout(export.timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none());
    if !export.proxy_from_env {
        builder = builder.no_proxy();
    }
    if let Some(ca) = &export.ca_file {
        let pem = read_tls_file(export, "ca_file", ca)?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| build(format!("{} is not PEM: {e}", ca.display())))?;
        if certs.is_empty() {
            return Err(build(format!("{} holds no PEM certificate", ca.display())));
        }
        builder = builder.tls_certs_only(certs);
    }
    if let (Some(cert), Some(key)) = (&export.client_cert_file, &export.client_key_file) {
        let mut pem = read_tls_file(export, "client_cert_file", cert)?;
        pem.push(b'\n');
        pem.extend(read_tls_file(export, "client_key_file", key)?);
        let identity = reqwest::Identity::from_pem(&pem)
            .map_err(|e| build(format!("client certificate and key: {e}")))?;
        builder = builder.identity(identity);
    }
    builder.build().map_err(|e| build(e.to_string()))
}

/// The HTTP client of one signal for the SDK's exporters (spans, the agent's own logs). Their
/// batch processors export from threads of their own, outside any Tokio runtime: each request
/// runs on the runtime this was built in. Must be called inside a Tokio runtime.
pub fn runtime_client(export: &SignalExport) -> Result<RuntimeClient, ExporterError> {
    Ok(RuntimeClient {
        client: client(export)?,
        runtime: tokio::runtime::Handle::try_current().map_err(|_| ExporterError::NoRuntime)?,
    })
}

/// A reqwest client whose requests run on a given Tokio runtime, whichever thread sends them.
#[derive(Debug, Clone)]
pub struct RuntimeClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for RuntimeClient {
    async fn send_bytes(
        &self,
        request: opentelemetry_http::Request<bytes::Bytes>,
    ) -> Result<opentelemetry_http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let client = self.client.clone();
        self.runtime
            .spawn(
                async move { opentelemetry_http::HttpClient::send_bytes(&client, request).await },
            )
            .await
            .map_err(|e| Box::new(e) as opentelemetry_http::HttpError)?
    }
}

/// Posts OTLP requests of one signal.
#[derive(Debug, Clone)]
pub struct HttpSender {
    client: reqwest::Client,
    url: Url,
    gzip: bool,
    timeout: Duration,
}

impl HttpSender {
    /// A sender to the signal's URL.
    pub fn new(export: &SignalExport) -> Result<Self, ExporterError> {
        Ok(HttpSender {
            client: client(export)?,
            url: export.endpoint.clone(),
            gzip: export.compression == OtlpCompression::Gzip,
            timeout: export.timeout,
        })
    }

    /// Posts `body` (an encoded OTLP request) within the timeout, retried as the
    /// specification says; the answer's body when the Collector took it.
    pub async fn post(&self, body: &[u8]) -> Result<Vec<u8>, String> {
        let body = if self.gzip {
            let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 4), GzipLevel::fast());
            encoder
                .write_all(body)
                .and_then(|()| encoder.finish())
                .map_err(|e| format!("gzip: {e}"))?
        } else {
            body.to_vec()
        };
        let body = bytes::Bytes::from(body);
        retrying(self.timeout, |left| self.try_post(body.clone(), left)).await
    }

    async fn try_post(&self, body: bytes::Bytes, left: Duration) -> Attempt<Vec<u8>> {
        let mut request = self
            .client
            .post(self.url.clone())
            .timeout(left)
            .header(CONTENT_TYPE, "application/x-protobuf")
            .body(body);
        if self.gzip {
            request = request.header(CONTENT_ENCODING, "gzip");
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Retry {
                    after: None,
                    error: format!("POST {}: {}", self.url, without_url(&e)),
                };
            }
        };
        let status = response.status().as_u16();
        let after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let answer = read_limited(response).await;
        match status {
            200..=299 => Attempt::Done(answer),
            s if http_retryable(s) => Attempt::Retry {
                after,
                error: format!("HTTP {s}"),
            },
            s => Attempt::Fail(format!("HTTP {s}: {}", quoted(&answer))),
        }
    }
}

/// A reqwest error without the URL it repeats.
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(&format!(" for url ({url})"), "");
    }
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The body of an answer, at most [`MAX_RESPONSE_BYTES`] (the rest is not read).
async fn read_limited(mut response: reqwest::Response) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_RESPONSE_BYTES.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= MAX_RESPONSE_BYTES {
            break;
        }
    }
    out
}

/// The start of an error answer as text.
fn quoted(answer: &[u8]) -> String {
    let text = String::from_utf8_lossy(&answer[..answer.len().min(QUOTED_BYTES)]);
    text.chars().filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    use axum::http::{HeaderMap as AxumHeaders, StatusCode};
    use axum::routing::post;

    use super::*;
    use crate::config::{OtlpProtocol, Signal};

    /// What the Collector stand-in answers, in turn: status, `Retry-After`, body.
    type Plan = Arc<Mutex<VecDeque<(u16, Option<&'static str>, Vec<u8>)>>>;

    /// A Collector stand-in on a free port that answers as `plan` says and records the
    /// `Content-Encoding` of each request; its `/v1/metrics` URL.
    async fn collector(plan: Plan, seen: Arc<Mutex<Vec<Option<String>>>>) -> Url {
        let app = axum::Router::new().route(
            "/v1/metrics",
            post(move |headers: AxumHeaders| {
                let plan = plan.clone();
                let seen = seen.clone();
                async move {
                    let encoding = headers
                        .get(CONTENT_ENCODING)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    seen.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(encoding);
                    let next = plan.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                    let (status, retry_after, body) = next.unwrap_or((200, None, Vec::new()));
                    let mut response = axum::response::Response::new(axum::body::Body::from(body));
                    *response.status_mut() =
                        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    if let Some(after) = retry_after {
                        response
                            .headers_mut()
                            .insert(RETRY_AFTER, HeaderValue::from_static(after));
                    }
                    response
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Url::parse(&format!("http://{addr}/v1/metrics")).unwrap_or_else(|e| panic!("{e}"))
    }

    fn export(endpoint: Url, compression: OtlpCompression) -> SignalExport {
        SignalExport {
            signal: Signal::Metrics,
            endpoint,
            protocol: OtlpProtocol::HttpProtobuf,
            headers: vec![("x-tenant".to_owned(), "acme".to_owned().into())],
            timeout: Duration::from_secs(5),
            compression,
            ca_file: None,
            client_cert_file: None,
            client_key_file: None,
            proxy_from_env: false,
        }
    }

    #[tokio::test]
    async fn a_retryable_answer_is_retried_and_the_accepted_answer_returned() {
        let plan: Plan = Arc::new(Mutex::new(VecDeque::from([
            (503, Some("0"), b"busy".to_vec()),
            (200, None, b"partial-success".to_vec()),
        ])));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let url = collector(plan, seen.clone()).await;
        let sender =
            HttpSender::new(&export(url, OtlpCompression::Gzip)).unwrap_or_else(|e| panic!("{e}"));
        let answer = sender.post(b"request").await;
        assert_eq!(answer.as_deref(), Ok(&b"partial-success"[..]));
        assert_eq!(
            *seen.lock().unwrap_or_else(|p| p.into_inner()),
            vec![Some("gzip".to_owned()), Some("gzip".to_owned())]
        );
    }

    #[tokio::test]
    async fn a_refused_request_fails_quoting_the_start_of_the_answer() {
        let mut body = b"bad request:\n\x07".to_vec();
        body.extend(std::iter::repeat_n(b'x', 5_000));
        let plan: Plan = Arc::new(Mutex::new(VecDeque::from([(400, None, body)])));
        let url = collector(plan, Arc::default()).await;
        let sender =
            HttpSender::new(&export(url, OtlpCompression::None)).unwrap_or_else(|e| panic!("{e}"));
        let e = sender.post(b"request").await.err().unwrap_or_default();
        assert!(e.starts_with("HTTP 400: bad request:x"), "{e}");
        assert!(
            e.len() <= "HTTP 400: ".len() + QUOTED_BYTES,
            "{} bytes",
            e.len()
        );
    }

    #[tokio::test]
    async fn an_unreachable_collector_is_named_once_in_the_error() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
            l.local_addr().unwrap_or_else(|e| panic!("{e}")).port()
        };
        let url = Url::parse(&format!("http://127.0.0.1:{port}/v1/metrics"))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut settings = export(url.clone(), OtlpCompression::None);
        settings.timeout = Duration::from_millis(300);
        let sender = HttpSender::new(&settings).unwrap_or_else(|e| panic!("{e}"));
        let e = sender.post(b"request").await.err().unwrap_or_default();
        assert_eq!(e.matches(url.as_str()).count(), 1, "{e}");
        assert!(!e.contains("for url ("), "{e}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_sdk_client_sends_on_the_runtime_it_was_built_in() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let url = collector(Arc::default(), seen.clone()).await;
        let client = runtime_client(&export(url.clone(), OtlpCompression::None))
            .unwrap_or_else(|e| panic!("{e}"));
        let request = opentelemetry_http::Request::post(url.as_str())
            .body(bytes::Bytes::from_static(b"spans"))
            .unwrap_or_else(|e| panic!("{e}"));
        // The SDK's batch processors send from threads of their own, outside the agent's
        // runtime (here: a thread with a bare runtime of its own, without I/O).
        let sending = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .map(|bare| {
                    bare.block_on(opentelemetry_http::HttpClient::send_bytes(&client, request))
                })
        });
        let answer = tokio::task::spawn_blocking(move || sending.join())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|_| panic!("the sending thread panicked"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(answer.map(|r| r.status().as_u16()).ok(), Some(200));
        assert_eq!(seen.lock().unwrap_or_else(|p| p.into_inner()).len(), 1);
    }

    #[test]
    fn unusable_tls_files_are_named() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let not_pem = dir.path().join("ca.txt");
        std::fs::write(&not_pem, "no certificate here").unwrap_or_else(|e| panic!("{e}"));
        let url = Url::parse("https://collector.example.com:4318/v1/metrics")
            .unwrap_or_else(|e| panic!("{e}"));
        let mut settings = export(url, OtlpCompression::None);
        settings.ca_file = Some(not_pem.clone());
        let e = client(&settings)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("ca.txt") && e.contains("metrics"), "{e}");
        settings.ca_file = None;
        settings.client_cert_file = Some(not_pem.clone());
        settings.client_key_file = Some(not_pem);
        let e = client(&settings)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("client certificate and key"), "{e}");
        settings.client_cert_file = None;
        settings.client_key_file = None;
        settings.headers = vec![("bad header".to_owned(), "v".to_owned().into())];
        assert!(client(&settings).is_err(), "a header name with a space");
    }
}
