//! Validation: the state of one check of the file, and what every section uses.
//!
//! Each check reports a [`FieldError`] naming the field by its path in the file
//! (`sites[1].collection.jobs_page_size`) and goes on; a configuration is produced only when
//! there is no error. Messages may quote ordinary values (a bad duration, a page size) but
//! never the value of `api_key`, a key file or an OTLP header.
//!
//! - [`scalar`]: the parsers of single values (text, boolean, integer, number, duration,
//!   readable file, http URL, secret);
//! - [`cross`]: the rules between keys of a section;
//! - the keys of each section and their own rules are in [`section`](super::section), one
//!   module per section; [`assemble`](super::assemble) puts the sections together.

pub(super) mod cross;
pub(super) mod scalar;

use std::collections::BTreeMap;
use std::path::Path;

use super::error::FieldError;
use super::raw::Section;

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

impl<'a> Validator<'a> {
    /// A validation resolving relative paths against `base_dir`, where `env_paths` maps the
    /// dotted paths set by environment overrides to their variables, and `read` reads the
    /// files the configuration refers to.
    pub(in crate::config) fn new(
        base_dir: &'a Path,
        env_paths: &'a BTreeMap<String, String>,
        read: &'a dyn Fn(&Path) -> std::io::Result<Vec<u8>>,
    ) -> Self {
        Self {
            base_dir,
            env_paths,
            read,
            errors: Vec::new(),
        }
    }

    /// The problems found, in the order they were found.
    pub(in crate::config) fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }
}

impl Validator<'_> {
    /// How many problems were found so far.
    pub(in crate::config) fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// Reports a problem with `field`.
    pub(in crate::config) fn err(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// Whether a problem was reported on exactly `field`.
    pub(in crate::config) fn has_error(&self, field: &str) -> bool {
        self.errors.iter().any(|e| e.field == field)
    }

    /// Whether no problem was found since `before`, except on the fields in `later` (those a
    /// section reads after the rule that asks).
    pub(in crate::config) fn clean_since(&self, before: usize, later: &[&str]) -> bool {
        self.errors[before..]
            .iter()
            .all(|e| later.contains(&e.field.as_str()))
    }

    /// The fields, without `prefix`, of the problems found since `before` whose field starts
    /// with `prefix`.
    pub(in crate::config) fn fields_since(&self, before: usize, prefix: &str) -> Vec<String> {
        self.errors[before..]
            .iter()
            .filter_map(|e| e.field.strip_prefix(prefix).map(str::to_owned))
            .collect()
    }

    /// Whether an environment override set `field`.
    pub(in crate::config) fn set_by_env(&self, field: &str) -> bool {
        self.env_paths.contains_key(field)
    }

    /// The environment variable that set `field`, if one did.
    pub(in crate::config) fn env_var_of(&self, field: &str) -> Option<&str> {
        self.env_paths.get(field).map(String::as_str)
    }

    /// Reads a file the configuration refers to.
    pub(in crate::config) fn read_file(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        (self.read)(path)
    }

    /// A map section: every unknown key reported; `None` when absent or not a map.
    pub(in crate::config) fn section<T>(
        &mut self,
        path: &str,
        section: Option<Section<T>>,
    ) -> Option<T> {
        let section = section?;
        for key in &section.unknown_keys {
            let place = if path.is_empty() {
                "the top level".to_owned()
            } else {
                format!("`{path}`")
            };
            // An empty key is named as YAML writes it.
            let key = if key.is_empty() { "''" } else { key.as_str() };
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
}
