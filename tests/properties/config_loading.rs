//! Configuration: arbitrary text and values never panic; every error names a field.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::OnceLock;

use nbu_otel::config::schema::{Scope, options};
use nbu_otel::config::{self, Config, ConfigError};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestRunner;

use crate::{cases, json_string};

const CASES_CONFIG_TEXT: u32 = 6_000;
const CASES_CONFIG_VALUES: u32 = 6_000;

const SECRET: &str = "s3cr3t-API-key-never-shown";

fn load(yaml: &str, dir: &Path, env: &HashMap<String, String>) -> Result<Config, ConfigError> {
    config::load_str_with_env(yaml, dir, env)
}

/// The top-level sections of the schema (`sites`, `collection`, `otlp`, ...).
fn sections() -> Vec<&'static str> {
    nbu_otel::config::schema::sections()
        .map(|s| s.path.split(['.', '[']).next().unwrap_or_default())
        .collect()
}

/// Checks what a load may return: `Ok` only with values inside their documented ranges; `Err`
/// with at least one problem, each naming a field that exists in the input (a key of the text,
/// a section, the file, or a variable), and no message showing the secret.
fn check_load(
    yaml: &str,
    env: &HashMap<String, String>,
    result: Result<Config, ConfigError>,
) -> Result<(), TestCaseError> {
    match result {
        Ok(c) => {
            // Every site is in the plan; a replica's own share may be empty only when the
            // sites are spread over replicas.
            prop_assert!(!c.shards.sites.is_empty());
            prop_assert!(!c.sites.is_empty() || c.shards.is_sharded());
            prop_assert!(c.shards.index < c.shards.count);
            for s in &c.sites {
                let k = &s.collection;
                prop_assert!((1..=100).contains(&k.jobs_page_size));
                prop_assert!((1..=500).contains(&k.storage_page_size));
                prop_assert!((1..=64).contains(&k.max_concurrent_requests));
                prop_assert!(k.max_retries <= 10);
                prop_assert!(k.requests_per_second > 0.0 && k.requests_per_second <= 1000.0);
                prop_assert!(!s.name.is_empty());
            }
            prop_assert!((0.0..=1.0).contains(&c.traces.sampling_ratio));
            prop_assert!(!format!("{c:?}").contains(SECRET), "Debug shows no secret");
        }
        Err(e) => {
            prop_assert!(!e.errors().is_empty(), "an error with no problem in it");
            let text = e.to_string();
            prop_assert!(
                !text.contains(SECRET),
                "an error shows the secret:\n{}",
                text
            );
            for problem in e.errors() {
                let field = problem.field.as_str();
                prop_assert!(!problem.message.trim().is_empty(), "{:?}", problem);
                prop_assert!(!field.is_empty() && !field.contains('\n'), "{:?}", problem);
                let root = field.split(['.', '[']).next().unwrap_or_default();
                // An unknown top-level key is named as the parser read it, which may differ
                // from the text (escapes, folded lines) and may hold a `.` (`{0\n.}` is the
                // key `0 .`), so it is recognised by its message.
                let unknown_top_level_key = problem
                    .message
                    .starts_with("unknown key; the top level accepts");
                let named = field == "<file>"
                    || env.contains_key(field)
                    || sections().contains(&root)
                    || unknown_top_level_key
                    || yaml.contains(root);
                prop_assert!(named, "{:?} names no field of\n{}", problem, yaml);
            }
        }
    }
    Ok(())
}

/// YAML scalars and small collections, including the awkward ones.
fn yaml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(vec![
            "0", "1", "-1", "100", "101", "500", "501", "64", "65", "10", "11",
            "99999999999999999999999999", "-99999999999999999999", "1e308", "-1e308", "1e999",
            ".inf", "-.inf", ".nan", "0x1F", "0o17", "1_000", "0.5", "1.5", "2.0", "-0.0",
            "true", "false", "yes", "no", "on", "off", "null", "~", "''", "\"\"",
            "30s", "0s", "-1s", "1h 30m", "500ms", "1ns", "18446744073709551615s",
            "999999999999999999y", "5 parsecs", "1d", "30",
            "http://127.0.0.1:1556/netbackup", "https://[::1]:1556/netbackup", "ftp://x",
            "not a url", "http://user:pw@host/", "https://", "0.0.0.0:9440", "[::]:9440",
            "127.0.0.1:99999", "localhost:9440",
            "14.0", "13.0", "12.0", "10.0", "9.0", "latest",
            "text", "json", "xml", "gzip", "none", "zstd", "debug", "nbu_otel=trace,warn",
            "${PLAIN}", "${UNSET_VAR}", "${UNSET_VAR:-30s}", "$${LITERAL}", "${", "${BAD-NAME}",
            "\"${PLAIN}${PLAIN}\"", "${PLAIN:-x}",
            "[1, 2]", "[]", "{}", "{a: 1}", "[[[]]]",
            "&anchor 5", "*anchor", "*undefined", "!!str 5", "!!binary aGk=", "!custom x",
            "|\n  block", ">\n  folded", "'it''s'", "\"tab\\there\"", "\"\\u0000\"", "#comment",
            ": colon", "- item", "key: value",
        ])
        .prop_map(str::to_owned),
        1 => any::<i64>().prop_map(|v| v.to_string()),
        1 => any::<f64>().prop_map(|v| format!("{v:?}")),
        1 => any::<String>().prop_map(|s| json_string(&s)),
        1 => "[ -~]{0,16}".prop_map(|s| format!("'{}'", s.replace('\'', "''"))),
    ]
}

/// Keys the schema does not declare, which the loader must name as unknown.
const BOGUS_FIELDS: &[(&str, &str)] = &[("site", "bogus_key"), ("collection", "typo_key")];

/// Where a generated value goes: `(section, key)` for every option of the schema, and the
/// bogus keys. `section` `site`/`site.tls`/`site.collection` means the first site, and
/// `sources.<name>` one source of the global `sources` section.
fn fields() -> &'static [(String, String)] {
    static FIELDS: OnceLock<Vec<(String, String)>> = OnceLock::new();
    FIELDS.get_or_init(|| {
        let mut out = Vec::new();
        for option in options() {
            let path = option.path.trim_end_matches(".<name>");
            let (section, key) = if let Some(key) = path.strip_prefix("sites[].tls.") {
                ("site.tls".to_owned(), key)
            } else if let Some(key) = path.strip_prefix("sites[].") {
                ("site".to_owned(), key)
            } else if let Some((section, key)) = path.rsplit_once('.') {
                (section.to_owned(), key)
            } else {
                continue;
            };
            if section == "collection" && option.scope == Scope::SiteOverridable {
                out.push(("site.collection".to_owned(), key.to_owned()));
            }
            out.push((section, key.to_owned()));
        }
        out.extend(
            BOGUS_FIELDS
                .iter()
                .map(|(section, key)| ((*section).to_owned(), (*key).to_owned())),
        );
        out
    })
}

/// File fields take a value from a safe list: an arbitrary path could name a device such as
/// `/dev/zero`, which is not what this property is about.
const FILE_VALUES: &[&str] = &[
    "missing.pem",
    "''",
    "/nonexistent/ca.pem",
    ".",
    "ca.pem",
    "key.txt",
    "${UNSET_VAR}",
    "[a]",
];

fn is_file_field(key: &str) -> bool {
    key.ends_with("_file")
}

fn field_value(index: usize) -> BoxedStrategy<(usize, String)> {
    let key = fields()[index].1.as_str();
    if is_file_field(key) {
        select(FILE_VALUES)
            .prop_map(move |v| (index, v.to_owned()))
            .boxed()
    } else {
        yaml_value().prop_map(move |v| (index, v)).boxed()
    }
}

/// A valid configuration with some fields set to generated values.
fn config_document() -> impl Strategy<Value = String> {
    prop::collection::vec((0..fields().len()).prop_flat_map(field_value), 0..5).prop_map(
        |overrides| {
            let mut sections: BTreeMap<&str, Vec<(&str, String)>> = BTreeMap::new();
            sections.entry("site").or_default().extend([
                ("name", "primary-a".to_owned()),
                ("url", "https://nbu.example.com:1556/netbackup".to_owned()),
                ("api_key", "${NBU_KEY}".to_owned()),
            ]);
            for (index, value) in overrides {
                let (section, key) = &fields()[index];
                let (section, key) = (section.as_str(), key.as_str());
                let entries = sections.entry(section).or_default();
                entries.retain(|(k, _)| *k != key);
                entries.push((key, value));
            }
            let mut yaml = String::from("sites:\n  - ");
            let mut first = true;
            for (section, indent) in [
                ("site", "    "),
                ("site.tls", "      "),
                ("site.collection", "      "),
            ] {
                let Some(entries) = sections.get(section) else {
                    continue;
                };
                if let Some(sub) = section.strip_prefix("site.") {
                    yaml.push_str(&format!("    {sub}:\n"));
                }
                for (key, value) in entries {
                    let lead = if first { "" } else { indent };
                    first = false;
                    yaml.push_str(&format!("{lead}{key}: {}\n", indent_block(value, indent)));
                }
            }
            if first {
                yaml.push_str("{}\n");
            }
            let mut parent = None;
            for (section, entries) in &sections {
                if section.starts_with("site") {
                    continue;
                }
                // `sources.<name>`: one `sources:` line for every source under it.
                let indent = match section.split_once('.') {
                    Some((outer, inner)) => {
                        if parent != Some(outer) {
                            yaml.push_str(&format!("{outer}:\n"));
                            parent = Some(outer);
                        }
                        yaml.push_str(&format!("  {inner}:\n"));
                        "    "
                    }
                    None => {
                        parent = None;
                        yaml.push_str(&format!("{section}:\n"));
                        "  "
                    }
                };
                for (key, value) in entries {
                    yaml.push_str(&format!("{indent}{key}: {}\n", indent_block(value, indent)));
                }
            }
            yaml
        },
    )
}

/// Block scalars (`|`, `>`) continue on indented lines: indent them under their key.
fn indent_block(value: &str, indent: &str) -> String {
    value.replace('\n', &format!("\n{indent}"))
}

/// Variables that are not overrides, or are misspelt ones, which the loader must ignore or
/// name.
const BOGUS_VARIABLES: &[&str] = &[
    "NBU_OTEL_COLLECTION_JOBS_INTERVAL",
    "NBU_OTEL_NOPE__NOTHING",
    "NBU_OTEL_SITES__0__URL",
    "NBU_OTEL_CONFIG",
    "UNRELATED",
];

/// Every variable the schema says sets an option (one header for `<NAME>`), and the bogus ones.
fn variable_names() -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for option in options() {
        let declared = option.env.iter().cloned();
        let standard = option.standard_env.iter().map(|name| (*name).to_owned());
        for name in declared.chain(standard) {
            let name = name.replace("<NAME>", "AUTHORIZATION");
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names.extend(BOGUS_VARIABLES.iter().map(|name| (*name).to_owned()));
    names
}

/// Environment for a load: the key variable plus some overrides, known and unknown.
fn environment() -> impl Strategy<Value = HashMap<String, String>> {
    let name = select(variable_names());
    let value = prop_oneof![
        select(vec![
            "30s",
            "50",
            "0",
            "-1",
            "1e9",
            "",
            "true",
            "json",
            "[::]:9440",
            "http://x:4317",
            "${NBU_KEY}"
        ])
        .prop_map(str::to_owned),
        "[ -~]{0,12}",
    ];
    prop::collection::vec((name, value), 0..3).prop_map(|vars| {
        let mut env: HashMap<String, String> = vars.into_iter().collect();
        env.insert("NBU_KEY".to_owned(), SECRET.to_owned());
        // A variable that is not a secret, for references in other fields (a secret variable
        // referenced from a non-secret field is shown like any value of that field).
        env.insert("PLAIN".to_owned(), "plain-value".to_owned());
        env
    })
}

/// Text that looks a little like YAML: indented `key: value` lines, list dashes, flow
/// collections, and sometimes plain noise.
fn yaml_ish_text() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        3 => select(vec![
            "sites", "name", "url", "api_key", "api_key_file", "tls", "ca_file",
            "insecure_skip_verify", "collection", "jobs_page_size", "server", "listen", "otlp",
            "headers", "endpoint", "traces", "logging", "level", "service", "<<",
        ])
        .prop_map(str::to_owned),
        1 => "[a-z_]{1,8}",
    ];
    let line = (
        0..4usize,
        any::<bool>(),
        key,
        prop::option::of(yaml_value()),
    )
        .prop_map(|(depth, dash, key, value)| {
            let dash = if dash { "- " } else { "" };
            let value = value
                .map(|v| format!(" {}", v.replace('\n', " ")))
                .unwrap_or_default();
            format!("{}{dash}{key}:{value}", "  ".repeat(depth))
        });
    prop_oneof![
        6 => prop::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n")),
        1 => "[ -~\n\t]{0,160}",
        1 => any::<String>(),
        1 => "[\\[\\]{}:,'\"&*!|>%@#\\- \n]{0,80}",
    ]
}

/// Runs `property` over `cases` values of `strategy` with a directory holding `ca.pem` (junk)
/// and `key.txt` (the secret) for the file fields.
fn run_config_cases<S: Strategy>(
    cases_n: u32,
    strategy: S,
    property: impl Fn(&Path, S::Value) -> Result<(), TestCaseError>,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("ca.pem"), "not a certificate\n").expect("write");
    std::fs::write(dir.path().join("key.txt"), format!("{SECRET}\n")).expect("write");
    let mut runner = TestRunner::new(ProptestConfig {
        failure_persistence: None,
        ..cases(cases_n)
    });
    if let Err(e) = runner.run(&strategy, |value| property(dir.path(), value)) {
        panic!("{e}");
    }
}

/// YAML-ish text never panics the loader; errors name a field; the secret never shows.
#[test]
fn arbitrary_config_text_never_panics() {
    run_config_cases(
        CASES_CONFIG_TEXT,
        (yaml_ish_text(), environment()),
        |dir, (yaml, env)| check_load(&yaml, &env, load(&yaml, dir, &env)),
    );
}

/// A case the generator once found: a flow mapping whose key folds over a line break into
/// `0 .` (a key with a dot) is named as the parser read it, and the check accepts it.
#[test]
fn a_folded_top_level_key_with_a_dot_is_named_as_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env: HashMap<String, String> = [("NBU_KEY".to_owned(), SECRET.to_owned())].into();
    let yaml = "{0\n.}";
    let result = load(yaml, dir.path(), &env);
    let err = result
        .as_ref()
        .err()
        .map(|e| e.errors().to_vec())
        .unwrap_or_default();
    assert!(
        err.iter()
            .any(|p| p.field == "0 ." && p.message.starts_with("unknown key")),
        "{err:?}"
    );
    check_load(yaml, &env, result).unwrap_or_else(|e| panic!("{e}"));
}

/// Arbitrary values in known fields: never a panic, `Ok` only within documented ranges,
/// every error names its field, the secret never shows.
#[test]
fn arbitrary_values_in_known_fields() {
    run_config_cases(
        CASES_CONFIG_VALUES,
        (config_document(), environment()),
        |dir, (yaml, env)| check_load(&yaml, &env, load(&yaml, dir, &env)),
    );
}

#[test]
fn the_base_config_document_loads() {
    // Guards the generator above: with no generated values the document is valid.
    let mut runner = TestRunner::deterministic();
    let env: HashMap<String, String> = [("NBU_KEY".to_owned(), SECRET.to_owned())].into();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut loaded = 0;
    for _ in 0..200 {
        let tree = config_document()
            .new_tree(&mut runner)
            .unwrap_or_else(|e| panic!("{e}"));
        let yaml = proptest::strategy::ValueTree::current(&tree);
        loaded += usize::from(load(&yaml, dir.path(), &env).is_ok());
    }
    assert!(
        loaded > 0,
        "no generated document ever loads: the generator is broken"
    );
    let base = "sites:\n  - name: primary-a\n    url: https://nbu.example.com:1556/netbackup\n    api_key: ${NBU_KEY}\n";
    load(base, dir.path(), &env).unwrap_or_else(|e| panic!("{e}"));
}
