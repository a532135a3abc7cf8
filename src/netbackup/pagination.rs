//! Walks of paginated endpoints: `/admin/jobs` by cursor, storage units by offset.
//!
//! Each page is decoded and handed to a callback, then dropped: nothing accumulates but what
//! the callback keeps. A walk that does not end properly (a cursor seen before, more items
//! than asked for, far more pages than announced, an offset walk that stops before the records
//! it announced) stops with [`ApiFailure::Pagination`] instead of looping or losing records.
//! A walk over a `jobId` slice ([`walk_job_slice`]) must also go through the slice: every page
//! reaches a higher `jobId` than the page before, and no more records come than the slice has
//! ids, however fresh the cursors look.

use std::collections::HashSet;

use tracing::{Instrument as _, Span};

use chrono::{DateTime, Utc};

use super::api::{JOBS_ENDPOINT, JobsPageQuery, NetBackupApi, STORAGE_UNITS_ENDPOINT};
use super::error::{ApiError, ApiFailure, DecodeKind};
use super::models::{
    JobAttributes, JobsPage, PageDocument, RecordDefect, StorageUnitAttributes, StorageUnitsPage,
};
use super::version::ApiVersion;

/// Upper bound on the pages of one cursor walk (5 million jobs at 100 per page).
pub const MAX_CURSOR_PAGES: u64 = 50_000;

/// Longest cursor (`meta.pagination.next`) followed, in bytes. NetBackup's cursors are short;
/// a longer one is a broken or hostile server, and every cursor is kept until its walk ends
/// (to notice one coming back), so its size is bounded.
pub const MAX_CURSOR_BYTES: usize = 1024;

/// What a walk read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalkStats {
    /// Pages read.
    pub pages: u64,
    /// Resources handed to the callback.
    pub items: u64,
    /// Resources without attributes (skipped).
    pub invalid_items: u64,
    /// Records skipped because they are broken in a member the agent reads (see
    /// [`RecordDefect`]).
    pub skipped_records: u64,
    /// Requests sent, retries included.
    pub requests: u64,
    /// The server's clock (`Date` header) when it answered the first page.
    pub server_time: Option<DateTime<Utc>>,
}

impl WalkStats {
    /// Adds the counts of another walk; the earlier server time is kept.
    pub fn merge(&mut self, other: &WalkStats) {
        self.pages += other.pages;
        self.items += other.items;
        self.invalid_items += other.invalid_items;
        self.skipped_records += other.skipped_records;
        self.requests += other.requests;
        self.server_time = match (self.server_time, other.server_time) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// The cursors a cursor walk followed: the rules that stop it instead of looping.
#[derive(Debug, Default)]
pub(crate) struct CursorTrail {
    seen: HashSet<String>,
}

impl CursorTrail {
    /// Checks `next` before the walk follows it, after `pages` pages: not longer than
    /// [`MAX_CURSOR_BYTES`], never seen before, and within [`MAX_CURSOR_PAGES`]. The error is
    /// the detail of an [`ApiFailure::Pagination`].
    pub(crate) fn follow(&mut self, next: &str, pages: u64) -> Result<(), String> {
        if next.len() > MAX_CURSOR_BYTES {
            return Err(format!(
                "meta.pagination.next is {} bytes long, more than the {MAX_CURSOR_BYTES} accepted",
                next.len()
            ));
        }
        if !self.seen.insert(next.to_owned()) {
            return Err(format!("cursor {next:?} came back a second time"));
        }
        if pages >= MAX_CURSOR_PAGES {
            return Err(format!("more than {MAX_CURSOR_PAGES} pages"));
        }
        Ok(())
    }
}

/// Where an offset walk stands: records read and what the server announced.
#[derive(Debug)]
pub(crate) struct OffsetTrail {
    /// What the records are, in errors (`units`, `records`).
    noun: &'static str,
    /// The offset of the page just read.
    pub(crate) offset: u64,
    /// Records read, with or without attributes: what `count` counts.
    seen: u64,
    /// The latest count and last offset announced: records may come and go during the walk.
    count: Option<u64>,
    last: Option<u64>,
    /// Pages the first announced count needs.
    expected_pages: Option<u64>,
}

impl OffsetTrail {
    /// A walk from offset 0 of records called `noun` in errors.
    pub(crate) fn new(noun: &'static str) -> Self {
        Self {
            noun,
            offset: 0,
            seen: 0,
            count: None,
            last: None,
            expected_pages: None,
        }
    }

    /// Takes in a page of `records` records with its `count`, `last` and `next`, after `pages`
    /// pages of `page_size`. `Ok(true)`: read on from the new [`OffsetTrail::offset`];
    /// `Ok(false)`: the walk is over and complete. A `next` absent, 0 or not past this page,
    /// or an empty page, ends the walk, which is complete when the records read reach `count`
    /// (or, without a count, when the page is at or past `last`); otherwise records would be
    /// lost, and the error says so. Far more pages than announced is an error too.
    pub(crate) fn step(
        &mut self,
        records: usize,
        page_size: u32,
        pages: u64,
        announced: (Option<u64>, Option<u64>, Option<u64>),
    ) -> Result<bool, String> {
        let (count, last, next) = announced;
        self.seen = self.seen.saturating_add(records as u64);
        self.count = count.or(self.count);
        self.last = last.or(self.last);
        if self.expected_pages.is_none()
            && let Some(count) = self.count
        {
            self.expected_pages = Some(count.div_ceil(u64::from(page_size.max(1))));
        }
        match next {
            Some(next) if next > self.offset && records > 0 => {
                // Allow some slack for records added during the walk.
                let limit = self
                    .expected_pages
                    .map_or(MAX_CURSOR_PAGES, |p| {
                        p.saturating_add(p / 2).saturating_add(2)
                    })
                    .min(MAX_CURSOR_PAGES);
                if pages >= limit {
                    return Err(format!(
                        "read {pages} pages, far beyond the {} announced by meta.pagination.count",
                        self.expected_pages.unwrap_or(0)
                    ));
                }
                self.offset = next;
                Ok(true)
            }
            _ => {
                let complete = match self.count {
                    Some(count) => self.seen >= count,
                    None => self.last.is_none_or(|last| self.offset >= last),
                };
                if complete {
                    return Ok(false);
                }
                let shown =
                    |n: Option<u64>| n.map_or_else(|| "absent".to_owned(), |n| n.to_string());
                Err(format!(
                    "the walk ends at offset {} (meta.pagination.next {}) after {} {}, short of \
                     those announced (meta.pagination.count {}, last {})",
                    self.offset,
                    shown(next),
                    self.seen,
                    self.noun,
                    shown(self.count),
                    shown(self.last)
                ))
            }
        }
    }
}

/// A range of job ids `[lo, hi]`, both included, that a walk's filter restricts it to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobIdSlice {
    /// The lowest id of the slice.
    pub lo: u64,
    /// The highest id of the slice.
    pub hi: u64,
}

impl JobIdSlice {
    /// The most records the slice can hold: one per id.
    pub fn capacity(self) -> u64 {
        self.hi.saturating_sub(self.lo).saturating_add(1)
    }
}

/// How far a walk over a [`JobIdSlice`] went: the rules that stop a server serving the same
/// jobs again under fresh cursors.
#[derive(Debug)]
struct SliceTrail {
    slice: JobIdSlice,
    /// Records read so far, broken ones included.
    read: u64,
    /// The highest valid `jobId` read so far.
    highest: Option<u64>,
}

impl SliceTrail {
    fn new(slice: JobIdSlice) -> Self {
        Self {
            slice,
            read: 0,
            highest: None,
        }
    }

    /// Takes in page number `page` of `records` records whose highest valid `jobId` is
    /// `page_highest`. The error is the detail of an [`ApiFailure::Pagination`].
    fn step(&mut self, page: u64, records: usize, page_highest: Option<u64>) -> Result<(), String> {
        let JobIdSlice { lo, hi } = self.slice;
        self.read = self.read.saturating_add(records as u64);
        if self.read > self.slice.capacity() {
            return Err(format!(
                "read {} records from the jobId slice [{lo}, {hi}], which holds at most {}: \
                 the server sends jobs again",
                self.read,
                self.slice.capacity()
            ));
        }
        if let (Some(previous), Some(now)) = (self.highest, page_highest)
            && now <= previous
        {
            return Err(format!(
                "page {page} of the jobId slice [{lo}, {hi}] reaches jobId {now}, no further \
                 than the previous pages (jobId {previous}): the walk makes no progress"
            ));
        }
        self.highest = self.highest.max(page_highest);
        Ok(())
    }
}

/// Walks `/admin/jobs` matching `filter` (every job when `None`), sorted by `jobId`,
/// `page_size` jobs per page, and calls `on_job` for every job.
pub async fn walk_jobs<A, F>(
    api: &A,
    version: ApiVersion,
    filter: Option<&str>,
    page_size: u32,
    on_job: F,
) -> Result<WalkStats, ApiError>
where
    A: NetBackupApi,
    F: FnMut(&JobAttributes<'_>),
{
    walk_jobs_within(api, version, filter, None, page_size, on_job).await
}

/// [`walk_jobs`] of a `filter` that keeps to the job ids of `slice`: a walk whose pages stop
/// reaching higher ids, or that reads more records than the slice has ids, stops with
/// [`ApiFailure::Pagination`].
pub async fn walk_job_slice<A, F>(
    api: &A,
    version: ApiVersion,
    filter: &str,
    slice: JobIdSlice,
    page_size: u32,
    on_job: F,
) -> Result<WalkStats, ApiError>
where
    A: NetBackupApi,
    F: FnMut(&JobAttributes<'_>),
{
    walk_jobs_within(api, version, Some(filter), Some(slice), page_size, on_job).await
}

async fn walk_jobs_within<A, F>(
    api: &A,
    version: ApiVersion,
    filter: Option<&str>,
    slice: Option<JobIdSlice>,
    page_size: u32,
    mut on_job: F,
) -> Result<WalkStats, ApiError>
where
    A: NetBackupApi,
    F: FnMut(&JobAttributes<'_>),
{
    let mut stats = WalkStats::default();
    let mut cursor: Option<String> = None;
    let mut trail = CursorTrail::default();
    let mut slice_trail = slice.map(SliceTrail::new);
    loop {
        let query = JobsPageQuery {
            filter,
            limit: page_size,
            after: cursor.as_deref(),
            newest_first: false,
        };
        let span = api.request_span(JOBS_ENDPOINT, version, Some(stats.pages + 1));
        let body = api
            .jobs_page(version, &query)
            .instrument(span.clone())
            .await?;
        stats.requests += u64::from(body.attempts);
        stats.pages += 1;
        if stats.server_time.is_none() {
            stats.server_time = body.server_time;
        }
        let page: JobsPage<'_> = decode(api, JOBS_ENDPOINT, &body.bytes, &span)?;
        span.record("nbu.records", page.data.len());
        check_page_size(api, JOBS_ENDPOINT, page.data.len(), page_size)?;
        if let Some(slice_trail) = &mut slice_trail {
            let highest = page
                .data
                .iter()
                .filter(|r| r.defect.is_none_or(|d| d.member() != "jobId"))
                .filter_map(|r| r.attributes.as_ref())
                .filter_map(|a| a.job_id.valid())
                .max();
            slice_trail
                .step(stats.pages, page.data.len(), highest)
                .map_err(|detail| pagination_error(api, JOBS_ENDPOINT, detail))?;
        }
        let mut skipped: Option<(u64, Option<u64>, RecordDefect)> = None;
        for resource in &page.data {
            match (&resource.attributes, resource.defect) {
                (attributes, Some(defect)) => {
                    let job_id = attributes.as_ref().and_then(|a| a.job_id.valid());
                    let (n, _, _) = skipped.get_or_insert((0, job_id, defect));
                    *n += 1;
                }
                (Some(attributes), None) => {
                    stats.items += 1;
                    on_job(attributes);
                }
                (None, None) => stats.invalid_items += 1,
            }
        }
        if let Some((count, job_id, defect)) = skipped {
            stats.skipped_records += count;
            // One line per page, naming the first broken record.
            api.events()
                .records_skipped(api.site(), JOBS_ENDPOINT, "job", count, job_id, &defect);
        }
        let next = page
            .meta
            .as_ref()
            .and_then(|m| m.pagination.as_ref())
            .and_then(|p| p.next.as_str())
            .filter(|n| !n.is_empty())
            .map(str::to_owned);
        let empty = page.data.is_empty();
        drop(page);
        api.recycle_body(body.bytes);
        match next {
            None => return Ok(stats),
            Some(_) if empty => return Ok(stats),
            Some(next) => {
                trail
                    .follow(&next, stats.pages)
                    .map_err(|detail| pagination_error(api, JOBS_ENDPOINT, detail))?;
                cursor = Some(next);
            }
        }
    }
}

/// Jobs asked for by [`first_job_id`]: a few, so that a first record whose `jobId` is broken
/// does not hide the others.
const FIRST_JOB_PROBE: u32 = 4;

/// The `jobId` of the first job matching `filter` in ascending (or, with `newest_first`,
/// descending) `jobId` order, with the server's clock: one request of a few jobs. A record
/// broken in another member still gives its id; one whose `jobId` is broken is passed over
/// (walks skip it anyway).
pub async fn first_job_id<A: NetBackupApi>(
    api: &A,
    version: ApiVersion,
    filter: Option<&str>,
    newest_first: bool,
) -> Result<(Option<u64>, Option<DateTime<Utc>>), ApiError> {
    let query = JobsPageQuery {
        filter,
        limit: FIRST_JOB_PROBE,
        after: None,
        newest_first,
    };
    let span = api.request_span(JOBS_ENDPOINT, version, Some(1));
    let body = api
        .jobs_page(version, &query)
        .instrument(span.clone())
        .await?;
    let page: JobsPage<'_> = decode(api, JOBS_ENDPOINT, &body.bytes, &span)?;
    span.record("nbu.records", page.data.len());
    let id = page
        .data
        .iter()
        .filter(|r| r.defect.is_none_or(|d| d.member() != "jobId"))
        .filter_map(|r| r.attributes.as_ref())
        .find_map(|a| a.job_id.valid());
    Ok((id, body.server_time))
}

/// Walks `/storage/storage-units` by offset, `page_size` units per page, and calls `on_unit`
/// with each unit's id and attributes.
///
/// A page whose `meta.pagination.next` is absent, null, 0 or not past its own offset (or an
/// empty page) ends the walk. That end is complete when the units read reach
/// `meta.pagination.count` (or, without a count, when the page is at or past
/// `meta.pagination.last`); otherwise units would be lost, and the walk fails.
pub async fn walk_storage_units<A, F>(
    api: &A,
    version: ApiVersion,
    page_size: u32,
    mut on_unit: F,
) -> Result<WalkStats, ApiError>
where
    A: NetBackupApi,
    F: FnMut(Option<&str>, &StorageUnitAttributes<'_>),
{
    let mut stats = WalkStats::default();
    let mut trail = OffsetTrail::new("units");
    loop {
        let span = api.request_span(STORAGE_UNITS_ENDPOINT, version, Some(stats.pages + 1));
        let body = api
            .storage_page(version, trail.offset, page_size)
            .instrument(span.clone())
            .await?;
        if stats.server_time.is_none() {
            stats.server_time = body.server_time;
        }
        stats.requests = stats.requests.saturating_add(u64::from(body.attempts));
        stats.pages += 1;
        let page: StorageUnitsPage<'_> = decode(api, STORAGE_UNITS_ENDPOINT, &body.bytes, &span)?;
        let records = page.data.len() + page.skipped.len();
        span.record("nbu.records", records);
        check_page_size(api, STORAGE_UNITS_ENDPOINT, records, page_size)?;
        if let Some(first) = page.skipped.first() {
            let count = page.skipped.len() as u64;
            stats.skipped_records += count;
            api.events().records_skipped(
                api.site(),
                STORAGE_UNITS_ENDPOINT,
                "storage unit",
                count,
                None,
                first,
            );
        }
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
        let announced = (
            pagination.and_then(|p| p.count.valid()),
            pagination.and_then(|p| p.last.valid()),
            pagination.and_then(|p| p.next.valid()),
        );
        match trail.step(records, page_size, stats.pages, announced) {
            Ok(true) => {}
            Ok(false) => return Ok(stats),
            Err(detail) => return Err(pagination_error(api, STORAGE_UNITS_ENDPOINT, detail)),
        }
    }
}

/// Parses a page (see [`PageDocument::from_body`]); a body that does not parse is a decode
/// error.
fn decode<'a, T: PageDocument<'a>, A: NetBackupApi>(
    api: &A,
    endpoint: &str,
    bytes: &'a [u8],
    span: &Span,
) -> Result<T, ApiError> {
    T::from_body(bytes).map_err(|e| {
        api.events().request_failed(span, "decode");
        api.decode_error(endpoint, DecodeKind::InvalidJson, e.to_string(), bytes)
    })
}

fn check_page_size<A: NetBackupApi>(
    api: &A,
    endpoint: &str,
    got: usize,
    asked: u32,
) -> Result<(), ApiError> {
    if got > asked as usize {
        return Err(pagination_error(
            api,
            endpoint,
            format!("asked for at most {asked} items, got {got}"),
        ));
    }
    Ok(())
}

fn pagination_error<A: NetBackupApi>(api: &A, endpoint: &str, detail: String) -> ApiError {
    ApiError::at(api.site(), endpoint, ApiFailure::Pagination { detail })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slice_walk_must_reach_higher_ids_page_after_page() {
        let mut trail = SliceTrail::new(JobIdSlice { lo: 100, hi: 199 });
        assert_eq!(trail.step(1, 10, Some(109)), Ok(()));
        assert_eq!(trail.step(2, 10, Some(119)), Ok(()));
        // The same jobs again, whatever the cursor: no progress.
        let stuck = trail.step(3, 10, Some(119));
        assert!(
            stuck
                .as_ref()
                .is_err_and(|e| e.contains("no progress") && e.contains("[100, 199]")),
            "{stuck:?}"
        );
        // A page of lower ids is no progress either.
        let mut trail = SliceTrail::new(JobIdSlice { lo: 100, hi: 199 });
        assert_eq!(trail.step(1, 10, Some(150)), Ok(()));
        assert!(trail.step(2, 10, Some(120)).is_err());
    }

    #[test]
    fn a_slice_walk_reads_no_more_records_than_the_slice_has_ids() {
        // Pages of records whose `jobId` is unreadable cannot show progress: the count stops
        // them once the slice's ids are used up.
        let mut trail = SliceTrail::new(JobIdSlice { lo: 1, hi: 50 });
        for page in 1..=5 {
            assert_eq!(trail.step(page, 10, None), Ok(()), "page {page}");
        }
        let over = trail.step(6, 1, None);
        assert!(
            over.as_ref()
                .is_err_and(|e| e.contains("read 51 records") && e.contains("at most 50")),
            "{over:?}"
        );
        // A slice as wide as the id space holds them all.
        let all = JobIdSlice {
            lo: 0,
            hi: u64::MAX,
        };
        assert_eq!(all.capacity(), u64::MAX);
        let mut trail = SliceTrail::new(all);
        assert_eq!(trail.step(1, 100, Some(99)), Ok(()));
    }
}
