//! The SLOs of `/servicecatalog/slos`.

use super::draw::{hex, one_of};
use crate::dataset::rng::Draws;

/// The stream of SLO draws.
const SLO: u64 = 0x736c_6f73;

/// An SLO of `/servicecatalog/slos`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Slo {
    /// `id`: a GUID.
    pub id: String,
    /// `name`.
    pub name: String,
    /// `workloadType`.
    pub workload_type: &'static str,
    /// `subscriptionCount`.
    pub subscriptions: u64,
}

/// The workload types of SLOs.
const WORKLOADS: [&str; 10] = [
    "CLOUD",
    "VMWARE",
    "RHV",
    "AHV",
    "SQL_SERVER",
    "KUBERNETES",
    "CASSANDRA",
    "POSTGRESQL",
    "MYSQL",
    "OPENSTACK",
];

/// `count` SLOs, by name descending.
pub(super) fn slos(seed: u64, count: u64) -> Vec<Slo> {
    let mut slos: Vec<Slo> = (0..count)
        .map(|k| {
            let mut d = Draws::new(seed, k, SLO);
            let workload = one_of(&mut d, &WORKLOADS, "VMWARE");
            let id = hex(&mut d, 32);
            let (a, rest) = id.split_at(8);
            let (b, rest) = rest.split_at(4);
            let (c, rest) = rest.split_at(4);
            let (e, f) = rest.split_at(4);
            Slo {
                id: format!("{a}-{b}-{c}-{e}-{f}"),
                name: format!("{}-protection-{k:03}", workload.to_ascii_lowercase()),
                workload_type: workload,
                subscriptions: d.below(60),
            }
        })
        .collect();
    slos.sort_by(|a, b| b.name.cmp(&a.name));
    slos
}
