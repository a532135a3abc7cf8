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
