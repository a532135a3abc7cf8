//! Storage units pages read from a response body: whole with serde_json, or record by record
//! when serde_json refuses the page because of some of its records.

use super::json_scan::page_parts;
use super::models::{OffsetMeta, PageDocument, StorageUnitResource, StorageUnitsPage};

impl<'a> PageDocument<'a> for StorageUnitsPage<'a> {
    /// serde_json checks UTF-8 only in the strings it decodes, not in the ones it skips. A page
    /// it refuses is read again record by record: records it refuses are skipped (and listed
    /// in [`StorageUnitsPage::skipped`]); a page whose records all read is refused as a whole.
    fn from_body(body: &'a [u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(body).or_else(|e| storage_records(body).ok_or(e))
    }
}

/// A storage units page read record by record, if its document is sound and some of its
/// records are not.
fn storage_records(body: &[u8]) -> Option<StorageUnitsPage<'_>> {
    let parts = page_parts(body)?;
    let meta = match parts.meta {
        Some(meta) => serde_json::from_slice::<Option<OffsetMeta>>(meta).ok()?,
        None => None,
    };
    let mut data = Vec::with_capacity(parts.data.len());
    let mut skipped = Vec::new();
    for record in parts.data {
        match serde_json::from_slice::<StorageUnitResource<'_>>(record) {
            Ok(unit) => data.push(unit),
            Err(e) => skipped.push(e.to_string()),
        }
    }
    (!skipped.is_empty()).then_some(StorageUnitsPage {
        data,
        meta,
        skipped,
    })
}
