//! The opt-in sources: which exist, their defaults, and the `sources` section that switches them
//! on (globally, and per site under `sites[i].sources`), with its rules: known sources only, an
//! interval of at least [`MIN_SOURCE_INTERVAL`] (and at most 7 days), a window only where the source counts over
//! one, and the client allowlist only on `clients`.
//!
//! ```yaml
//! sources:
//!   alerts:  { enabled: true, interval: 5m, window: 24h }
//!   tape:    { enabled: true }
//! sites:
//!   - name: lab
//!     sources:
//!       tape: { enabled: false }   # this site has no tape library
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::declare::{KeyDoc, section};
use crate::config::raw::{List, Scalar, Section};
use crate::config::validate::scalar::{self, Within, days, mins};
use crate::config::validate::{Validator, join};

/// An opt-in source: a group of metric families read from one or a few endpoints, switched on
/// and scheduled on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceId {
    /// `/manage/alerts`: alerts by severity and category, created within a window.
    Alerts,
    /// `/malware/latest-scan-results`: the latest malware scan of each asset.
    Malware,
    /// `/catalog/images`: backup images by malware and anomaly status, within a window.
    Catalog,
    /// `/servicecatalog/slos`: protection plans (service level objectives).
    Slo,
    /// `/storage/drives`, `/storage/tape-media`, `/storage/robots-device-hosts`,
    /// `/storage/tape-volume-pools`, `/storage/disk-pools`.
    Tape,
    /// Per-client families of allowlisted clients: from the job store, and one narrow
    /// `/admin/jobs` query per client for the last successful backup.
    Clients,
}

/// The facts of one source the configuration holds.
struct SourceSpec {
    /// The name under `sources` and in the `source` label.
    name: &'static str,
    /// The interval unless configured.
    interval: Duration,
    /// The window unless configured; `None` for a source that counts over none.
    window: Option<Duration>,
    /// The Go `nbu_exporter`'s collector it replaces (`migrate`).
    go_collector: &'static str,
}

/// One row per source, in the order of [`SourceId`]: the one place a source's name and
/// defaults are written.
const SOURCE_SPECS: [SourceSpec; 6] = [
    SourceSpec {
        name: "alerts",
        interval: mins(5),
        window: Some(Duration::from_secs(24 * 3600)),
        go_collector: "alerts",
    },
    SourceSpec {
        name: "malware",
        interval: mins(15),
        window: None,
        go_collector: "malware",
    },
    SourceSpec {
        name: "catalog",
        interval: mins(15),
        window: Some(Duration::from_secs(24 * 3600)),
        go_collector: "catalog",
    },
    SourceSpec {
        name: "slo",
        interval: mins(15),
        window: None,
        go_collector: "slo",
    },
    SourceSpec {
        name: "tape",
        interval: mins(5),
        window: None,
        go_collector: "tape",
    },
    SourceSpec {
        name: "clients",
        interval: mins(5),
        window: None,
        go_collector: "perClient",
    },
];

impl SourceId {
    /// Every opt-in source, in the order they are reported.
    pub const ALL: [SourceId; 6] = [
        SourceId::Alerts,
        SourceId::Malware,
        SourceId::Catalog,
        SourceId::Slo,
        SourceId::Tape,
        SourceId::Clients,
    ];

    /// What the configuration knows of the source: its row of [`SOURCE_SPECS`].
    fn spec(self) -> &'static SourceSpec {
        &SOURCE_SPECS[self as usize]
    }

    /// The name in the configuration and in the `source` label.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The source of that name.
    pub fn from_name(name: &str) -> Option<SourceId> {
        SourceId::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The source the Go `nbu_exporter`'s collector `key` became (`collectors.<key>`, matched
    /// without regard to case).
    pub fn from_go_collector(key: &str) -> Option<SourceId> {
        SourceId::ALL
            .into_iter()
            .find(|s| s.spec().go_collector.eq_ignore_ascii_case(key))
    }

    /// How often the source is collected unless configured.
    pub fn default_interval(self) -> Duration {
        self.spec().interval
    }

    /// The look-back window of sources that count over one (alerts by `createdDateTime`,
    /// catalog images by `backupTime`); `None` for the others.
    pub fn default_window(self) -> Option<Duration> {
        self.spec().window
    }

    /// The keys of `sources.<name>` this source takes, with its defaults, as the option
    /// reference shows them: a window only where the source counts over one, the client keys
    /// only on `clients`.
    pub(in crate::config) fn keys(self) -> Vec<KeyDoc> {
        let mut keys = self.default_config().rows_with();
        let typed: Vec<&str> = keys.iter().map(|k| k.key).collect();
        keys.retain(|k| k.key != "window" || self.default_window().is_some());
        if self == SourceId::Clients {
            let rule_keys: Vec<KeyDoc> = SourceConfig::keys()
                .into_iter()
                .filter(|k| !typed.contains(&k.key))
                .collect();
            keys.extend(rule_keys);
        }
        keys
    }

    /// The settings of a source nobody configured: off, default interval and window.
    pub fn default_config(self) -> SourceConfig {
        SourceConfig {
            enabled: false,
            interval: self.default_interval(),
            window: self.default_window().unwrap_or(Duration::ZERO),
        }
    }
}

impl std::fmt::Display for SourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Shortest interval of an opt-in source: these families move slowly, and NetBackup should not
/// be asked for them as often as for jobs.
pub const MIN_SOURCE_INTERVAL: Duration = Duration::from_secs(10);

/// The range of `sources.<name>.interval`.
const SOURCE_INTERVAL: Within = Within::between(MIN_SOURCE_INTERVAL, days(7))
    .because("these families change slowly, and NetBackup should not be asked for them more often");

section! {
    /// The settings of one opt-in source.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct SourceConfig {
        /// Collected at all (off by default).
        enabled: bool, parse scalar::boolean;
        /// How often it is collected; its data counts as stale after three intervals.
        interval: Duration, within SOURCE_INTERVAL;
        /// The look-back window of the sources that count over one (alerts, catalog); zero for
        /// the others.
        window: Duration, within Within::between(mins(1), days(366));
    }
    raw RawSource, patch SourcePatch;
    keys {
        /// Exact client names and `*`/`?` patterns the per-client families cover (`clients`
        /// only).
        allowlist: List<Scalar> => "[]";
        /// At most this many clients are covered (`clients` only).
        max_clients: Scalar => DEFAULT_MAX_CLIENTS;
    }
}

impl crate::config::declare::RawLeaf for Section<BTreeMap<String, Section<RawSource>>> {
    const SHAPE: crate::config::declare::Shape = crate::config::declare::Shape::Section;
}

/// The settings of every opt-in source for one site (the global ones with the site's
/// overrides applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcesConfig {
    pub(in crate::config) settings: BTreeMap<SourceId, SourceConfig>,
    /// Which clients the per-client families cover.
    pub clients: ClientsConfig,
}

impl Default for SourcesConfig {
    fn default() -> Self {
        Self {
            settings: SourceId::ALL
                .into_iter()
                .map(|id| (id, id.default_config()))
                .collect(),
            clients: ClientsConfig::default(),
        }
    }
}

/// Default cap on the clients the per-client families cover.
pub const DEFAULT_MAX_CLIENTS: u32 = 500;

/// The clients of the per-client families: an allowlist of exact names and `*`/`?` patterns,
/// and a hard cap on how many clients are covered (each client is several series).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientsConfig {
    /// Names and patterns, as written.
    pub allowlist: Vec<ClientPattern>,
    /// At most this many clients are covered; the others are counted and logged.
    pub max_clients: u32,
}

impl Default for ClientsConfig {
    fn default() -> Self {
        Self {
            allowlist: Vec::new(),
            max_clients: DEFAULT_MAX_CLIENTS,
        }
    }
}

impl ClientsConfig {
    /// Whether `client` is in the allowlist (exact names match case-sensitively, as NetBackup
    /// names them).
    pub fn allows(&self, client: &str) -> bool {
        self.allowlist.iter().any(|p| p.matches(client))
    }

    /// The exact names of the allowlist (the clients one narrow query each can ask about).
    pub fn exact_names(&self) -> impl Iterator<Item = &str> {
        self.allowlist.iter().filter_map(|p| match p {
            ClientPattern::Exact(name) => Some(name.as_str()),
            ClientPattern::Wildcard(_) => None,
        })
    }
}

/// One entry of the client allowlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientPattern {
    /// A client name, matched exactly.
    Exact(String),
    /// A pattern where `*` matches any run of characters and `?` one character.
    Wildcard(String),
}

impl ClientPattern {
    /// The entry as written: a pattern when it holds `*` or `?`, else an exact name.
    pub fn parse(text: &str) -> Self {
        if text.contains(['*', '?']) {
            ClientPattern::Wildcard(text.to_owned())
        } else {
            ClientPattern::Exact(text.to_owned())
        }
    }

    /// Whether `client` matches.
    pub fn matches(&self, client: &str) -> bool {
        match self {
            ClientPattern::Exact(name) => name == client,
            ClientPattern::Wildcard(pattern) => wildcard_match(pattern, client),
        }
    }
}

/// `*`/`?` matching in linear time (the classic greedy match with one backtrack point).
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((star_p, star_t)) = star {
            pi = star_p + 1;
            ti = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

impl SourcesConfig {
    /// The settings of `id`.
    pub fn get(&self, id: SourceId) -> SourceConfig {
        self.settings
            .get(&id)
            .copied()
            .unwrap_or_else(|| id.default_config())
    }

    /// The enabled sources with their settings.
    pub fn enabled(&self) -> impl Iterator<Item = (SourceId, SourceConfig)> + '_ {
        self.settings
            .iter()
            .filter(|(_, c)| c.enabled)
            .map(|(id, c)| (*id, *c))
    }
}

/// The settings a `sources` section gives, each `None` when not given.
#[derive(Debug, Default)]
pub(in crate::config) struct SourcesPatch {
    given: BTreeMap<SourceId, SourcePatch>,
    allowlist: Option<Vec<ClientPattern>>,
    max_clients: Option<u32>,
    /// Some value was invalid (and reported).
    pub failed: bool,
}

impl SourcesPatch {
    /// `base` with the values of this section applied.
    pub(in crate::config) fn apply(&self, base: &SourcesConfig) -> SourcesConfig {
        let mut out = base.clone();
        for (id, patch) in &self.given {
            out.settings.insert(*id, patch.apply(&base.get(*id)));
        }
        if let Some(allowlist) = &self.allowlist {
            out.clients.allowlist = allowlist.clone();
        }
        if let Some(max) = self.max_clients {
            out.clients.max_clients = max;
        }
        out
    }
}

impl Validator<'_> {
    /// Reads a `sources` section at `path` (`sources` or `sites[i].sources`).
    pub(in crate::config) fn sources_patch(
        &mut self,
        path: &str,
        raw: Option<Section<BTreeMap<String, Section<RawSource>>>>,
    ) -> SourcesPatch {
        let before = self.error_count();
        let mut patch = SourcesPatch::default();
        if let Some(map) = self.section(path, raw) {
            for (name, raw) in map {
                let field = join(path, &name);
                let Some(id) = SourceId::from_name(&name) else {
                    let known: Vec<&str> = SourceId::ALL.iter().map(|s| s.name()).collect();
                    self.err(
                        field,
                        format!("unknown source; known sources: {}", known.join(", ")),
                    );
                    continue;
                };
                let Some(mut raw) = self.section(&field, Some(raw)) else {
                    continue;
                };
                let source = SourcePatch::read(self, &field, &mut raw);
                if source.window.is_some() && id.default_window().is_none() {
                    self.err(
                        join(&field, "window"),
                        format!(
                            "the {name} source counts everything NetBackup holds; only alerts \
                             and catalog take a window"
                        ),
                    );
                }
                for (key, given) in [
                    ("allowlist", raw.allowlist.is_some()),
                    ("max_clients", raw.max_clients.is_some()),
                ] {
                    if given && id != SourceId::Clients {
                        self.err(join(&field, key), "only the clients source takes this key");
                    }
                }
                if id == SourceId::Clients {
                    patch.allowlist = self.allowlist(&join(&field, "allowlist"), raw.allowlist);
                    patch.max_clients = self.integer(
                        &join(&field, "max_clients"),
                        raw.max_clients,
                        1,
                        100_000,
                        " (each client is several series)",
                    );
                }
                patch.given.insert(id, source);
            }
        }
        patch.failed = self.error_count() > before;
        patch
    }

    /// `sources.clients.allowlist`: a list of non-empty names or patterns.
    fn allowlist(&mut self, field: &str, raw: Option<List<Scalar>>) -> Option<Vec<ClientPattern>> {
        let items = match raw? {
            List::Items(items) => items,
            List::NotAList(message) => {
                self.err(field, message);
                return None;
            }
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let item_field = format!("{field}[{i}]");
            match self
                .text(&item_field, Some(item))
                .map(|t| t.trim().to_owned())
            {
                Some(text) if !text.is_empty() => out.push(ClientPattern::parse(&text)),
                Some(_) => self.err(item_field, "a client name or pattern must not be empty"),
                None => {}
            }
        }
        Some(out)
    }
}

impl crate::config::declare::EqWithSecrets for SourcesConfig {
    fn eq_with_secrets(&self, other: &Self) -> bool {
        self == other
    }
}

#[cfg(test)]
impl SourcesConfig {
    /// These settings with `id` switched on or off (the other settings unchanged).
    pub fn with_enabled(mut self, id: SourceId, enabled: bool) -> Self {
        let mut config = self.get(id);
        config.enabled = enabled;
        self.settings.insert(id, config);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_source_reads_its_own_row() {
        let rows: Vec<(&str, u64, Option<u64>)> = SourceId::ALL
            .iter()
            .map(|id| {
                let window = id.default_window().map(|w| w.as_secs());
                (id.name(), id.default_interval().as_secs(), window)
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("alerts", 300, Some(86_400)),
                ("malware", 900, None),
                ("catalog", 900, Some(86_400)),
                ("slo", 900, None),
                ("tape", 300, None),
                ("clients", 300, None),
            ]
        );
        assert_eq!(
            SourceId::from_go_collector("PERCLIENT"),
            Some(SourceId::Clients)
        );
        assert_eq!(
            SourceId::from_go_collector("alerts"),
            Some(SourceId::Alerts)
        );
        assert_eq!(SourceId::from_go_collector("jobs"), None);
    }

    #[test]
    fn names_round_trip_and_defaults_are_off() {
        for id in SourceId::ALL {
            assert_eq!(SourceId::from_name(id.name()), Some(id));
            let c = SourcesConfig::default().get(id);
            assert!(!c.enabled, "{id} must be off by default");
            assert!(c.interval >= MIN_SOURCE_INTERVAL);
        }
        assert_eq!(SourceId::from_name("perclient"), None);
    }

    #[test]
    fn client_patterns_match_names_and_wildcards() {
        let p = ClientPattern::parse;
        assert!(p("db01").matches("db01"));
        assert!(!p("db01").matches("DB01"), "names are case-sensitive");
        assert!(!p("db0").matches("db01"));
        assert!(p("db*").matches("db01.example.com"));
        assert!(p("*.prod").matches("web.prod"));
        assert!(!p("*.prod").matches("web.prod.old"));
        assert!(p("web-??").matches("web-07"));
        assert!(!p("web-??").matches("web-7"));
        assert!(p("*").matches(""));
        assert!(p("a*b*c").matches("aXXbYYc"));
        assert!(!p("a*b*c").matches("aXXbYY"));
        let long = "a".repeat(10_000);
        assert!(!p("*a*a*a*b").matches(&long), "no exponential backtracking");
    }

    #[test]
    fn a_patch_changes_only_what_it_gives() {
        let mut patch = SourcesPatch::default();
        patch.given.insert(
            SourceId::Tape,
            SourcePatch {
                enabled: Some(true),
                ..SourcePatch::default()
            },
        );
        let global = SourcesConfig::default().with_enabled(SourceId::Alerts, true);
        let site = patch.apply(&global);
        assert!(site.get(SourceId::Tape).enabled);
        assert!(site.get(SourceId::Alerts).enabled);
        assert_eq!(
            site.get(SourceId::Tape).interval,
            SourceId::Tape.default_interval()
        );
        let enabled: Vec<SourceId> = site.enabled().map(|(id, _)| id).collect();
        assert_eq!(enabled, [SourceId::Alerts, SourceId::Tape]);
    }
}
