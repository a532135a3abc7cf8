//! `server`: the agent's own HTTP server. Its keys and their rules: the listen address, the
//! bridge's path, HTTPS files and the credentials of `/metrics`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::declare::section;
use crate::config::option_types::{DEFAULT_METRICS_PATH, MetricsAuth, RESERVED_PATHS};
use crate::config::raw::{Scalar, Section};
use crate::config::validate::Validator;
use crate::config::validate::scalar::{self, Within, hours, present, secs};

section! {
    /// The agent's own HTTP server. The default has no listen address and no bridge.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ServerConfig {
        /// Listen address of `/healthz`, `/readyz` and (when enabled) `/metrics`; unset = no server.
        listen: Option<SocketAddr> = None, parse listen;
        /// Serve the Prometheus compatibility bridge on `metrics_path` (needs `listen`).
        prometheus_bridge: bool = false, parse scalar::boolean;
        /// Path of the bridge (the Go exporter's `server.uri`), `/metrics` by default.
        metrics_path: String = DEFAULT_METRICS_PATH.to_owned(), parse metrics_path;
        /// `/readyz` is 200 when at least this many sites are ready; unset = every site.
        ready_min_sites: Option<u32> = None,
            parse |v, f, x| v.integer(f, x, 1, 100_000, "").map(Some);
        /// How long a site's readiness probe result is reused, so that a flood of `/readyz`
        /// requests never becomes a flood of NetBackup requests.
        ready_cache: Duration = secs(5), within Within::between(secs(1), hours(1));
        /// Serve HTTPS with this certificate chain (PEM); needs `tls_key_file`.
        tls_cert_file: Option<PathBuf> = None, parse scalar::file;
        /// The private key (PEM) of `tls_cert_file`.
        tls_key_file: Option<PathBuf> = None, parse scalar::file;
    }
    raw RawServer, patch ServerPatch;
    built {
        /// Credentials required on `/metrics` (`/healthz` and `/readyz` stay open).
        metrics_auth: MetricsAuth = MetricsAuth::default();
    }
    keys {
        /// Basic-auth user name required on `/metrics`; needs `metrics_password`.
        metrics_username: Scalar => "unset";
        /// Basic-auth password required on `/metrics` (a secret).
        metrics_password: Scalar => "unset";
        /// Bearer token accepted on `/metrics` (a secret).
        metrics_bearer_token: Scalar => "unset";
    }
}

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
        v.err(field, problem.to_string());
    }
    Some(path)
}

/// Why a path cannot be the bridge's path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsPathError {
    /// Not absolute, not plain (letters, digits, `-`, `_`, `.`, `~` and `/`, no empty
    /// segment), or longer than 256 characters.
    #[error(
        "expected an absolute path such as /metrics (letters, digits, '-', '_', '.', '~' \
         and '/', at most 256 characters), got {0:?}"
    )]
    NotPlain(String),
    /// A path the server answers itself.
    #[error(
        "{0} is answered by the agent itself (/health, /healthz, /readyz); choose another path"
    )]
    Reserved(String),
}

/// Why `path` cannot be the bridge's path: it must be absolute, plain (letters, digits, `-`,
/// `_`, `.`, `~` and `/`, no empty segment) and not one the server answers itself.
pub fn metrics_path_problem(path: &str) -> Result<(), MetricsPathError> {
    let plain = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/'));
    if !path.starts_with('/') || !plain || path.contains("//") || path.len() > 256 {
        return Err(MetricsPathError::NotPlain(path.to_owned()));
    }
    if RESERVED_PATHS.contains(&path) {
        return Err(MetricsPathError::Reserved(path.to_owned()));
    }
    Ok(())
}

impl Validator<'_> {
    /// The `server` section.
    pub(in crate::config) fn server(
        &mut self,
        raw: Option<Section<RawServer>>,
    ) -> Option<ServerConfig> {
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
        self.check_bridge_listen(server.prometheus_bridge, server.listen.is_some(), clean);
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::raw::struct_fields;

    #[test]
    fn probe_finds_struct_fields() {
        assert_eq!(
            struct_fields::<RawServer>(),
            Some(
                &[
                    "listen",
                    "prometheus_bridge",
                    "metrics_path",
                    "ready_min_sites",
                    "ready_cache",
                    "tls_cert_file",
                    "tls_key_file",
                    "metrics_username",
                    "metrics_password",
                    "metrics_bearer_token",
                ][..]
            )
        );
        assert_eq!(struct_fields::<BTreeMap<String, Scalar>>(), None);
    }
}
