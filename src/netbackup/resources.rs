//! Walks of the list endpoints the opt-in sources read (alerts, malware scans, catalog images,
//! service level objectives, tape drives and media, pools), each to its end with the pagination
//! the vendor spec gives it.
//!
//! These lists are small next to the jobs window, so each page is parsed into a
//! `serde_json::Value` and its resources handed to a callback one by one; the sources read the
//! fields they need with the `field_*` helpers, which never fail: a missing field or one of the
//! wrong type is `None`.
//!
//! The end of a walk follows the same rules as the storage units walk: a cursor seen twice,
//! more items than asked for, or far more pages than announced stop the walk with
//! [`ApiFailure::Pagination`]; so does an offset walk that ends before the records it announced.

use serde::Deserialize;
use serde_json::Value;
use tracing::Instrument as _;

use super::api::NetBackupApi;
use super::error::{ApiError, ApiFailure, DecodeKind};
use super::pagination::{CursorTrail, OffsetTrail, WalkStats};
use super::version::ApiVersion;

/// How an endpoint pages through its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// `page[after]` set to the previous page's `meta.pagination.next` (a string).
    Cursor,
    /// `page[offset]`, following `meta.pagination.next` (an integer) up to `count`/`last`.
    Offset,
    /// One request returns everything (the endpoint has no pagination).
    Single,
}

/// One list to walk.
#[derive(Debug, Clone)]
pub struct ListQuery<'a> {
    /// Endpoint path, such as `/manage/alerts`.
    pub endpoint: &'static str,
    /// Query parameters sent with every page (filter, sort); the paging ones are added.
    pub params: Vec<(&'static str, String)>,
    /// `page[limit]`; ignored for [`Paging::Single`].
    pub page_size: u32,
    /// The endpoint's pagination.
    pub paging: Paging,
    /// Extra text for errors (for example which filter failed).
    pub what: &'a str,
}

/// The parts of a page document the walk reads; resources stay as JSON values.
#[derive(Deserialize)]
struct ListPage {
    #[serde(default)]
    data: Option<Vec<Value>>,
    #[serde(default)]
    meta: Option<Value>,
}

/// Walks `query` to its end and calls `on_resource` with every resource (`data[i]`).
pub async fn walk_list<A, F>(
    api: &A,
    version: ApiVersion,
    query: &ListQuery<'_>,
    mut on_resource: F,
) -> Result<WalkStats, ApiError>
where
    A: NetBackupApi,
    F: FnMut(&Value),
{
    let mut stats = WalkStats::default();
    let mut cursor: Option<String> = None;
    let mut cursors = CursorTrail::default();
    let mut offsets = OffsetTrail::new("records");
    let page_size = query.page_size.max(1);
    loop {
        let mut params = query.params.clone();
        match query.paging {
            Paging::Cursor => {
                params.push(("page[limit]", page_size.to_string()));
                if let Some(after) = &cursor {
                    params.push(("page[after]", after.clone()));
                }
            }
            Paging::Offset => {
                params.push(("page[offset]", offsets.offset.to_string()));
                params.push(("page[limit]", page_size.to_string()));
            }
            Paging::Single => {}
        }
        let page = fetch(api, version, query, &params, stats.pages + 1, &mut stats).await?;
        let data = page.data.unwrap_or_default();
        if query.paging != Paging::Single && data.len() > page_size as usize {
            return Err(pagination_error(
                api,
                query,
                format!("asked for at most {page_size} items, got {}", data.len()),
            ));
        }
        for resource in &data {
            stats.items += 1;
            on_resource(resource);
        }
        let pagination = page.meta.as_ref().and_then(|m| m.get("pagination"));
        match query.paging {
            Paging::Single => return Ok(stats),
            Paging::Cursor => {
                let next = pagination
                    .and_then(|p| p.get("next"))
                    .and_then(cursor_text)
                    .filter(|n| !n.is_empty());
                let Some(next) = next else {
                    return Ok(stats);
                };
                if data.is_empty() {
                    return Ok(stats);
                }
                cursors
                    .follow(&next, stats.pages)
                    .map_err(|detail| pagination_error(api, query, detail))?;
                cursor = Some(next);
            }
            Paging::Offset => {
                let next = pagination.and_then(|p| field_u64(p, "next"));
                // Without any pagination metadata (the 11.0 schema of the service catalog
                // declares none), a full page means there may be more.
                let next = match (pagination, next) {
                    (None, _) if data.len() == page_size as usize => {
                        Some(offsets.offset.saturating_add(data.len() as u64))
                    }
                    (_, next) => next,
                };
                let announced = (
                    pagination.and_then(|p| field_u64(p, "count")),
                    pagination.and_then(|p| field_u64(p, "last")),
                    next,
                );
                match offsets.step(data.len(), page_size, stats.pages, announced) {
                    Ok(true) => {}
                    Ok(false) => return Ok(stats),
                    Err(detail) => return Err(pagination_error(api, query, detail)),
                }
            }
        }
    }
}

/// The number of records matching `query` (its filter), read from `meta.pagination.count` of
/// a one-record page: one request however many records match. Returns the count and what
/// the request cost.
pub async fn count_matching<A: NetBackupApi>(
    api: &A,
    version: ApiVersion,
    query: &ListQuery<'_>,
) -> Result<(u64, WalkStats), ApiError> {
    let mut params = query.params.clone();
    params.push(("page[limit]", "1".to_owned()));
    let mut stats = WalkStats::default();
    let page = fetch(api, version, query, &params, 1, &mut stats).await?;
    let count = page
        .meta
        .as_ref()
        .and_then(|m| m.get("pagination"))
        .and_then(|p| field_u64(p, "count"))
        .ok_or_else(|| {
            api.decode_error(
                query.endpoint,
                DecodeKind::InvalidJson,
                format!(
                    "{}: meta.pagination.count is missing or not a count",
                    query.what
                ),
                &[],
            )
        })?;
    Ok((count, stats))
}

async fn fetch<A: NetBackupApi>(
    api: &A,
    version: ApiVersion,
    query: &ListQuery<'_>,
    params: &[(&'static str, String)],
    page_number: u64,
    stats: &mut WalkStats,
) -> Result<ListPage, ApiError> {
    let span = api.request_span(query.endpoint, version, Some(page_number));
    let body = api
        .list_page(version, query.endpoint, params)
        .instrument(span.clone())
        .await?;
    stats.requests = stats.requests.saturating_add(u64::from(body.attempts));
    stats.pages += 1;
    if stats.server_time.is_none() {
        stats.server_time = body.server_time;
    }
    let page: ListPage = serde_json::from_slice(&body.bytes).map_err(|e| {
        api.events().request_failed(&span, "decode");
        api.decode_error(
            query.endpoint,
            DecodeKind::InvalidJson,
            e.to_string(),
            &body.bytes,
        )
    })?;
    if let Some(data) = &page.data {
        span.record("nbu.records", data.len());
    }
    Ok(page)
}

fn pagination_error<A: NetBackupApi>(api: &A, query: &ListQuery<'_>, detail: String) -> ApiError {
    let detail = if query.what.is_empty() {
        detail
    } else {
        format!("{}: {detail}", query.what)
    };
    ApiError::at(
        api.site(),
        query.endpoint,
        ApiFailure::Pagination { detail },
    )
}

/// A cursor as text: the vendor spec gives a string, some servers send a number.
fn cursor_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `resource.attributes.<name>`, or `None`.
pub fn attribute<'v>(resource: &'v Value, name: &str) -> Option<&'v Value> {
    resource.get("attributes").and_then(|a| a.get(name))
}

/// `value.<name>` as text, or `None` when absent, null or not a string.
pub fn field_str<'v>(value: &'v Value, name: &str) -> Option<&'v str> {
    value.get(name).and_then(Value::as_str)
}

/// `value.<name>` as a non-negative whole number, or `None` (absent, negative, fractional,
/// beyond 64 bits, or text that is not such a number).
pub fn field_u64(value: &Value, name: &str) -> Option<u64> {
    match value.get(name)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `value.<name>` as a whole number of any sign (a robot number may be `-1`), or `None`.
pub fn field_i64(value: &Value, name: &str) -> Option<i64> {
    match value.get(name)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_are_read_leniently() {
        let v = json!({"a": 5, "b": "7", "c": -1, "d": "x", "e": 1.5, "f": null, "s": "text"});
        assert_eq!(field_u64(&v, "a"), Some(5));
        assert_eq!(field_u64(&v, "b"), Some(7));
        assert_eq!(field_u64(&v, "c"), None);
        assert_eq!(field_i64(&v, "c"), Some(-1));
        assert_eq!(field_u64(&v, "d"), None);
        assert_eq!(field_u64(&v, "e"), None);
        assert_eq!(field_u64(&v, "f"), None);
        assert_eq!(field_str(&v, "s"), Some("text"));
        assert_eq!(field_str(&v, "a"), None);
        assert_eq!(cursor_text(&json!(12)), Some("12".to_owned()));
        assert_eq!(cursor_text(&json!("abc")), Some("abc".to_owned()));
        assert_eq!(cursor_text(&json!(null)), None);
    }
}
