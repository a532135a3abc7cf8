//! The work of the one-shot commands, `check` and `once`, on every site of a configuration.
//! The binary prints the results and turns them into exit codes.

use std::time::{Duration, Instant};

use crate::agent::join_sites;
use crate::collect::sources;
use crate::collect::{ProgressSink, SiteCollector, SiteReport};
use crate::config::{Config, SourceId};
use crate::netbackup::ApiError;
use crate::report::CheckResult;

/// Probes every site (TLS, key, API version), all at once; the results in configuration order.
/// A probe that panics is a failed site, never a missing one.
pub async fn check_sites(config: &Config) -> Vec<CheckResult> {
    let probes = config.sites.iter().cloned().map(|site| async move {
        let started = Instant::now();
        let name = site.name.clone();
        let url = site.url.to_string();
        let enabled: Vec<SourceId> = site.sources.enabled().map(|(id, _)| id).collect();
        let outcome = match SiteCollector::new(site) {
            Ok(collector) => collector.negotiate().await,
            Err(e) => Err(e),
        };
        let sources = match &outcome {
            Ok(version) => enabled
                .into_iter()
                .map(|id| (id, sources::supported(id, *version)))
                .collect(),
            Err(_) => Vec::new(),
        };
        CheckResult {
            site: name,
            url,
            outcome,
            elapsed: started.elapsed(),
            sources,
        }
    });
    join_sites(probes)
        .await
        .into_iter()
        .zip(&config.sites)
        .map(|(result, site)| {
            result.unwrap_or_else(|detail| CheckResult {
                outcome: Err(ApiError::Internal {
                    site: site.name.clone(),
                    detail,
                }),
                site: site.name.clone(),
                url: site.url.to_string(),
                elapsed: Duration::ZERO,
                sources: Vec::new(),
            })
        })
        .collect()
}

/// Collects every site once, all at once, each jobs walk reporting its progress to the sink
/// `progress` gives for the site (if any); the reports in configuration order. A collection
/// that panics is a failed site, never a missing one.
pub async fn collect_sites(
    config: &Config,
    progress: impl Fn(&str) -> Option<ProgressSink>,
) -> Vec<SiteReport> {
    let runs = config.sites.iter().cloned().map(|site| {
        let sink = progress(&site.name);
        async move {
            let name = site.name.clone();
            match SiteCollector::new(site) {
                Ok(collector) => collector.collect_all_with_progress(sink).await,
                Err(e) => SiteReport::failed(&name, e),
            }
        }
    });
    join_sites(runs)
        .await
        .into_iter()
        .zip(&config.sites)
        .map(|(result, site)| {
            result.unwrap_or_else(|detail| {
                let error = ApiError::Internal {
                    site: site.name.clone(),
                    detail,
                };
                SiteReport::failed(&site.name, error)
            })
        })
        .collect()
}
