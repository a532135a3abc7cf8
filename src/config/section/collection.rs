//! `collection` and `sites[i].collection`: how and how often a site is collected. The keys,
//! their bounds, and the reading of one layer (the global section or a site's overrides); the
//! rules between keys are in [`cross`](crate::config::validate::cross).

use std::time::Duration;

use crate::config::declare::section;
use crate::config::raw::{Scalar, Section};
use crate::config::validate::Validator;
use crate::config::validate::cross::{Layer, Timing};
use crate::config::validate::scalar::{self, Within, days, hours, mins, ms, secs};

/// The slowest request rate accepted: one request every 100 seconds. Anything slower cannot
/// collect a site, and tiny rates overflow the arithmetic of request spacing.
pub const MIN_REQUESTS_PER_SECOND: f64 = 0.01;
/// The fastest request rate accepted.
pub const MAX_REQUESTS_PER_SECOND: f64 = 1000.0;

/// Why page sizes are bounded.
const PAGE_OF_100: &str = " (the NetBackup API returns at most 100 per page)";
/// Why page sizes are bounded.
const PAGE_OF_500: &str = " (the NetBackup API returns at most 500 per page)";

section! {
    /// How and how often a site is collected.
    #[derive(Debug, Clone, PartialEq)]
    pub struct CollectionConfig {
        /// Jobs that ended within this window before now are counted (plus all unfinished jobs).
        jobs_window: Duration = hours(1), within Within::between(secs(1), days(366));
        /// How often jobs are collected; longer than `request_timeout`.
        jobs_interval: Duration = mins(1), within Within::between(secs(1), hours(24));
        /// How long storage data is reused before it is fetched again.
        storage_ttl: Duration = mins(5), within Within::between(secs(1), hours(24));
        /// `page[limit]` for `/admin/jobs` (1..=100).
        jobs_page_size: u32 = 100, parse |v, f, x| v.integer(f, x, 1, 100, PAGE_OF_100);
        /// `page[limit]` for `/storage/storage-units` (1..=500).
        storage_page_size: u32 = 100, parse |v, f, x| v.integer(f, x, 1, 500, PAGE_OF_500);
        /// Timeout of one HTTP request, from sending to the last byte of the body.
        request_timeout: Duration = secs(30), within Within::between(ms(100), hours(1));
        /// How many times a failed request is retried (0 = no retry, at most 10).
        max_retries: u32 = 3, parse |v, f, x| v.integer(f, x, 0, 10, "");
        /// Upper bound on the time spent retrying one request, waits included.
        max_retry_time: Duration = mins(1),
            within Within::between(ms(100), hours(1)).or_zero();
        /// Requests per second sent to this site, at most (0.01 to 1000).
        requests_per_second: f64 = 10.0, parse requests_per_second;
        /// Requests in flight to this site, at most (1 to 64).
        max_concurrent_requests: u32 = 4, parse |v, f, x| v.integer(f, x, 1, 64, "");
        /// Longest one collection of the site (every page of every source) may take before it is
        /// abandoned; a collection longer than `jobs_interval` delays the next one instead.
        cycle_timeout: Duration = mins(10), within Within::between(secs(1), hours(24));
        /// How often the jobs window is read whole again (between full walks, only the jobs that
        /// changed are read).
        jobs_resync_interval: Duration = hours(6), within Within::between(mins(1), days(7));
        /// How far NetBackup's clock (its `Date` header) may stray, from one answer to the next, from where the agent's own time says it stands; an answer beyond it is not used (a `clock_jump` error, the stored jobs stay) until three answers in a row agree on the new clock.
        jobs_clock_tolerance: Duration = mins(10), within Within::between(mins(1), days(1));
        /// Reach this site through the proxy `HTTPS_PROXY` or `HTTP_PROXY` names (except the hosts of `NO_PROXY`), as curl does; false ignores them.
        proxy_from_env: bool = true, parse scalar::boolean;
    }
    raw RawCollection, patch CollectionPatch;
}

/// `requests_per_second`: within [`MIN_REQUESTS_PER_SECOND`] and [`MAX_REQUESTS_PER_SECOND`].
pub(in crate::config) fn requests_per_second(
    v: &mut Validator<'_>,
    field: &str,
    value: Option<Scalar>,
) -> Option<f64> {
    let rps = v.number(field, value)?;
    if (MIN_REQUESTS_PER_SECOND..=MAX_REQUESTS_PER_SECOND).contains(&rps) {
        return Some(rps);
    }
    v.err(
        field,
        format!(
            "must be at least {MIN_REQUESTS_PER_SECOND} (one request every {} s) and at \
             most {MAX_REQUESTS_PER_SECOND}, got {rps}",
            1.0 / MIN_REQUESTS_PER_SECOND
        ),
    );
    None
}

/// The collection settings one section gives, and what went wrong in it.
#[derive(Debug, Default)]
pub(in crate::config) struct CollectionLayer {
    /// The keys given (and valid).
    pub values: CollectionPatch,
    /// The section itself was unusable (not a map); reported.
    broken: bool,
    /// Keys whose value was invalid (or unknown keys); reported.
    failed_keys: Vec<String>,
}

impl CollectionLayer {
    /// Whether some problem was found (and reported) in this section.
    pub(in crate::config) fn failed(&self) -> bool {
        self.broken || !self.failed_keys.is_empty()
    }
}

impl Layer for CollectionLayer {
    fn sets(&self, key: &str) -> bool {
        self.values.sets(key)
    }

    fn unsure(&self, key: &str) -> bool {
        self.broken || self.failed_keys.iter().any(|k| k == key)
    }
}

impl Validator<'_> {
    /// Checks the rules between the keys of `c`, the global layer and (for a site) the
    /// site's own; see [`Validator::check_timing`].
    pub(in crate::config) fn check_collection(
        &mut self,
        c: &CollectionConfig,
        global: &CollectionLayer,
        site: Option<(&str, &CollectionLayer)>,
    ) {
        let timing = Timing {
            request_timeout: c.request_timeout,
            jobs_interval: c.jobs_interval,
            cycle_timeout: c.cycle_timeout,
            max_retries: c.max_retries,
            max_retry_time: c.max_retry_time,
        };
        self.check_timing(
            &timing,
            global,
            site.map(|(path, layer)| (path, layer as &dyn Layer)),
        );
    }

    /// Reads a collection section at `path` (`collection` or `sites[i].collection`).
    pub(in crate::config) fn collection_layer(
        &mut self,
        path: &str,
        raw: Option<Section<RawCollection>>,
    ) -> CollectionLayer {
        let before = self.error_count();
        let Some(mut raw) = self.section(path, raw) else {
            return CollectionLayer {
                broken: self.error_count() > before,
                ..CollectionLayer::default()
            };
        };
        let values = CollectionPatch::read(self, path, &mut raw);
        let prefix = format!("{path}.");
        let failed_keys = self.fields_since(before, &prefix);
        CollectionLayer {
            values,
            broken: false,
            failed_keys,
        }
    }
}
