//! The rules of `sources` and `sites[i].sources`: known sources only, an interval of at least
//! [`MIN_SOURCE_INTERVAL`], a window only where the source counts over one, and the client
//! allowlist only on `clients`.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Validator, join};
use crate::config::raw::{List, Scalar, Section};
use crate::config::schema::{RawSource, SourcePatch};
use crate::config::{ClientPattern, MIN_SOURCE_INTERVAL, SourceId, SourcesConfig};

/// `sources.<name>.interval`: a duration of at least [`MIN_SOURCE_INTERVAL`].
pub(in crate::config) fn interval(
    v: &mut Validator<'_>,
    field: &str,
    value: Option<Scalar>,
) -> Option<Duration> {
    let interval = v.duration(field, value, false)?;
    if interval >= MIN_SOURCE_INTERVAL {
        return Some(interval);
    }
    v.err(
        field,
        format!(
            "must be at least {}s: these families change slowly, and NetBackup should not be \
             asked for them more often",
            MIN_SOURCE_INTERVAL.as_secs()
        ),
    );
    None
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
    pub(super) fn sources_patch(
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

#[cfg(test)]
mod tests {
    use super::*;

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
