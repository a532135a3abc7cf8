//! Validation: from the raw file shape to a [`Config`], collecting every problem at once.
//!
//! Each check reports a [`FieldError`] naming the field by its path in the file
//! (`sites[1].collection.jobs_page_size`) and goes on; a [`Config`] is produced only when there
//! is no error. Messages may quote ordinary values (a bad duration, a page size) but never the
//! value of `api_key`, a key file or an OTLP header.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use secrecy::zeroize::Zeroize;
use url::Url;

use super::raw::{
    List, RawCollection, RawConfig, RawLogging, RawOtlp, RawServer, RawService, RawSite, RawTls,
    RawTraces, Scalar, Section,
};
use super::{
    CollectionConfig, Config, LogFormat, LoggingConfig, MetricsAuth, OtlpCompression, OtlpConfig,
    ServerConfig, ServiceConfig, SiteConfig, SourcesConfig, TlsConfig, TracesConfig,
};
use crate::netbackup::ApiVersion;

/// The smallest `otlp.max_message_bytes`: room for the resource, a metric description and a
/// few data points.
const MIN_OTLP_MESSAGE_BYTES: u32 = 4 * 1024;

/// The largest `otlp.max_message_bytes` (1 GiB).
const MAX_OTLP_MESSAGE_BYTES: u32 = 1024 * 1024 * 1024;

/// The longest duration any setting accepts.
const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);
/// The slowest request rate accepted: one request every 100 seconds. Anything slower cannot
/// collect a site, and tiny rates overflow the arithmetic of request spacing.
pub const MIN_REQUESTS_PER_SECOND: f64 = 0.01;
/// The fastest request rate accepted.
pub const MAX_REQUESTS_PER_SECOND: f64 = 1000.0;

/// One problem with the configuration: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// Path of the field in the file, such as `sites[1].url` or `collection.jobs_page_size`;
    /// the variable name for a bad environment override; `<file>` or the file's path when the
    /// file itself cannot be read or parsed.
    pub field: String,
    /// What is wrong, in words. Never contains a secret.
    pub message: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Every problem found while loading a configuration; `Display` prints one `field: message` per
/// line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.errors))]
pub struct ConfigError {
    errors: Vec<FieldError>,
}

fn render(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl ConfigError {
    /// An error made of these problems.
    pub fn new(errors: Vec<FieldError>) -> Self {
        Self { errors }
    }

    /// The problems, in the order they were found.
    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }

    /// Whether some problem concerns exactly `field`.
    pub fn has_field(&self, field: &str) -> bool {
        self.errors.iter().any(|e| e.field == field)
    }
}

/// Turns the raw tree into a [`Config`], or the list of problems.
///
/// `env_paths` maps the dotted paths set by environment overrides to their variable names; an
/// override wins over a file header that differs only in case.
pub(super) fn validate(
    root: Section<RawConfig>,
    base_dir: &Path,
    env_paths: &BTreeMap<String, String>,
    read: &dyn Fn(&Path) -> std::io::Result<Vec<u8>>,
) -> Result<Config, Vec<FieldError>> {
    let mut v = Validator {
        base_dir,
        env_paths,
        read,
        errors: Vec::new(),
    };
    let config = v.config(root);
    match config {
        Some(config) if v.errors.is_empty() => Ok(config),
        _ => Err(v.errors),
    }
}

pub(super) struct Validator<'a> {
    base_dir: &'a Path,
    env_paths: &'a BTreeMap<String, String>,
    /// Reads the files the configuration refers to (key files), so that a reload parses
    /// exactly the bytes it compared.
    read: &'a dyn Fn(&Path) -> std::io::Result<Vec<u8>>,
    errors: Vec<FieldError>,
}

pub(super) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn fmt_duration(d: Duration) -> humantime::FormattedDuration {
    humantime::format_duration(d)
}

/// The value, unless it is `null` or an empty string: both mean "not set" for typed leaves.
fn given(value: Option<Scalar>) -> Option<Scalar> {
    match value? {
        Scalar::Null => None,
        Scalar::Str(s) if s.trim().is_empty() => None,
        other => Some(other),
    }
}

/// A quoted value for messages about non-secret fields.
struct Shown<'a>(&'a Scalar);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Scalar::Str(s) => write!(f, "{s:?}"),
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Float(x) => write!(f, "{x}"),
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Null => f.write_str("nothing"),
            Scalar::WrongKind(kind) => f.write_str(kind),
        }
    }
}

impl Validator<'_> {
    /// How many problems were found so far.
    pub(super) fn error_count(&self) -> usize {
        self.errors.len()
    }

    pub(super) fn err(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    // ----- sections -------------------------------------------------------------------------

    pub(super) fn section<T>(&mut self, path: &str, section: Option<Section<T>>) -> Option<T> {
        let section = section?;
        for key in &section.unknown_keys {
            let place = if path.is_empty() {
                "the top level".to_owned()
            } else {
                format!("`{path}`")
            };
            self.err(
                join(path, key),
                format!(
                    "unknown key; {place} accepts {}",
                    section.known_keys.join(", ")
                ),
            );
        }
        match section.parsed {
            Ok(parsed) => Some(parsed),
            Err(message) => {
                let field = if path.is_empty() { "<file>" } else { path };
                self.err(field, message);
                None
            }
        }
    }

    // ----- leaves ---------------------------------------------------------------------------

    /// Any scalar as text. A map or list is an error; `null` is absent.
    pub(super) fn text(&mut self, field: &str, value: Option<Scalar>) -> Option<String> {
        match value? {
            Scalar::Str(s) => Some(s),
            Scalar::Int(i) => Some(i.to_string()),
            Scalar::Float(x) => Some(x.to_string()),
            Scalar::Bool(b) => Some(b.to_string()),
            Scalar::Null => None,
            Scalar::WrongKind(kind) => {
                self.err(field, format!("expected a single value, found {kind}"));
                None
            }
        }
    }

    /// Text where an empty string means "not set".
    fn optional_text(&mut self, field: &str, value: Option<Scalar>) -> Option<String> {
        self.text(field, value)
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    }

    fn required_text(&mut self, field: &str, value: Option<Scalar>) -> Option<String> {
        let given = value.is_some();
        match self.optional_text(field, value) {
            Some(text) => Some(text),
            None => {
                if !given {
                    self.err(field, "required");
                } else if !self.errors.iter().any(|e| e.field == field) {
                    self.err(field, "must not be empty");
                }
                None
            }
        }
    }

    pub(super) fn boolean(&mut self, field: &str, value: Option<Scalar>) -> Option<bool> {
        let value = given(value)?;
        match &value {
            Scalar::Bool(b) => Some(*b),
            Scalar::Str(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
            Scalar::Str(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
            other => {
                self.err(
                    field,
                    format!("expected true or false, got {}", Shown(other)),
                );
                None
            }
        }
    }

    /// A whole number within `min..=max`; `why` explains the bounds when they are not obvious.
    pub(super) fn integer(
        &mut self,
        field: &str,
        value: Option<Scalar>,
        min: u32,
        max: u32,
        why: &str,
    ) -> Option<u32> {
        let value = given(value)?;
        let number = match &value {
            Scalar::Int(i) => Some(*i),
            Scalar::Str(s) => s.trim().parse::<i128>().ok(),
            Scalar::Float(x) if x.is_finite() && x.fract() == 0.0 => Some(*x as i128),
            _ => None,
        };
        let Some(number) = number else {
            self.err(
                field,
                format!("expected a whole number, got {}", Shown(&value)),
            );
            return None;
        };
        match u32::try_from(number) {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.err(
                    field,
                    format!("must be between {min} and {max}{why}, got {number}"),
                );
                None
            }
        }
    }

    fn number(&mut self, field: &str, value: Option<Scalar>) -> Option<f64> {
        let value = given(value)?;
        let number = match &value {
            Scalar::Int(i) => Some(*i as f64),
            Scalar::Float(x) => Some(*x),
            Scalar::Str(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match number {
            Some(x) if x.is_finite() => Some(x),
            _ => {
                self.err(field, format!("expected a number, got {}", Shown(&value)));
                None
            }
        }
    }

    /// Durations are capped so that arithmetic on them (three intervals, twice a timeout, a
    /// deadline from now) can never overflow.
    pub(super) fn duration(
        &mut self,
        field: &str,
        value: Option<Scalar>,
        allow_zero: bool,
    ) -> Option<Duration> {
        let value = given(value)?;
        let parsed = match &value {
            Scalar::Str(s) => {
                let s = s.trim();
                match humantime::parse_duration(s) {
                    Ok(d) => Ok(d),
                    Err(_) if s.parse::<f64>().is_ok() => Err(format!(
                        "a duration needs a unit, for example \"{s}s\"; got {s:?}"
                    )),
                    Err(e) => Err(format!(
                        "invalid duration {s:?} ({e}); write for example 30s, 5m or 1h 30m"
                    )),
                }
            }
            Scalar::Int(i) => Err(format!(
                "a duration needs a unit, for example \"{i}s\"; got {i}"
            )),
            other => Err(format!(
                "expected a duration such as 30s, 5m or 1h 30m, got {}",
                Shown(other)
            )),
        };
        match parsed {
            Ok(d) if d.is_zero() && !allow_zero => {
                self.err(field, "must be greater than zero");
                None
            }
            Ok(d) if d > MAX_DURATION => {
                self.err(field, "must be at most 366 days");
                None
            }
            Ok(d) => Some(d),
            Err(message) => {
                self.err(field, message);
                None
            }
        }
    }

    fn resolve(&self, text: &str) -> PathBuf {
        let path = PathBuf::from(text);
        if path.is_relative() {
            self.base_dir.join(path)
        } else {
            path
        }
    }

    /// A path (relative to the config file's directory) to a readable regular file.
    fn readable_file(&mut self, field: &str, text: &str) -> Option<PathBuf> {
        let path = self.resolve(text);
        let result = fs::metadata(&path).and_then(|meta| {
            if meta.is_file() {
                fs::File::open(&path).map(drop)
            } else {
                Err(std::io::Error::other("not a regular file"))
            }
        });
        match result {
            Ok(()) => Some(path),
            Err(e) => {
                self.err(field, format!("cannot read {}: {e}", path.display()));
                None
            }
        }
    }

    fn http_url(&mut self, field: &str, text: &str) -> Option<Url> {
        let url = match Url::parse(text) {
            Ok(url) => url,
            Err(e) => {
                self.err(field, format!("invalid URL: {e}"));
                return None;
            }
        };
        let mut ok = true;
        if !matches!(url.scheme(), "http" | "https") {
            self.err(
                field,
                format!("scheme must be http or https, got {:?}", url.scheme()),
            );
            ok = false;
        }
        if url.host_str().is_none_or(str::is_empty) {
            self.err(field, "must have a host");
            ok = false;
        }
        if !url.username().is_empty() || url.password().is_some() {
            self.err(field, "must not contain a user name or password");
            ok = false;
        }
        ok.then_some(url)
    }

    /// Checks a secret (already trimmed) without ever echoing it.
    fn secret(&mut self, field: &str, what: &str, value: String) -> Option<SecretString> {
        if value.is_empty() {
            self.err(field, format!("{what} is empty"));
            None
        } else if value.chars().any(char::is_control) {
            self.err(field, format!("{what} contains control characters"));
            None
        } else {
            Some(SecretString::from(value))
        }
    }

    // ----- the whole file -------------------------------------------------------------------

    fn config(&mut self, root: Section<RawConfig>) -> Option<Config> {
        let raw = self.section("", Some(root))?;

        let global_patch = self.collection_patch("collection", raw.collection);
        let global = global_patch.apply(&CollectionConfig::default());
        self.cross_check_collection(&global, &global_patch, None);
        let sources_patch = self.sources_patch("sources", raw.sources);
        let sources = sources_patch.apply(&SourcesConfig::default());
        let sources_failed = sources_patch.failed;

        let sites = self.sites(raw.sites, &global, &global_patch, &sources);
        let server = self.server(raw.server);
        let otlp = self.otlp(raw.otlp);
        let traces = self.traces(raw.traces);
        let logging = self.logging(raw.logging);
        let service = self.service(raw.service);

        if sources_failed {
            return None;
        }
        Some(Config {
            sites: sites?,
            server: server?,
            otlp: otlp?,
            traces: traces?,
            logging: logging?,
            service: service?,
        })
    }

    fn sites(
        &mut self,
        raw: Option<List<Section<RawSite>>>,
        global: &CollectionConfig,
        global_patch: &CollectionPatch,
        global_sources: &SourcesConfig,
    ) -> Option<Vec<SiteConfig>> {
        let items = match raw {
            None => Vec::new(),
            Some(List::Items(items)) => items,
            Some(List::NotAList(message)) => {
                self.err("sites", message);
                return None;
            }
        };
        if items.is_empty() {
            self.err("sites", "at least one site is required");
            return None;
        }
        let mut sites = Vec::with_capacity(items.len());
        let mut first_use: HashMap<String, usize> = HashMap::new();
        let mut all_ok = true;
        for (i, item) in items.into_iter().enumerate() {
            let path = format!("sites[{i}]");
            let (name, site) = self.site(&path, item, global, global_patch, global_sources);
            if let Some(name) = name {
                if let Some(first) = first_use.get(&name) {
                    self.err(
                        format!("{path}.name"),
                        format!("duplicate site name {name:?} (already used by sites[{first}])"),
                    );
                    all_ok = false;
                } else {
                    first_use.insert(name, i);
                }
            }
            match site {
                Some(site) => sites.push(site),
                None => all_ok = false,
            }
        }
        all_ok.then_some(sites)
    }

    /// One site; also returns its name when valid, for the duplicate check.
    fn site(
        &mut self,
        path: &str,
        raw: Section<RawSite>,
        global: &CollectionConfig,
        global_patch: &CollectionPatch,
        global_sources: &SourcesConfig,
    ) -> (Option<String>, Option<SiteConfig>) {
        let Some(raw) = self.section(path, Some(raw)) else {
            return (None, None);
        };

        let name_field = join(path, "name");
        let name = self.required_text(&name_field, raw.name).and_then(|name| {
            if super::is_valid_site_name(&name) {
                Some(name)
            } else {
                // The value is not echoed: whatever was written there, it is not a name.
                self.err(
                    &name_field,
                    "must be 1 to 64 characters among letters, digits, `-`, `_` and `.`",
                );
                None
            }
        });

        let url_field = join(path, "url");
        let url = self
            .required_text(&url_field, raw.url)
            .and_then(|text| self.http_url(&url_field, &text));

        let (api_key, api_key_file) = self.api_key(path, raw.api_key, raw.api_key_file);

        let version_field = join(path, "api_version");
        let api_version = match self.optional_text(&version_field, raw.api_version) {
            None => Some(None),
            Some(text) => match text.parse::<ApiVersion>() {
                Ok(version) => Some(Some(version)),
                Err(e) => {
                    self.err(&version_field, e.to_string());
                    None
                }
            },
        };

        let tls = self.tls(&join(path, "tls"), raw.tls);

        let collection_path = join(path, "collection");
        let patch = self.collection_patch(&collection_path, raw.collection);
        let collection = patch.apply(global);
        self.cross_check_collection(&collection, global_patch, Some((path, &patch)));
        let collection = (!patch.failed()).then_some(collection);
        let sources_patch = self.sources_patch(&join(path, "sources"), raw.sources);
        let sources = (!sources_patch.failed).then(|| sources_patch.apply(global_sources));

        let site = match (
            name.clone(),
            url,
            api_key,
            api_key_file,
            api_version,
            tls,
            collection,
            sources,
        ) {
            (
                Some(name),
                Some(url),
                Some(api_key),
                Some(api_key_file),
                Some(api_version),
                Some(tls),
                Some(collection),
                Some(sources),
            ) => Some(SiteConfig {
                name,
                url,
                api_key,
                api_key_file,
                api_version,
                tls,
                collection,
                sources,
            }),
            _ => None,
        };
        (name, site)
    }

    /// Exactly one of `api_key` and `api_key_file`; returns the key and the file it came from.
    fn api_key(
        &mut self,
        path: &str,
        inline: Option<Scalar>,
        file: Option<Scalar>,
    ) -> (Option<SecretString>, Option<Option<PathBuf>>) {
        let key_field = join(path, "api_key");
        let file_field = join(path, "api_key_file");
        let inline = self.text(&key_field, inline);
        let file = self.text(&file_field, file);
        match (inline, file) {
            (Some(_), Some(_)) => {
                self.err(&key_field, "give either api_key or api_key_file, not both");
                (None, None)
            }
            (None, None) => {
                self.err(
                    &key_field,
                    "required: set api_key (for example `${NBU_API_KEY}`) or api_key_file",
                );
                (None, None)
            }
            (Some(mut key), None) => {
                let secret = self.secret(&key_field, "the API key", key.trim().to_owned());
                key.zeroize();
                (secret, Some(None))
            }
            (None, Some(file)) => {
                let file = file.trim();
                if file.is_empty() {
                    self.err(&file_field, "must not be empty");
                    return (None, None);
                }
                let path = self.resolve(file);
                let read = (self.read)(&path).and_then(|bytes| {
                    String::from_utf8(bytes).map_err(|e| {
                        let mut bytes = e.into_bytes();
                        bytes.zeroize();
                        std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text")
                    })
                });
                match read {
                    Ok(mut content) => {
                        let secret = self.secret(
                            &file_field,
                            &format!("the key in {}", path.display()),
                            content.trim().to_owned(),
                        );
                        content.zeroize();
                        (secret, Some(Some(path)))
                    }
                    Err(e) => {
                        self.err(&file_field, format!("cannot read {}: {e}", path.display()));
                        (None, None)
                    }
                }
            }
        }
    }

    fn tls(&mut self, path: &str, raw: Option<Section<RawTls>>) -> Option<TlsConfig> {
        let before = self.errors.len();
        let Some(raw) = self.section(path, raw) else {
            // An absent section is the default; a broken one was reported.
            return (self.errors.len() == before).then(TlsConfig::default);
        };
        let ca_field = join(path, "ca_file");
        let ca_file = self
            .optional_text(&ca_field, raw.ca_file)
            .and_then(|text| self.readable_file(&ca_field, &text));
        let insecure_skip_verify = self
            .boolean(
                &join(path, "insecure_skip_verify"),
                raw.insecure_skip_verify,
            )
            .unwrap_or(false);
        (self.errors.len() == before).then_some(TlsConfig {
            ca_file,
            insecure_skip_verify,
        })
    }

    // ----- collection -----------------------------------------------------------------------

    fn collection_patch(
        &mut self,
        path: &str,
        raw: Option<Section<RawCollection>>,
    ) -> CollectionPatch {
        let before = self.errors.len();
        let Some(raw) = self.section(path, raw) else {
            return CollectionPatch {
                broken: self.errors.len() > before,
                ..CollectionPatch::default()
            };
        };
        let f = |key: &str| join(path, key);
        let page_why = |max: u32| format!(" (the NetBackup API returns at most {max} per page)");
        let patch = CollectionPatch {
            jobs_window: self.duration(&f("jobs_window"), raw.jobs_window, false),
            jobs_interval: self.duration(&f("jobs_interval"), raw.jobs_interval, false),
            storage_ttl: self.duration(&f("storage_ttl"), raw.storage_ttl, false),
            jobs_page_size: self.integer(
                &f("jobs_page_size"),
                raw.jobs_page_size,
                1,
                100,
                &page_why(100),
            ),
            storage_page_size: self.integer(
                &f("storage_page_size"),
                raw.storage_page_size,
                1,
                500,
                &page_why(500),
            ),
            request_timeout: self.duration(&f("request_timeout"), raw.request_timeout, false),
            max_retries: self.integer(&f("max_retries"), raw.max_retries, 0, 10, ""),
            max_retry_time: self.duration(&f("max_retry_time"), raw.max_retry_time, true),
            cycle_timeout: self.duration(&f("cycle_timeout"), raw.cycle_timeout, false),
            jobs_resync_interval: self.duration(
                &f("jobs_resync_interval"),
                raw.jobs_resync_interval,
                false,
            ),
            requests_per_second: self.number(&f("requests_per_second"), raw.requests_per_second),
            max_concurrent_requests: self.integer(
                &f("max_concurrent_requests"),
                raw.max_concurrent_requests,
                1,
                64,
                "",
            ),
            broken: false,
            failed_keys: Vec::new(),
        };
        if let Some(rps) = patch.requests_per_second
            && !(MIN_REQUESTS_PER_SECOND..=MAX_REQUESTS_PER_SECOND).contains(&rps)
        {
            self.err(
                f("requests_per_second"),
                format!(
                    "must be at least {MIN_REQUESTS_PER_SECOND} (one request every {} s) and at \
                     most {MAX_REQUESTS_PER_SECOND}, got {rps}",
                    1.0 / MIN_REQUESTS_PER_SECOND
                ),
            );
        }
        let prefix = format!("{path}.");
        let failed_keys = self.errors[before..]
            .iter()
            .filter_map(|e| e.field.strip_prefix(&prefix).map(str::to_owned))
            .collect();
        CollectionPatch {
            failed_keys,
            ..patch
        }
    }

    /// Checks between collection fields. `site` is `None` for the global section; for a site
    /// only rules touching a key the site overrides run (the global check covers the rest).
    /// The error goes on the field set at this level (the other one may be a default), and the
    /// message names the other field where its value was set.
    fn cross_check_collection(
        &mut self,
        c: &CollectionConfig,
        global: &CollectionPatch,
        site: Option<(&str, &CollectionPatch)>,
    ) {
        let here = |key: &str| match site {
            Some((_, patch)) => patch.sets(key),
            None => global.sets(key),
        };
        let unsure =
            |key: &str| global.unsure(key) || site.is_some_and(|(_, patch)| patch.unsure(key));
        let field = |key: &str| match site {
            Some((path, patch)) if patch.sets(key) => format!("{path}.collection.{key}"),
            _ => format!("collection.{key}"),
        };
        let origin = |key: &str| {
            let default = !global.sets(key) && !site.is_some_and(|(_, patch)| patch.sets(key));
            format!(
                "`{}`{}",
                field(key),
                if default { ", the default," } else { "" }
            )
        };
        let applies =
            |a: &str, b: &str| (site.is_none() || here(a) || here(b)) && !unsure(a) && !unsure(b);

        if applies("request_timeout", "jobs_interval") && c.request_timeout >= c.jobs_interval {
            if here("jobs_interval") && !here("request_timeout") {
                self.err(
                    field("jobs_interval"),
                    format!(
                        "must be longer than request_timeout ({} is {}), got {}",
                        origin("request_timeout"),
                        fmt_duration(c.request_timeout),
                        fmt_duration(c.jobs_interval)
                    ),
                );
            } else {
                self.err(
                    field("request_timeout"),
                    format!(
                        "must be shorter than jobs_interval ({} is {}), got {}",
                        origin("jobs_interval"),
                        fmt_duration(c.jobs_interval),
                        fmt_duration(c.request_timeout)
                    ),
                );
            }
        }

        if applies("cycle_timeout", "request_timeout") && c.cycle_timeout <= c.request_timeout {
            self.err(
                field("cycle_timeout"),
                format!(
                    "must be longer than request_timeout ({} is {}), got {}",
                    origin("request_timeout"),
                    fmt_duration(c.request_timeout),
                    fmt_duration(c.cycle_timeout)
                ),
            );
        }

        if applies("max_retries", "max_retry_time")
            && c.max_retries > 0
            && c.max_retry_time.is_zero()
        {
            if here("max_retries") && !here("max_retry_time") {
                self.err(
                    field("max_retries"),
                    format!(
                        "must be 0 while max_retry_time ({}) is zero, got {}",
                        origin("max_retry_time"),
                        c.max_retries
                    ),
                );
            } else {
                self.err(
                    field("max_retry_time"),
                    format!(
                        "must be greater than zero while max_retries ({} is {}); \
                         set max_retries to 0 to disable retries",
                        origin("max_retries"),
                        c.max_retries
                    ),
                );
            }
        }
    }

    // ----- other sections -------------------------------------------------------------------

    fn server(&mut self, raw: Option<Section<RawServer>>) -> Option<ServerConfig> {
        let before = self.errors.len();
        let Some(raw) = self.section("server", raw) else {
            return (self.errors.len() == before).then(ServerConfig::default);
        };
        let default = ServerConfig::default();
        let listen = match self.optional_text("server.listen", raw.listen) {
            None => None,
            Some(text) => match text.parse::<SocketAddr>() {
                Ok(addr) => Some(addr),
                Err(_) => {
                    self.err(
                        "server.listen",
                        format!(
                            "expected an IP address and port such as 127.0.0.1:9440 or \
                             [::]:9440, got {text:?}"
                        ),
                    );
                    None
                }
            },
        };
        let bridge = self
            .boolean("server.prometheus_bridge", raw.prometheus_bridge)
            .unwrap_or(default.prometheus_bridge);
        if bridge && listen.is_none() && self.errors.len() == before {
            self.err(
                "server.prometheus_bridge",
                "needs server.listen (the address that serves /metrics)",
            );
        }
        let metrics_path = match self.optional_text("server.metrics_path", raw.metrics_path) {
            None => default.metrics_path.clone(),
            Some(path) => {
                if let Err(problem) = metrics_path_problem(&path) {
                    self.err("server.metrics_path", problem);
                }
                path
            }
        };
        let ready_min_sites = self.integer(
            "server.ready_min_sites",
            raw.ready_min_sites,
            1,
            100_000,
            "",
        );
        let ready_cache = self
            .duration("server.ready_cache", raw.ready_cache, false)
            .unwrap_or(default.ready_cache);
        let cert_text = self.optional_text("server.tls_cert_file", raw.tls_cert_file);
        let key_text = self.optional_text("server.tls_key_file", raw.tls_key_file);
        let tls_cert_file = cert_text
            .as_ref()
            .and_then(|t| self.readable_file("server.tls_cert_file", t));
        let tls_key_file = key_text
            .as_ref()
            .and_then(|t| self.readable_file("server.tls_key_file", t));
        match (&cert_text, &key_text) {
            (Some(_), None) => self.err(
                "server.tls_key_file",
                "required when server.tls_cert_file is set",
            ),
            (None, Some(_)) => self.err(
                "server.tls_cert_file",
                "required when server.tls_key_file is set",
            ),
            _ => {}
        }
        let username = self.optional_text("server.metrics_username", raw.metrics_username);
        let password = self
            .optional_text("server.metrics_password", raw.metrics_password)
            .and_then(|p| self.secret("server.metrics_password", "the password", p));
        let bearer = self
            .optional_text("server.metrics_bearer_token", raw.metrics_bearer_token)
            .and_then(|t| self.secret("server.metrics_bearer_token", "the token", t));
        let basic = match (username, password) {
            (Some(u), Some(p)) => Some((u, p)),
            (Some(_), None) => {
                self.err(
                    "server.metrics_password",
                    "required when server.metrics_username is set",
                );
                None
            }
            (None, Some(_)) => {
                self.err(
                    "server.metrics_username",
                    "required when server.metrics_password is set",
                );
                None
            }
            (None, None) => None,
        };
        (self.errors.len() == before).then_some(ServerConfig {
            listen,
            prometheus_bridge: bridge,
            metrics_path,
            ready_min_sites,
            ready_cache,
            tls_cert_file,
            tls_key_file,
            metrics_auth: MetricsAuth { basic, bearer },
        })
    }

    fn otlp(&mut self, raw: Option<Section<RawOtlp>>) -> Option<OtlpConfig> {
        let before = self.errors.len();
        let Some(raw) = self.section("otlp", raw) else {
            return (self.errors.len() == before).then(OtlpConfig::default);
        };
        let default = OtlpConfig::default();
        let enabled = self
            .boolean("otlp.enabled", raw.enabled)
            .unwrap_or(default.enabled);
        let endpoint = match self.optional_text("otlp.endpoint", raw.endpoint) {
            None => Some(default.endpoint.clone()),
            Some(text) => self.http_url("otlp.endpoint", &text),
        };
        let headers = self.headers(raw.headers);
        let timeout = self
            .duration("otlp.timeout", raw.timeout, false)
            .unwrap_or(default.timeout);
        let export_interval = self
            .duration("otlp.export_interval", raw.export_interval, false)
            .unwrap_or(default.export_interval);
        if timeout > export_interval && self.errors.len() == before {
            self.err(
                "otlp.timeout",
                format!(
                    "must not be longer than otlp.export_interval ({}), got {}",
                    fmt_duration(export_interval),
                    fmt_duration(timeout)
                ),
            );
        }
        let compression = match self.optional_text("otlp.compression", raw.compression) {
            None => default.compression,
            Some(text) => match text.to_ascii_lowercase().as_str() {
                "gzip" => OtlpCompression::Gzip,
                "none" => OtlpCompression::None,
                _ => {
                    self.err(
                        "otlp.compression",
                        format!("expected gzip or none, got {text:?}"),
                    );
                    default.compression
                }
            },
        };

        let max_message_bytes = self
            .integer(
                "otlp.max_message_bytes",
                raw.max_message_bytes,
                MIN_OTLP_MESSAGE_BYTES,
                MAX_OTLP_MESSAGE_BYTES,
                " (bytes)",
            )
            .map_or(default.max_message_bytes, |n| n as usize);
        let max_series_per_metric = self
            .integer(
                "otlp.max_series_per_metric",
                raw.max_series_per_metric,
                100,
                1_000_000,
                " (the SDK reserves room for this many series per instrument)",
            )
            .map_or(default.max_series_per_metric, |n| n as usize);

        let ca_text = self.optional_text("otlp.ca_file", raw.ca_file);
        let cert_text = self.optional_text("otlp.client_cert_file", raw.client_cert_file);
        let key_text = self.optional_text("otlp.client_key_file", raw.client_key_file);
        let mut file = |field: &str, text: &Option<String>| {
            text.as_deref()
                .and_then(|text| self.readable_file(field, text))
        };
        let ca_file = file("otlp.ca_file", &ca_text);
        let client_cert_file = file("otlp.client_cert_file", &cert_text);
        let client_key_file = file("otlp.client_key_file", &key_text);
        match (&cert_text, &key_text) {
            (Some(_), None) => self.err(
                "otlp.client_key_file",
                "required when otlp.client_cert_file is set",
            ),
            (None, Some(_)) => self.err(
                "otlp.client_cert_file",
                "required when otlp.client_key_file is set",
            ),
            _ => {}
        }
        if let Some(endpoint) = &endpoint
            && endpoint.scheme() == "http"
        {
            let tls_fields: Vec<&str> = [
                ("otlp.ca_file", &ca_text),
                ("otlp.client_cert_file", &cert_text),
                ("otlp.client_key_file", &key_text),
            ]
            .iter()
            .filter(|(_, text)| text.is_some())
            .map(|(field, _)| *field)
            .collect();
            if !tls_fields.is_empty() {
                self.err(
                    "otlp.endpoint",
                    format!(
                        "is plaintext http:// but {} set; use https:// for TLS",
                        tls_fields.join(" and ")
                            + if tls_fields.len() == 1 { " is" } else { " are" }
                    ),
                );
            }
        }

        (self.errors.len() == before).then_some(OtlpConfig {
            enabled,
            endpoint: endpoint?,
            headers: headers?,
            timeout,
            export_interval,
            compression,
            ca_file,
            client_cert_file,
            client_key_file,
            max_message_bytes,
            max_series_per_metric,
        })
    }

    /// OTLP headers: names lowercased (gRPC metadata keys are lowercase), values secret.
    fn headers(
        &mut self,
        raw: Option<Section<BTreeMap<String, Scalar>>>,
    ) -> Option<Vec<(String, SecretString)>> {
        let before = self.errors.len();
        let Some(raw) = self.section("otlp.headers", raw) else {
            return (self.errors.len() == before).then(Vec::new);
        };
        let mut headers: BTreeMap<String, (bool, SecretString)> = BTreeMap::new();
        for (name, value) in raw {
            let field = format!("otlp.headers.{name}");
            let lower = name.to_ascii_lowercase();
            let valid_name = !lower.is_empty()
                && lower
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
            if !valid_name {
                self.err(
                    &field,
                    "header names are ASCII letters, digits, `-`, `_` and `.`",
                );
                continue;
            }
            let value = match self.text(&field, Some(value)) {
                Some(value) => value,
                None => {
                    if !self.errors.iter().any(|e| e.field == field) {
                        self.err(&field, "the header value is missing");
                    }
                    continue;
                }
            };
            if value.is_empty() {
                self.err(&field, "the header value is empty");
                continue;
            }
            if !value.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
                self.err(
                    &field,
                    "the header value may only contain printable ASCII characters",
                );
                continue;
            }
            let from_env = self.env_paths.contains_key(&field);
            let secret = SecretString::from(value);
            match headers.get(&lower) {
                None => {
                    headers.insert(lower, (from_env, secret));
                }
                Some((existing_from_env, _)) if from_env && !existing_from_env => {
                    headers.insert(lower, (from_env, secret));
                }
                Some((existing_from_env, _)) if *existing_from_env && !from_env => {}
                Some(_) => self.err(
                    &field,
                    "header given twice (header names are case-insensitive)",
                ),
            }
        }
        (self.errors.len() == before).then(|| {
            headers
                .into_iter()
                .map(|(name, (_, value))| (name, value))
                .collect()
        })
    }

    fn traces(&mut self, raw: Option<Section<RawTraces>>) -> Option<TracesConfig> {
        let before = self.errors.len();
        let Some(raw) = self.section("traces", raw) else {
            return (self.errors.len() == before).then(TracesConfig::default);
        };
        let default = TracesConfig::default();
        let enabled = self
            .boolean("traces.enabled", raw.enabled)
            .unwrap_or(default.enabled);
        let sampling_ratio = self
            .number("traces.sampling_ratio", raw.sampling_ratio)
            .unwrap_or(default.sampling_ratio);
        if !(0.0..=1.0).contains(&sampling_ratio) {
            self.err(
                "traces.sampling_ratio",
                format!("must be between 0 and 1, got {sampling_ratio}"),
            );
        }
        (self.errors.len() == before).then_some(TracesConfig {
            enabled,
            sampling_ratio,
        })
    }

    fn logging(&mut self, raw: Option<Section<RawLogging>>) -> Option<LoggingConfig> {
        let before = self.errors.len();
        let Some(raw) = self.section("logging", raw) else {
            return (self.errors.len() == before).then(LoggingConfig::default);
        };
        let default = LoggingConfig::default();
        let level = match self.optional_text("logging.level", raw.level) {
            None => default.level,
            Some(level) => {
                if let Err(message) = check_log_filter(&level) {
                    self.err("logging.level", message);
                }
                level
            }
        };
        let format = match self.optional_text("logging.format", raw.format) {
            None => default.format,
            Some(text) => match text.to_ascii_lowercase().as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => {
                    self.err(
                        "logging.format",
                        format!("expected text or json, got {text:?}"),
                    );
                    default.format
                }
            },
        };
        (self.errors.len() == before).then_some(LoggingConfig { level, format })
    }

    fn service(&mut self, raw: Option<Section<RawService>>) -> Option<ServiceConfig> {
        let before = self.errors.len();
        let Some(raw) = self.section("service", raw) else {
            return (self.errors.len() == before).then(ServiceConfig::default);
        };
        let default = ServiceConfig::default();
        let name = if raw.name.is_some() {
            self.required_text("service.name", raw.name)
                .unwrap_or_default()
        } else {
            default.name
        };
        let instance_id = self.optional_text("service.instance_id", raw.instance_id);
        (self.errors.len() == before).then_some(ServiceConfig { name, instance_id })
    }
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
    if super::RESERVED_PATHS.contains(&path) {
        return Err(format!(
            "{path} is answered by the agent itself (/health, /healthz, /readyz); choose another path"
        ));
    }
    Ok(())
}

/// A `tracing` filter: valid syntax, and bare words must be level names (a bare word is legal
/// filter syntax for "this target", but here it is nearly always a misspelt level).
fn check_log_filter(filter: &str) -> Result<(), String> {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    for directive in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let bare = !directive.contains(['=', '[', ':']);
        if bare && !LEVELS.iter().any(|l| l.eq_ignore_ascii_case(directive)) {
            return Err(format!(
                "unknown level {directive:?}: use trace, debug, info, warn, error or off, or \
                 target=level directives such as \"info,nbu_otel=debug\""
            ));
        }
    }
    tracing_subscriber::EnvFilter::try_new(filter)
        .map(drop)
        .map_err(|e| format!("invalid log filter {filter:?}: {e}"))
}

/// Collection settings given in one section; `None` = not given (or invalid, then `failed`).
#[derive(Debug, Default)]
struct CollectionPatch {
    jobs_window: Option<Duration>,
    jobs_interval: Option<Duration>,
    storage_ttl: Option<Duration>,
    jobs_page_size: Option<u32>,
    storage_page_size: Option<u32>,
    request_timeout: Option<Duration>,
    max_retries: Option<u32>,
    max_retry_time: Option<Duration>,
    requests_per_second: Option<f64>,
    max_concurrent_requests: Option<u32>,
    cycle_timeout: Option<Duration>,
    jobs_resync_interval: Option<Duration>,
    /// The section itself was unusable (not a map); reported.
    broken: bool,
    /// Keys whose value was invalid (or unknown keys); reported.
    failed_keys: Vec<String>,
}

impl CollectionPatch {
    fn apply(&self, base: &CollectionConfig) -> CollectionConfig {
        CollectionConfig {
            jobs_window: self.jobs_window.unwrap_or(base.jobs_window),
            jobs_interval: self.jobs_interval.unwrap_or(base.jobs_interval),
            storage_ttl: self.storage_ttl.unwrap_or(base.storage_ttl),
            jobs_page_size: self.jobs_page_size.unwrap_or(base.jobs_page_size),
            storage_page_size: self.storage_page_size.unwrap_or(base.storage_page_size),
            request_timeout: self.request_timeout.unwrap_or(base.request_timeout),
            max_retries: self.max_retries.unwrap_or(base.max_retries),
            max_retry_time: self.max_retry_time.unwrap_or(base.max_retry_time),
            requests_per_second: self.requests_per_second.unwrap_or(base.requests_per_second),
            max_concurrent_requests: self
                .max_concurrent_requests
                .unwrap_or(base.max_concurrent_requests),
            cycle_timeout: self.cycle_timeout.unwrap_or(base.cycle_timeout),
            jobs_resync_interval: self
                .jobs_resync_interval
                .unwrap_or(base.jobs_resync_interval),
        }
    }

    /// Whether some problem was found (and reported) in this section.
    fn failed(&self) -> bool {
        self.broken || !self.failed_keys.is_empty()
    }

    /// Whether `key` may hold a value other than the one written: then checks involving it
    /// would report noise.
    fn unsure(&self, key: &str) -> bool {
        self.broken || self.failed_keys.iter().any(|k| k == key)
    }

    /// Whether this section sets `key` (only the keys of cross-field rules are needed).
    fn sets(&self, key: &str) -> bool {
        match key {
            "jobs_interval" => self.jobs_interval.is_some(),
            "request_timeout" => self.request_timeout.is_some(),
            "max_retries" => self.max_retries.is_some(),
            "max_retry_time" => self.max_retry_time.is_some(),
            "cycle_timeout" => self.cycle_timeout.is_some(),
            _ => false,
        }
    }
}
