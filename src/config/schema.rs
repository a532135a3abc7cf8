//! The schema of the configuration file: every key of every section, declared once with its
//! type, default, parse function and documentation (see [`section!`](super::declare) for what
//! is derived from a row), and where each section sits: its path, whether environment
//! variables override it and whether a site may override it.
//!
//! The option reference in the README, the environment variables accepted and the list of them
//! in the [module documentation](super) all come from here; tests hold the README and
//! `examples/nbu-otel.yaml` to it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use super::declare::{KeyDoc, Shape, section};
use super::files::FilesFingerprint;
use super::raw::{List, Scalar, Section};
use super::sources::SourceId;
use super::validate::{collection as coll, otlp, scalar, server, service, site};
use super::{
    DEFAULT_METRICS_PATH, DEFAULT_OTLP_MAX_MESSAGE_BYTES, DEFAULT_OTLP_MAX_SERIES_PER_METRIC,
    LogFormat, MetricsAuth, OtlpCompression, SourcesConfig,
};
use crate::netbackup::ApiVersion;

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

section! {
    /// One NetBackup primary server.
    #[derive(Debug, Clone)]
    pub struct SiteConfig {
        /// Unique name, used as the `site` label. Letters, digits, `-`, `_` and `.` only.
        name: String, parse site::name;
        /// Base URL of the API, for example `https://primary.example.com:1556/netbackup`.
        url: Url, parse site::url;
    }
    raw RawSite, patch SitePatch;
    built {
        /// The API key, from `api_key` or read from `api_key_file`.
        api_key: SecretString;
        /// Where the key was read from, when it came from a file (kept for reloads and
        /// messages).
        api_key_file: Option<PathBuf>;
        /// A pinned API version; when `None` the client negotiates newest-first.
        api_version: Option<ApiVersion>;
        /// TLS settings for this site.
        tls: TlsConfig;
        /// Collection settings, the global ones with this site's overrides applied.
        collection: CollectionConfig;
        /// The opt-in sources, the global `sources` with this site's overrides applied.
        sources: SourcesConfig;
        /// The contents of the files the site reads (its key file and CA file) when the
        /// configuration was loaded, so that a reload notices a rotated file.
        files: FilesFingerprint;
    }
    keys {
        /// The API key; give exactly one of `api_key` (best as a `${VAR}` reference) and
        /// `api_key_file`.
        api_key: Scalar => "required, or api_key_file";
        /// A file holding the API key (whitespace around it trimmed).
        api_key_file: Scalar => "unset";
        /// Pin the API version (14.0, 13.0, 12.0 or 10.0); unset negotiates newest-first.
        api_version: Scalar => "unset";
        /// TLS settings of the connection (`sites[].tls.*`).
        tls: Section<RawTls> => "";
        /// This site's overrides of `collection`.
        collection: Section<RawCollection> => "";
        /// This site's overrides of `sources`.
        sources: Section<BTreeMap<String, Section<RawSource>>> => "";
    }
}

section! {
    /// TLS settings of a NetBackup connection.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct TlsConfig {
        /// A PEM file with the CA certificate(s) that signed the server's certificate; only
        /// these CAs are trusted for the site.
        ca_file: Option<PathBuf> = None, parse scalar::file;
        /// Accept any certificate. Dangerous; logged as a warning at every start.
        insecure_skip_verify: bool = false, parse scalar::boolean;
    }
    raw RawTls, patch TlsPatch;
}

section! {
    /// How and how often a site is collected.
    #[derive(Debug, Clone, PartialEq)]
    pub struct CollectionConfig {
        /// Jobs that ended within this window before now are counted (plus all unfinished jobs).
        jobs_window: Duration = secs(3600), parse scalar::duration;
        /// How often jobs are collected; longer than `request_timeout`.
        jobs_interval: Duration = secs(60), parse scalar::duration;
        /// How long storage data is reused before it is fetched again.
        storage_ttl: Duration = secs(300), parse scalar::duration;
        /// `page[limit]` for `/admin/jobs` (1..=100).
        jobs_page_size: u32 = 100, parse coll::jobs_page_size;
        /// `page[limit]` for `/storage/storage-units` (1..=500).
        storage_page_size: u32 = 100, parse coll::storage_page_size;
        /// Timeout of one HTTP request, from sending to the last byte of the body.
        request_timeout: Duration = secs(30), parse scalar::duration;
        /// How many times a failed request is retried (0 = no retry, at most 10).
        max_retries: u32 = 3, parse coll::max_retries;
        /// Upper bound on the time spent retrying one request, waits included.
        max_retry_time: Duration = secs(60), parse scalar::duration_or_zero;
        /// Requests per second sent to this site, at most (0.01 to 1000).
        requests_per_second: f64 = 10.0, parse coll::requests_per_second;
        /// Requests in flight to this site, at most (1 to 64).
        max_concurrent_requests: u32 = 4, parse coll::max_concurrent_requests;
        /// Longest one collection of the site (every page of every source) may take before it is
        /// abandoned; a collection longer than `jobs_interval` delays the next one instead.
        cycle_timeout: Duration = secs(600), parse scalar::duration;
        /// How often the jobs window is read whole again (between full walks, only the jobs that
        /// changed are read).
        jobs_resync_interval: Duration = secs(6 * 3600), parse scalar::duration;
    }
    raw RawCollection, patch CollectionPatch;
}

section! {
    /// The agent's own HTTP server. The default has no listen address and no bridge.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ServerConfig {
        /// Listen address of `/healthz`, `/readyz` and (when enabled) `/metrics`; unset = no server.
        listen: Option<SocketAddr> = None, parse server::listen;
        /// Serve the Prometheus compatibility bridge on `metrics_path` (needs `listen`).
        prometheus_bridge: bool = false, parse scalar::boolean;
        /// Path of the bridge (the Go exporter's `server.uri`), `/metrics` by default.
        metrics_path: String = DEFAULT_METRICS_PATH.to_owned(), parse server::metrics_path;
        /// `/readyz` is 200 when at least this many sites are ready; unset = every site.
        ready_min_sites: Option<u32> = None, parse server::ready_min_sites;
        /// How long a site's readiness probe result is reused, so that a flood of `/readyz`
        /// requests never becomes a flood of NetBackup requests.
        ready_cache: Duration = secs(5), parse scalar::duration;
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

section! {
    /// OTLP/gRPC export settings (metrics and traces share the endpoint).
    #[derive(Debug, Clone)]
    pub struct OtlpConfig {
        /// Push metrics over OTLP.
        enabled: bool = true, parse scalar::boolean;
        /// gRPC endpoint, `http://` for plaintext or `https://` for TLS.
        endpoint: Url = otlp::default_endpoint(), parse otlp::endpoint;
        /// Extra request headers (gRPC metadata), for example an auth token. Values are secret.
        headers: Vec<(String, SecretString)> = Vec::new(), parse otlp::headers,
            from Section<BTreeMap<String, Scalar>>;
        /// Timeout of one export; not longer than `export_interval`.
        timeout: Duration = secs(10), parse scalar::duration;
        /// Interval between metric exports.
        export_interval: Duration = secs(60), parse scalar::duration;
        /// Request compression: gzip or none.
        compression: OtlpCompression = OtlpCompression::Gzip, parse otlp::compression;
        /// CA file to verify the Collector's certificate.
        ca_file: Option<PathBuf> = None, parse scalar::file;
        /// Client certificate (PEM) for mutual TLS.
        client_cert_file: Option<PathBuf> = None, parse scalar::file;
        /// Client key (PEM) for mutual TLS.
        client_key_file: Option<PathBuf> = None, parse scalar::file;
        /// The largest encoded size of one metrics request: an export holding more is sent as
        /// several requests (a Collector refuses gRPC messages above its receive limit).
        max_message_bytes: usize = DEFAULT_OTLP_MAX_MESSAGE_BYTES, parse otlp::max_message_bytes;
        /// The most series one instrument carries in the push; more are folded by the SDK into one
        /// series marked `otel.metric.overflow`. Instruments whose labels come from NetBackup's
        /// data get this limit, those with closed label sets their smaller bound from the catalog
        /// (`telemetry::catalog::MetricDef::series_limit`). The SDK reserves room for each
        /// instrument's limit up front, so it bounds the memory of the push.
        max_series_per_metric: usize = DEFAULT_OTLP_MAX_SERIES_PER_METRIC,
            parse otlp::max_series_per_metric;
    }
    raw RawOtlp, patch OtlpPatch;
}

section! {
    /// Traces of the agent's own work.
    #[derive(Debug, Clone, PartialEq)]
    pub struct TracesConfig {
        /// Export spans over OTLP.
        enabled: bool = false, parse scalar::boolean;
        /// Fraction of root traces sampled (0.0..=1.0); children follow their parent.
        sampling_ratio: f64 = 1.0, parse service::sampling_ratio;
    }
    raw RawTraces, patch TracesPatch;
}

section! {
    /// Log output settings.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct LoggingConfig {
        /// A `tracing` filter such as `info` or `nbu_otel=debug`; `RUST_LOG` wins when set.
        level: String = "info".to_owned(), parse service::log_level;
        /// Text or JSON.
        format: LogFormat = LogFormat::Text, parse service::log_format;
    }
    raw RawLogging, patch LoggingPatch;
}

section! {
    /// Identity of this agent in the OpenTelemetry resource.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ServiceConfig {
        /// `service.name`.
        name: String = "nbu-otel".to_owned(), parse service::name;
        /// `service.instance.id`; unset = the host name (stable across restarts).
        instance_id: Option<String> = None, parse service::instance_id;
    }
    raw RawService, patch ServicePatch;
}

section! {
    /// The settings of one opt-in source.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct SourceConfig {
        /// Collected at all (off by default).
        enabled: bool, parse scalar::boolean;
        /// How often it is collected (at least 10s); its data counts as stale after three
        /// intervals.
        interval: Duration, parse super::validate::sources::interval;
        /// The look-back window of the sources that count over one (alerts, catalog); zero for
        /// the others.
        window: Duration, parse scalar::duration;
    }
    raw RawSource, patch SourcePatch;
    keys {
        /// Exact client names and `*`/`?` patterns the per-client families cover (`clients`
        /// only).
        allowlist: List<Scalar> => "[]";
        /// At most this many clients are covered (`clients` only).
        max_clients: Scalar => "500";
    }
}

impl super::declare::RawLeaf for Section<BTreeMap<String, Section<RawSource>>> {
    const SHAPE: Shape = Shape::Section;
}

/// Whether environment variables override a section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Env {
    /// `NBU_OTEL_<SECTION>__<KEY>` sets `<section>.<key>`.
    Overrides,
    /// Only `${VAR}` references in the file.
    References,
}

/// Whether a site may override a section's keys under `sites[i].<section>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PerSite {
    /// `sites[i].<section>.<key>` overrides `<section>.<key>` for that site.
    Yes,
    /// Global only.
    No,
    /// The keys of a site itself.
    Site,
}

/// One section of the file.
pub struct SectionDecl {
    /// Path of the section (`collection`, `sites[].tls`).
    pub path: &'static str,
    /// Its keys.
    pub keys: fn() -> Vec<KeyDoc>,
    /// Whether environment variables override it.
    pub env: Env,
    /// Whether a site may override it.
    pub per_site: PerSite,
}

/// Every section of the file with keys of its own, in the order of the reference. The keys of
/// `sources` are declared once by [`SourceConfig`]; [`options`] lists them for each source.
pub const SECTIONS: [SectionDecl; 9] = [
    SectionDecl {
        path: "sites[]",
        keys: SiteConfig::keys,
        env: Env::References,
        per_site: PerSite::Site,
    },
    SectionDecl {
        path: "sites[].tls",
        keys: TlsConfig::keys,
        env: Env::References,
        per_site: PerSite::Site,
    },
    SectionDecl {
        path: "collection",
        keys: CollectionConfig::keys,
        env: Env::Overrides,
        per_site: PerSite::Yes,
    },
    SectionDecl {
        path: "sources",
        keys: SourceConfig::keys,
        env: Env::References,
        per_site: PerSite::Yes,
    },
    SectionDecl {
        path: "server",
        keys: ServerConfig::keys,
        env: Env::Overrides,
        per_site: PerSite::No,
    },
    SectionDecl {
        path: "otlp",
        keys: OtlpConfig::keys,
        env: Env::Overrides,
        per_site: PerSite::No,
    },
    SectionDecl {
        path: "traces",
        keys: TracesConfig::keys,
        env: Env::Overrides,
        per_site: PerSite::No,
    },
    SectionDecl {
        path: "logging",
        keys: LoggingConfig::keys,
        env: Env::Overrides,
        per_site: PerSite::No,
    },
    SectionDecl {
        path: "service",
        keys: ServiceConfig::keys,
        env: Env::Overrides,
        per_site: PerSite::No,
    },
];

/// Every section, in the order of the reference.
pub fn sections() -> impl Iterator<Item = &'static SectionDecl> {
    SECTIONS.iter()
}

/// The prefix of environment overrides, as the `config` crate's `Environment` takes it (the
/// `_` after it is separate).
pub const ENV_PREFIX: &str = "NBU_OTEL";

/// The variable that sets the dotted `path` (`collection.jobs_interval`).
pub fn env_var(path: &str) -> String {
    format!("{ENV_PREFIX}_{}", path.replace('.', "__").to_uppercase())
}

/// One option of the file, as the reference lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionDoc {
    /// Dotted path (`collection.jobs_interval`, `sites[].tls.ca_file`, `otlp.headers.<name>`,
    /// `sources.alerts.window`).
    pub path: String,
    /// The default as text (`required` for required keys).
    pub default: String,
    /// The environment variable that overrides it, if any.
    pub env: Option<String>,
    /// Whether `sites[i].<path>` overrides it for one site.
    pub per_site: PerSite,
    /// What it does, in one line.
    pub doc: String,
}

/// Every option of the file, in the order of the reference.
pub fn options() -> Vec<OptionDoc> {
    let mut out = Vec::new();
    for section in sections() {
        let keys: Vec<KeyDoc> = (section.keys)()
            .into_iter()
            .filter(|k| k.shape != Shape::Section)
            .collect();
        if section.path == "sources" {
            out.extend(source_options(&keys));
            continue;
        }
        for key in keys {
            let mut path = format!("{}.{}", section.path, key.key);
            if key.shape == Shape::Map {
                path.push_str(".<name>");
            }
            out.push(OptionDoc {
                env: (section.env == Env::Overrides).then(|| env_var(&path)),
                default: key.default.unwrap_or_else(|| "required".to_owned()),
                per_site: section.per_site,
                doc: key.doc,
                path,
            });
        }
    }
    out
}

/// The keys of [`SourceConfig`] for each source that takes them, with that source's defaults.
fn source_options(keys: &[KeyDoc]) -> Vec<OptionDoc> {
    let mut out = Vec::new();
    for id in SourceId::ALL {
        let config = id.default_config();
        for key in keys {
            let default = match key.key {
                "window" if id.default_window().is_none() => continue,
                "allowlist" | "max_clients" if id != SourceId::Clients => continue,
                "enabled" => config.enabled.to_string(),
                "interval" => humantime::format_duration(config.interval).to_string(),
                "window" => humantime::format_duration(config.window).to_string(),
                _ => key.default.clone().unwrap_or_default(),
            };
            out.push(OptionDoc {
                path: format!("sources.{}.{}", id.name(), key.key),
                default,
                env: None,
                per_site: PerSite::Yes,
                doc: key.doc.clone(),
            });
        }
    }
    out
}

/// The keys of the sections environment variables override, by section.
pub fn env_sections() -> Vec<(&'static str, Vec<KeyDoc>)> {
    sections()
        .filter(|s| s.env == Env::Overrides)
        .map(|s| (s.path, (s.keys)()))
        .collect()
}

/// The first line of the option reference in `README.md`.
pub const REFERENCE_BEGIN: &str = "<!-- options: generated from src/config/schema.rs by `cargo test --lib schema`; do not edit -->";
/// The line after the option reference in `README.md`.
pub const REFERENCE_END: &str = "<!-- options: end -->";

/// The option reference: one table row per option, with its default, its environment variable
/// and whether a site may override it.
pub fn reference_markdown() -> String {
    let mut out = String::from(
        "| option | default | environment variable | per site | description |\n\
         |---|---|---|---|---|\n",
    );
    for option in options() {
        let code = |text: &str| format!("`{}`", text.replace('|', "\\|"));
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            code(&option.path),
            match option.default.as_str() {
                "required" | "unset" | "none" => option.default.clone(),
                text if text.contains(' ') => text.to_owned(),
                text => code(text),
            },
            option.env.as_deref().map_or_else(|| "-".to_owned(), code),
            match option.per_site {
                PerSite::Yes => "yes",
                PerSite::No => "no",
                PerSite::Site => "-",
            },
            option.doc.replace('|', "\\|"),
        ));
    }
    out
}

/// The list of environment overrides in the [module documentation](super), one item per
/// section, each line wrapped before 100 columns (with the `//! ` in front).
pub fn env_doc_lines() -> Vec<String> {
    let mut lines = Vec::new();
    for (section, keys) in env_sections() {
        let names: Vec<String> = keys
            .iter()
            .filter(|k| k.shape != Shape::Section)
            .map(|k| match k.shape {
                Shape::Map => format!("`{}__<NAME>`", k.key.to_uppercase()),
                _ => format!("`{}`", k.key.to_uppercase()),
            })
            .collect();
        let mut line = format!("- `{}__`:", env_var(section));
        for (i, name) in names.iter().enumerate() {
            let word = if i + 1 < names.len() {
                format!("{name},")
            } else {
                format!("{name};")
            };
            if line.len() + 1 + word.len() > 96 {
                lines.push(line);
                line = format!("  {word}");
            } else {
                line = format!("{line} {word}");
            }
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;

    const ROOT: &str = env!("CARGO_MANIFEST_DIR");

    fn read(file: &str) -> String {
        std::fs::read_to_string(format!("{ROOT}/{file}")).unwrap_or_else(|e| panic!("{file}: {e}"))
    }

    /// Replaces the text between `begin` and `end` in `file` with `expected`, when asked to
    /// (`NBU_OTEL_BLESS=1`); fails naming the file otherwise.
    fn check_generated(file: &str, begin: &str, end: &str, expected: &str) {
        let text = read(file);
        let start = text
            .find(begin)
            .unwrap_or_else(|| panic!("{file} has no line {begin:?}"))
            + begin.len();
        let stop = text[start..]
            .find(end)
            .unwrap_or_else(|| panic!("{file} has no line {end:?} after {begin:?}"))
            + start;
        if text[start..stop] == *expected {
            return;
        }
        if std::env::var_os("NBU_OTEL_BLESS").is_some() {
            let blessed = format!("{}{expected}{}", &text[..start], &text[stop..]);
            std::fs::write(format!("{ROOT}/{file}"), blessed).unwrap_or_else(|e| panic!("{e}"));
        } else {
            panic!(
                "{file} is out of date with src/config/schema.rs; regenerate with \
                 NBU_OTEL_BLESS=1 cargo test --lib schema. Expected between the markers:\n{expected}"
            );
        }
    }

    #[test]
    fn the_readme_reference_is_generated_from_the_schema() {
        let expected = format!("\n\n{}\n", reference_markdown());
        check_generated("README.md", REFERENCE_BEGIN, REFERENCE_END, &expected);
    }

    #[test]
    fn the_module_documentation_lists_every_environment_override() {
        let lines: String = env_doc_lines()
            .iter()
            .map(|l| format!("//! {l}\n"))
            .collect();
        check_generated(
            "src/config/mod.rs",
            "//! <!-- env: generated from src/config/schema.rs; do not edit -->\n",
            "//! <!-- env: end -->",
            &lines,
        );
    }

    /// The path of every leaf of the example file, in the reference's terms.
    fn leaf_paths(prefix: &str, value: &Value, out: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) if prefix == "otlp.headers" => {
                if !map.is_empty() {
                    out.insert("otlp.headers.<name>".to_owned());
                }
            }
            Value::Object(map) if !map.is_empty() || prefix.is_empty() => {
                for (key, value) in map {
                    let path = match prefix {
                        "" => key.clone(),
                        // A site's collection and sources are the global keys, overridden.
                        "sites[].collection" => format!("collection.{key}"),
                        "sites[].sources" => format!("sources.{key}"),
                        _ => format!("{prefix}.{key}"),
                    };
                    leaf_paths(&path, value, out);
                }
            }
            Value::Array(items) if prefix == "sites" => {
                for item in items {
                    leaf_paths("sites[]", item, out);
                }
            }
            _ => {
                out.insert(prefix.to_owned());
            }
        }
    }

    #[test]
    fn every_key_of_the_example_is_declared_and_every_option_is_in_the_example() {
        let text = read("examples/nbu-otel.yaml");
        let tree = crate::config::parse_yaml(&text).unwrap_or_else(|e| panic!("{e}"));
        let mut used = BTreeSet::new();
        leaf_paths("", &tree, &mut used);
        let declared: BTreeSet<String> = options().into_iter().map(|o| o.path).collect();
        let undeclared: Vec<&String> = used.difference(&declared).collect();
        assert!(
            undeclared.is_empty(),
            "keys of examples/nbu-otel.yaml that the schema does not declare: {undeclared:?}"
        );
        // Every option is written in the example, at least commented out.
        let missing: Vec<String> = options()
            .into_iter()
            .filter(|o| {
                let mut segments = o.path.rsplit('.').filter(|s| *s != "<name>");
                let key = segments.next().unwrap_or_default();
                !text.contains(&format!("{key}:"))
            })
            .map(|o| o.path)
            .collect();
        assert!(
            missing.is_empty(),
            "options that examples/nbu-otel.yaml does not mention: {missing:?}"
        );
    }

    #[test]
    fn every_option_has_a_description_and_env_names_follow_the_paths() {
        for option in options() {
            assert!(!option.doc.is_empty(), "{} has no description", option.path);
            if let Some(env) = &option.env {
                assert_eq!(*env, env_var(&option.path));
            }
        }
        let paths: Vec<String> = options().into_iter().map(|o| o.path).collect();
        for expected in [
            "sites[].name",
            "sites[].tls.ca_file",
            "collection.jobs_resync_interval",
            "server.metrics_bearer_token",
            "otlp.headers.<name>",
            "sources.alerts.window",
            "sources.clients.max_clients",
            "service.instance_id",
        ] {
            assert!(
                paths.iter().any(|p| p == expected),
                "{expected} not declared"
            );
        }
        assert!(!paths.iter().any(|p| p == "sources.tape.window"));
    }
}
