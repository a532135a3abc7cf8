//! Property tests over generated inputs, one suite per file: hostile NetBackup responses
//! ([`pages`]), aggregation against the simulator's ground truth ([`aggregation`]), OData
//! filter quoting ([`filters`]), configuration loading ([`config_loading`]) and the
//! assignment of sites to shards ([`sharding`]).
//!
//! Every property runs a fixed number of cases (the `CASES_*` constants of each suite, about
//! 134,000 in all) so that the whole binary stays well under a minute in a debug build on a
//! small machine (13 to 20 s on two busy cores); `PROPTEST_CASES` does not change them. A
//! failing case is shrunk, and the `proptest!` ones are saved by proptest next to their suite
//! (`tests/properties/<suite>.proptest-regressions`; commit those files) so they are replayed
//! first on the next run.

mod aggregation;
mod config_loading;
mod filters;
mod pages;
mod sharding;

#[path = "../it/common/truth.rs"]
mod truth;

use proptest::prelude::ProptestConfig;

/// The proptest configuration of a property that runs `n` cases.
pub(crate) fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        // Keep a failing run short too: shrinking stops after this many steps.
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    }
}

/// `s` as a JSON string literal.
pub(crate) fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

/// A JSON object of members already written as JSON text (`"key"`, value).
pub(crate) fn json_object(members: Vec<(String, String)>) -> String {
    let body: Vec<String> = members
        .into_iter()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect();
    format!("{{{}}}", body.join(","))
}
