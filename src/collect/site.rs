//! Collection of one site: version negotiation, then jobs and storage concurrently.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use std::collections::BTreeMap;
use std::sync::Arc;

use super::sources::{self, SourceContext, SourceValues};
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
}

impl SiteReport {
    /// A report for a site that could not be collected at all.
    pub fn failed(site: &str, error: ApiError) -> Self {
        let now = Instant::now();
        Self {
            site: site.to_owned(),
            api_version: Err(error.clone()),
            response_time: Duration::ZERO,
            jobs: SourceOutcome::timed(now, Err(error.clone())),
            storage: SourceOutcome::timed(now, Err(error)),
            sources: BTreeMap::new(),
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

    /// Whether the version was agreed and at least one source collected (`nbu_up`).
    pub fn any_source_ok(&self) -> bool {
        self.api_version.is_ok() && (self.jobs.result.is_ok() || self.storage.result.is_ok())
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
        self.collect_jobs_as_of(version, progress).await.0
    }

    /// [`SiteCollector::collect_jobs`], with NetBackup's clock when the walk ended (its `Date`
    /// at the start plus the walk's duration; the agent's clock when the walk failed).
    async fn collect_jobs_as_of(
        &self,
        version: ApiVersion,
        progress: Option<ProgressSink>,
    ) -> (SourceOutcome<JobsSummary>, chrono::DateTime<chrono::Utc>) {
        let mut sync = JobSync::new();
        if let Some(sink) = progress {
            sync = sync.with_progress(sink);
        }
        let outcome = self.sync_jobs(&mut sync, version, |_| {}).await;
        let now = chrono::Utc::now();
        let server_now = match &outcome.result {
            Ok(report) => chrono::Duration::from_std(outcome.elapsed)
                .ok()
                .and_then(|elapsed| report.server_time.checked_add_signed(elapsed))
                .unwrap_or(now),
            Err(_) => now,
        };
        let jobs = SourceOutcome {
            result: outcome.result.map(|_| sync.summary()),
            elapsed: outcome.elapsed,
            finished_at: outcome.finished_at,
        };
        (jobs, server_now)
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

    /// Collects every enabled opt-in source that `version` has, concurrently; `None` for the
    /// others. Windows end at `now`, NetBackup's clock.
    pub async fn collect_sources(
        &self,
        version: ApiVersion,
        now: chrono::DateTime<chrono::Utc>,
        covered: BTreeMap<String, f64>,
    ) -> BTreeMap<SourceId, Option<SourceOutcome<SourceValues>>> {
        let covered = &covered;
        let runs = self.site.sources.enabled().map(|(id, config)| async move {
            if !sources::supported(id, version) {
                return (id, None);
            }
            let context = SourceContext {
                clients: self.site.sources.clients.clone(),
                covered: covered.clone(),
                ..SourceContext::new(config, self.site.collection.storage_page_size, now)
            };
            let started = Instant::now();
            let result = sources::collect(id, &self.client, version, &context).await;
            (id, Some(SourceOutcome::timed(started, result)))
        });
        futures_util::future::join_all(runs)
            .await
            .into_iter()
            .collect()
    }

    /// One full collection: negotiate, then jobs and storage concurrently.
    pub async fn collect_all(&self) -> SiteReport {
        self.collect_all_with_progress(None).await
    }

    /// [`SiteCollector::collect_all`], sending the progress of the jobs walk to `progress`.
    pub async fn collect_all_with_progress(&self, progress: Option<ProgressSink>) -> SiteReport {
        let started = Instant::now();
        let version = self.negotiate().await;
        let response_time = started.elapsed();
        match &version {
            Ok(v) => {
                let ((jobs, now), storage) = tokio::join!(
                    self.collect_jobs_as_of(*v, progress),
                    self.collect_storage(*v)
                );
                // The windows of the opt-in sources end at NetBackup's clock, read by the jobs
                // walk; the clients the window covers need no query of their own.
                let covered = jobs
                    .result
                    .as_ref()
                    .map(sources::covered_clients)
                    .unwrap_or_default();
                let sources = self.collect_sources(*v, now, covered).await;
                SiteReport {
                    site: self.site.name.clone(),
                    api_version: version,
                    response_time: self
                        .client
                        .take_mean_request_time()
                        .unwrap_or(response_time),
                    jobs,
                    storage,
                    sources,
                }
            }
            Err(e) => SiteReport {
                site: self.site.name.clone(),
                api_version: Err(e.clone()),
                response_time,
                jobs: SourceOutcome::timed(started, Err(e.clone())),
                storage: SourceOutcome::timed(started, Err(e.clone())),
                sources: BTreeMap::new(),
            },
        }
    }
}
