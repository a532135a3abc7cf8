//! A simulated day of label churn (see `churn_model`): at every step the OTLP push and the
//! bridge carry exactly the current series, and nothing of a removed storage unit, a policy
//! type that no longer appears or a removed site lingers in the SDK. The one exception is
//! documented: the job duration histogram, recorded as jobs finish, keeps a removed site's
//! series in the SDK (never pushed) until a restart.

use std::collections::{BTreeMap, BTreeSet};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use prost::Message as _;

use crate::churn_model::{Day, Estate, STEPS_PER_DAY, values_by_site};
use crate::common::otlp::sorted_labels;
use crate::prometheus::parse_exposition;
use crate::shared_reader::points_by_metric;

/// Label sets of a metric's series.
type Series = Vec<Vec<(String, String)>>;

const HISTOGRAM: &str = "nbu.job.duration.seconds";

/// The series the push carries, by metric, decoded from the encoded requests.
fn pushed(requests: &[nbu_otel::telemetry::split::EncodedRequest]) -> BTreeMap<String, Series> {
    let mut out: BTreeMap<String, Series> = BTreeMap::new();
    for request in requests {
        let request = ExportMetricsServiceRequest::decode(request.to_vec().as_slice())
            .unwrap_or_else(|e| panic!("an encoded request decodes: {e}"));
        for metric in request
            .resource_metrics
            .iter()
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
        {
            let attributes: Vec<_> = match &metric.data {
                Some(Data::Gauge(g)) => g.data_points.iter().map(|p| &p.attributes).collect(),
                Some(Data::Sum(s)) => s.data_points.iter().map(|p| &p.attributes).collect(),
                Some(Data::Histogram(h)) => h.data_points.iter().map(|p| &p.attributes).collect(),
                other => panic!("{}: unexpected data {other:?}", metric.name),
            };
            let series = out.entry(metric.name.clone()).or_default();
            for attributes in attributes {
                series.push(sorted_labels(attributes));
            }
        }
    }
    out
}

#[test]
fn a_day_of_label_churn_leaves_only_the_current_series() {
    let mut day = Day::new(Estate::new(400, 24));
    let mut removed_sites = BTreeSet::new();
    for step in 0..STEPS_PER_DAY {
        let out = day.step(step);
        let sites = day.estate.sites(step);
        if step > 0 {
            removed_sites.extend(
                day.estate
                    .sites(step - 1)
                    .into_iter()
                    .filter(|s| !sites.contains(s)),
            );
        }
        let current =
            |of: &dyn Fn(usize) -> BTreeSet<String>| -> BTreeMap<String, BTreeSet<String>> {
                sites
                    .iter()
                    .enumerate()
                    .map(|(slot, site)| (site.clone(), of(slot)))
                    .collect()
            };
        let units = current(&|slot| day.estate.unit_names(slot, step));
        let policy_types = current(&|slot| day.estate.policy_types(slot, step));

        // The push: the current units and policy types, and only current sites.
        let push = pushed(&out.requests);
        let of =
            |name: &str, label: &str| values_by_site(push[name].iter().map(Vec::as_slice), label);
        assert_eq!(of("nbu.storage_info", "name"), units, "step {step}");
        assert_eq!(
            of("nbu.jobs_count", "policy_type"),
            policy_types,
            "step {step}"
        );
        for (metric, series) in &push {
            for labels in series {
                if let Some((_, site)) = labels.iter().find(|(k, _)| k == "site") {
                    assert!(sites.contains(site), "step {step}: {metric} of {site}");
                }
            }
        }

        // The bridge: the same.
        let families = parse_exposition(&out.exposition);
        let scraped = |name: &str, label: &str| {
            values_by_site(families[name].keys().map(Vec::as_slice), label)
        };
        assert_eq!(scraped("nbu_storage_info", "name"), units, "step {step}");
        assert_eq!(
            scraped("nbu_jobs_count", "policy_type"),
            policy_types,
            "step {step}"
        );
        for (name, family) in &families {
            for labels in family.keys() {
                if let Some((_, site)) = labels.iter().find(|(k, _)| k == "site") {
                    assert!(sites.contains(site), "step {step}: {name} of {site}");
                }
            }
        }

        // The SDK holds what is pushed and nothing more, but for the histogram, which keeps
        // the series of removed sites.
        let held = points_by_metric(&out.collected);
        for (metric, points) in &held {
            let sent = push.get(metric).map_or(0, Vec::len);
            if metric == HISTOGRAM {
                assert!(*points >= sent, "step {step}");
            } else {
                assert_eq!(
                    *points, sent,
                    "step {step}: {metric} holds more than it pushes"
                );
            }
        }
    }
    assert_eq!(
        removed_sites.len(),
        (STEPS_PER_DAY / (6 * 12) - 1) as usize,
        "a site was replaced every six hours"
    );
}
