//! The credentials `/metrics` may require: basic auth or a bearer token, compared in constant
//! time.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq as _;

use crate::config::MetricsAuth;

/// The credentials `/metrics` accepts: an `Authorization` scheme (compared without regard to
/// case, as HTTP says) and the exact credentials after it.
#[derive(Clone)]
pub(super) struct Credentials {
    accepted: Arc<Vec<(&'static str, SecretString)>>,
    challenge: &'static str,
}

impl Credentials {
    pub(super) fn from_config(auth: &MetricsAuth) -> Option<Self> {
        let mut accepted = Vec::new();
        if let Some((user, password)) = &auth.basic {
            let raw = format!("{user}:{}", password.expose_secret());
            let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
            accepted.push(("basic", SecretString::from(encoded)));
        }
        if let Some(token) = &auth.bearer {
            accepted.push((
                "bearer",
                SecretString::from(token.expose_secret().to_owned()),
            ));
        }
        let challenge = if auth.basic.is_some() {
            "Basic realm=\"nbu-otel\""
        } else {
            "Bearer realm=\"nbu-otel\""
        };
        (!accepted.is_empty()).then(|| Self {
            accepted: Arc::new(accepted),
            challenge,
        })
    }

    fn allows(&self, header: Option<&HeaderValue>) -> bool {
        let given = header.map_or(&[][..], |h| h.as_bytes());
        // `<scheme> <credentials>`: the scheme is case-insensitive, the credentials are not.
        let split = given.iter().position(|b| *b == b' ');
        let (scheme, credentials) = match split {
            Some(i) => (&given[..i], trim_spaces(&given[i + 1..])),
            None => (given, &[][..]),
        };
        // Compare against every credential, in constant time for each.
        self.accepted.iter().fold(false, |ok, (want_scheme, want)| {
            ok | (scheme.eq_ignore_ascii_case(want_scheme.as_bytes())
                & constant_time_eq(credentials, want.expose_secret().as_bytes()))
        })
    }
}

/// `bytes` without leading spaces.
fn trim_spaces(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != b' ').unwrap_or(bytes.len());
    &bytes[start..]
}

/// Whether `a` and `b` are equal, in a time that depends only on their lengths (a difference
/// in length answers at once: the length of a credential is not secret).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

pub(super) async fn require_credentials(
    State(credentials): State<Credentials>,
    request: Request,
    next: Next,
) -> Response {
    if credentials.allows(request.headers().get(header::AUTHORIZATION)) {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, credentials.challenge)],
            "credentials required\n",
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"Bearer abc", b"Bearer abc"));
        assert!(!constant_time_eq(b"Bearer abd", b"Bearer abc"));
        assert!(!constant_time_eq(b"Bearer ab", b"Bearer abc"));
    }

    /// Credentials accepting basic auth `prom:s3cret` and the bearer token `tok`.
    fn prom_and_tok() -> Credentials {
        let auth = MetricsAuth {
            basic: Some(("prom".into(), SecretString::from("s3cret".to_owned()))),
            bearer: Some(SecretString::from("tok".to_owned())),
        };
        Credentials::from_config(&auth).unwrap_or_else(|| unreachable!())
    }

    #[test]
    fn credentials_accept_basic_and_bearer() {
        let c = prom_and_tok();
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("prom:s3cret")
        );
        assert!(c.allows(Some(
            &HeaderValue::from_str(&basic).unwrap_or_else(|e| panic!("{e}"))
        )));
        assert!(c.allows(Some(&HeaderValue::from_static("Bearer tok"))));
        assert!(!c.allows(Some(&HeaderValue::from_static("Bearer nope"))));
        assert!(!c.allows(None));
        assert!(!c.allows(Some(&HeaderValue::from_static("Basic tok"))));
        assert!(!c.allows(Some(&HeaderValue::from_static("Bearer TOK"))));
        assert!(!c.allows(Some(&HeaderValue::from_static("Bearertok"))));
    }

    #[test]
    fn the_authorization_scheme_is_case_insensitive() {
        let c = prom_and_tok();
        let encoded = base64::engine::general_purpose::STANDARD.encode("prom:s3cret");
        for scheme in ["basic", "BASIC", "bAsIc"] {
            let value = format!("{scheme} {encoded}");
            let header = HeaderValue::from_str(&value).unwrap_or_else(|e| panic!("{e}"));
            assert!(c.allows(Some(&header)), "{value}");
        }
        for value in ["bearer tok", "BEARER tok", "Bearer  tok"] {
            assert!(c.allows(Some(&HeaderValue::from_static(value))), "{value}");
        }
    }
}
