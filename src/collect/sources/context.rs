//! What every source shares: the context a collection runs in, the values it produces, and
//! the walk that fills them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::family::Family;
use crate::collect::label::cap_label;
use crate::collect::summary::JobsSummary;
use crate::config::{ClientsConfig, SourceConfig};
use crate::netbackup::resources::{ListQuery, walk_list};
use crate::netbackup::{ApiError, ApiVersion, NetBackupApi, WalkStats};

/// The label pairs of one series, in the order of its family's labels.
pub type Labels = Vec<(&'static str, String)>;

/// What one collection of an opt-in source produced: the series of each of its families.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceValues {
    families: BTreeMap<&'static str, BTreeMap<Labels, f64>>,
    /// Pages read.
    pub pages: u64,
    /// Requests sent, retries included.
    pub requests: u64,
    /// Values skipped or cut because they cannot be right (a count that is not a number, a
    /// label value longer than
    /// [`MAX_LABEL_BYTES`](crate::collect::label::MAX_LABEL_BYTES), cut).
    pub invalid_values: u64,
}

impl SourceValues {
    /// Adds `value` to the series of `family` with the label values `labels` (a new series
    /// starts at 0).
    pub fn add<const N: usize>(
        &mut self,
        family: &'static Family<N>,
        labels: [&str; N],
        value: f64,
    ) {
        let labels = self.owned_labels(&family.labels, labels);
        *self
            .families
            .entry(family.name)
            .or_default()
            .entry(labels)
            .or_insert(0.0) += value;
    }

    /// Sets the series of `family` with the label values `labels` to `value`.
    pub fn set<const N: usize>(
        &mut self,
        family: &'static Family<N>,
        labels: [&str; N],
        value: f64,
    ) {
        let labels = self.owned_labels(&family.labels, labels);
        self.families
            .entry(family.name)
            .or_default()
            .insert(labels, value);
    }

    /// The series of `metric`, in label order.
    pub fn series(&self, metric: &str) -> impl Iterator<Item = (&Labels, f64)> + '_ {
        self.families
            .get(metric)
            .into_iter()
            .flat_map(|series| series.iter().map(|(labels, value)| (labels, *value)))
    }

    /// The number of series of every family together.
    pub fn len(&self) -> usize {
        self.families.values().map(BTreeMap::len).sum()
    }

    /// Whether there is no series at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counts what a walk read.
    pub fn add_walk(&mut self, stats: &WalkStats) {
        self.pages = self.pages.saturating_add(stats.pages);
        self.requests = self.requests.saturating_add(stats.requests);
    }

    fn owned_labels<const N: usize>(
        &mut self,
        keys: &[&'static str; N],
        values: [&str; N],
    ) -> Labels {
        keys.iter()
            .zip(values)
            .map(|(key, value)| {
                let (value, cut) = cap_label(value);
                self.invalid_values += u64::from(cut);
                (*key, value.to_owned())
            })
            .collect()
    }
}

/// What a source needs besides the API: its settings and NetBackup's clock.
#[derive(Debug, Clone)]
pub struct SourceContext {
    /// The source's settings for this site.
    pub config: SourceConfig,
    /// `page[limit]` for list walks.
    pub page_size: u32,
    /// NetBackup's clock (the end of windows), as last read from its `Date` header.
    pub now: DateTime<Utc>,
    /// The client allowlist and cap (the clients source).
    pub clients: ClientsConfig,
    /// The last successful backup (Unix seconds) of clients the job store already covers:
    /// the clients source asks NetBackup only about the others.
    pub covered: BTreeMap<String, f64>,
}

impl SourceContext {
    /// A context for `config`, without client settings or coverage.
    pub fn new(config: SourceConfig, page_size: u32, now: DateTime<Utc>) -> Self {
        Self {
            config,
            page_size,
            now,
            clients: ClientsConfig::default(),
            covered: BTreeMap::new(),
        }
    }
}

impl SourceContext {
    /// The start of the source's window, by NetBackup's clock.
    pub fn window_start(&self) -> DateTime<Utc> {
        let window =
            chrono::Duration::from_std(self.config.window).unwrap_or(chrono::Duration::MAX);
        self.now
            .checked_sub_signed(window)
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

/// The newest successful backup (Unix seconds) of each client whose jobs the job store labels,
/// from a jobs summary: the clients source asks NetBackup only about the others.
pub fn covered_clients(jobs: &JobsSummary) -> BTreeMap<String, f64> {
    let mut covered: BTreeMap<String, f64> = BTreeMap::new();
    for (key, at) in &jobs.client_last_success {
        if key.action == "BACKUP" {
            let newest = covered.entry(key.client.clone()).or_insert(*at);
            *newest = newest.max(*at);
        }
    }
    covered
}

/// Walks `query` to its end, handing each resource to `on_resource` with the values to fill,
/// and counts the walk's pages and requests in `values`.
pub(crate) async fn walk_into<A, F>(
    api: &A,
    version: ApiVersion,
    query: &ListQuery<'_>,
    values: &mut SourceValues,
    mut on_resource: F,
) -> Result<(), ApiError>
where
    A: NetBackupApi,
    F: FnMut(&mut SourceValues, &serde_json::Value),
{
    let stats = walk_list(api, version, query, |resource| {
        on_resource(values, resource)
    })
    .await?;
    values.add_walk(&stats);
    Ok(())
}

/// An OData timestamp literal as the vendor filters take it (`2026-01-02T03:04:05.000Z`).
pub(crate) fn odata_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::label::MAX_LABEL_BYTES;

    #[test]
    fn series_add_up_and_long_labels_are_cut_and_counted() {
        static M: Family<1> = Family {
            name: "m",
            unit: "",
            labels: ["a"],
            description: "",
            float: false,
            legacy: false,
        };
        static N: Family<1> = Family {
            name: "n",
            unit: "",
            labels: ["a"],
            description: "",
            float: false,
            legacy: false,
        };
        let mut v = SourceValues::default();
        v.add(&M, ["x"], 1.0);
        v.add(&M, ["x"], 2.0);
        v.add(&M, ["y"], 1.0);
        let long = "é".repeat(MAX_LABEL_BYTES);
        v.set(&N, [&long], 7.0);
        let m: Vec<(String, f64)> = v.series("m").map(|(l, x)| (l[0].1.clone(), x)).collect();
        assert_eq!(m, [("x".to_owned(), 3.0), ("y".to_owned(), 1.0)]);
        let cut: Vec<usize> = v.series("n").map(|(l, _)| l[0].1.len()).collect();
        assert_eq!(cut, [MAX_LABEL_BYTES]);
        assert_eq!(v.invalid_values, 1);
        assert_eq!(v.len(), 3);
    }
}
