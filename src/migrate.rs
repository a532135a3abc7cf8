//! `nbu-otel migrate`: turns a Go `nbu_exporter` configuration file into an nbu-otel one.
//!
//! Both Go forms are read: the `nbuservers` list and the legacy single `nbuserver` block (used
//! only when the list is empty, as Go does). A `.env` file beside the input (or in the working
//! directory, which Go reads first) resolves `${VAR}` references whose value must be known now:
//! the host of the legacy block, which is its `site` label. API keys are never copied: each
//! becomes a `${VAR}` reference and the output says which variable to set. The opt-in
//! `collectors` become `sources` (global, as in Go). Every Go key without an equivalent is kept
//! as a comment saying why. The output loads through the nbu-otel loader.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::config::{SourceId, is_valid_site_name, parse_yaml};
use crate::file_limits::{Bytes, MAX_CONFIG_FILE_BYTES, read_at_most, too_large_limit};

/// Why a Go configuration cannot be migrated.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The input file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The input or its `.env` is larger than [`MAX_CONFIG_FILE_BYTES`].
    #[error("{path}: the file is larger than {}, the limit of a configuration file", Bytes(*limit))]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit, in bytes.
        limit: u64,
    },
    /// The `.env` file has an entry that is not `KEY=value` as godotenv reads it.
    #[error("{path}: {reason}")]
    DotEnv {
        /// The file.
        path: PathBuf,
        /// Which entry, and what is wrong (never the entry's text: it may hold a secret).
        reason: String,
    },
    /// The input is not YAML, or nests too deep, or its aliases expand it too far.
    #[error("{0}")]
    Yaml(crate::config::YamlError),
    /// A key of the Go configuration is missing or invalid (named as Go names it).
    #[error("{key}: {message}")]
    Invalid {
        /// The Go key, for example `nbuservers[1].port`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

/// The result of a migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The nbu-otel configuration, YAML with comments.
    pub yaml: String,
    /// Environment variables the new configuration references, with what they must hold.
    pub variables: BTreeMap<String, String>,
}

/// Migrates the Go configuration file at `path`, reading `./.env` or else the `.env` beside it,
/// with the process environment winning over both (as Go does).
pub fn migrate_file(path: &Path) -> Result<Migration, MigrateError> {
    let read = |p: &Path| {
        let bytes =
            read_at_most(p, MAX_CONFIG_FILE_BYTES).map_err(|source| {
                match too_large_limit(&source) {
                    Some(limit) => MigrateError::TooLarge {
                        path: p.to_path_buf(),
                        limit,
                    },
                    None => MigrateError::Read {
                        path: p.to_path_buf(),
                        source,
                    },
                }
            })?;
        String::from_utf8(bytes).map_err(|e| MigrateError::Read {
            path: p.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()),
        })
    };
    let text = read(path)?;
    let beside = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from(".env"), |d| d.join(".env"));
    let mut env = match [PathBuf::from(".env"), beside]
        .into_iter()
        .find(|p| p.is_file())
    {
        Some(dotenv) => parse_dotenv(&read(&dotenv)?).map_err(|reason| MigrateError::DotEnv {
            path: dotenv,
            reason,
        })?,
        None => HashMap::new(),
    };
    env.extend(std::env::vars());
    migrate_str(&text, &env)
}

/// Migrates Go configuration text; `env` resolves the `${VAR}` references that must be known
/// now (the `.env` values and the environment, merged by the caller).
pub fn migrate_str(text: &str, env: &HashMap<String, String>) -> Result<Migration, MigrateError> {
    let original = parse_yaml(text).map_err(MigrateError::Yaml)?;
    let root = lower_keys(original.clone());
    let mut out = Writer::default();
    out.line("# nbu-otel configuration, migrated from an nbu_exporter configuration file");
    out.line(
        "# by `nbu-otel migrate`. Reference: examples/nbu-otel.yaml; guide: docs/migration.md.",
    );
    out.line("# nbu-otel does not read .env files: give the variables below to the process");
    out.line("# (systemd EnvironmentFile=, a Kubernetes Secret, or `set -a; . ./.env; set +a`).");
    out.blank();

    let server = section(&root, "server")?;
    let sites = sites(&root, env, &mut out)?;
    write_sites(&sites, &mut out);
    write_collection(server, &mut out)?;
    write_server(server, &mut out)?;
    write_otlp(&root, &mut out)?;
    let mut notes = write_sources(&original, &mut out)?;
    write_unmapped(&original, &mut notes, &mut out);
    let variables = sites
        .iter()
        .map(|s| (s.key_var.clone(), format!("the API key of site {}", s.name)))
        .collect();
    Ok(Migration {
        yaml: out.text,
        variables,
    })
}

/// Reads the text of a `.env` file as godotenv does: `KEY=value` lines, optionally after
/// `export `, `#` comments (on their own line, or after an unquoted value and a space), values
/// in single quotes (literal) or double quotes (with `\n`, `\"`, `\\` escapes and `${VAR}`
/// references). A later entry wins. The process environment is only read (for references to
/// variables the file does not set), never changed. The error says which entry is malformed
/// without quoting it.
pub fn parse_dotenv(text: &str) -> Result<HashMap<String, String>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut env = HashMap::new();
    let mut last: Option<String> = None;
    for entry in dotenvy::from_read_iter(text.as_bytes()) {
        match entry {
            Ok((key, value)) => {
                last = Some(key.clone());
                env.insert(key, value);
            }
            Err(e) => {
                let place = last.map_or_else(
                    || "the first entry".to_owned(),
                    |key| format!("the entry after {key}"),
                );
                let why = match e {
                    dotenvy::Error::LineParse(..) => {
                        "is not KEY=value as a .env file writes it (a quote left open, a space \
                         in an unquoted value, or an unknown escape)"
                            .to_owned()
                    }
                    other => other.to_string(),
                };
                return Err(format!("{place} {why}"));
            }
        }
    }
    Ok(env)
}

#[derive(Default)]
struct Writer {
    text: String,
}

impl Writer {
    fn line(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
    }

    fn blank(&mut self) {
        self.text.push('\n');
    }

    fn comment(&mut self, indent: usize, text: &str) {
        let _ = writeln!(self.text, "{:indent$}# {text}", "");
    }
}

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
fn quoted(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

/// The tree with every mapping key in lower case: Go's YAML reader matches keys without
/// regard to case.
fn lower_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), lower_keys(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(lower_keys).collect()),
        other => other,
    }
}

fn invalid(key: &str, message: impl Into<String>) -> MigrateError {
    MigrateError::Invalid {
        key: key.to_owned(),
        message: message.into(),
    }
}

fn section<'a>(root: &'a Value, key: &str) -> Result<Option<&'a Value>, MigrateError> {
    match root.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v)),
        Some(_) => Err(invalid(key, "expected a mapping")),
    }
}

/// A scalar as text (Go reads ports and booleans from strings or numbers alike).
fn text(value: Option<&Value>, key: &str) -> Result<Option<String>, MigrateError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(invalid(key, "expected a single value")),
    }
}

fn required(value: Option<&Value>, key: &str) -> Result<String, MigrateError> {
    text(value, key)?
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid(key, "required by nbu_exporter, and missing"))
}

/// `Some(NAME)` when `value` is exactly `${NAME}` (the only form Go expands).
fn reference(value: &str) -> Option<&str> {
    let name = value.strip_prefix("${")?.strip_suffix('}')?;
    let valid = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    valid.then_some(name)
}

/// Expands an exact `${NAME}` from `env`; other text is returned as is.
fn expand(value: &str, key: &str, env: &HashMap<String, String>) -> Result<String, MigrateError> {
    match reference(value) {
        None => Ok(value.to_owned()),
        Some(name) => env.get(name).cloned().ok_or_else(|| {
            invalid(
                key,
                format!(
                    "references ${{{name}}}, which neither a .env file nor the environment sets; \
                     nbu_exporter would not start"
                ),
            )
        }),
    }
}

fn port(value: Option<&Value>, key: &str) -> Result<u16, MigrateError> {
    let text = required(value, key)?;
    text.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
        invalid(
            key,
            format!("expected a port from 1 to 65535, got {text:?}"),
        )
    })
}

/// Parses a Go duration (`90s`, `1h30m`, `1.5h`, `500ms`; no `d` unit).
fn go_duration(text: &str, key: &str) -> Result<Duration, MigrateError> {
    let bad = || {
        invalid(
            key,
            format!("expected a Go duration such as 30m, 1h or 1h30m, got {text:?}"),
        )
    };
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let number: f64 = rest[..number_len].parse().map_err(|_| bad())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += number * seconds;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

fn human(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// One site of the output.
struct Site {
    name: String,
    url: String,
    key_var: String,
    key_note: String,
    api_version: Option<String>,
    insecure: Option<String>,
    unused: Vec<String>,
}

/// The Go sites: `nbuservers`, or else the legacy `nbuserver` block.
fn sites(
    root: &Value,
    env: &HashMap<String, String>,
    out: &mut Writer,
) -> Result<Vec<Site>, MigrateError> {
    let list = match root.get("nbuservers") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(_) => return Err(invalid("nbuservers", "expected a list")),
    };
    let legacy = section(root, "nbuserver")?;
    let mut sites = Vec::new();
    if list.is_empty() {
        let Some(block) = legacy else {
            return Err(invalid(
                "nbuservers",
                "no NetBackup server: neither nbuservers nor nbuserver is set",
            ));
        };
        sites.push(site(block, "nbuserver", true, env)?);
    } else {
        if let Some(block) = legacy {
            // Go validates the legacy block even when it is ignored.
            site(block, "nbuserver", true, env)?;
            out.line(
                "# nbuserver: ignored, as nbu_exporter ignored it beside a non-empty nbuservers.",
            );
            out.blank();
        }
        for (i, block) in list.iter().enumerate() {
            sites.push(site(block, &format!("nbuservers[{i}]"), false, env)?);
        }
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, s) in sites.iter().enumerate() {
        if let Some(first) = seen.insert(&s.name, i) {
            return Err(invalid(
                &format!("nbuservers[{i}].site"),
                format!("{:?} is also the site of nbuservers[{first}]", s.name),
            ));
        }
    }
    let mut vars: HashMap<&str, usize> = HashMap::new();
    for (i, s) in sites.iter().enumerate() {
        if let Some(first) = vars.insert(&s.key_var, i)
            && sites.get(first).map(|f| &f.key_note) != Some(&s.key_note)
        {
            return Err(invalid(
                &format!("nbuservers[{i}].apiKey"),
                format!(
                    "its variable {} is also used by nbuservers[{first}]",
                    s.key_var
                ),
            ));
        }
    }
    Ok(sites)
}

fn site(
    block: &Value,
    path: &str,
    legacy: bool,
    env: &HashMap<String, String>,
) -> Result<Site, MigrateError> {
    if !block.is_object() {
        return Err(invalid(path, "expected a mapping"));
    }
    let key = |k: &str| format!("{path}.{k}");
    let get = |k: &str| block.get(k.to_ascii_lowercase());
    let scheme = required(get("scheme"), &key("scheme"))?;
    if scheme != "http" && scheme != "https" {
        return Err(invalid(
            &key("scheme"),
            format!("expected http or https, got {scheme:?}"),
        ));
    }
    let host_text = required(get("host"), &key("host"))?;
    // Go expands ${VAR} in the legacy block's host only.
    let host = if legacy {
        expand(&host_text, &key("host"), env)?
    } else {
        host_text.clone()
    };
    if host.is_empty() || host.contains(['/', ' ', '@', '?', '#']) {
        return Err(invalid(&key("host"), format!("not a host name: {host:?}")));
    }
    let port = port(get("port"), &key("port"))?;
    let uri = text(get("uri"), &key("uri"))?
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "/netbackup".to_owned());
    let name = if legacy {
        host.clone()
    } else {
        required(get("site"), &key("site"))?
    };
    if !is_valid_site_name(&name) {
        return Err(invalid(
            &key(if legacy { "host" } else { "site" }),
            format!(
                "{name:?} cannot be an nbu-otel site name (1 to 64 letters, digits, '-', '_', '.'), \
                 and the site label must stay the same for dashboards"
            ),
        ));
    }
    let api_key = required(get("apiKey"), &key("apiKey"))?;
    let (key_var, key_note) = match reference(&api_key) {
        Some(var) if legacy => (var.to_owned(), format!("{var}, as before")),
        Some(var) => (
            var.to_owned(),
            format!(
                "{var} (nbu_exporter sent the text ${{{var}}} itself: it expands no variable here)"
            ),
        ),
        None => {
            let var = format!("NBU_{}_API_KEY", env_word(&name));
            (
                var.clone(),
                format!(
                    "{var} to the key that was written in {} (not copied)",
                    key("apiKey")
                ),
            )
        }
    };
    let api_version = text(get("apiVersion"), &key("apiVersion"))?.filter(|v| !v.is_empty());
    if let Some(v) = &api_version
        && !["14.0", "13.0", "12.0", "10.0"].contains(&v.as_str())
    {
        return Err(invalid(
            &key("apiVersion"),
            format!("expected 14.0, 13.0, 12.0 or 10.0, got {v:?}"),
        ));
    }
    let insecure = match text(get("insecureSkipVerify"), &key("insecureSkipVerify"))? {
        None => None,
        Some(v) => match reference(&v) {
            // Expanded at every start, an empty value meaning false, as in Go.
            Some(var) => Some(format!("${{{var}:-false}}")),
            None => Some(go_bool(&v, &key("insecureSkipVerify"))?.to_string()),
        },
    };
    let unused = ["domain", "domainType", "contentType"]
        .into_iter()
        .filter(|k| get(k).is_some_and(|v| !v.is_null()))
        .map(key)
        .collect();
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host
    };
    Ok(Site {
        url: format!("{scheme}://{host}:{port}{uri}"),
        name,
        key_var,
        key_note,
        api_version,
        insecure,
        unused,
    })
}

/// Upper-case letters and digits, other characters as `_`: a variable name part.
fn env_word(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// A Go boolean (`strconv.ParseBool`).
fn go_bool(text: &str, key: &str) -> Result<bool, MigrateError> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(invalid(
            key,
            format!("expected true or false, got {text:?}"),
        )),
    }
}

fn write_sites(sites: &[Site], out: &mut Writer) {
    out.line("sites:");
    for s in sites {
        let _ = writeln!(out.text, "  - name: {}", quoted(&s.name));
        let _ = writeln!(out.text, "    url: {}", quoted(&s.url));
        out.comment(4, &format!("Set {}.", s.key_note));
        let _ = writeln!(
            out.text,
            "    api_key: {}",
            quoted(&format!("${{{}}}", s.key_var))
        );
        match &s.api_version {
            Some(v) => {
                let _ = writeln!(out.text, "    api_version: {}", quoted(v));
            }
            None => out.comment(
                4,
                "api_version: unset, negotiated newest first (14.0, 13.0, 12.0, 10.0).",
            ),
        }
        if let Some(insecure) = &s.insecure {
            out.line("    tls:");
            let _ = writeln!(out.text, "      insecure_skip_verify: {}", quoted(insecure));
        }
        for key in &s.unused {
            out.comment(
                4,
                &format!("{key}: no equivalent; nbu_exporter never used it."),
            );
        }
    }
    out.blank();
}

fn write_collection(server: Option<&Value>, out: &mut Writer) -> Result<(), MigrateError> {
    let get = |k: &str| server.and_then(|s| s.get(k));
    let window_text = required(get("scrapinginterval"), "server.scrapingInterval")?;
    let window = go_duration(&window_text, "server.scrapingInterval")?;
    let interval = match text(get("collectioninterval"), "server.collectionInterval")? {
        // Go falls back to 5m on a value that does not parse.
        Some(t) => go_duration(&t, "server.collectionInterval").unwrap_or(Duration::from_secs(300)),
        None => Duration::from_secs(300),
    };
    if let Some(ttl) = text(get("cachettl"), "server.cacheTTL")? {
        go_duration(&ttl, "server.cacheTTL")?;
    }
    if window.is_zero() || interval.is_zero() {
        return Err(invalid(
            "server.scrapingInterval",
            "the jobs window and the collection interval must be longer than 0",
        ));
    }
    out.line("collection:");
    out.comment(
        2,
        "server.scrapingInterval; nbu_exporter used the larger of it and collectionInterval.",
    );
    let _ = writeln!(
        out.text,
        "  jobs_window: {}",
        quoted(&human(window.max(interval)))
    );
    out.comment(
        2,
        "server.collectionInterval (5m when unset or unreadable, as in nbu_exporter).",
    );
    let _ = writeln!(out.text, "  jobs_interval: {}", quoted(&human(interval)));
    out.comment(
        2,
        "nbu_exporter fetched storage at every collection; server.cacheTTL had no effect.",
    );
    let _ = writeln!(out.text, "  storage_ttl: {}", quoted(&human(interval)));
    if interval <= Duration::from_secs(30) {
        // Must stay shorter than the interval.
        let _ = writeln!(
            out.text,
            "  request_timeout: {}",
            quoted(&human(interval / 2))
        );
    }
    out.blank();
    Ok(())
}

fn write_server(server: Option<&Value>, out: &mut Writer) -> Result<(), MigrateError> {
    let get = |k: &str| server.and_then(|s| s.get(k));
    let host = required(get("host"), "server.host")?;
    let port = port(get("port"), "server.port")?;
    let uri = required(get("uri"), "server.uri")?;
    crate::config::metrics_path_problem(&uri).map_err(|m| invalid("server.uri", m.to_string()))?;
    let ip = match host.as_str() {
        "localhost" => "127.0.0.1".to_owned(),
        other => match other.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V6(v6)) => format!("[{v6}]"),
            Ok(v4) => v4.to_string(),
            Err(_) => {
                return Err(invalid(
                    "server.host",
                    format!(
                        "nbu-otel listens on an IP address (0.0.0.0, 127.0.0.1, ...), got {host:?}"
                    ),
                ));
            }
        },
    };
    out.line("server:");
    out.comment(2, "server.host and server.port.");
    let _ = writeln!(out.text, "  listen: {}", quoted(&format!("{ip}:{port}")));
    out.comment(
        2,
        "The Prometheus endpoint nbu_exporter served, on server.uri.",
    );
    out.line("  prometheus_bridge: true");
    let _ = writeln!(out.text, "  metrics_path: {}", quoted(&uri));
    if let Some(log) = text(get("logname"), "server.logName")?.filter(|l| !l.is_empty()) {
        out.comment(
            2,
            &format!(
                "server.logName ({log}): no equivalent; nbu-otel logs to stderr (logging.format: json for JSON)."
            ),
        );
    }
    out.blank();
    Ok(())
}

fn write_otlp(root: &Value, out: &mut Writer) -> Result<(), MigrateError> {
    let otel = section(root, "opentelemetry")?;
    let get = |k: &str| otel.and_then(|s| s.get(k));
    let enabled = match text(get("enabled"), "opentelemetry.enabled")? {
        Some(t) => go_bool(&t, "opentelemetry.enabled")?,
        None => false,
    };
    if !enabled {
        out.comment(
            0,
            "nbu_exporter pushed nothing over OTLP (opentelemetry.enabled was off): metrics stay on the",
        );
        out.comment(
            0,
            "bridge only. Set otlp.enabled: true and otlp.endpoint to push to a Collector.",
        );
        out.line("otlp:");
        out.line("  enabled: false");
        out.blank();
        return Ok(());
    }
    let endpoint = required(get("endpoint"), "opentelemetry.endpoint")?;
    let insecure = match text(get("insecure"), "opentelemetry.insecure")? {
        Some(t) => go_bool(&t, "opentelemetry.insecure")?,
        None => false,
    };
    let ratio = match get("samplingrate") {
        None | Some(Value::Null) => 0.0,
        Some(v) => v
            .as_f64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .filter(|r: &f64| r.is_finite() && *r >= 0.0)
            .ok_or_else(|| {
                invalid(
                    "opentelemetry.samplingRate",
                    "expected a number from 0 to 1",
                )
            })?
            .min(1.0),
    };
    let scheme = if insecure { "http" } else { "https" };
    out.comment(
        0,
        "opentelemetry.endpoint and opentelemetry.insecure; metrics are pushed too now.",
    );
    out.line("otlp:");
    out.line("  enabled: true");
    let _ = writeln!(
        out.text,
        "  endpoint: {}",
        quoted(&format!("{scheme}://{endpoint}"))
    );
    out.blank();
    out.line("traces:");
    out.line("  enabled: true");
    out.comment(
        2,
        "opentelemetry.samplingRate (nbu_exporter sampled nothing when it was omitted).",
    );
    let _ = writeln!(out.text, "  sampling_ratio: {ratio}");
    out.blank();
    Ok(())
}

/// One Go collector, read.
struct Collector {
    source: SourceId,
    /// Its key as written, for example `collectors.perClient`.
    key: String,
    enabled: bool,
    /// `perClient.allowlist`, as written.
    allowlist: Vec<String>,
}

/// The value under `key` of a mapping whose keys are matched without regard to case (as Go
/// does), with the key as written.
fn entry<'a>(map: &'a Value, key: &str) -> Option<(&'a str, &'a Value)> {
    map.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(k, v)| (k.as_str(), v))
}

/// Reads Go's `collectors`: the collectors it knows, and notes for the keys it does not.
fn collectors(root: &Value) -> Result<(Vec<Collector>, Vec<String>), MigrateError> {
    let Some((top, value)) = entry(root, "collectors") else {
        return Ok(Default::default());
    };
    let map = match value {
        Value::Null => return Ok(Default::default()),
        Value::Object(map) => map,
        _ => return Err(invalid(top, "expected a mapping")),
    };
    let mut found = Vec::new();
    let mut notes = Vec::new();
    for (name, value) in map {
        let key = format!("{top}.{name}");
        let Some(source) = SourceId::from_go_collector(name) else {
            notes.push(format!(
                "{key}: not an nbu_exporter collector; not migrated."
            ));
            continue;
        };
        let fields = match value {
            Value::Null => serde_json::Map::new(),
            Value::Object(fields) => fields.clone(),
            _ => return Err(invalid(&key, "expected a mapping")),
        };
        let mut collector = Collector {
            source,
            key: key.clone(),
            enabled: false,
            allowlist: Vec::new(),
        };
        for (field, value) in &fields {
            let field_key = format!("{key}.{field}");
            match field.to_ascii_lowercase().as_str() {
                "enabled" => {
                    collector.enabled = match text(Some(value), &field_key)? {
                        Some(t) => go_bool(&t, &field_key)?,
                        None => false,
                    };
                }
                "allowlist" if source == SourceId::Clients => {
                    collector.allowlist = allowlist(value, &field_key)?;
                }
                _ => notes.push(format!(
                    "{field_key}: not an nbu_exporter key; not migrated."
                )),
            }
        }
        found.push(collector);
    }
    found.sort_by_key(|c| c.source);
    Ok((found, notes))
}

/// `collectors.perClient.allowlist`: a list of client names (numbers read as text, as Go's
/// YAML reader does into strings).
fn allowlist(value: &Value, key: &str) -> Result<Vec<String>, MigrateError> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        _ => return Err(invalid(key, "expected a list of client names")),
    };
    let mut names = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if let Some(name) = text(Some(item), &format!("{key}[{i}]"))?.filter(|n| !n.is_empty()) {
            names.push(name);
        }
    }
    Ok(names)
}

/// Writes `sources` for Go's collectors (global, as Go's were); returns notes for the keys
/// under `collectors` without an equivalent.
fn write_sources(root: &Value, out: &mut Writer) -> Result<Vec<String>, MigrateError> {
    let (found, notes) = collectors(root)?;
    if found.is_empty() {
        return Ok(notes);
    }
    out.comment(
        0,
        "collectors of nbu_exporter. Each source now runs on its own interval instead of every",
    );
    out.comment(
        0,
        "collection, walks every page, is stale after three intervals, and is skipped at a site",
    );
    out.comment(
        0,
        "whose API version has no endpoint for it (catalog and slo need API 13.0). Per-site",
    );
    out.comment(0, "overrides: sites[].sources.<name>.");
    out.line("sources:");
    for c in &found {
        let _ = writeln!(out.text, "  {}:", c.source.name());
        let interval = human(c.source.default_interval());
        match c.source.default_window() {
            Some(window) => {
                out.comment(
                    4,
                    &format!(
                        "{}: every {interval} (interval), over the last {}h (window);",
                        c.key,
                        window.as_secs() / 3600
                    ),
                );
                out.comment(
                    4,
                    if c.source == SourceId::Alerts {
                        "nbu_exporter counted the first 100 alerts NetBackup returned."
                    } else {
                        "nbu_exporter counted NetBackup's implicit last 24 hours."
                    },
                );
            }
            None => out.comment(4, &format!("{}: every {interval} (interval).", c.key)),
        }
        let _ = writeln!(out.text, "    enabled: {}", c.enabled);
        if c.source == SourceId::Clients {
            write_allowlist(c, out);
        }
    }
    out.blank();
    Ok(notes)
}

fn write_allowlist(c: &Collector, out: &mut Writer) {
    if c.allowlist.is_empty() {
        out.comment(
            4,
            &format!(
                "{}.allowlist is empty: no client is covered, as in nbu_exporter.",
                c.key
            ),
        );
        return;
    }
    out.comment(
        4,
        &format!(
            "{}.allowlist: exact client names, case-sensitive, as before;",
            c.key
        ),
    );
    out.comment(
        4,
        "patterns with * and ? work too; at most max_clients (500) clients are covered.",
    );
    out.line("    allowlist:");
    for name in &c.allowlist {
        if name.contains(['*', '?']) {
            out.comment(
                6,
                &format!(
                    "nbu_exporter matched {} literally; here * and ? make it a pattern.",
                    quoted(name)
                ),
            );
        }
        let _ = writeln!(out.text, "      - {}", quoted(name));
    }
}

/// Comments for the Go keys nbu-otel has no equivalent for, unknown keys included, after
/// `notes` (those of `collectors`); `root` is the file as written (keys in their own case,
/// matched without regard to it).
fn write_unmapped(root: &Value, notes: &mut Vec<String>, out: &mut Writer) {
    const TOP: [&str; 5] = [
        "server",
        "nbuserver",
        "nbuservers",
        "opentelemetry",
        "collectors",
    ];
    const SERVER: [&str; 7] = [
        "host",
        "port",
        "uri",
        "scrapinginterval",
        "collectioninterval",
        "cachettl",
        "logname",
    ];
    let known = |list: &[&str], key: &str| list.contains(&key.to_ascii_lowercase().as_str());
    for (key, value) in root.as_object().into_iter().flatten() {
        match (key.to_ascii_lowercase().as_str(), value) {
            ("server", Value::Object(server)) => {
                for name in server.keys().filter(|name| !known(&SERVER, name)) {
                    notes.push(format!(
                        "{key}.{name}: not an nbu_exporter key; not migrated."
                    ));
                }
            }
            _ if !known(&TOP, key) => {
                notes.push(format!(
                    "{key}: not an nbu_exporter key (it ignored it); not migrated."
                ));
            }
            _ => {}
        }
    }
    if notes.is_empty() {
        return;
    }
    out.comment(0, "Not migrated:");
    for note in notes.iter() {
        out.comment(0, &format!("  {note}"));
    }
}
