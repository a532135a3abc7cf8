//! The whole file: every section read in order, the sites with the global `collection` and
//! `sources` under their own overrides, and a [`Config`] only when nothing is wrong.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::error::FieldError;
use super::option_types::FilesFingerprint;
use super::raw::{List, Section};
use super::section::collection::CollectionConfig;
use super::section::collection::RawCollection;
use super::section::events::RawEvents;
use super::section::otlp::RawOtlp;
use super::section::server::RawServer;
use super::section::service::{RawLogging, RawService, RawTraces};
use super::section::sharding::RawSharding;
use super::section::site::RawSite;
use super::section::sources::RawSource;
use super::section::sources::SourcesConfig;
use super::shards::ShardPlan;
use super::typed::Config;
use super::validate::Validator;

/// The file shape of the whole file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub sites: Option<List<Section<RawSite>>>,
    pub collection: Option<Section<RawCollection>>,
    pub server: Option<Section<RawServer>>,
    pub otlp: Option<Section<RawOtlp>>,
    pub events: Option<Section<RawEvents>>,
    pub traces: Option<Section<RawTraces>>,
    pub logging: Option<Section<RawLogging>>,
    pub service: Option<Section<RawService>>,
    pub sharding: Option<Section<RawSharding>>,
    pub sources: Option<Section<BTreeMap<String, Section<RawSource>>>>,
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
    let mut v = Validator::new(base_dir, env_paths, read);
    let config = config(&mut v, root);
    match config {
        Some(config) if v.error_count() == 0 => Ok(config),
        _ => Err(v.into_errors()),
    }
}

/// The whole file: each section, then the sites with the global collection and sources.
fn config(v: &mut Validator<'_>, root: Section<RawConfig>) -> Option<Config> {
    let raw = v.section("", Some(root))?;

    let global_layer = v.collection_layer("collection", raw.collection);
    let global = global_layer.values.apply(&CollectionConfig::default());
    v.check_collection(&global, &global_layer, None);
    let sources_patch = v.sources_patch("sources", raw.sources);
    let sources = sources_patch.apply(&SourcesConfig::default());
    let sources_failed = sources_patch.failed;

    let sites = v.sites(raw.sites, &global, &global_layer, &sources);
    let server = v.server(raw.server);
    let otlp = v.otlp(raw.otlp);
    let events = v.events(raw.events);
    let traces = v.traces(raw.traces);
    let logging = v.logging(raw.logging);
    let service = v.service(raw.service);
    let sharding = v.sharding(raw.sharding);

    if sources_failed {
        return None;
    }
    let sites = sites?;
    Some(Config {
        shards: ShardPlan::whole(sites.iter().map(|s| s.name.as_str())),
        sites,
        sharding: sharding?,
        server: server?,
        otlp: otlp?,
        events: events?,
        traces: traces?,
        logging: logging?,
        service: service?,
        files: FilesFingerprint::default(),
    })
}
