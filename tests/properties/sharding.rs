//! The assignment of sites to shards (`sharding`), over random site names and shard counts:
//! deterministic and total (every site in exactly one shard of `0..count`), and stable as
//! shards are added (from N to N + 1 shards a site either stays or moves to the new shard,
//! never between old ones).

use nbu_otel::config::shards::shard_of;
use proptest::prelude::*;

use crate::cases;

/// Site names as operators write them: letters, digits, dots, dashes, underscores.
fn site_names() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[a-z][a-z0-9._-]{0,30}", 1..120)
}

proptest! {
    #![proptest_config(cases(300))]

    #[test]
    fn every_site_has_exactly_one_shard_and_always_the_same(
        names in site_names(),
        count in 1u32..64,
    ) {
        for name in &names {
            let shard = shard_of(name, count);
            prop_assert!(shard < count, "{name}: shard {shard} of {count}");
            prop_assert_eq!(shard, shard_of(name, count));
        }
    }

    #[test]
    fn a_new_shard_only_takes_sites_and_the_old_ones_keep_the_rest(
        names in site_names(),
        count in 1u32..64,
    ) {
        for name in &names {
            let before = shard_of(name, count);
            let after = shard_of(name, count + 1);
            prop_assert!(
                after == before || after == count,
                "{name}: from shard {before} of {count} to shard {after} of {}",
                count + 1
            );
        }
    }
}

/// Over many names, the share that moves from N to N + 1 shards is about 1/(N + 1).
#[test]
fn the_share_that_moves_to_a_new_shard_is_about_its_fair_share() {
    let names: Vec<String> = (0..20_000)
        .map(|i| format!("primary-{i:05}.example.com"))
        .collect();
    for count in [1u32, 2, 3, 7, 15] {
        let moved = names
            .iter()
            .filter(|n| shard_of(n, count) != shard_of(n, count + 1))
            .count() as f64
            / names.len() as f64;
        let fair = 1.0 / f64::from(count + 1);
        assert!(
            (moved - fair).abs() < 0.02,
            "{count} -> {}: {moved:.3} moved, {fair:.3} expected",
            count + 1
        );
    }
}
