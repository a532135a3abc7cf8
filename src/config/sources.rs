//! The opt-in sources: which exist, their defaults, and the `sources` section that switches them
//! on (globally, and per site under `sites[i].sources`).
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

use super::schema::SourceConfig;

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

    /// The name in the configuration and in the `source` label.
    pub fn name(self) -> &'static str {
        match self {
            SourceId::Alerts => "alerts",
            SourceId::Malware => "malware",
            SourceId::Catalog => "catalog",
            SourceId::Slo => "slo",
            SourceId::Tape => "tape",
            SourceId::Clients => "clients",
        }
    }

    /// The source of that name.
    pub fn from_name(name: &str) -> Option<SourceId> {
        SourceId::ALL.into_iter().find(|s| s.name() == name)
    }

    /// How often the source is collected unless configured.
    pub fn default_interval(self) -> Duration {
        match self {
            SourceId::Alerts | SourceId::Tape | SourceId::Clients => Duration::from_secs(5 * 60),
            SourceId::Malware | SourceId::Catalog | SourceId::Slo => Duration::from_secs(15 * 60),
        }
    }

    /// The look-back window of sources that count over one (alerts by `createdDateTime`,
    /// catalog images by `backupTime`); `None` for the others.
    pub fn default_window(self) -> Option<Duration> {
        match self {
            SourceId::Alerts | SourceId::Catalog => Some(Duration::from_secs(24 * 3600)),
            SourceId::Malware | SourceId::Slo | SourceId::Tape | SourceId::Clients => None,
        }
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

    /// These settings with `id` switched on or off (the other settings unchanged).
    pub fn with_enabled(mut self, id: SourceId, enabled: bool) -> Self {
        let mut config = self.get(id);
        config.enabled = enabled;
        self.settings.insert(id, config);
        self
    }

    /// Every source on, with `interval` (the demo).
    pub fn all_enabled(interval: Duration) -> Self {
        Self {
            settings: SourceId::ALL
                .into_iter()
                .map(|id| {
                    let config = SourceConfig {
                        enabled: true,
                        interval,
                        ..id.default_config()
                    };
                    (id, config)
                })
                .collect(),
            clients: ClientsConfig::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
