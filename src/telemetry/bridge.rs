//! The Prometheus compatibility bridge: the legacy `nbu_exporter` exposition, text format
//! 0.0.4, rendered straight from the published snapshots and the agent's counters.
//!
//! Every catalog instrument is exposed under its name with dots turned into underscores
//! (counters get `_total`), labels sorted by name, families sorted by name: the exposition
//! the OpenTelemetry Prometheus exporter gave, without going through the SDK. The golden files
//! `tests/golden/*.prom` pin it for a healthy run, a failing storage source and an old API
//! version (`tests/it/golden.rs`).
//!
//! Work is done once per change, not once per scrape. The gauges of a site are rendered when
//! its snapshot changes (a new one is published, or a source goes stale); a counter family is
//! rendered when it moved; the exposition is the list of those parts, in order, taken anew
//! when any of them changed, and its gzip is compressed at most once. A scrape of unchanged
//! data only compares version numbers and hands out the cached gzip, or copies the parts
//! into one body. Rendering is single-flight: concurrent scrapers wait for the one rendering
//! and share it.
//!
//! The text is held once, as the parts: the exposition refers to them and the plain body
//! exists only while a response carries it (with many sites the text is ~100 bytes a series,
//! tens of MB, and a site's new snapshot changes the exposition at almost every scrape).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;

use super::catalog::{BUILD_INFO, CATALOG, DURATION_BUCKETS, JOB_DURATION, Kind, MetricDef, Value};
use super::counter_store::{COUNTERS, CounterStore, Family};
use super::instruments::SnapshotStore;
use crate::collect::SiteSnapshot;

/// Content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One rendered exposition: the parts of the text, in order (shared with the bridge's
/// cache, not copied), and, once asked for, its gzip.
#[derive(Debug)]
pub struct Rendered {
    parts: Vec<Bytes>,
    len: usize,
    gzip: OnceLock<Bytes>,
}

impl Rendered {
    /// The text exposition, copied from its parts into one body for the caller (nothing
    /// keeps it: it lives as long as the response that carries it).
    pub fn body(&self) -> Bytes {
        let mut body = Vec::with_capacity(self.len);
        for part in &self.parts {
            body.extend_from_slice(part);
        }
        Bytes::from(body)
    }

    /// The length of the text exposition in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the exposition is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The text exposition compressed with gzip (compressed on the first call only).
    pub fn gzip(&self) -> Bytes {
        self.gzip
            .get_or_init(|| {
                let mut encoder = flate2::write::GzEncoder::new(
                    Vec::with_capacity(self.len / 8),
                    flate2::Compression::fast(),
                );
                // Writing into a Vec cannot fail.
                for part in &self.parts {
                    let _ = encoder.write_all(part);
                }
                let mut gzip = encoder.finish().unwrap_or_default();
                gzip.shrink_to_fit();
                Bytes::from(gzip)
            })
            .clone()
    }
}

/// Text as shared bytes, without the spare capacity its growth left.
fn frozen(mut text: String) -> Bytes {
    text.shrink_to_fit();
    Bytes::from(text)
}

/// The bridge: renders the exposition of the latest snapshots and counters, cached until they
/// change. Clones share the cache.
#[derive(Debug, Clone)]
pub struct PrometheusBridge {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: SnapshotStore,
    counters: Arc<CounterStore>,
    families: Vec<FamilyDef>,
    cache: Mutex<Cache>,
    renders: AtomicU64,
}

/// Where a family's samples come from.
#[derive(Debug, Clone, Copy)]
enum Origin {
    /// A catalog gauge read from each site's snapshot; the index among `gauges`.
    Gauge(usize),
    /// A counter of the counter store; the index among `COUNTERS`.
    Counter(usize),
    /// The job duration histogram of the counter store.
    Histogram,
    /// The constant build info series.
    BuildInfo,
}

#[derive(Debug)]
struct FamilyDef {
    name: String,
    header: Bytes,
    origin: Origin,
}

/// What the gauges of one site were rendered from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SiteKey {
    version: u64,
    jobs_current: bool,
    storage_current: bool,
}

#[derive(Debug)]
struct SiteParts {
    key: SiteKey,
    /// Samples per gauge family, in the order of `gauge_defs()`.
    parts: Vec<Bytes>,
}

#[derive(Debug, Default)]
struct Cache {
    sites: BTreeMap<String, SiteParts>,
    /// Per counter family: the generation rendered and its samples.
    counters: Vec<Option<(u64, Bytes)>>,
    histogram: Option<(u64, Bytes)>,
    build_info: Bytes,
    full: Option<(FullKey, Arc<Rendered>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct FullKey {
    sites: Vec<(String, SiteKey)>,
    counters: Vec<u64>,
    histogram: u64,
}

/// The catalog gauges that are read from snapshots, in catalog order.
fn gauge_defs() -> impl Iterator<Item = &'static MetricDef> {
    CATALOG
        .iter()
        .filter(|m| m.kind == Kind::Gauge && m.reads_snapshots())
}

fn def(name: &str) -> Option<&'static MetricDef> {
    CATALOG.iter().find(|m| m.name == name)
}

fn header(name: &str, help: &str, kind: &str) -> Bytes {
    let mut out = String::new();
    if !help.is_empty() {
        out.push_str("# HELP ");
        out.push_str(name);
        out.push(' ');
        escape_into(&mut out, help, false);
        out.push('\n');
    }
    let _ = writeln!(out, "# TYPE {name} {kind}");
    frozen(out)
}

impl PrometheusBridge {
    /// A bridge over `store` (the gauges) and `counters` (counters and the duration histogram).
    pub fn new(store: SnapshotStore, counters: Arc<CounterStore>) -> Self {
        let mut families = Vec::new();
        for (i, m) in gauge_defs().enumerate() {
            families.push(FamilyDef {
                name: m.prometheus_name(),
                header: header(&m.prometheus_name(), m.description, "gauge"),
                origin: Origin::Gauge(i),
            });
        }
        for (i, (name, _)) in COUNTERS.iter().enumerate() {
            if let Some(m) = def(name) {
                families.push(FamilyDef {
                    name: m.prometheus_name(),
                    header: header(&m.prometheus_name(), m.description, "counter"),
                    origin: Origin::Counter(i),
                });
            }
        }
        for (name, kind, origin) in [
            (JOB_DURATION, "histogram", Origin::Histogram),
            (BUILD_INFO, "gauge", Origin::BuildInfo),
        ] {
            if let Some(m) = def(name) {
                families.push(FamilyDef {
                    name: m.prometheus_name(),
                    header: header(&m.prometheus_name(), m.description, kind),
                    origin,
                });
            }
        }
        families.sort_by(|a, b| a.name.cmp(&b.name));
        let mut build_info = String::new();
        write_sample(
            &mut build_info,
            &BUILD_INFO.replace('.', "_"),
            "",
            &[
                ("rustversion", env!("NBU_OTEL_RUSTC_VERSION")),
                ("version", env!("CARGO_PKG_VERSION")),
            ],
            None,
            1.0,
        );
        Self {
            inner: Arc::new(Inner {
                store,
                counters,
                families,
                cache: Mutex::new(Cache {
                    counters: vec![None; COUNTERS.len()],
                    build_info: frozen(build_info),
                    ..Cache::default()
                }),
                renders: AtomicU64::new(0),
            }),
        }
    }

    /// The current exposition: the cached one when nothing changed since it was rendered,
    /// else a new one (rendering only the parts that changed).
    pub fn render(&self) -> Arc<Rendered> {
        let inner = &*self.inner;
        let snapshots = inner.store.all_versioned();
        let key = FullKey {
            sites: snapshots
                .iter()
                .map(|(version, s)| (s.site.clone(), site_key(*version, s)))
                .collect(),
            counters: COUNTERS
                .iter()
                .map(|(_, f)| f(&inner.counters).generation())
                .collect(),
            histogram: inner.counters.job_duration.generation(),
        };
        let mut cache = inner.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((k, rendered)) = &cache.full
            && *k == key
        {
            return rendered.clone();
        }
        inner.renders.fetch_add(1, Ordering::Relaxed);
        let cache = &mut *cache;
        // Gauges: re-render the sites whose snapshot or staleness changed; forget removed ones.
        cache
            .sites
            .retain(|site, _| key.sites.iter().any(|(s, _)| s == site));
        for ((_, snapshot), (_, site_key)) in snapshots.iter().zip(&key.sites) {
            let fresh = cache
                .sites
                .get(&snapshot.site)
                .is_some_and(|p| p.key == *site_key);
            if !fresh {
                cache.sites.insert(
                    snapshot.site.clone(),
                    SiteParts {
                        key: *site_key,
                        parts: render_site(snapshot),
                    },
                );
            }
        }
        // Counters and the histogram: re-render the families that moved.
        for (i, (_, family)) in COUNTERS.iter().enumerate() {
            let generation = key.counters[i];
            if cache.counters[i]
                .as_ref()
                .is_none_or(|(g, _)| *g != generation)
            {
                let name = inner
                    .families
                    .iter()
                    .find(|f| matches!(f.origin, Origin::Counter(j) if j == i))
                    .map_or_else(String::new, |f| f.name.clone());
                cache.counters[i] = Some((
                    generation,
                    frozen(render_counter(&name, family(&inner.counters))),
                ));
            }
        }
        if cache
            .histogram
            .as_ref()
            .is_none_or(|(g, _)| *g != key.histogram)
        {
            cache.histogram = Some((
                key.histogram,
                frozen(render_histogram(
                    &JOB_DURATION.replace('.', "_"),
                    &inner.counters.job_duration,
                )),
            ));
        }
        let parts = assemble(&inner.families, cache);
        let rendered = Arc::new(Rendered {
            len: parts.iter().map(Bytes::len).sum(),
            parts,
            gzip: OnceLock::new(),
        });
        cache.full = Some((key, rendered.clone()));
        rendered
    }

    /// How many times the body was assembled anew (scrapes served from the cache do not
    /// count): lets operators and tests see that unchanged data is not rendered again.
    pub fn renders(&self) -> u64 {
        self.inner.renders.load(Ordering::Relaxed)
    }
}

fn site_key(version: u64, s: &SiteSnapshot) -> SiteKey {
    SiteKey {
        version,
        jobs_current: s.current_jobs().is_some(),
        storage_current: s.current_storage().is_some(),
    }
}

/// Most labels a catalog series has, `site` included.
const MAX_LABELS: usize = 12;

/// The samples of every gauge family for one site.
fn render_site(snapshot: &SiteSnapshot) -> Vec<Bytes> {
    let site = snapshot.site.as_str();
    gauge_defs()
        .map(|m| {
            let mut out = String::new();
            let name = m.prometheus_name();
            if m.reads_snapshots() {
                m.read_series(snapshot, &mut |labels, value| {
                    let v = match value {
                        Value::U64(v) => v.min(i64::MAX as u64) as f64,
                        Value::F64(v) => v,
                        Value::Histogram(_) => return,
                    };
                    // Labels on the stack: no allocation per sample.
                    let mut pairs = [("", ""); MAX_LABELS];
                    let n = (labels.len() + 1).min(MAX_LABELS);
                    pairs[0] = ("site", site);
                    for (slot, pair) in pairs[1..n].iter_mut().zip(labels) {
                        *slot = *pair;
                    }
                    let pairs = &mut pairs[..n];
                    pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
                    write_sample(&mut out, &name, "", pairs, None, v);
                });
            }
            frozen(out)
        })
        .collect()
}

/// Label pairs of a counter store series, sorted by name.
fn sorted_pairs<'a>(
    names: &'static [&'static str],
    values: &'a [Arc<str>],
) -> Vec<(&'static str, &'a str)> {
    let mut pairs: Vec<(&str, &str)> = names
        .iter()
        .copied()
        .zip(values.iter().map(|v| &**v))
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    pairs
}

fn render_counter(name: &str, family: &Family<u64>) -> String {
    let mut out = String::new();
    family.for_each(|values, v| {
        let pairs = sorted_pairs(family.labels, values);
        write_sample(
            &mut out,
            name,
            "",
            &pairs,
            None,
            (*v).min(i64::MAX as u64) as f64,
        );
    });
    out
}

fn render_histogram(
    name: &str,
    family: &Family<crate::collect::summary::DurationHistogram>,
) -> String {
    let mut out = String::new();
    let bounds: Vec<String> = DURATION_BUCKETS.iter().map(|b| b.to_string()).collect();
    family.for_each(|values, h| {
        let pairs = sorted_pairs(family.labels, values);
        let mut cumulative = 0u64;
        for (bound, count) in bounds.iter().zip(&h.bucket_counts) {
            cumulative += count;
            write_sample(
                &mut out,
                name,
                "_bucket",
                &pairs,
                Some(("le", bound)),
                cumulative as f64,
            );
        }
        write_sample(
            &mut out,
            name,
            "_bucket",
            &pairs,
            Some(("le", "+Inf")),
            h.count as f64,
        );
        write_sample(&mut out, name, "_sum", &pairs, None, h.sum);
        write_sample(&mut out, name, "_count", &pairs, None, h.count as f64);
    });
    out
}

/// The whole body as parts: every family with samples, in name order, its header first
/// (references to the cached parts, nothing copied).
fn assemble(families: &[FamilyDef], cache: &Cache) -> Vec<Bytes> {
    let mut out = Vec::new();
    for family in families {
        let parts: Vec<&Bytes> = match family.origin {
            Origin::Gauge(i) => cache
                .sites
                .values()
                .filter_map(|s| s.parts.get(i))
                .filter(|p| !p.is_empty())
                .collect(),
            Origin::Counter(i) => cache.counters[i].iter().map(|(_, s)| s).collect(),
            Origin::Histogram => cache.histogram.iter().map(|(_, s)| s).collect(),
            Origin::BuildInfo => vec![&cache.build_info],
        };
        if parts.iter().all(|p| p.is_empty()) {
            continue;
        }
        out.push(family.header.clone());
        out.extend(parts.into_iter().filter(|p| !p.is_empty()).cloned());
    }
    out.shrink_to_fit();
    out
}

/// Appends one sample line: `name{labels} value`.
fn write_sample(
    out: &mut String,
    name: &str,
    suffix: &str,
    pairs: &[(&str, &str)],
    extra: Option<(&str, &str)>,
    value: f64,
) {
    out.push_str(name);
    out.push_str(suffix);
    let mut separator = '{';
    for (k, v) in pairs.iter().chain(extra.as_ref()) {
        out.push(separator);
        out.push_str(k);
        out.push_str("=\"");
        escape_into(out, v, true);
        out.push('"');
        separator = ',';
    }
    if separator == ',' {
        out.push('}');
    }
    out.push(' ');
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{value}");
    }
    out.push('\n');
}

/// Escapes `\`, newlines and (in label values) `"`, as the text format requires.
fn escape_into(out: &mut String, v: &str, quotes: bool) {
    if !v.contains(['\\', '\n', '"']) {
        out.push_str(v);
        return;
    }
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quotes => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut out = String::new();
        write_sample(
            &mut out,
            "m",
            "",
            &[("a", "x\"y\\z\nw")],
            Some(("le", "+Inf")),
            f64::INFINITY,
        );
        assert_eq!(out, "m{a=\"x\\\"y\\\\z\\nw\",le=\"+Inf\"} +Inf\n");
        let mut help = String::new();
        escape_into(&mut help, "a \"b\"\\\n", false);
        assert_eq!(help, "a \"b\"\\\\\\n");
    }

    #[test]
    fn every_catalog_series_fits_the_label_slots() {
        assert!(CATALOG.iter().all(|m| m.labels.len() < MAX_LABELS));
    }

    #[test]
    fn samples_without_labels_have_no_braces() {
        let mut out = String::new();
        write_sample(&mut out, "m", "_sum", &[], None, 1.5);
        write_sample(&mut out, "m", "", &[], None, 3.0);
        assert_eq!(out, "m_sum 1.5\nm 3\n");
    }
}
