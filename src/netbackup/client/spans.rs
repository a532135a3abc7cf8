//! What a request tells the traces: the span of a logical request, the client span of each
//! attempt, and the context (`traceparent`, `baggage`) sent with it.

use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use reqwest::header::{HeaderMap, HeaderValue};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use url::Url;

use super::super::settings::Propagation;
use super::super::version::ApiVersion;

/// The span of one logical request of `site` to `endpoint`, as `SiteClient::request_span`
/// describes it.
pub(super) fn request_span(
    site: &str,
    endpoint: &str,
    version: ApiVersion,
    page: Option<u64>,
) -> Span {
    tracing::debug_span!(
        "nbu.request",
        otel.name = %format!("nbu.request {endpoint}"),
        otel.kind = "internal",
        otel.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
        site = %site,
        nbu.api_version = version.as_str(),
        nbu.page = page,
        nbu.records = tracing::field::Empty,
    )
}

/// The client span of one attempt (HTTP semantic conventions): `GET {endpoint}` of kind
/// client, with the attributes known before sending (`server` is the site's host and port);
/// `resends` is the number of attempts before this one (`http.request.resend_count`, absent on
/// the first).
pub(super) fn attempt_span(
    site: &str,
    (address, port): (String, u16),
    endpoint: &str,
    url_full: &str,
    resends: u32,
) -> Span {
    tracing::debug_span!(
        "nbu.request.attempt",
        otel.name = %format!("GET {endpoint}"),
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        http.request.method = "GET",
        http.request.resend_count = (resends > 0).then_some(resends),
        url.full = %url_full,
        server.address = %address,
        server.port = port,
        http.response.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
        site = %site,
    )
}

/// `url` as `url.full` shows it: without user name and password, should the configured URL
/// carry any (the API key is a header, never part of the URL).
pub(super) fn without_userinfo(url: &Url) -> String {
    let mut url = url.clone();
    // Fails only for URLs that cannot have a user (no host), which then have none.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.into()
}

/// Adds the context `propagation` names: the W3C `traceparent` of the current span (when it
/// is valid) and the `baggage` of the current context.
pub(super) fn inject_context(headers: &mut HeaderMap, propagation: Propagation) {
    struct Injector<'a>(&'a mut HeaderMap);
    impl opentelemetry::propagation::Injector for Injector<'_> {
        fn set(&mut self, key: &str, value: String) {
            if let (Ok(name), Ok(value)) = (
                reqwest::header::HeaderName::from_bytes(key.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                self.0.insert(name, value);
            }
        }
    }
    let context = Span::current().context();
    if propagation.trace_context && context.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&context, &mut Injector(headers));
    }
    if propagation.baggage {
        // The span's context, or else the thread's (where a library user attaches baggage).
        use opentelemetry::baggage::BaggageExt as _;
        let with_baggage = if !context.baggage().is_empty() {
            context.clone()
        } else {
            opentelemetry::Context::current()
        };
        BaggagePropagator::new().inject_context(&with_baggage, &mut Injector(headers));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_propagators_decide_what_context_travels() {
        use opentelemetry::baggage::BaggageExt as _;
        let context = opentelemetry::Context::current_with_baggage([opentelemetry::KeyValue::new(
            "team", "backup",
        )]);
        let _attached = context.attach();
        let headers = |list: &str| {
            let mut headers = HeaderMap::new();
            inject_context(&mut headers, Propagation::named(list));
            headers
        };
        assert_eq!(
            headers("tracecontext,baggage")
                .get("baggage")
                .and_then(|v| v.to_str().ok()),
            Some("team=backup")
        );
        assert!(headers("tracecontext").get("baggage").is_none());
        assert!(headers("none").is_empty());
        // No span: no traceparent, whatever the propagators.
        assert!(headers("tracecontext").get("traceparent").is_none());
    }

    #[test]
    fn url_full_drops_the_user_name_and_password() {
        let url = Url::parse(
            "https://admin:s3cret@nbu.example:1556/netbackup/admin/jobs?page%5Blimit%5D=1",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            without_userinfo(&url),
            "https://nbu.example:1556/netbackup/admin/jobs?page%5Blimit%5D=1"
        );
        let plain = Url::parse("https://nbu.example/netbackup/admin/jobs?a=b")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(without_userinfo(&plain), plain.as_str());
    }
}
