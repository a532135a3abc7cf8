//! The work of the one-shot commands, `check` and `once`, on every site of a configuration.
//! The binary prints the results and turns them into exit codes.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::agent::join_sites;
use crate::collect::sources;
use crate::collect::{ProgressSink, SiteCollector, SiteReport};
use crate::config::{Config, SiteConfig, SourceId};
use crate::netbackup::{ApiError, ApiFailure};
use crate::report::CheckResult;

/// Runs `work` for every site of `config`, all at once, each in a task of its own; the results
/// in configuration order. Work that panics becomes `failed(site, error)`: a failed site,
/// never a missing one.
async fn per_site<T, Fut>(
    config: &Config,
    work: impl Fn(SiteConfig) -> Fut,
    failed: impl Fn(&SiteConfig, ApiError) -> T,
) -> Vec<T>
where
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    join_sites(config.sites.iter().cloned().map(work))
        .await
        .into_iter()
        .zip(&config.sites)
        .map(|(result, site)| {
            result.unwrap_or_else(|e| {
                let detail = e.to_string();
                failed(
                    site,
                    ApiError::of_site(&site.name, ApiFailure::Internal { detail }),
                )
            })
        })
        .collect()
}

/// A `check` result for a site that could not be probed at all.
fn check_failed(site: &SiteConfig, error: ApiError, elapsed: Duration) -> CheckResult {
    CheckResult {
        site: site.name.clone(),
        url: site.url.to_string(),
        outcome: Err(error),
        elapsed,
        sources: Vec::new(),
    }
}

/// Probes every site (TLS, key, API version), all at once; the results in configuration order.
/// A probe that panics is a failed site, never a missing one.
pub async fn check_sites(config: &Config) -> Vec<CheckResult> {
    let probe = |site: SiteConfig| async move {
        let started = Instant::now();
        let collector = match SiteCollector::new(site.clone()) {
            Ok(collector) => collector,
            Err(e) => return check_failed(&site, e, started.elapsed()),
        };
        let outcome = collector.negotiate().await;
        let sources = match &outcome {
            Ok(version) => site
                .sources
                .enabled()
                .map(|(id, _)| (id, sources::supported(id, *version)))
                .collect::<Vec<(SourceId, bool)>>(),
            Err(_) => Vec::new(),
        };
        CheckResult {
            site: site.name,
            url: site.url.to_string(),
            outcome,
            elapsed: started.elapsed(),
            sources,
        }
    };
    per_site(config, probe, |site, e| {
        check_failed(site, e, Duration::ZERO)
    })
    .await
}

/// Collects every site once, all at once, each jobs walk reporting its progress to the sink
/// `progress` gives for the site (if any); the reports in configuration order. A collection
/// that panics is a failed site, never a missing one.
pub async fn collect_sites(
    config: &Config,
    progress: impl Fn(&str) -> Option<ProgressSink>,
) -> Vec<SiteReport> {
    let run = |site: SiteConfig| {
        let sink = progress(&site.name);
        async move {
            let name = site.name.clone();
            match SiteCollector::new(site) {
                Ok(collector) => collector.collect_all_with_progress(sink).await,
                Err(e) => SiteReport::failed(&name, e),
            }
        }
    };
    per_site(config, run, |site, e| SiteReport::failed(&site.name, e)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(sites: &[&str]) -> Config {
        let mut yaml = String::from("sites:\n");
        for name in sites {
            yaml.push_str(&format!(
                "  - name: {name}\n    url: http://127.0.0.1:9/netbackup\n    api_key: k\n"
            ));
        }
        crate::config::load_str_with_env(&yaml, std::path::Path::new("."), &Default::default())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn work_that_panics_is_a_failed_site_in_its_place() {
        let config = config(&["first", "crashing", "last"]);
        let results = per_site(
            &config,
            |site| async move {
                assert_ne!(site.name, "crashing", "the work of this site panics");
                Ok::<String, String>(site.name)
            },
            |site, error| Err(format!("{} {}: {error}", site.name, error.kind())),
        )
        .await;
        assert_eq!(results[0], Ok("first".to_owned()));
        let failed = results[1].as_ref().expect_err("the panic is a failure");
        assert!(failed.starts_with("crashing internal: "), "{failed}");
        assert!(failed.contains("the work of this site panics"), "{failed}");
        assert_eq!(results[2], Ok("last".to_owned()));
    }
}
