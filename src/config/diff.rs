//! What changes between two configurations: the sites added, removed and changed (a rotated
//! key or CA file included), and the sections that take effect only at the next start.
//!
//! The comparison is pure: two [`Config`] values in, a [`ConfigDiff`] out. The contents of
//! the files a configuration references are part of it (fingerprinted when it was loaded),
//! so a renewed CA file under the same name is a change.

use std::collections::BTreeMap;

use super::declare::EqWithSecrets;
use super::schema::{Scope, sections};
use super::section::site::SiteConfig;
use super::typed::Config;

/// The sections a running agent cannot change, in the order of the schema: those a site cannot
/// override ([`Scope::Global`]), but `sharding`, which a reload applies through the sites it
/// gives this replica. A reload that changes them reports them.
pub fn restart_sections() -> impl Iterator<Item = &'static str> {
    // A signal's part of `otlp` is compared with `otlp`.
    sections()
        .filter(|s| s.scope == Scope::Global && !s.path.contains('.') && s.path != "sharding")
        .map(|s| s.path)
}

/// Whether the section at `path` differs between `old` and `new`; `None` for a section a
/// running agent applies (sites, collection, sources).
fn restart_section_changed(path: &str, old: &Config, new: &Config) -> Option<bool> {
    Some(match path {
        "server" => !old.server.eq_with_secrets(&new.server) || old.files != new.files,
        "otlp" => !old.otlp.eq_with_secrets(&new.otlp),
        "events" => !old.events.eq_with_secrets(&new.events),
        "traces" => !old.traces.eq_with_secrets(&new.traces),
        "logging" => !old.logging.eq_with_secrets(&new.logging),
        "service" => !old.service.eq_with_secrets(&new.service),
        _ => return None,
    })
}

/// The difference between a running configuration and a new one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigDiff {
    /// Sites only in the new configuration, by name.
    pub added: Vec<String>,
    /// Sites only in the old configuration, by name.
    pub removed: Vec<String>,
    /// Sites in both whose settings, key or referenced files differ, by name.
    pub changed: Vec<String>,
    /// The changed sites whose URL changed: another backend, whose data is not theirs.
    pub moved: Vec<String>,
    /// Sections that changed but take effect only at the next start, in the order of
    /// [`restart_sections`].
    pub needs_restart: Vec<&'static str>,
}

impl ConfigDiff {
    /// What changes from `old` to `new`. Every list of sites is sorted by name.
    pub fn between(old: &Config, new: &Config) -> Self {
        let by_name = |c: &'_ Config| -> BTreeMap<String, SiteConfig> {
            c.sites
                .iter()
                .map(|s| (s.name.clone(), s.clone()))
                .collect()
        };
        let (old_sites, new_sites) = (by_name(old), by_name(new));
        let mut diff = ConfigDiff::default();
        for (name, before) in &old_sites {
            match new_sites.get(name) {
                None => diff.removed.push(name.clone()),
                Some(after) if !before.eq_with_secrets(after) => {
                    diff.changed.push(name.clone());
                    if before.url != after.url {
                        diff.moved.push(name.clone());
                    }
                }
                Some(_) => {}
            }
        }
        diff.added = new_sites
            .keys()
            .filter(|name| !old_sites.contains_key(*name))
            .cloned()
            .collect();
        diff.needs_restart = restart_sections()
            .filter(|path| restart_section_changed(path, old, new).unwrap_or(false))
            .collect();
        diff
    }

    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.needs_restart.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::Path;

    use super::*;
    use crate::config::load::load_str_with_env;

    fn load(yaml: &str, dir: &Path) -> Config {
        load_str_with_env(yaml, dir, &HashMap::new()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn site(name: &str, extra: &str) -> String {
        format!(
            "  - name: {name}\n    url: https://{name}.example.com:1556/netbackup\n    api_key: key-{name}\n{extra}"
        )
    }

    fn sites(list: &[String]) -> String {
        format!("sites:\n{}", list.concat())
    }

    #[test]
    fn the_same_configuration_changes_nothing() {
        let yaml = sites(&[site("a", ""), site("b", "")]);
        let dir = Path::new(".");
        let diff = ConfigDiff::between(&load(&yaml, dir), &load(&yaml, dir));
        assert!(diff.is_empty(), "{diff:?}");
    }

    #[test]
    fn sites_added_removed_and_changed_are_named_in_order() {
        let dir = Path::new(".");
        let old = load(&sites(&[site("c", ""), site("a", ""), site("b", "")]), dir);
        let new = load(
            &sites(&[
                site("d", ""),
                site("a", "    collection:\n      jobs_interval: 2m\n"),
                site("b", ""),
            ]),
            dir,
        );
        let diff = ConfigDiff::between(&old, &new);
        assert_eq!(diff.added, ["d"]);
        assert_eq!(diff.removed, ["c"]);
        assert_eq!(diff.changed, ["a"]);
        assert!(diff.moved.is_empty());
        assert!(diff.needs_restart.is_empty());
    }

    #[test]
    fn a_new_key_or_url_changes_the_site_and_a_new_url_moves_it() {
        let dir = Path::new(".");
        let old = load(&sites(&[site("a", ""), site("b", "")]), dir);
        let yaml = sites(&[site("a", ""), site("b", "")])
            .replace("api_key: key-a", "api_key: another-key")
            .replace("b.example.com", "b2.example.com");
        let diff = ConfigDiff::between(&old, &load(&yaml, dir));
        assert_eq!(diff.changed, ["a", "b"]);
        assert_eq!(diff.moved, ["b"]);
    }

    #[test]
    fn a_rotated_ca_file_changes_the_site_and_a_rotated_server_key_needs_a_restart() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let write = |name: &str, text: &str| {
            std::fs::write(dir.path().join(name), text).unwrap_or_else(|e| panic!("{e}"));
        };
        write("ca.pem", "one CA\n");
        write("cert.pem", "cert\n");
        write("key.pem", "key one\n");
        let yaml = format!(
            "{}server:\n  tls_cert_file: cert.pem\n  tls_key_file: key.pem\n",
            sites(&[
                site("a", "    tls:\n      ca_file: ca.pem\n"),
                site("b", "")
            ])
        );
        let old = load(&yaml, dir.path());
        write("ca.pem", "a renewed CA\n");
        write("key.pem", "key two\n");
        let diff = ConfigDiff::between(&old, &load(&yaml, dir.path()));
        assert_eq!(diff.changed, ["a"]);
        assert!(diff.moved.is_empty());
        assert_eq!(diff.needs_restart, ["server"]);
    }

    #[test]
    fn changed_sections_that_need_a_restart_are_listed_in_order() {
        let dir = Path::new(".");
        let base = sites(&[site("a", "")]);
        let old = load(&base, dir);
        let new = load(
            &format!(
                "{base}service:\n  name: other\notlp:\n  headers:\n    authorization: t2\nlogging:\n  level: debug\n"
            ),
            dir,
        );
        let diff = ConfigDiff::between(&old, &new);
        assert_eq!(diff.needs_restart, ["otlp", "logging", "service"]);
        assert!(diff.changed.is_empty());
    }

    #[test]
    fn a_new_header_value_or_password_is_a_change_without_being_shown() {
        let dir = Path::new(".");
        let base = sites(&[site("a", "")]);
        let with = |secret: &str| {
            load(
                &format!(
                    "{base}otlp:\n  headers:\n    authorization: {secret}\nserver:\n  metrics_username: u\n  metrics_password: {secret}\n"
                ),
                dir,
            )
        };
        let diff = ConfigDiff::between(&with("secret-one"), &with("secret-two"));
        assert_eq!(diff.needs_restart, ["server", "otlp"]);
        let shown = format!("{diff:?}");
        assert!(!shown.contains("secret-one") && !shown.contains("secret-two"));
    }

    #[test]
    fn every_restart_section_is_compared() {
        let config = load(&sites(&[site("a", "")]), Path::new("."));
        let sections: Vec<&str> = restart_sections().collect();
        assert_eq!(
            sections,
            ["server", "otlp", "events", "traces", "logging", "service"]
        );
        for path in sections {
            assert_eq!(
                restart_section_changed(path, &config, &config),
                Some(false),
                "{path}"
            );
        }
    }
}
