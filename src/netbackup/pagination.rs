//! Walks of paginated endpoints: `/admin/jobs` by cursor, storage units by offset.
//!
//! Each page is decoded and handed to a callback, then dropped: nothing accumulates but what
//! the callback keeps. A walk that does not end properly (a cursor seen before, an offset that
//! does not advance, more items than asked for, far more pages than announced) stops with
//! [`ApiError::Pagination`] instead of looping.

use std::collections::HashSet;

use tracing::{Instrument as _, Span};

use super::client::SiteClient;
use super::error::{ApiError, DecodeKind};
use super::models::{
    JobAttributes, JobsPage, PageDocument, StorageUnitAttributes, StorageUnitsPage,
};
use super::version::ApiVersion;

/// The jobs endpoint.
pub const JOBS_ENDPOINT: &str = "/admin/jobs";
/// The storage units endpoint.
pub const STORAGE_UNITS_ENDPOINT: &str = "/storage/storage-units";
/// Upper bound on the pages of one cursor walk (5 million jobs at 100 per page).
pub const MAX_CURSOR_PAGES: u64 = 50_000;

/// What a walk read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalkStats {
    /// Pages read.
    pub pages: u64,
    /// Resources handed to the callback.
    pub items: u64,
    /// Resources without attributes (skipped).
    pub invalid_items: u64,
    /// Requests sent, retries included.
    pub requests: u64,
}

/// Walks `/admin/jobs` matching `filter`, sorted by `jobId`, `page_size` jobs per page, and
/// calls `on_job` for every job.
pub async fn walk_jobs<F>(
    client: &SiteClient,
    version: ApiVersion,
    filter: &str,
    page_size: u32,
    mut on_job: F,
) -> Result<WalkStats, ApiError>
where
    F: FnMut(&JobAttributes<'_>),
{
    let mut stats = WalkStats::default();
    let mut cursor: Option<String> = None;
    let mut seen = HashSet::new();
    loop {
        let mut query = vec![
            ("filter", filter.to_owned()),
            ("sort", "jobId".to_owned()),
            ("page[limit]", page_size.to_string()),
        ];
        if let Some(c) = &cursor {
            query.push(("page[after]", c.clone()));
        }
        let span = client.request_span(JOBS_ENDPOINT, version, Some(stats.pages + 1));
        let body = client
            .get(JOBS_ENDPOINT, &query, version)
            .instrument(span.clone())
            .await?;
        stats.requests += u64::from(body.attempts);
        stats.pages += 1;
        let page: JobsPage<'_> = decode(client, JOBS_ENDPOINT, &body.bytes, &span)?;
        span.record("nbu.records", page.data.len());
        check_page_size(client, JOBS_ENDPOINT, page.data.len(), page_size)?;
        for resource in &page.data {
            match &resource.attributes {
                Some(attributes) => {
                    stats.items += 1;
                    on_job(attributes);
                }
                None => stats.invalid_items += 1,
            }
        }
        let next = page
            .meta
            .as_ref()
            .and_then(|m| m.pagination.as_ref())
            .and_then(|p| p.next.as_str())
            .filter(|n| !n.is_empty())
            .map(str::to_owned);
        match next {
            None => return Ok(stats),
            Some(_) if page.data.is_empty() => return Ok(stats),
            Some(next) => {
                if !seen.insert(next.clone()) {
                    return Err(pagination_error(
                        client,
                        JOBS_ENDPOINT,
                        format!("cursor {next:?} came back a second time"),
                    ));
                }
                if stats.pages >= MAX_CURSOR_PAGES {
                    return Err(pagination_error(
                        client,
                        JOBS_ENDPOINT,
                        format!("more than {MAX_CURSOR_PAGES} pages"),
                    ));
                }
                cursor = Some(next);
            }
        }
    }
}

/// Walks `/storage/storage-units` by offset, `page_size` units per page, and calls `on_unit`
/// with each unit's id and attributes.
pub async fn walk_storage_units<F>(
    client: &SiteClient,
    version: ApiVersion,
    page_size: u32,
    mut on_unit: F,
) -> Result<WalkStats, ApiError>
where
    F: FnMut(Option<&str>, &StorageUnitAttributes<'_>),
{
    let mut stats = WalkStats::default();
    let mut offset: u64 = 0;
    let mut expected_pages: Option<u64> = None;
    loop {
        let query = [
            ("page[offset]", offset.to_string()),
            ("page[limit]", page_size.to_string()),
        ];
        let span = client.request_span(STORAGE_UNITS_ENDPOINT, version, Some(stats.pages + 1));
        let body = client
            .get(STORAGE_UNITS_ENDPOINT, &query, version)
            .instrument(span.clone())
            .await?;
        stats.requests += u64::from(body.attempts);
        stats.pages += 1;
        let page: StorageUnitsPage<'_> =
            decode(client, STORAGE_UNITS_ENDPOINT, &body.bytes, &span)?;
        span.record("nbu.records", page.data.len());
        check_page_size(client, STORAGE_UNITS_ENDPOINT, page.data.len(), page_size)?;
        for resource in &page.data {
            match &resource.attributes {
                Some(attributes) => {
                    stats.items += 1;
                    on_unit(resource.id.as_str(), attributes);
                }
                None => stats.invalid_items += 1,
            }
        }
        let pagination = page.meta.as_ref().and_then(|m| m.pagination.as_ref());
        if expected_pages.is_none()
            && let Some(count) = pagination.and_then(|p| p.count.valid())
        {
            expected_pages = Some(count.div_ceil(u64::from(page_size.max(1))));
        }
        let next = pagination.and_then(|p| p.next.valid());
        match next {
            None => return Ok(stats),
            Some(_) if page.data.is_empty() => return Ok(stats),
            Some(next) if next <= offset => {
                return Err(pagination_error(
                    client,
                    STORAGE_UNITS_ENDPOINT,
                    format!("next offset {next} does not advance past {offset}"),
                ));
            }
            Some(next) => {
                // Allow some slack for units added during the walk.
                let limit = expected_pages.map_or(MAX_CURSOR_PAGES, |p| p + p / 2 + 2);
                if stats.pages >= limit {
                    return Err(pagination_error(
                        client,
                        STORAGE_UNITS_ENDPOINT,
                        format!(
                            "read {} pages, far beyond the {} announced by meta.pagination.count",
                            stats.pages,
                            expected_pages.unwrap_or(0)
                        ),
                    ));
                }
                offset = next;
            }
        }
    }
}

/// Parses a page (see [`PageDocument::from_body`]); a body that does not parse is a decode
/// error.
fn decode<'a, T: PageDocument<'a>>(
    client: &SiteClient,
    endpoint: &str,
    bytes: &'a [u8],
    span: &Span,
) -> Result<T, ApiError> {
    T::from_body(bytes).map_err(|detail| {
        span.record("error.type", "decode");
        span.record("otel.status_code", "error");
        client.decode_error(endpoint, DecodeKind::InvalidJson, detail, bytes)
    })
}

fn check_page_size(
    client: &SiteClient,
    endpoint: &str,
    got: usize,
    asked: u32,
) -> Result<(), ApiError> {
    if got > asked as usize {
        return Err(pagination_error(
            client,
            endpoint,
            format!("asked for at most {asked} items, got {got}"),
        ));
    }
    Ok(())
}

fn pagination_error(client: &SiteClient, endpoint: &str, detail: String) -> ApiError {
    ApiError::Pagination {
        site: client.site().to_owned(),
        endpoint: endpoint.to_owned(),
        detail,
    }
}
