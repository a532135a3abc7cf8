//! `GET /netbackup/admin/jobs`: cursor pagination over the lazily generated jobs.
//!
//! - `filter`: see [`super::filter`]; a bad filter is a 400 naming the problem.
//! - `page[limit]`: 0 to 100, default 10 (otherwise 400). A limit of 0 returns no jobs and no
//!   `next`.
//! - `page[after]`: a cursor, which is a `jobId` in decimal; the page starts after it in the
//!   sort order. `page[before]` is refused (400).
//! - `sort`: `jobId` or `-jobId`; the default is `-jobId` (newest first), the closest cheap
//!   equivalent of the vendor's default (descending start time). Anything else is a 400.
//!
//! `meta.pagination` has `limit`, `next` (cursor of the last item, absent when no matching job
//! follows) and `prev` (cursor of the first item, when `page[after]` was given); `links` has
//! `self`, `first` and `next`. The walk starts at the cursor and stops one match past the page,
//! so walking all pages of N jobs touches O(N) jobs.
//!
//! A page shows the jobs as they are at the instant of its request (the `Date` header). In live
//! mode the walk covers only the `jobId`s that may exist then: it starts at the lowest job not
//! certainly purged, so purged history is never scanned.

use std::sync::Arc;

use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use url::form_urlencoded;

use super::filter::Filter;
use super::state::{RequestInstant, Shared};
use crate::dataset::{Dataset, Job};
use crate::render::PageShape;
use crate::render::response::{bad_request, error, ok_json};
use crate::render::{JobsPage, render_jobs_page_at};
use crate::version::ApiVersion;

/// Largest `page[limit]` of `/admin/jobs`.
pub(crate) const MAX_LIMIT: u64 = 100;
/// Default `page[limit]`.
const DEFAULT_LIMIT: u64 = 10;
const PATH: &str = "/netbackup/admin/jobs";

/// The parsed query of a jobs request.
#[derive(Debug, Clone, Default)]
struct JobsQuery {
    filter_text: Option<String>,
    filter: Filter,
    limit: u64,
    after: Option<u64>,
    ascending: bool,
    /// Sorted by `endTime` (`Some(true)` ascending, `Some(false)` descending) instead of
    /// `jobId`; such a query is served as one page.
    by_end_time: Option<bool>,
    sort_text: Option<String>,
}

fn parse_query(raw: &str) -> Result<JobsQuery, String> {
    let mut query = JobsQuery {
        limit: DEFAULT_LIMIT,
        ..JobsQuery::default()
    };
    for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
        match name.as_ref() {
            "filter" => {
                query.filter =
                    Filter::parse(&value).map_err(|e| format!("Invalid filter: {e}."))?;
                query.filter_text = Some(value.into_owned());
            }
            "page[limit]" => {
                query.limit = value
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|l| *l <= MAX_LIMIT)
                    .ok_or_else(|| {
                        format!("Invalid value '{value}' for page[limit]: expected an integer from 0 to {MAX_LIMIT}.")
                    })?;
            }
            "page[after]" => {
                let cursor = value
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| format!("Invalid cursor '{value}' for page[after]."))?;
                query.after = Some(cursor);
            }
            "page[before]" => {
                return Err("page[before] is not supported by the simulator.".to_owned());
            }
            "sort" => {
                match value.as_ref() {
                    "jobId" => query.ascending = true,
                    "-jobId" => query.ascending = false,
                    "endTime" => query.by_end_time = Some(true),
                    "-endTime" => query.by_end_time = Some(false),
                    other => {
                        return Err(format!(
                            "Unsupported sort '{other}': the simulator sorts on jobId, -jobId, \
                             endTime or -endTime."
                        ));
                    }
                }
                query.sort_text = Some(value.into_owned());
            }
            _ => {}
        }
    }
    if query.sort_text.is_none() {
        query.ascending = false;
    }
    Ok(query)
}

/// The jobs of one page as they are at `now_ms`, and whether another matching job follows.
fn walk<'a>(dataset: &'a Dataset, query: &JobsQuery, now_ms: i64) -> (Vec<Job<'a>>, bool) {
    if query.limit == 0 {
        return (Vec::new(), false);
    }
    let (lo, hi) = query.filter.job_id_bounds();
    let (first, last) = dataset.job_id_range_at(now_ms);
    let lo = lo.max(first);
    let hi = hi.min(last);
    if let Some(ascending) = query.by_end_time {
        // Every matching job, ordered by end time (unfinished jobs last), one page.
        let mut all: Vec<Job<'a>> = (lo..=hi)
            .filter_map(|id| dataset.job_at(id - 1, now_ms))
            .filter(|job| query.filter.matches(job))
            .collect();
        all.sort_by_key(|job| {
            let end = job.end_ms.unwrap_or(0);
            let order = if ascending { end } else { end.saturating_neg() };
            (job.end_ms.is_none(), order, job.job_id)
        });
        all.truncate(usize::try_from(query.limit).unwrap_or(usize::MAX));
        return (all, false);
    }
    let ids: Box<dyn Iterator<Item = u64>> = if query.ascending {
        let start = query.after.map_or(lo, |c| c.saturating_add(1).max(lo));
        Box::new(start..=hi)
    } else {
        let start = query.after.map_or(hi, |c| c.saturating_sub(1).min(hi));
        Box::new((lo..=start).rev())
    };
    let mut items = Vec::with_capacity(usize::try_from(query.limit.min(MAX_LIMIT)).unwrap_or(0));
    for id in ids {
        let Some(job) = dataset.job_at(id - 1, now_ms) else {
            continue;
        };
        if !query.filter.matches(&job) {
            continue;
        }
        if items.len() as u64 == query.limit {
            return (items, true);
        }
        items.push(job);
    }
    (items, false)
}

fn href(query: &JobsQuery, after: Option<u64>) -> String {
    let mut params = form_urlencoded::Serializer::new(String::new());
    if let Some(filter) = &query.filter_text {
        params.append_pair("filter", filter);
    }
    params.append_pair("page[limit]", &query.limit.to_string());
    if let Some(after) = after {
        params.append_pair("page[after]", &after.to_string());
    }
    if let Some(sort) = &query.sort_text {
        params.append_pair("sort", sort);
    }
    format!("{PATH}?{}", params.finish())
}

/// The absolute API base for per-job links, from the `Host` header.
pub(crate) fn base_from_host(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}/netbackup")
}

/// Renders the page of `query` at `now_ms`, reshaped by a page-shaping fault if any.
fn render(
    dataset: &Dataset,
    query: &JobsQuery,
    base: &str,
    shape: Option<PageShape>,
    now_ms: i64,
) -> String {
    let (items, more) = match shape {
        Some(PageShape::Oversized(items)) => {
            let oversized = JobsQuery {
                limit: items,
                ..query.clone()
            };
            walk(dataset, &oversized, now_ms)
        }
        // A stuck cursor: every page is the first one again, with the same cursor (or a
        // fresh one).
        Some(PageShape::RepeatCursor | PageShape::FreshCursor) => {
            let first = JobsQuery {
                after: None,
                ..query.clone()
            };
            walk(dataset, &first, now_ms)
        }
        _ => walk(dataset, query, now_ms),
    };
    let mut next = if more {
        items.last().map(|j| j.job_id)
    } else {
        None
    };
    if shape == Some(PageShape::RepeatCursor) {
        next = Some(
            query
                .after
                .or_else(|| items.last().map(|j| j.job_id))
                .unwrap_or(0),
        );
    }
    if shape == Some(PageShape::FreshCursor) {
        next = Some(query.after.map_or_else(
            || items.last().map_or(0, |j| j.job_id),
            |after| after.saturating_add(1),
        ));
    }
    let prev = query.after.and(items.first().map(|j| j.job_id));
    let page = JobsPage {
        limit: query.limit,
        next,
        prev,
        self_href: href(query, query.after),
        first_href: href(query, None),
        next_href: next.map(|n| href(query, Some(n))),
        items,
        hostile: shape == Some(PageShape::Hostile),
    };
    // A static dataset is rendered as of its anchor, whatever the clock says.
    let at = if dataset.is_live() {
        now_ms
    } else {
        dataset.anchor_ms()
    };
    render_jobs_page_at(dataset, &page, base, at)
}

/// Handler of `GET /netbackup/admin/jobs`. The walk runs on the blocking pool: a selective
/// filter may scan many jobs for one page.
pub(crate) async fn get_jobs(
    State(shared): State<Arc<Shared>>,
    Extension(version): Extension<ApiVersion>,
    shape: Option<Extension<PageShape>>,
    instant: Option<Extension<RequestInstant>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = match parse_query(raw.as_deref().unwrap_or("")) {
        Ok(query) => query,
        Err(message) => return bad_request(version, message),
    };
    let base = base_from_host(&headers);
    let shape = shape.map(|Extension(s)| s);
    let now_ms = instant.map_or_else(|| shared.clock.now_ms(), |Extension(RequestInstant(ms))| ms);
    let work =
        tokio::task::spawn_blocking(move || render(&shared.dataset, &query, &base, shape, now_ms));
    match work.await {
        Ok(body) => ok_json(version, body),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            version,
            "The simulator failed to build the page.",
            &[],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimConfig;

    fn ids(dataset: &Dataset, raw: &str) -> (Vec<u64>, bool) {
        let query = parse_query(raw).expect(raw);
        let (items, more) = walk(dataset, &query, 0);
        (items.iter().map(|j| j.job_id).collect(), more)
    }

    #[test]
    fn walks_from_the_cursor_in_both_directions() {
        let data = Dataset::new(&SimConfig::reproducible(20));
        assert_eq!(
            ids(&data, "sort=jobId&page[limit]=3"),
            (vec![1, 2, 3], true)
        );
        assert_eq!(
            ids(&data, "sort=jobId&page[limit]=3&page[after]=18"),
            (vec![19, 20], false)
        );
        assert_eq!(
            ids(&data, "sort=jobId&page[limit]=2&page[after]=18"),
            (vec![19, 20], false)
        );
        assert_eq!(ids(&data, "page[limit]=3"), (vec![20, 19, 18], true));
        assert_eq!(
            ids(&data, "sort=-jobId&page[limit]=3&page[after]=3"),
            (vec![2, 1], false)
        );
        assert_eq!(ids(&data, "sort=jobId&page[after]=20"), (vec![], false));
        assert_eq!(
            ids(&data, "sort=jobId&page[after]=18446744073709551615").0,
            Vec::<u64>::new()
        );
        assert_eq!(
            ids(&data, "page[after]=18446744073709551615&page[limit]=1"),
            (vec![20], true)
        );
        assert_eq!(ids(&data, "sort=jobId&page[limit]=0"), (vec![], false));
        assert_eq!(
            ids(
                &data,
                "sort=jobId&filter=jobId%20gt%205%20and%20jobId%20le%207"
            ),
            (vec![6, 7], false)
        );
        assert_eq!(
            ids(&Dataset::new(&SimConfig::reproducible(0)), "sort=jobId"),
            (vec![], false)
        );
    }

    #[test]
    fn bad_parameters_are_named() {
        let err = |raw: &str| parse_query(raw).expect_err(raw);
        assert!(err("page[limit]=101").contains("page[limit]"));
        assert!(err("page[limit]=-1").contains("page[limit]"));
        assert!(err("page[limit]=ten").contains("page[limit]"));
        assert!(err("page[after]=abc").contains("cursor"));
        assert!(err("page[after]=99999999999999999999").contains("cursor"));
        assert!(err("page[before]=3").contains("page[before]"));
        assert!(err("sort=startTime").contains("startTime"));
        assert!(err("filter=nope%20eq%201").contains("unknown filter field 'nope'"));
        assert!(parse_query("page%5Blimit%5D=100&unknown=1").is_ok());
    }
}
