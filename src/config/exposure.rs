//! Warnings about secrets the deployment exposes: credentials that travel over plain http,
//! and files holding secrets that other users can read. Nothing here is an error (a lab may
//! want exactly that); each warning names what to change.
//!
//! [`exposure_warnings`] covers the configuration as a whole, once per load;
//! [`SiteConfig::exposures`] covers one site, each time its client is built.

use std::path::{Path, PathBuf};

use secrecy::ExposeSecret as _;

use super::section::site::SiteConfig;
use super::typed::Config;
use crate::file_limits::{MAX_CONFIG_FILE_BYTES, read_at_most};

/// One setting of a site that exposes its API key: what to say, and the key file it is
/// about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteExposure {
    /// What is exposed, and what to change.
    pub warning: &'static str,
    /// The API key file and its permission bits, when the file is what is exposed.
    pub key_file: Option<(PathBuf, u32)>,
}

impl SiteConfig {
    /// The settings of this site that expose its API key: TLS verification off, a plain
    /// `http://` URL, an API key file that other users can read.
    pub fn exposures(&self) -> Vec<SiteExposure> {
        let mut exposures = Vec::new();
        if self.tls.insecure_skip_verify {
            exposures.push(SiteExposure {
                warning: "TLS certificate verification is OFF for this site (insecure_skip_verify: true)",
                key_file: None,
            });
        }
        if self.url.scheme() == "http" {
            exposures.push(SiteExposure {
                warning: "the site URL is plain http://: the API key travels unencrypted; use https://",
                key_file: None,
            });
        }
        if let Some(file) = &self.api_key_file
            && let Some(mode) = readable_by_others(file)
        {
            exposures.push(SiteExposure {
                warning: "the API key file is readable by other users; chmod 600 it",
                key_file: Some((file.clone(), mode)),
            });
        }
        exposures
    }
}

/// The warnings for `config`, loaded from `file` (when it came from one).
pub fn exposure_warnings(config: &Config, file: Option<&Path>) -> Vec<String> {
    let mut warnings = Vec::new();
    let server = &config.server;
    if server.listen.is_some()
        && server.prometheus_bridge
        && server.metrics_auth.is_required()
        && server.tls_cert_file.is_none()
    {
        warnings.push(
            "server.metrics_auth: the /metrics credentials travel unencrypted over plain http; \
             set server.tls_cert_file and server.tls_key_file"
                .to_owned(),
        );
    }
    let otlp = &config.otlp;
    if otlp.enabled && !otlp.headers.is_empty() && otlp.endpoint.scheme() == "http" {
        warnings.push(format!(
            "otlp.headers: sent unencrypted to {} (plain http://); use https://",
            otlp.endpoint
        ));
    }
    if let Some(file) = file
        && holds_inline_secret(config, file)
        && let Some(mode) = readable_by_others(file)
    {
        warnings.push(format!(
            "{}: the configuration file holds secrets and is readable by other users (mode \
             {mode:o}); chmod 600 it, or move the secrets to key files or ${{VARIABLES}}",
            file.display()
        ));
    }
    let proxied = config.sites.iter().any(|s| s.collection.proxy_from_env)
        || (otlp.enabled && otlp.proxy_from_env);
    if proxied {
        // The HTTP clients read the proxy variables from the process environment.
        warnings.extend(unusable_proxy_variables(|name| std::env::var(name).ok()));
    }
    for (field, key) in [
        ("server.tls_key_file", &server.tls_key_file),
        ("otlp.client_key_file", &otlp.client_key_file),
    ] {
        if let Some(key) = key
            && let Some(mode) = readable_by_others(key)
        {
            warnings.push(format!(
                "{field}: the private key {} is readable by other users (mode {mode:o}); \
                 chmod 600 it",
                key.display()
            ));
        }
    }
    warnings
}

/// The proxy variables the HTTP clients read, as curl names them.
const PROXY_VARIABLES: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// A warning for each proxy variable (`var` gives its value) set to something that is not a
/// proxy URL: the HTTP clients ignore it, so requests meant for the proxy go direct. The value
/// is never quoted (it may hold the proxy's password).
fn unusable_proxy_variables(var: impl Fn(&str) -> Option<String>) -> Vec<String> {
    PROXY_VARIABLES
        .iter()
        .filter_map(|name| {
            let value = var(name)?;
            let value = value.trim();
            (!value.is_empty() && reqwest::Proxy::all(value).is_err()).then(|| {
                format!(
                    "{name} is not a proxy URL (scheme://[user:password@]host:port): it is \
                     ignored and requests go direct"
                )
            })
        })
        .collect()
}

/// Whether the text of `file` contains one of the secrets of `config` (an API key, a
/// `/metrics` password or token, an OTLP header value) written inline.
fn holds_inline_secret(config: &Config, file: &Path) -> bool {
    let Ok(bytes) = read_at_most(file, MAX_CONFIG_FILE_BYTES) else {
        return false;
    };
    let text = String::from_utf8_lossy(&bytes);
    let auth = &config.server.metrics_auth;
    let mut secrets: Vec<&str> = config
        .sites
        .iter()
        .filter(|s| s.api_key_file.is_none())
        .map(|s| s.api_key.expose_secret())
        .collect();
    secrets.extend(auth.basic.iter().map(|(_, p)| p.expose_secret()));
    secrets.extend(auth.bearer.iter().map(|t| t.expose_secret()));
    secrets.extend(config.otlp.headers.iter().map(|(_, v)| v.expose_secret()));
    secrets
        .into_iter()
        .any(|secret| !secret.is_empty() && text.contains(secret))
}

/// The permission bits of `file` when users other than its owner may read it.
fn readable_by_others(file: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(file).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        None
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::collections::HashMap;
    use std::os::unix::fs::PermissionsExt as _;
    use std::path::PathBuf;

    use super::*;
    use crate::config::load::load_file_with_env;

    fn write(path: &Path, text: &str, mode: u32) {
        std::fs::write(path, text).unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    fn load(file: &Path, env: &[(&str, &str)]) -> Config {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        load_file_with_env(file, &env).unwrap_or_else(|e| panic!("{e}"))
    }

    fn site(key: &str) -> String {
        format!("sites:\n  - name: a\n    url: https://nbu:1556/netbackup\n    api_key: {key}\n")
    }

    #[test]
    fn a_proxy_variable_that_is_not_a_url_is_named_never_quoted() {
        let env: std::collections::HashMap<&str, &str> = [
            ("HTTPS_PROXY", "proxy.example:3128 with-secret-pw"),
            ("http_proxy", "http://user:pw@proxy.example:3128"),
            ("ALL_PROXY", "  "),
        ]
        .into();
        let warnings = unusable_proxy_variables(|name| env.get(name).map(|v| (*v).to_owned()));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].starts_with("HTTPS_PROXY is not a proxy URL"));
        assert!(!warnings[0].contains("secret"), "{warnings:?}");
    }

    #[test]
    fn a_config_file_with_an_inline_key_readable_by_others_is_flagged() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("nbu.yaml");
        write(&file, &site("inline-secret-key-123"), 0o644);
        let config = load(&file, &[]);
        let warnings = exposure_warnings(&config, Some(&file));
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("nbu.yaml") && w.contains("chmod 600")),
            "{warnings:?}"
        );
        assert!(
            !warnings.iter().any(|w| w.contains("inline-secret")),
            "{warnings:?}"
        );
        // Owner-only: nothing to say.
        write(&file, &site("inline-secret-key-123"), 0o600);
        assert!(exposure_warnings(&config, Some(&file)).is_empty());
        // The key comes from the environment: the file holds no secret.
        write(&file, &site("${NBU_KEY}"), 0o644);
        let config = load(&file, &[("NBU_KEY", "from-the-environment")]);
        assert!(exposure_warnings(&config, Some(&file)).is_empty());
    }

    #[test]
    fn private_keys_readable_by_others_and_credentials_over_http_are_flagged() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = |name: &str| -> PathBuf { dir.path().join(name) };
        for name in ["server.pem", "server.key", "client.pem", "client.key"] {
            write(&path(name), "-----BEGIN X-----\n", 0o644);
        }
        let file = path("nbu.yaml");
        let text = format!(
            "{}server:\n  listen: 127.0.0.1:9440\n  prometheus_bridge: true\n  tls_cert_file: server.pem\n  tls_key_file: server.key\n  metrics_bearer_token: ${{TOKEN}}\notlp:\n  endpoint: https://otel:4317\n  client_cert_file: client.pem\n  client_key_file: client.key\n",
            site("${NBU_KEY}")
        );
        write(&file, &text, 0o600);
        let config = load(&file, &[("NBU_KEY", "k"), ("TOKEN", "t")]);
        let warnings = exposure_warnings(&config, Some(&file));
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].starts_with("server.tls_key_file"),
            "{warnings:?}"
        );
        assert!(
            warnings[1].starts_with("otlp.client_key_file"),
            "{warnings:?}"
        );

        // Plain http: the /metrics credentials and the OTLP headers travel in clear.
        let text = format!(
            "{}server:\n  listen: 127.0.0.1:9440\n  prometheus_bridge: true\n  metrics_bearer_token: ${{TOKEN}}\notlp:\n  endpoint: http://otel:4317\n  headers:\n    authorization: ${{TOKEN}}\n",
            site("${NBU_KEY}")
        );
        write(&file, &text, 0o600);
        let config = load(&file, &[("NBU_KEY", "k"), ("TOKEN", "t")]);
        let warnings = exposure_warnings(&config, Some(&file));
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("server.metrics_auth")),
            "{warnings:?}"
        );
        assert!(
            warnings.iter().any(|w| w.starts_with("otlp.headers")),
            "{warnings:?}"
        );
    }

    #[test]
    fn a_site_over_http_without_verification_with_an_open_key_file_is_flagged_thrice() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let key = dir.path().join("nbu.key");
        write(&key, "k\n", 0o644);
        let file = dir.path().join("nbu.yaml");
        let text = format!(
            "sites:\n  - name: a\n    url: http://nbu:1556/netbackup\n    api_key_file: {}\n    tls: {{ insecure_skip_verify: true }}\n",
            key.display()
        );
        write(&file, &text, 0o600);
        let config = load(&file, &[]);
        let exposures = config.sites[0].exposures();
        let warnings: Vec<&str> = exposures.iter().map(|e| e.warning).collect();
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[0].contains("verification is OFF"), "{warnings:?}");
        assert!(warnings[1].contains("plain http://"), "{warnings:?}");
        assert_eq!(exposures[2].key_file, Some((key.clone(), 0o644)));
        write(&key, "k\n", 0o600);
        assert_eq!(config.sites[0].exposures().len(), 2);
    }
}
