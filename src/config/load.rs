//! Loading: the YAML file and the environment overrides merged by the `config` crate, then
//! `${VAR}` expansion, then the standard OpenTelemetry variables, then validation. See the
//! [module documentation](super) for the rules.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use config::{Environment, File, FileFormat, ValueKind};
use serde_json::Value;

use super::assemble::{RawConfig, validate};
use super::error::{ConfigError, FieldError};
use super::files::{FileSnapshot, fingerprint};
use super::interpolate::expand_tree;
use super::overrides::{self, PREFIX};
use super::raw::Section;
use super::standard_env;
use super::typed::Config;
use super::yaml_limits::{self, YamlLimitError};
use crate::file_limits::{MAX_CONFIG_FILE_BYTES, too_large_limit};

/// Loads and validates the file at `path`, with `${VAR}` references and `NBU_OTEL_...`
/// overrides taken from the process environment. Relative paths in the file are relative to
/// the file's directory.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    load_file_with_env(path, &process_env())
}

/// Like [`load_file`], with an explicit environment instead of the process's.
pub fn load_file_with_env(
    path: &Path,
    env: &HashMap<String, String>,
) -> Result<Config, ConfigError> {
    let files = FileSnapshot::new();
    load_file_through(path, env, &|p| files.read(p))
}

/// Like [`load_file`], reading the file and the key files it refers to through `read`. A
/// reload passes the bytes it already read to notice the change, so that what is applied is
/// exactly what was compared.
pub fn load_file_with(
    path: &Path,
    read: &dyn Fn(&Path) -> std::io::Result<Vec<u8>>,
) -> Result<Config, ConfigError> {
    load_file_through(path, &process_env(), read)
}

fn load_file_through(
    path: &Path,
    env: &HashMap<String, String>,
    read: &dyn Fn(&Path) -> std::io::Result<Vec<u8>>,
) -> Result<Config, ConfigError> {
    let field = path.display().to_string();
    let cannot_read = |e: &dyn std::fmt::Display| {
        ConfigError::new(vec![FieldError::new(
            field.clone(),
            format!("cannot read the configuration file: {e}"),
        )])
    };
    let bytes = read(path).map_err(|e| match too_large_limit(&e) {
        // Larger than any file the agent reads, so larger than a configuration file too.
        Some(_) => ConfigError::new(vec![FieldError::new(
            field.clone(),
            YamlLimitError::TooLarge {
                limit: MAX_CONFIG_FILE_BYTES,
            }
            .to_string(),
        )]),
        None => cannot_read(&e),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| cannot_read(&e.utf8_error()))?;
    load(&text, &base_dir_of(path), env, &field, read)
}

/// Loads and validates YAML text, with `${VAR}` references and `NBU_OTEL_...` overrides taken
/// from the process environment. Relative paths (`api_key_file`, `ca_file`, ...) are resolved
/// against `base_dir`. Problems with the text as a whole are reported on the field `<file>`.
pub fn load_str(yaml: &str, base_dir: &Path) -> Result<Config, ConfigError> {
    load_str_with_env(yaml, base_dir, &process_env())
}

/// Like [`load_str`], with an explicit environment instead of the process's (for tests and
/// embedding: changing the process environment is `unsafe`).
pub fn load_str_with_env(
    yaml: &str,
    base_dir: &Path,
    env: &HashMap<String, String>,
) -> Result<Config, ConfigError> {
    let files = FileSnapshot::new();
    load(yaml, base_dir, env, "<file>", &|p| files.read(p))
}

/// The process environment; variables whose name or value is not UTF-8 are left out.
fn process_env() -> HashMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

fn base_dir_of(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match absolute.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn load(
    yaml: &str,
    base_dir: &Path,
    env: &HashMap<String, String>,
    file_field: &str,
    read: &dyn Fn(&Path) -> std::io::Result<Vec<u8>>,
) -> Result<Config, ConfigError> {
    let selected = overrides::select(env);
    let mut errors = selected.errors;
    if let Err(e) = yaml_limits::check(yaml) {
        errors.push(FieldError::new(file_field, e.to_string()));
        return Err(ConfigError::new(errors));
    }

    let merged = config::Config::builder()
        .add_source(File::from_str(yaml, FileFormat::Yaml))
        .add_source(
            Environment::with_prefix(PREFIX)
                .prefix_separator("_")
                .separator("__")
                .ignore_empty(true)
                .source(Some(selected.vars)),
        )
        .build();
    let merged = match merged {
        Ok(merged) => merged,
        Err(e) => {
            let message = match e {
                config::ConfigError::FileParse { cause, .. } => format!("invalid YAML: {cause}"),
                other => other.to_string(),
            };
            errors.push(FieldError::new(file_field, message));
            return Err(ConfigError::new(errors));
        }
    };

    let mut tree = to_json(merged.cache);
    let from_env: BTreeSet<String> = selected.paths.keys().cloned().collect();
    let mut failed = BTreeSet::new();
    expand_tree(&mut tree, env, &from_env, &mut errors, &mut failed);

    // The standard OpenTelemetry variables win over the file and the overrides.
    let mut paths = selected.paths.clone();
    standard_env::apply(&mut tree, env, &mut paths, &mut errors);

    let root = Section::<RawConfig>::from_value(tree);
    match validate(root, base_dir, &paths, read) {
        Ok(mut config) if errors.is_empty() => {
            match super::shards::assign(&config.sharding, &mut config.sites, env) {
                Ok(plan) => {
                    config.shards = plan;
                    fingerprint(&mut config, read);
                    Ok(config)
                }
                Err(e) => Err(ConfigError::new(vec![e])),
            }
        }
        Ok(_) => Err(ConfigError::new(errors)),
        Err(mut problems) => {
            // A value that failed expansion is already reported; don't call it missing too.
            problems.retain(|e| !failed.contains(&e.field));
            annotate_env_origin(&mut problems, &paths);
            errors.extend(problems);
            Err(ConfigError::new(errors))
        }
    }
}

/// Says which variable set a bad value, since the file does not show it.
fn annotate_env_origin(problems: &mut [FieldError], paths: &BTreeMap<String, String>) {
    for problem in problems {
        if let Some(var) = paths.get(&problem.field) {
            problem.message = format!("{} (set by {var})", problem.message);
        }
    }
}

/// YAML text that does not parse, with the parser's reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct YamlError(String);

/// Parses YAML text into JSON values (keys as written), as the loader reads a file: refused
/// unparsed beyond the bounds of [`yaml_limits`].
pub fn parse_yaml(yaml: &str) -> Result<Value, YamlError> {
    yaml_limits::check(yaml).map_err(|e| YamlError(e.to_string()))?;
    config::Config::builder()
        .add_source(File::from_str(yaml, FileFormat::Yaml))
        .build()
        .map(|c| to_json(c.cache))
        .map_err(|e| {
            YamlError(match e {
                config::ConfigError::FileParse { cause, .. } => format!("invalid YAML: {cause}"),
                other => other.to_string(),
            })
        })
}

/// The `config` crate's merged tree as JSON. Non-finite floats (YAML `.nan`, `.inf`) become
/// strings, so validation rejects them instead of JSON turning them into `null`.
fn to_json(value: config::Value) -> Value {
    match value.kind {
        ValueKind::Nil => Value::Null,
        ValueKind::Boolean(b) => Value::Bool(b),
        ValueKind::I64(i) => i.into(),
        ValueKind::U64(u) => u.into(),
        ValueKind::I128(i) => i64::try_from(i).map_or_else(|_| i.to_string().into(), Into::into),
        ValueKind::U128(u) => u64::try_from(u).map_or_else(|_| u.to_string().into(), Into::into),
        ValueKind::Float(f) => serde_json::Number::from_f64(f)
            .map_or_else(|| Value::String(f.to_string()), Value::Number),
        ValueKind::String(s) => Value::String(s),
        ValueKind::Table(table) => Value::Object(
            table
                .into_iter()
                .map(|(key, value)| (key, to_json(value)))
                .collect(),
        ),
        ValueKind::Array(items) => Value::Array(items.into_iter().map(to_json).collect()),
    }
}
