//! Validation: from the raw file shape to a [`Config`], collecting every problem at once.
//!
//! Each check reports a [`FieldError`] naming the field by its path in the file
//! (`sites[1].collection.jobs_page_size`) and goes on; a [`Config`] is produced only when there
//! is no error. Messages may quote ordinary values (a bad duration, a page size) but never the
//! value of `api_key`, a key file or an OTLP header.
//!
//! - [`scalar`]: the parsers of single values (text, boolean, integer, number, duration,
//!   readable file, http URL, secret);
//! - one module per section's rules: [`site`] (with `api_key` and `tls`), [`collection`],
//!   [`server`], [`otlp`] (with `headers`), [`service`] (`traces`, `logging`, `service`) and
//!   [`sources`];
//! - [`cross`]: the rules between fields of a section.

pub(super) mod collection;
pub(super) mod cross;
pub(super) mod otlp;
pub(super) mod scalar;
pub(super) mod server;
pub(super) mod service;
pub(super) mod site;
pub(super) mod sources;

use std::collections::BTreeMap;
use std::path::Path;

use super::error::FieldError;
use super::raw::{RawConfig, Section};
use super::{CollectionConfig, Config, SourcesConfig};

pub use server::metrics_path_problem;

/// The slowest request rate accepted: one request every 100 seconds. Anything slower cannot
/// collect a site, and tiny rates overflow the arithmetic of request spacing.
pub const MIN_REQUESTS_PER_SECOND: f64 = 0.01;
/// The fastest request rate accepted.
pub const MAX_REQUESTS_PER_SECOND: f64 = 1000.0;

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

/// The state of one validation: where relative paths start, which values came from the
/// environment, how referenced files are read, and the problems found so far.
pub(in crate::config) struct Validator<'a> {
    base_dir: &'a Path,
    env_paths: &'a BTreeMap<String, String>,
    /// Reads the files the configuration refers to (key files), so that a reload parses
    /// exactly the bytes it compared.
    read: &'a dyn Fn(&Path) -> std::io::Result<Vec<u8>>,
    errors: Vec<FieldError>,
}

/// `path.key`, or `key` at the top level.
pub(in crate::config) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

impl Validator<'_> {
    /// How many problems were found so far.
    pub(super) fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// Reports a problem with `field`.
    pub(super) fn err(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// Whether a problem was reported on exactly `field`.
    fn has_error(&self, field: &str) -> bool {
        self.errors.iter().any(|e| e.field == field)
    }

    /// Whether no problem was found since `before`, except on the fields in `later` (those a
    /// section reads after the rule that asks).
    fn clean_since(&self, before: usize, later: &[&str]) -> bool {
        self.errors[before..]
            .iter()
            .all(|e| later.contains(&e.field.as_str()))
    }

    /// A map section: every unknown key reported; `None` when absent or not a map.
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

    /// The whole file: each section, then the sites with the global collection and sources.
    fn config(&mut self, root: Section<RawConfig>) -> Option<Config> {
        let raw = self.section("", Some(root))?;

        let global_layer = self.collection_layer("collection", raw.collection);
        let global = global_layer.values.apply(&CollectionConfig::default());
        self.cross_check_collection(&global, &global_layer, None);
        let sources_patch = self.sources_patch("sources", raw.sources);
        let sources = sources_patch.apply(&SourcesConfig::default());
        let sources_failed = sources_patch.failed;

        let sites = self.sites(raw.sites, &global, &global_layer, &sources);
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
            files: Default::default(),
        })
    }
}
