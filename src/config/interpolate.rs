//! `${VAR}` expansion in string values.
//!
//! Runs on the parsed value tree, never on the raw text, so a value containing `:` or `#`
//! cannot change the YAML structure. Syntax:
//!
//! - `${NAME}`: the value of `NAME`; an error naming the field and `NAME` when it is not set.
//! - `${NAME:-default}`: `default` when `NAME` is unset or empty. The default is literal text up
//!   to the first `}` (no nesting).
//! - `$${`: a literal `${`. Any other `$` is literal.
//!
//! Names are ASCII letters, digits and `_`, not starting with a digit. Messages name variables
//! and fields, never values.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::error::FieldError;

/// Why a string could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ExpandError {
    /// These variables are referenced without a default and are not set.
    Undefined(Vec<String>),
    /// A `${` without its closing `}`.
    Unterminated,
    /// A `${...}` whose name is not a valid variable name (the text is not echoed).
    InvalidName,
}

impl ExpandError {
    fn message(&self) -> String {
        match self {
            ExpandError::Undefined(names) if names.len() == 1 => {
                format!("environment variable `{}` is not set", names[0])
            }
            ExpandError::Undefined(names) => format!(
                "environment variables {} are not set",
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ExpandError::Unterminated => {
                "unterminated `${`: close it with `}`, or write `$${` for a literal `${`".to_owned()
            }
            ExpandError::InvalidName => "invalid variable reference: `${...}` must hold a name of \
                 ASCII letters, digits and `_` (not starting with a digit), optionally followed by \
                 `:-default`"
                .to_owned(),
        }
    }
}

/// Expands every reference in `input`, looking names up with `lookup`.
pub(super) fn expand<'a>(
    input: &str,
    lookup: impl Fn(&str) -> Option<&'a str>,
) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(input.len());
    let mut undefined = Vec::new();
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let end = after.find('}').ok_or(ExpandError::Unterminated)?;
            let body = &after[..end];
            rest = &after[end + 1..];
            let (name, default) = match body.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (body, None),
            };
            if !is_valid_name(name) {
                return Err(ExpandError::InvalidName);
            }
            match (lookup(name), default) {
                (Some(""), Some(default)) => out.push_str(default),
                (Some(value), _) => out.push_str(value),
                (None, Some(default)) => out.push_str(default),
                (None, None) => {
                    if !undefined.iter().any(|n| n == name) {
                        undefined.push(name.to_owned());
                    }
                }
            }
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    if undefined.is_empty() {
        Ok(out)
    } else {
        Err(ExpandError::Undefined(undefined))
    }
}

fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Expands every string value of `tree` in place, except at the paths in `skip` (values that came
/// from environment overrides, which are taken literally).
///
/// A value that cannot be expanded becomes `null`, and its path is added to `failed` so that
/// validation does not report it a second time.
pub(super) fn expand_tree(
    tree: &mut Value,
    env: &HashMap<String, String>,
    skip: &BTreeSet<String>,
    errors: &mut Vec<FieldError>,
    failed: &mut BTreeSet<String>,
) {
    let mut walker = Walker {
        env,
        skip,
        errors,
        failed,
    };
    walker.walk(tree, String::new());
}

struct Walker<'a> {
    env: &'a HashMap<String, String>,
    skip: &'a BTreeSet<String>,
    errors: &'a mut Vec<FieldError>,
    failed: &'a mut BTreeSet<String>,
}

impl Walker<'_> {
    fn walk(&mut self, value: &mut Value, path: String) {
        match value {
            Value::String(text) => {
                if self.skip.contains(&path) || !text.contains('$') {
                    return;
                }
                match expand(text, |name| self.env.get(name).map(String::as_str)) {
                    Ok(expanded) => *text = expanded,
                    Err(e) => {
                        self.errors.push(FieldError::new(path.clone(), e.message()));
                        self.failed.insert(path);
                        *value = Value::Null;
                    }
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    self.walk(item, format!("{path}[{i}]"));
                }
            }
            Value::Object(map) => {
                for (key, item) in map.iter_mut() {
                    let child = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    self.walk(item, child);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
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

    fn run(input: &str, vars: &HashMap<String, String>) -> Result<String, ExpandError> {
        expand(input, |n| vars.get(n).map(String::as_str))
    }

    #[test]
    fn expands_references_defaults_and_escapes() {
        let vars = env(&[("A", "x:y # z"), ("EMPTY", "")]);
        assert_eq!(
            run("pre ${A} post", &vars).as_deref(),
            Ok("pre x:y # z post")
        );
        assert_eq!(run("${MISSING:-d}", &vars).as_deref(), Ok("d"));
        assert_eq!(run("${EMPTY:-d}", &vars).as_deref(), Ok("d"));
        assert_eq!(run("${EMPTY}", &vars).as_deref(), Ok(""));
        assert_eq!(run("${A:-d}", &vars).as_deref(), Ok("x:y # z"));
        assert_eq!(run("$${A}", &vars).as_deref(), Ok("${A}"));
        assert_eq!(run("cost $5 $", &vars).as_deref(), Ok("cost $5 $"));
        assert_eq!(run("${A}${A}", &vars).as_deref(), Ok("x:y # zx:y # z"));
    }

    #[test]
    fn reports_undefined_unterminated_and_invalid() {
        let vars = env(&[]);
        assert_eq!(
            run("${B} ${C} ${B}", &vars),
            Err(ExpandError::Undefined(vec!["B".into(), "C".into()]))
        );
        assert_eq!(run("${B", &vars), Err(ExpandError::Unterminated));
        assert_eq!(run("${not-a-name}", &vars), Err(ExpandError::InvalidName));
        assert_eq!(run("${}", &vars), Err(ExpandError::InvalidName));
        assert_eq!(run("${1A}", &vars), Err(ExpandError::InvalidName));
    }

    #[test]
    fn tree_expansion_names_fields_and_skips_overrides() {
        let mut tree = serde_json::json!({
            "sites": [{"api_key": "${KEY}"}, {"api_key": "${NOPE}"}],
            "logging": {"level": "${NOPE}"},
        });
        let vars = env(&[("KEY", "k")]);
        let skip = BTreeSet::from(["logging.level".to_owned()]);
        let (mut errors, mut failed) = (Vec::new(), BTreeSet::new());
        expand_tree(&mut tree, &vars, &skip, &mut errors, &mut failed);
        assert_eq!(tree["sites"][0]["api_key"], "k");
        assert_eq!(tree["sites"][1]["api_key"], Value::Null);
        assert_eq!(tree["logging"]["level"], "${NOPE}");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "sites[1].api_key");
        assert!(errors[0].message.contains("`NOPE`"));
        assert!(failed.contains("sites[1].api_key"));
    }
}
