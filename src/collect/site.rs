//! The collector of one site (its client and settings) and what one collection reports.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use std::collections::BTreeMap;
use std::sync::Arc;

use super::snapshot::SiteSnapshot;
use super::sources::SourceValues;
use super::storage::StorageAggregator;
use super::store::FinishedJob;
use super::summary::{JobsSummary, StorageSummary};
use super::sync::{CycleReport, JobSync, JobsSettings, ProgressSink};
use crate::config::{ClientsConfig, SiteConfig, SourceId};
use crate::netbackup::{ApiError, ApiVersion, ClientSettings, SiteClient, walk_storage_units};

/// The result of collecting one source once.
#[derive(Debug, Clone)]
pub struct SourceOutcome<T> {
    /// The summary, or why there is none.
    pub result: Result<T, ApiError>,
    /// How long the collection took.
    pub elapsed: Duration,
    /// When it finished.
    pub finished_at: SystemTime,
}

impl<T> SourceOutcome<T> {
    pub(crate) fn timed(started: Instant, result: Result<T, ApiError>) -> Self {
        Self {
            result,
            elapsed: started.elapsed(),
            finished_at: SystemTime::now(),
        }
    }

    /// A collection that failed before it started.
    pub(crate) fn failed(error: ApiError) -> Self {
        Self::timed(Instant::now(), Err(error))
    }

    /// The same outcome with its result changed by `f`, which is given the result, how long
    /// the collection took and when it finished.
    pub(crate) fn then<U>(
        self,
        f: impl FnOnce(Result<T, ApiError>, Duration, SystemTime) -> Result<U, ApiError>,
    ) -> SourceOutcome<U> {
        SourceOutcome {
            result: f(self.result, self.elapsed, self.finished_at),
            elapsed: self.elapsed,
            finished_at: self.finished_at,
        }
    }

    /// The same outcome with its data changed by `f`.
    pub(crate) fn map<U>(self, f: impl FnOnce(T) -> U) -> SourceOutcome<U> {
        SourceOutcome {
            result: self.result.map(f),
            elapsed: self.elapsed,
            finished_at: self.finished_at,
        }
    }
}

/// Everything one collection of a site produced.
#[derive(Debug, Clone)]
pub struct SiteReport {
    /// Site name.
    pub site: String,
    /// The API version used, or why none could be agreed.
    pub api_version: Result<ApiVersion, ApiError>,
    /// Mean duration of one request of the collection (sent until the last byte of the body,
    /// rate-limit waits excluded); when none was answered, the time the version negotiation
    /// took.
    pub response_time: Duration,
    /// The jobs source.
    pub jobs: SourceOutcome<JobsSummary>,
    /// The storage source.
    pub storage: SourceOutcome<StorageSummary>,
    /// The enabled opt-in sources; `None` for one the API version has no endpoint for (not
    /// called).
    pub sources: BTreeMap<SourceId, Option<SourceOutcome<SourceValues>>>,
    /// The site's snapshot after the collection, as the running agent would publish it.
    pub snapshot: SiteSnapshot,
}

impl SiteReport {
    /// A report for a site that could not be collected at all.
    pub fn failed(site: &str, error: ApiError) -> Self {
        let mut snapshot = SiteSnapshot::empty(site);
        snapshot.last_error = Some(error.to_string());
        Self {
            site: site.to_owned(),
            api_version: Err(error.clone()),
            response_time: Duration::ZERO,
            jobs: SourceOutcome::failed(error.clone()),
            storage: SourceOutcome::failed(error),
            sources: BTreeMap::new(),
            snapshot,
        }
    }

    /// Whether every enabled opt-in source that the API version has succeeded.
    pub fn sources_ok(&self) -> bool {
        self.sources
            .values()
            .flatten()
            .all(|outcome| outcome.result.is_ok())
    }

    /// Whether every part of the collection succeeded.
    pub fn is_ok(&self) -> bool {
        self.api_version.is_ok() && self.jobs.result.is_ok() && self.storage.result.is_ok()
    }

    /// The errors of this report, each once (a failed negotiation fails both sources).
    pub fn errors(&self) -> Vec<&ApiError> {
        match &self.api_version {
            Err(e) => vec![e],
            Ok(_) => [
                &self.jobs.result.as_ref().err(),
                &self.storage.result.as_ref().err(),
            ]
            .into_iter()
            .flatten()
            .copied()
            .collect(),
        }
    }
}

impl From<&SiteConfig> for ClientSettings {
    /// The settings of the site's client: the one place the configuration reaches the client.
    fn from(site: &SiteConfig) -> Self {
        let collection = &site.collection;
        Self {
            name: site.name.clone(),
            url: site.url.clone(),
            api_key: site.api_key.clone(),
            ca_file: site.tls.ca_file.clone(),
            insecure_skip_verify: site.tls.insecure_skip_verify,
            request_timeout: collection.request_timeout,
            max_retries: collection.max_retries,
            max_retry_time: collection.max_retry_time,
            requests_per_second: collection.requests_per_second,
            max_concurrent_requests: collection.max_concurrent_requests,
            proxy_from_env: collection.proxy_from_env,
        }
    }
}

/// Collects one site. Owns the site's HTTP client: dropping the collector closes its pool.
#[derive(Debug)]
pub struct SiteCollector {
    site: SiteConfig,
    client: SiteClient,
    /// The per-client allowlist when the clients source is on.
    clients: Option<Arc<ClientsConfig>>,
}

impl SiteCollector {
    /// A collector for `site`, with a fresh client.
    pub fn new(site: SiteConfig) -> Result<Self, ApiError> {
        Self::with_client(SiteClient::new(&ClientSettings::from(&site))?, site)
    }

    /// A collector for `site` using `client` (built for that site; the site's events go where
    /// the client's go).
    pub fn with_client(client: SiteClient, site: SiteConfig) -> Result<Self, ApiError> {
        for exposure in site.exposures() {
            client.events().site_exposure_found(
                &site.name,
                exposure.warning,
                exposure
                    .key_file
                    .as_ref()
                    .map(|(file, mode)| (file.as_path(), *mode)),
            );
        }
        let clients_source = site.sources.get(SourceId::Clients);
        let clients = (clients_source.enabled && !site.sources.clients.allowlist.is_empty())
            .then(|| Arc::new(site.sources.clients.clone()));
        Ok(Self {
            site,
            client,
            clients,
        })
    }

    /// The site's configuration.
    pub fn site(&self) -> &SiteConfig {
        &self.site
    }

    /// The site's client.
    pub fn client(&self) -> &SiteClient {
        &self.client
    }

    /// Negotiates the API version (or verifies the pinned one).
    pub async fn negotiate(&self) -> Result<ApiVersion, ApiError> {
        self.client.negotiate(self.site.api_version).await
    }

    /// Brings `sync`'s job store up to date (a full walk or a delta, see [`super::sync`]).
    /// `on_finished` sees each finished job once, when the store first holds it finished.
    pub async fn sync_jobs(
        &self,
        sync: &mut JobSync,
        version: ApiVersion,
        on_finished: impl FnMut(&FinishedJob<'_>),
    ) -> SourceOutcome<CycleReport> {
        let started = Instant::now();
        let settings = JobsSettings::from(&self.site.collection);
        sync.set_clients(self.clients.clone());
        let result = sync
            .cycle(&self.client, version, &settings, on_finished)
            .await;
        SourceOutcome::timed(started, result)
    }

    /// Collects the jobs window once, into a new store: finished jobs that ended within
    /// `jobs_window` before NetBackup's clock, plus every unfinished job.
    pub async fn collect_jobs(
        &self,
        version: ApiVersion,
        progress: Option<ProgressSink>,
    ) -> SourceOutcome<JobsSummary> {
        let mut sync = JobSync::new();
        if let Some(sink) = progress {
            sync = sync.with_progress(sink);
        }
        let outcome = self.sync_jobs(&mut sync, version, |_| {}).await;
        outcome.map(|_| sync.summary())
    }

    /// Collects every storage unit.
    pub async fn collect_storage(&self, version: ApiVersion) -> SourceOutcome<StorageSummary> {
        let started = Instant::now();
        let mut aggregator = StorageAggregator::new();
        let walked = walk_storage_units(
            &self.client,
            version,
            self.site.collection.storage_page_size,
            |id, unit| aggregator.add(id, unit),
        )
        .await;
        let result = walked.map(|stats| {
            for _ in 0..stats.pages {
                aggregator.add_page();
            }
            aggregator.add_invalid(stats.invalid_items);
            aggregator.finish()
        });
        SourceOutcome::timed(started, result)
    }
}
