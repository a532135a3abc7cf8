//! Which replica collects which site (`sharding`).
//!
//! Every replica reads the same configuration; each keeps only the sites of its own shard, so
//! every site is collected by exactly one replica. A site's shard comes from rendezvous
//! (highest-random-weight) hashing of its name: each shard gets a weight for the site, and the
//! heaviest shard takes it. The weight depends only on the name and the shard's number, so
//! going from N to N + 1 shards moves only the sites the new shard now outweighs (about
//! 1/(N + 1) of them), and none between the old shards. The hash is fixed here (FNV-1a of the
//! name, mixed with the shard's number by the SplitMix64 finalizer), not the standard
//! library's, so every build and platform agrees on the plan.

use std::collections::HashMap;

use super::error::FieldError;
use super::option_types::ShardIndex;
use super::section::sharding::ShardingConfig;
use super::section::site::SiteConfig;

/// The shard, among `count`, that collects the site named `site` (0 when `count` is 0 or 1).
pub fn shard_of(site: &str, count: u32) -> u32 {
    (0..count.max(1))
        .max_by_key(|&shard| (weight(site, shard), std::cmp::Reverse(shard)))
        .unwrap_or(0)
}

/// The rendezvous weight of `shard` for `site`.
fn weight(site: &str, shard: u32) -> u64 {
    mix(fnv1a(site.as_bytes()) ^ mix(u64::from(shard)))
}

/// FNV-1a, 64 bits.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The SplitMix64 finalizer: every bit of the input moves about half the bits of the output.
fn mix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// This replica's place among the shards, and the shard of every site of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardPlan {
    /// How many replicas share the sites.
    pub count: u32,
    /// This replica's shard.
    pub index: u32,
    /// Every site of the configuration, in file order, with the shard that collects it.
    pub sites: Vec<(String, u32)>,
}

impl ShardPlan {
    /// One shard holding every one of `sites`.
    pub(super) fn whole<'a>(sites: impl Iterator<Item = &'a str>) -> Self {
        ShardPlan {
            count: 1,
            index: 0,
            sites: sites.map(|name| (name.to_owned(), 0)).collect(),
        }
    }

    /// Whether the sites are spread over more than one replica.
    pub fn is_sharded(&self) -> bool {
        self.count > 1
    }

    /// The sites of `shard`, in file order.
    pub fn sites_of(&self, shard: u32) -> impl Iterator<Item = &str> {
        self.sites
            .iter()
            .filter(move |(_, s)| *s == shard)
            .map(|(name, _)| name.as_str())
    }
}

/// Resolves `sharding` with the environment `env` (for the host name): keeps only this
/// shard's sites in `sites` and gives the plan of every site. The error names
/// `sharding.index` and says why.
pub(super) fn assign(
    sharding: &ShardingConfig,
    sites: &mut Vec<SiteConfig>,
    env: &HashMap<String, String>,
) -> Result<ShardPlan, FieldError> {
    let count = sharding.count.max(1);
    let index = match sharding.index {
        ShardIndex::Fixed(index) => index,
        ShardIndex::FromHostname => ordinal_of(&host_name(env))?,
    };
    if index >= count {
        return Err(FieldError::new(
            "sharding.index",
            format!(
                "shard {index} does not exist: sharding.count is {count} (shards 0 to {})",
                count - 1
            ),
        ));
    }
    let plan = ShardPlan {
        count,
        index,
        sites: sites
            .iter()
            .map(|site| (site.name.clone(), shard_of(&site.name, count)))
            .collect(),
    };
    sites.retain(|site| shard_of(&site.name, count) == index);
    Ok(plan)
}

/// The host name: `HOSTNAME` when set (a container's pod name), else the kernel's.
fn host_name(env: &HashMap<String, String>) -> String {
    env.get("HOSTNAME")
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .or_else(crate::host::kernel_host_name)
        .unwrap_or_default()
}

/// The ordinal that ends `host` after its last `-` (`nbu-otel-2`: 2).
fn ordinal_of(host: &str) -> Result<u32, FieldError> {
    host.rsplit_once('-')
        .and_then(|(_, ordinal)| {
            (!ordinal.is_empty() && ordinal.bytes().all(|b| b.is_ascii_digit()))
                .then(|| ordinal.parse::<u32>().ok())
                .flatten()
        })
        .ok_or_else(|| {
            FieldError::new(
                "sharding.index",
                format!(
                    "from_hostname needs a host name that ends in -<ordinal>, as a StatefulSet \
                     names its pods (nbu-otel-2 is shard 2); the host name is {host:?}"
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("site-{i}")).collect()
    }

    #[test]
    fn one_shard_holds_every_site() {
        for name in names(50) {
            assert_eq!(shard_of(&name, 1), 0);
            assert_eq!(shard_of(&name, 0), 0);
        }
    }

    /// The acceptance case: 40 sites over 3 shards, then 4.
    #[test]
    fn from_three_to_four_shards_a_quarter_of_the_sites_move_all_to_the_new_shard() {
        let sites = names(40);
        let three: Vec<u32> = sites.iter().map(|s| shard_of(s, 3)).collect();
        let four: Vec<u32> = sites.iter().map(|s| shard_of(s, 4)).collect();
        for shard in 0..3 {
            assert!(three.contains(&shard), "shard {shard} of 3 holds no site");
        }
        let moved: Vec<_> = three.iter().zip(&four).filter(|(a, b)| a != b).collect();
        for (from, to) in &moved {
            assert_eq!(
                **to, 3,
                "a site moved from shard {from} to the old shard {to}"
            );
        }
        assert!(
            moved.len() * 100 <= 35 * sites.len(),
            "{} of {} sites moved",
            moved.len(),
            sites.len()
        );
    }

    #[test]
    fn the_shards_share_many_sites_about_evenly() {
        let sites = names(10_000);
        let mut per_shard = [0usize; 8];
        for site in &sites {
            per_shard[shard_of(site, 8) as usize] += 1;
        }
        for (shard, n) in per_shard.iter().enumerate() {
            // 1,250 expected; a fair hash stays within a few standard deviations (33).
            assert!((1_100..=1_400).contains(n), "shard {shard}: {n} sites");
        }
    }

    fn load(sites: usize, env: &[(&str, &str)]) -> Result<crate::config::Config, String> {
        let mut yaml = String::from("sites:\n");
        for name in names(sites) {
            yaml.push_str(&format!(
                "  - name: {name}\n    url: https://nbu.example.com/netbackup\n    api_key: k\n"
            ));
        }
        let env = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        crate::config::load_str_with_env(&yaml, std::path::Path::new("."), &env)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_environment_picks_the_shard_and_the_config_keeps_its_sites() {
        let mut seen = Vec::new();
        for index in ["0", "1", "2"] {
            let config = load(
                40,
                &[
                    ("NBU_OTEL_SHARDING__COUNT", "3"),
                    ("NBU_OTEL_SHARDING__INDEX", index),
                ],
            )
            .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(config.shards.sites.len(), 40, "the plan covers every site");
            let own: Vec<&str> = config.sites.iter().map(|s| s.name.as_str()).collect();
            let planned: Vec<&str> = config.shards.sites_of(config.shards.index).collect();
            assert_eq!(own, planned);
            seen.extend(own.iter().map(|s| (*s).to_owned()));
        }
        seen.sort();
        let mut all = names(40);
        all.sort();
        assert_eq!(seen, all, "every site once over the three shards");
    }

    #[test]
    fn from_hostname_reads_the_pods_ordinal() {
        let env = [
            ("NBU_OTEL_SHARDING__COUNT", "4"),
            ("NBU_OTEL_SHARDING__INDEX", "from_hostname"),
            ("HOSTNAME", "nbu-otel-3"),
        ];
        let config = load(40, &env).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.shards.index, 3);
        assert_eq!(config.sharding.index, ShardIndex::FromHostname);
        let bad = load(
            40,
            &[
                ("NBU_OTEL_SHARDING__INDEX", "from_hostname"),
                ("NBU_OTEL_SHARDING__COUNT", "4"),
                ("HOSTNAME", "backup-host"),
            ],
        );
        let e = bad.err().unwrap_or_default();
        assert!(
            e.contains("sharding.index") && e.contains("backup-host"),
            "{e}"
        );
    }

    #[test]
    fn a_shard_beyond_the_count_is_refused_naming_the_field() {
        let e = load(
            3,
            &[
                ("NBU_OTEL_SHARDING__COUNT", "3"),
                ("NBU_OTEL_SHARDING__INDEX", "3"),
            ],
        )
        .err()
        .unwrap_or_default();
        assert!(
            e.contains("sharding.index") && e.contains("sharding.count is 3"),
            "{e}"
        );
        let e = load(3, &[("NBU_OTEL_SHARDING__COUNT", "0")])
            .err()
            .unwrap_or_default();
        assert!(e.contains("sharding.count"), "{e}");
        let e = load(3, &[("NBU_OTEL_SHARDING__INDEX", "first")])
            .err()
            .unwrap_or_default();
        assert!(e.contains("sharding.index"), "{e}");
    }

    #[test]
    fn the_ordinal_ends_the_host_name() {
        assert_eq!(ordinal_of("nbu-otel-2").ok(), Some(2));
        assert_eq!(ordinal_of("nbu-otel-shards-17").ok(), Some(17));
        for bad in ["nbu-otel", "nbu-otel-", "nbu-otel-2a", "", "99999999999-x"] {
            let e = ordinal_of(bad)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                e.contains("sharding.index") && e.contains("-<ordinal>"),
                "{bad}: {e}"
            );
        }
    }
}
