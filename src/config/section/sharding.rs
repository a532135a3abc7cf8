//! `sharding`: spreading the sites over several replicas of the agent, each collecting its own
//! share. The keys and the reading of `index`; which site goes to which shard is
//! [`shards`](crate::config::shards).

use crate::config::declare::section;
use crate::config::option_types::ShardIndex;
use crate::config::raw::{Scalar, Section};
use crate::config::validate::Validator;

/// The most replicas the sites can be spread over.
pub const MAX_SHARDS: u32 = 1024;

section! {
    /// Sites spread over replicas: every replica has the same configuration and collects only the sites of its shard.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ShardingConfig {
        /// How many replicas share the sites (1 = this agent collects every site).
        count: u32 = 1, parse |v, f, x| v.integer(f, x, 1, MAX_SHARDS, " (replicas)");
        /// This replica's shard, from 0 to `count - 1`; `from_hostname` takes the ordinal that ends the host name (`nbu-otel-2` is shard 2), as a StatefulSet names its pods.
        index: ShardIndex = ShardIndex::Fixed(0), parse shard_index;
    }
    raw RawSharding, patch ShardingPatch;
}

/// `sharding.index`: a number, or `from_hostname`.
fn shard_index(v: &mut Validator<'_>, field: &str, value: Option<Scalar>) -> Option<ShardIndex> {
    if let Some(Scalar::Str(text)) = &value
        && text.trim().eq_ignore_ascii_case("from_hostname")
    {
        return Some(ShardIndex::FromHostname);
    }
    v.integer(
        field,
        value,
        0,
        MAX_SHARDS - 1,
        " (a shard index, or from_hostname)",
    )
    .map(ShardIndex::Fixed)
}

impl Validator<'_> {
    /// The `sharding` section.
    pub(in crate::config) fn sharding(
        &mut self,
        raw: Option<Section<RawSharding>>,
    ) -> Option<ShardingConfig> {
        self.plain_section("sharding", raw, |v, raw| {
            ShardingPatch::read(v, "sharding", raw).apply(&ShardingConfig::default())
        })
    }
}
