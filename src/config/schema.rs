//! The schema of the configuration file: where each section sits (its path, whether
//! environment variables override it, whether a site may override it) and every option it
//! offers. The keys themselves are declared once each, with their type, default, parse function
//! and documentation, in the section's module under [`section`](super::section) (see
//! [`section!`](super::declare) for what is derived from a row).
//!
//! The option reference in the README, the environment variables accepted and the list of them
//! in the [module documentation](super) all come from here; tests hold the README, that list
//! and `examples/nbu-otel.yaml` to it.

pub use super::declare::{KeyDoc, Shape};
use super::section::collection::CollectionConfig;
use super::section::events::EventsConfig;
use super::section::otlp::{OtlpConfig, OtlpSignalConfig};
use super::section::server::ServerConfig;
use super::section::service::{LoggingConfig, ServiceConfig, TracesConfig};
use super::section::sharding::ShardingConfig;
use super::section::site::{SiteConfig, TlsConfig};
use super::section::sources::{SourceConfig, SourceId};
use super::standard_env::{RESOURCE_ATTRIBUTES, STANDARD_ENV, UNSUPPORTED_ENV};

/// Whether environment variables override a section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Env {
    /// `NBU_OTEL_<SECTION>__<KEY>` sets `<section>.<key>`.
    Overrides,
    /// Only `${VAR}` references in the file.
    References,
}

/// Where a section's keys are set: globally only, globally with an override per site, or on
/// each site itself. The reference's "per site" column shows it (`no`, `yes`, `-`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `<section>.<key>` is the value of every site, and `sites[i].<section>.<key>` overrides
    /// it for that site.
    SiteOverridable,
    /// `<section>.<key>` only: one value for the whole agent.
    Global,
    /// The keys of a site itself (`sites[i].<key>`, `sites[i].tls.<key>`).
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
    /// Whether it is global, overridable per site, or a site's own.
    pub scope: Scope,
}

/// Every section of the file with keys of its own, in the order of the reference. The keys of
/// `sources` are declared once by [`SourceConfig`]; [`options`] lists them for each source.
pub const SECTIONS: [SectionDecl; 14] = [
    SectionDecl {
        path: "sites[]",
        keys: SiteConfig::keys,
        env: Env::References,
        scope: Scope::Site,
    },
    SectionDecl {
        path: "sites[].tls",
        keys: TlsConfig::keys,
        env: Env::References,
        scope: Scope::Site,
    },
    SectionDecl {
        path: "collection",
        keys: CollectionConfig::keys,
        env: Env::Overrides,
        scope: Scope::SiteOverridable,
    },
    SectionDecl {
        path: "sources",
        keys: SourceConfig::keys,
        env: Env::References,
        scope: Scope::SiteOverridable,
    },
    SectionDecl {
        path: "server",
        keys: ServerConfig::keys,
        env: Env::Overrides,
        scope: Scope::Global,
    },
    SectionDecl {
        path: "otlp",
        keys: OtlpConfig::keys,
        env: Env::Overrides,
        scope: Scope::Global,
    },
    SectionDecl {
        path: "otlp.metrics",
        keys: OtlpSignalConfig::keys,
        env: Env::References,
        scope: Scope::Global,
    },
    SectionDecl {
        path: "otlp.traces",
        keys: OtlpSignalConfig::keys,
        env: Env::References,
        scope: Scope::Global,
    },
    SectionDecl {
        path: "otlp.logs",
        keys: OtlpSignalConfig::keys,
        env: Env::References,
        scope: Scope::Global,
    },
    SectionDecl {
        path: "events",
        keys: EventsConfig::keys,
        env: Env::Overrides,
        scope: Scope::Global,
    },
    SectionDecl {
        path: "traces",
        keys: TracesConfig::keys,
        env: Env::Overrides,
        scope: Scope::Global,
    },
    SectionDecl {
        path: "logging",
        keys: LoggingConfig::keys,
        env: Env::Overrides,
        scope: Scope::Global,
    },
    SectionDecl {
        path: "service",
        keys: ServiceConfig::keys,
        env: Env::Overrides,
        scope: Scope::Global,
    },
    SectionDecl {
        path: "sharding",
        keys: ShardingConfig::keys,
        env: Env::Overrides,
        scope: Scope::Global,
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
    /// The standard OpenTelemetry variables that set it ([`STANDARD_ENV`]), winning over the
    /// file and over [`env`](Self::env).
    pub standard_env: Vec<&'static str>,
    /// Whether it is global, overridable per site (`sites[i].<path>`), or a site's own.
    pub scope: Scope,
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
            out.extend(source_options());
            continue;
        }
        for key in keys {
            let mut path = format!("{}.{}", section.path, key.key);
            if key.shape == Shape::Map {
                path.push_str(".<name>");
            }
            out.push(OptionDoc {
                env: (section.env == Env::Overrides).then(|| env_var(&path)),
                standard_env: standard_vars(&path),
                default: key.default.unwrap_or_else(|| "required".to_owned()),
                scope: section.scope,
                doc: key.doc,
                path,
            });
        }
    }
    out
}

/// The standard variables that set the option at `path`, in order of precedence.
fn standard_vars(path: &str) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = STANDARD_ENV
        .iter()
        .chain([&RESOURCE_ATTRIBUTES])
        .filter(|v| v.path == path)
        .map(|v| v.name)
        .collect();
    names.dedup();
    names
}

/// The keys of [`SourceConfig`] for each source that takes them, with that source's defaults.
fn source_options() -> Vec<OptionDoc> {
    SourceId::ALL
        .into_iter()
        .flat_map(|id| {
            id.keys().into_iter().map(move |key| OptionDoc {
                path: format!("sources.{}.{}", id.name(), key.key),
                default: key.default.unwrap_or_default(),
                env: None,
                standard_env: Vec::new(),
                scope: Scope::SiteOverridable,
                doc: key.doc,
            })
        })
        .collect()
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
            environment_cell(&option, code),
            match option.scope {
                Scope::SiteOverridable => "yes",
                Scope::Global => "no",
                Scope::Site => "-",
            },
            option.doc.replace('|', "\\|"),
        ));
    }
    out
}

/// The variables of one option in the reference: its override, then the standard variables
/// that win over it.
fn environment_cell(option: &OptionDoc, code: impl Fn(&str) -> String) -> String {
    let names: Vec<String> = option
        .env
        .iter()
        .map(String::as_str)
        .chain(option.standard_env.iter().copied())
        .map(code)
        .collect();
    if names.is_empty() {
        "-".to_owned()
    } else {
        names.join(", ")
    }
}

/// The first line of the table of standard variables in `README.md`.
pub const STANDARD_BEGIN: &str = "<!-- otel-env: generated from src/config/standard_env.rs by `cargo test --lib schema`; do not edit -->";
/// The line after the table of standard variables in `README.md`.
pub const STANDARD_END: &str = "<!-- otel-env: end -->";

/// Every standard OpenTelemetry variable: those the agent reads, in order of precedence, with
/// the option each sets and the `NBU_OTEL_` variable it wins over; then those it does not
/// read, with what to use instead.
pub fn standard_env_markdown() -> String {
    let mut out = String::from("| variable | sets | wins over | note |\n|---|---|---|---|\n");
    let all: Vec<_> = STANDARD_ENV.iter().chain([&RESOURCE_ATTRIBUTES]).collect();
    for var in &all {
        let earlier: Vec<&str> = all
            .iter()
            .take_while(|v| v.name != var.name || v.path != var.path)
            .filter(|v| v.path == var.path && v.name != var.name)
            .map(|v| v.name)
            .collect();
        let overridden = options()
            .into_iter()
            .find(|o| o.path == var.path)
            .and_then(|o| o.env)
            .map_or_else(|| "the file".to_owned(), |env| format!("the file, `{env}`"));
        let note = if earlier.is_empty() {
            String::new()
        } else {
            format!(
                "used when {} is unset",
                earlier
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        out.push_str(&format!(
            "| `{}` | `{}` | {overridden} | {note} |\n",
            var.name, var.path
        ));
    }
    for (name, instead) in UNSUPPORTED_ENV {
        out.push_str(&format!("| `{name}` | not read | - | {instead} |\n"));
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
    fn the_readme_lists_every_standard_variable() {
        let expected = format!("\n\n{}\n", standard_env_markdown());
        check_generated("README.md", STANDARD_BEGIN, STANDARD_END, &expected);
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
            // A map of free names is written by its key, even empty.
            Value::Object(_) if is_map_of_names(prefix) => {
                out.insert(format!("{prefix}.<name>"));
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

    /// Whether the option at `path` is a map of free names (`otlp.headers`).
    fn is_map_of_names(path: &str) -> bool {
        let map = format!("{path}.<name>");
        options().iter().any(|o| o.path == map)
    }

    /// The example with its commented-out options (`# key: value`, one space after the `#`)
    /// written in, and the commented-out sections that hold them (`# key:`).
    fn uncommented(text: &str) -> String {
        text.lines()
            .map(|line| {
                let indent = &line[..line.len() - line.trim_start().len()];
                let Some(rest) = line.trim_start().strip_prefix("# ") else {
                    return line.to_owned();
                };
                let is_key = |key: &str| {
                    !key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                };
                let is_option = rest
                    .split_once(": ")
                    .is_some_and(|(key, value)| is_key(key) && !value.trim().is_empty())
                    || rest.strip_suffix(':').is_some_and(is_key);
                if is_option {
                    format!("{indent}{rest}")
                } else {
                    line.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn every_key_of_the_example_is_declared_and_every_option_is_in_the_example() {
        let text = uncommented(&read("examples/nbu-otel.yaml"));
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
        let missing: Vec<&String> = declared.difference(&used).collect();
        assert!(
            missing.is_empty(),
            "options that examples/nbu-otel.yaml does not write: {missing:?}"
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
        for var in STANDARD_ENV {
            assert!(
                paths.iter().any(|p| p == var.path),
                "{} sets {}, which is not declared",
                var.name,
                var.path
            );
        }
    }
}
