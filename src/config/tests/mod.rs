//! Tests of loading and validation, through the public functions: the functions they share here,
//! the tests by topic in the files beside.

use std::collections::HashMap;
use std::path::Path;

use super::*;

const KEY: &str = "kX9-distinctive-api-key-7Qz";
const TOKEN: &str = "tok-distinctive-header-value-5Wp";

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn load(yaml: &str, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    load_str_with_env(yaml, Path::new("/nonexistent-base"), &env(pairs))
}

fn ok(yaml: &str, pairs: &[(&str, &str)]) -> Config {
    match load(yaml, pairs) {
        Ok(config) => config,
        Err(e) => panic!("expected a valid config, got:\n{e}"),
    }
}

fn err(yaml: &str, pairs: &[(&str, &str)]) -> ConfigError {
    match load(yaml, pairs) {
        Ok(_) => panic!("expected an error for:\n{yaml}"),
        Err(e) => e,
    }
}

fn site(extra: &str) -> String {
    format!(
        "sites:\n  - name: a\n    url: https://nbu.example.com:1556/netbackup\n    api_key: {KEY}\n{extra}"
    )
}

fn assert_field(e: &ConfigError, field: &str) {
    assert!(
        e.has_field(field),
        "expected an error on {field}, got:\n{e}"
    );
}

mod defaults;
mod durations;
mod env;
mod errors;
mod otel_env;
mod outputs;
mod secrets;
mod sites;
mod sources;
