//! `sites`: the NetBackup primary servers. The keys of a site and of its `tls` section, and
//! their rules: at least one site, unique names, exactly one of `api_key` and `api_key_file`,
//! and the site's overrides of `collection` and `sources` applied over the global values.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use secrecy::SecretString;
use secrecy::zeroize::Zeroize;
use url::Url;

use super::collection::{CollectionConfig, CollectionLayer, RawCollection};
use super::sources::{RawSource, SourcesConfig};
use crate::config::declare::section;
use crate::config::option_types::{FilesFingerprint, is_valid_site_name};
use crate::config::raw::{List, Scalar, Section};
use crate::config::validate::{Validator, join, scalar};
use crate::netbackup::ApiVersion;

section! {
    /// One NetBackup primary server.
    #[derive(Debug, Clone)]
    pub struct SiteConfig {
        /// Unique name, used as the `site` label. Letters, digits, `-`, `_` and `.` only.
        name: String, parse name;
        /// Base URL of the API, for example `https://primary.example.com:1556/netbackup`.
        url: Url, parse url;
    }
    raw RawSite, patch SitePatch;
    built {
        /// The API key, from `api_key` or read from `api_key_file`.
        api_key: SecretString;
        /// Where the key was read from, when it came from a file (kept for reloads and
        /// messages).
        api_key_file: Option<PathBuf>;
        /// A pinned API version; when `None` the client negotiates newest-first.
        api_version: Option<ApiVersion>;
        /// TLS settings for this site.
        tls: TlsConfig;
        /// Collection settings, the global ones with this site's overrides applied.
        collection: CollectionConfig;
        /// The opt-in sources, the global `sources` with this site's overrides applied.
        sources: SourcesConfig;
        /// The contents of the files the site reads (its key file and CA file) when the
        /// configuration was loaded, so that a reload notices a rotated file.
        files: FilesFingerprint;
    }
    keys {
        /// The API key; give exactly one of `api_key` (best as a `${VAR}` reference) and
        /// `api_key_file`.
        api_key: Scalar => "required, or api_key_file";
        /// A file holding the API key (whitespace around it trimmed).
        api_key_file: Scalar => "unset";
        /// Pin the API version (14.0, 13.0, 12.0 or 10.0); unset negotiates newest-first.
        api_version: Scalar => "unset";
        /// TLS settings of the connection (`sites[].tls.*`).
        tls: Section<RawTls> => "";
        /// This site's overrides of `collection`.
        collection: Section<RawCollection> => "";
        /// This site's overrides of `sources`.
        sources: Section<BTreeMap<String, Section<RawSource>>> => "";
    }
}

section! {
    /// TLS settings of a NetBackup connection.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct TlsConfig {
        /// A PEM file with the CA certificate(s) that signed the server's certificate; only
        /// these CAs are trusted for the site.
        ca_file: Option<PathBuf> = None, parse scalar::file;
        /// Accept any certificate. Dangerous; logged as a warning at every start.
        insecure_skip_verify: bool = false, parse scalar::boolean;
    }
    raw RawTls, patch TlsPatch;
}

/// `sites[i].name`: required, a valid site name. The value is never echoed: whatever was
/// written there, it is not a name.
pub(in crate::config) fn name(
    v: &mut Validator<'_>,
    field: &str,
    value: Option<Scalar>,
) -> Option<String> {
    let name = v.required_text(field, value)?;
    if is_valid_site_name(&name) {
        Some(name)
    } else {
        v.err(
            field,
            "must be 1 to 64 characters among letters, digits, `-`, `_` and `.`",
        );
        None
    }
}

/// `sites[i].url`: required, an http(s) URL.
pub(in crate::config) fn url(
    v: &mut Validator<'_>,
    field: &str,
    value: Option<Scalar>,
) -> Option<Url> {
    let text = v.required_text(field, value)?;
    v.http_url(field, &text)
}

impl Validator<'_> {
    /// Every site, the global collection settings and sources applied under each one's own.
    pub(in crate::config) fn sites(
        &mut self,
        raw: Option<List<Section<RawSite>>>,
        global: &CollectionConfig,
        global_layer: &CollectionLayer,
        global_sources: &SourcesConfig,
    ) -> Option<Vec<SiteConfig>> {
        let items = match raw {
            None => Vec::new(),
            Some(List::Items(items)) => items,
            Some(List::NotAList(message)) => {
                self.err("sites", message);
                return None;
            }
        };
        if items.is_empty() {
            self.err("sites", "at least one site is required");
            return None;
        }
        let mut sites = Vec::with_capacity(items.len());
        let mut first_use: HashMap<String, usize> = HashMap::new();
        let mut all_ok = true;
        for (i, item) in items.into_iter().enumerate() {
            let path = format!("sites[{i}]");
            let (name, site) = self.site(&path, item, global, global_layer, global_sources);
            if let Some(name) = name {
                if let Some(first) = first_use.get(&name) {
                    self.err(
                        format!("{path}.name"),
                        format!("duplicate site name {name:?} (already used by sites[{first}])"),
                    );
                    all_ok = false;
                } else {
                    first_use.insert(name, i);
                }
            }
            match site {
                Some(site) => sites.push(site),
                None => all_ok = false,
            }
        }
        all_ok.then_some(sites)
    }

    /// One site; also returns its name when valid, for the duplicate check.
    fn site(
        &mut self,
        path: &str,
        raw: Section<RawSite>,
        global: &CollectionConfig,
        global_layer: &CollectionLayer,
        global_sources: &SourcesConfig,
    ) -> (Option<String>, Option<SiteConfig>) {
        let Some(mut raw) = self.section(path, Some(raw)) else {
            return (None, None);
        };
        let patch = SitePatch::read(self, path, &mut raw);
        let (api_key, api_key_file) = self.api_key(path, raw.api_key, raw.api_key_file);
        let api_version = self.api_version(&join(path, "api_version"), raw.api_version);
        let tls = self.tls(&join(path, "tls"), raw.tls);

        let layer = self.collection_layer(&join(path, "collection"), raw.collection);
        let collection = layer.values.apply(global);
        self.check_collection(&collection, global_layer, Some((path, &layer)));
        let collection = (!layer.failed()).then_some(collection);
        let sources_patch = self.sources_patch(&join(path, "sources"), raw.sources);
        let sources = (!sources_patch.failed).then(|| sources_patch.apply(global_sources));

        let name = patch.name.clone();
        let site = (|| {
            Some(SiteConfig {
                name: patch.name?,
                url: patch.url?,
                api_key: api_key?,
                api_key_file: api_key_file?,
                api_version: api_version?,
                tls: tls?,
                collection: collection?,
                sources: sources?,
                files: FilesFingerprint::default(),
            })
        })();
        (name, site)
    }

    /// `sites[i].api_version`: `Some(None)` when not pinned, `None` when invalid.
    fn api_version(&mut self, field: &str, value: Option<Scalar>) -> Option<Option<ApiVersion>> {
        match self.optional_text(field, value) {
            None => Some(None),
            Some(text) => match text.parse::<ApiVersion>() {
                Ok(version) => Some(Some(version)),
                Err(e) => {
                    self.err(field, e.to_string());
                    None
                }
            },
        }
    }

    /// Exactly one of `api_key` and `api_key_file`; returns the key and the file it came from.
    fn api_key(
        &mut self,
        path: &str,
        inline: Option<Scalar>,
        file: Option<Scalar>,
    ) -> (Option<SecretString>, Option<Option<PathBuf>>) {
        let key_field = join(path, "api_key");
        let file_field = join(path, "api_key_file");
        let inline = self.text(&key_field, inline);
        let file = self.text(&file_field, file);
        match (inline, file) {
            (Some(_), Some(_)) => {
                self.err(&key_field, "give either api_key or api_key_file, not both");
                (None, None)
            }
            (None, None) => {
                self.err(
                    &key_field,
                    "required: set api_key (for example `${NBU_API_KEY}`) or api_key_file",
                );
                (None, None)
            }
            (Some(mut key), None) => {
                let secret = self.secret(&key_field, "the API key", key.trim().to_owned());
                key.zeroize();
                (secret, Some(None))
            }
            (None, Some(file)) => {
                let file = file.trim();
                if file.is_empty() {
                    self.err(&file_field, "must not be empty");
                    return (None, None);
                }
                let path = self.resolve(file);
                let read = self.read_file(&path).and_then(|bytes| {
                    String::from_utf8(bytes).map_err(|e| {
                        let mut bytes = e.into_bytes();
                        bytes.zeroize();
                        std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text")
                    })
                });
                match read {
                    Ok(mut content) => {
                        let secret = self.secret(
                            &file_field,
                            &format!("the key in {}", path.display()),
                            content.trim().to_owned(),
                        );
                        content.zeroize();
                        (secret, Some(Some(path)))
                    }
                    Err(e) => {
                        self.err(&file_field, format!("cannot read {}: {e}", path.display()));
                        (None, None)
                    }
                }
            }
        }
    }

    /// `sites[i].tls`; an absent section is the default, a broken one was reported.
    fn tls(&mut self, path: &str, raw: Option<Section<RawTls>>) -> Option<TlsConfig> {
        let before = self.error_count();
        let Some(mut raw) = self.section(path, raw) else {
            return (self.error_count() == before).then(TlsConfig::default);
        };
        let tls = TlsPatch::read(self, path, &mut raw).apply(&TlsConfig::default());
        (self.error_count() == before).then_some(tls)
    }
}
