//! The rules of `server`: the listen address, the bridge's path, HTTPS files and the
//! credentials of `/metrics`.

use std::net::SocketAddr;

use super::Validator;
use super::scalar::present;
use crate::config::raw::{Scalar, Section};
use crate::config::schema::{RawServer, ServerPatch};
use crate::config::{MetricsAuth, RESERVED_PATHS, ServerConfig};

/// `server.listen`: an IP address and port; `Some(None)` is never returned (absent is `None`).
pub(in crate::config) fn listen(
    v: &mut Validator<'_>,
    field: &str,
    value: Option<Scalar>,
) -> Option<Option<SocketAddr>> {
    let text = v.optional_text(field, value)?;
    match text.parse::<SocketAddr>() {
        Ok(addr) => Some(Some(addr)),
        Err(_) => {
            v.err(
                field,
                format!(
                    "expected an IP address and port such as 127.0.0.1:9440 or [::]:9440, \
                     got {text:?}"
                ),
            );
            None
        }
    }
}

/// `server.metrics_path`: see [`metrics_path_problem`].
pub(in crate::config) fn metrics_path(
    v: &mut Validator<'_>,
    field: &str,
    value: Option<Scalar>,
) -> Option<String> {
    let path = v.optional_text(field, value)?;
    if let Err(problem) = metrics_path_problem(&path) {
        v.err(field, problem);
    }
    Some(path)
}

/// `server.ready_min_sites`: 1 to 100,000.
pub(in crate::config) fn ready_min_sites(
    v: &mut Validator<'_>,
    field: &str,
    value: Option<Scalar>,
) -> Option<Option<u32>> {
    v.integer(field, value, 1, 100_000, "").map(Some)
}

/// Why `path` cannot be the bridge's path: it must be absolute, plain (letters, digits, `-`,
/// `_`, `.`, `~` and `/`, no empty segment) and not one the server answers itself.
pub fn metrics_path_problem(path: &str) -> Result<(), String> {
    let plain = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/'));
    if !path.starts_with('/') || !plain || path.contains("//") || path.len() > 256 {
        return Err(format!(
            "expected an absolute path such as /metrics (letters, digits, '-', '_', '.', '~' \
             and '/', at most 256 characters), got {path:?}"
        ));
    }
    if RESERVED_PATHS.contains(&path) {
        return Err(format!(
            "{path} is answered by the agent itself (/health, /healthz, /readyz); choose another path"
        ));
    }
    Ok(())
}

impl Validator<'_> {
    /// The `server` section.
    pub(super) fn server(&mut self, raw: Option<Section<RawServer>>) -> Option<ServerConfig> {
        let before = self.error_count();
        let Some(mut raw) = self.section("server", raw) else {
            return (self.error_count() == before).then(ServerConfig::default);
        };
        let cert_given = present(&raw.tls_cert_file);
        let key_given = present(&raw.tls_key_file);
        let server = ServerPatch::read(self, "server", &mut raw).apply(&ServerConfig::default());
        let clean = self.clean_since(
            before,
            &[
                "server.metrics_path",
                "server.ready_min_sites",
                "server.ready_cache",
                "server.tls_cert_file",
                "server.tls_key_file",
            ],
        );
        self.check_bridge_listen(&server, clean);
        self.check_pair(
            ("server.tls_cert_file", cert_given),
            ("server.tls_key_file", key_given),
        );
        let metrics_auth = self.metrics_auth(
            raw.metrics_username,
            raw.metrics_password,
            raw.metrics_bearer_token,
        );
        (self.error_count() == before).then_some(ServerConfig {
            metrics_auth,
            ..server
        })
    }

    /// `server.metrics_username` with `metrics_password`, and `metrics_bearer_token`.
    fn metrics_auth(
        &mut self,
        username: Option<Scalar>,
        password: Option<Scalar>,
        bearer: Option<Scalar>,
    ) -> MetricsAuth {
        let username = self.optional_text("server.metrics_username", username);
        let password = self
            .optional_text("server.metrics_password", password)
            .and_then(|p| self.secret("server.metrics_password", "the password", p));
        let bearer = self
            .optional_text("server.metrics_bearer_token", bearer)
            .and_then(|t| self.secret("server.metrics_bearer_token", "the token", t));
        self.check_pair(
            ("server.metrics_username", username.is_some()),
            ("server.metrics_password", password.is_some()),
        );
        let basic = username.zip(password);
        MetricsAuth { basic, bearer }
    }
}
