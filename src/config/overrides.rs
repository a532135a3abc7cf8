//! Selection of environment overrides (`NBU_OTEL_<SECTION>__<KEY>`), before the `config` crate
//! applies them.
//!
//! The `config` crate takes every variable under its prefix, lowercases the name, turns `__` into
//! `.`, and merges the value as a string. It would let a misspelt name through silently (or, with
//! `deny_unknown_fields`, blame a key the file never had). So the variables are checked here
//! first, against the keys of the raw structs, and only the valid ones are handed on.

use std::collections::{BTreeMap, HashMap};

use super::declare::{KeyDoc, Shape};
use super::error::FieldError;
use super::schema::{ENV_PREFIX, env_sections, env_var};

/// The prefix as the `config` crate's `Environment` takes it (the `_` after it is separate).
pub(super) const PREFIX: &str = ENV_PREFIX;

/// The accepted overrides, and the problems with the rejected ones.
#[derive(Debug, Default)]
pub(super) struct Overrides {
    /// Accepted, non-empty variables (name as given, value), for `config::Environment::source`.
    pub vars: HashMap<String, String>,
    /// The dotted path each accepted variable sets (`collection.jobs_interval`) and its name.
    pub paths: BTreeMap<String, String>,
    /// One error per rejected variable, the field being the variable's name.
    pub errors: Vec<FieldError>,
}

/// The keys of `section` that environment variables set, when they override it.
fn section_keys(section: &str) -> Option<Vec<KeyDoc>> {
    env_sections()
        .into_iter()
        .find(|(name, _)| *name == section)
        .map(|(_, keys)| keys)
}

fn key_names(keys: &[KeyDoc]) -> Vec<&'static str> {
    keys.iter().map(|k| k.key).collect()
}

/// Checks every variable under the prefix (case-insensitively, as the `config` crate does).
pub(super) fn select(env: &HashMap<String, String>) -> Overrides {
    let prefix = format!("{}_", PREFIX.to_lowercase());
    let mut names: Vec<&String> = env.keys().collect();
    names.sort();
    let mut out = Overrides::default();
    for name in names {
        let lower = name.to_lowercase();
        let Some(rest) = lower.strip_prefix(&prefix) else {
            continue;
        };
        let path = if rest.contains("__") {
            match override_path(rest) {
                Ok(path) => path,
                Err(message) => {
                    out.errors.push(FieldError::new(name.clone(), message));
                    continue;
                }
            }
        } else {
            // No `__`: not an override (for example `NBU_OTEL_CONFIG` for the CLI), unless it
            // is an override written with a single `_`.
            if let Some(path) = single_underscore_typo(rest) {
                out.errors.push(FieldError::new(
                    name.clone(),
                    format!(
                        "not an override: section and key are separated by `__`; \
                         to set `{path}` write {}",
                        env_var(&path)
                    ),
                ));
            }
            continue;
        };
        let value = env.get(name).cloned().unwrap_or_default();
        if value.is_empty() {
            // Empty means unset, as in most container setups.
            continue;
        }
        out.paths.insert(path, name.clone());
        out.vars.insert(name.clone(), value);
    }
    out
}

fn override_path(rest: &str) -> Result<String, String> {
    let segments: Vec<&str> = rest.split("__").collect();
    let section = segments[0];
    if section == "sites" {
        return Err("sites cannot be overridden from the environment; \
                    write `${VAR}` references in the file for per-site values"
            .to_owned());
    }
    let Some(keys) = section_keys(section) else {
        let sections: Vec<&str> = env_sections().into_iter().map(|(name, _)| name).collect();
        return Err(format!(
            "unknown override: no section `{section}`; the sections that can be overridden are {}",
            sections.join(", ")
        ));
    };
    let shape = |key: &str| keys.iter().find(|k| k.key == key).map(|k| k.shape);
    let valid_segment = |s: &str| !s.is_empty() && !s.contains('.');
    match segments.as_slice() {
        [_, key] if shape(key) == Some(Shape::Scalar) => Ok(format!("{section}.{key}")),
        [_, key, name] if shape(key) == Some(Shape::Map) && valid_segment(name) => {
            Ok(format!("{section}.{key}.{name}"))
        }
        [_, key, ..] if shape(key) == Some(Shape::Map) => Err(format!(
            "unknown override: set one {} with {}__<NAME>",
            key.trim_end_matches('s'),
            env_var(&format!("{section}.{key}"))
        )),
        _ => Err(format!(
            "unknown override: section `{section}` has no key `{}`; its keys are {}",
            segments[1..].join("__"),
            key_names(&keys).join(", ")
        )),
    }
}

fn single_underscore_typo(rest: &str) -> Option<String> {
    env_sections().into_iter().find_map(|(section, keys)| {
        let key = rest.strip_prefix(section)?.strip_prefix('_')?;
        key_names(&keys)
            .contains(&key)
            .then(|| format!("{section}.{key}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn accepts_known_keys_and_headers() {
        let out = select(&env(&[
            ("NBU_OTEL_COLLECTION__JOBS_PAGE_SIZE", "50"),
            ("NBU_OTEL_OTLP__HEADERS__AUTHORIZATION", "Bearer x"),
            ("NBU_OTEL_SERVER__LISTEN", ""),
            ("NBU_OTEL_CONFIG", "/etc/nbu-otel.yaml"),
            ("NBU_OTEL_SITE_A_KEY", "k"),
            ("PATH", "/bin"),
        ]));
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert_eq!(
            out.paths.keys().collect::<Vec<_>>(),
            ["collection.jobs_page_size", "otlp.headers.authorization"]
        );
        assert_eq!(out.vars.len(), 2);
    }

    #[test]
    fn rejects_unknown_and_misspelt_names() {
        let out = select(&env(&[
            ("NBU_OTEL_COLLECTION__JOBS_INTERVALL", "1s"),
            ("NBU_OTEL_COLECTION__JOBS_INTERVAL", "1s"),
            ("NBU_OTEL_COLLECTION_JOBS_INTERVAL", "1s"),
            ("NBU_OTEL_SITES__0__URL", "http://x"),
            ("NBU_OTEL_OTLP__HEADERS", "x"),
            ("NBU_OTEL_OTLP__TIMEOUT__X", "1s"),
        ]));
        let fields: Vec<&str> = out.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "NBU_OTEL_COLECTION__JOBS_INTERVAL",
                "NBU_OTEL_COLLECTION_JOBS_INTERVAL",
                "NBU_OTEL_COLLECTION__JOBS_INTERVALL",
                "NBU_OTEL_OTLP__HEADERS",
                "NBU_OTEL_OTLP__TIMEOUT__X",
                "NBU_OTEL_SITES__0__URL",
            ]
        );
        assert!(
            out.errors[1]
                .message
                .contains("NBU_OTEL_COLLECTION__JOBS_INTERVAL")
        );
        assert!(out.errors[2].message.contains("jobs_intervall"));
        assert!(out.errors[5].message.contains("${VAR}"));
        assert!(out.vars.is_empty());
    }
}
