//! The rules of `collection` and `sites[i].collection`: the bounds of each key. The rules
//! between keys are in [`cross`](super::cross).

use super::{MAX_REQUESTS_PER_SECOND, MIN_REQUESTS_PER_SECOND, Validator};
use crate::config::raw::{Scalar, Section};
use crate::config::schema::{CollectionPatch, RawCollection};

fn page_why(max: u32) -> String {
    format!(" (the NetBackup API returns at most {max} per page)")
}

/// `jobs_page_size`: 1 to 100, the API's maximum page.
pub(in crate::config) fn jobs_page_size(
    v: &mut Validator<'_>,
    field: &str,
    value: Option<Scalar>,
) -> Option<u32> {
    v.integer(field, value, 1, 100, &page_why(100))
}

/// `storage_page_size`: 1 to 500, the API's maximum page.
pub(in crate::config) fn storage_page_size(
    v: &mut Validator<'_>,
    field: &str,
    value: Option<Scalar>,
) -> Option<u32> {
    v.integer(field, value, 1, 500, &page_why(500))
}

/// `max_retries`: 0 to 10.
pub(in crate::config) fn max_retries(
    v: &mut Validator<'_>,
    field: &str,
    value: Option<Scalar>,
) -> Option<u32> {
    v.integer(field, value, 0, 10, "")
}

/// `max_concurrent_requests`: 1 to 64.
pub(in crate::config) fn max_concurrent_requests(
    v: &mut Validator<'_>,
    field: &str,
    value: Option<Scalar>,
) -> Option<u32> {
    v.integer(field, value, 1, 64, "")
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
    pub(super) fn failed(&self) -> bool {
        self.broken || !self.failed_keys.is_empty()
    }

    /// Whether `key` may hold a value other than the one written: then checks involving it
    /// would report noise.
    pub(super) fn unsure(&self, key: &str) -> bool {
        self.broken || self.failed_keys.iter().any(|k| k == key)
    }

    /// Whether this section sets `key`.
    pub(super) fn sets(&self, key: &str) -> bool {
        self.values.sets(key)
    }
}

impl Validator<'_> {
    /// Reads a collection section at `path` (`collection` or `sites[i].collection`).
    pub(super) fn collection_layer(
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
        let failed_keys = self.errors[before..]
            .iter()
            .filter_map(|e| e.field.strip_prefix(&prefix).map(str::to_owned))
            .collect();
        CollectionLayer {
            values,
            broken: false,
            failed_keys,
        }
    }
}
