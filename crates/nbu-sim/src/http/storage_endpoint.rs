//! `GET /netbackup/storage/storage-units`: offset pagination over the units.
//!
//! - `page[offset]`: 0 or more, default 0; `page[limit]`: 1 to 500, default 10 (else 400).
//! - `sort`: `name` (the default order) or `-name`; anything else is a 400.
//! - `filter` is refused (400): the simulator does not filter storage units.
//! - `include` and unknown parameters are ignored.

use std::sync::Arc;

use axum::extract::{Extension, RawQuery, State};
use axum::response::Response;
use url::form_urlencoded;

use super::state::Shared;
use crate::dataset::StorageUnit;
use crate::render::PageShape;
use crate::render::response::{bad_request, ok_json};
use crate::render::storage::{OffsetPage, PageView, render_storage_page};
use crate::version::ApiVersion;

/// Largest `page[limit]` of `/storage/storage-units`.
pub(crate) const MAX_LIMIT: u64 = 500;
const DEFAULT_LIMIT: u64 = 10;
const PATH: &str = "/netbackup/storage/storage-units";

#[derive(Debug, Clone, PartialEq, Eq)]
struct StorageQuery {
    offset: u64,
    limit: u64,
    descending: bool,
    sort_text: Option<String>,
}

fn parse_query(raw: &str) -> Result<StorageQuery, String> {
    let mut query = StorageQuery {
        offset: 0,
        limit: DEFAULT_LIMIT,
        descending: false,
        sort_text: None,
    };
    for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
        match name.as_ref() {
            "page[offset]" => {
                query.offset = value.trim().parse::<u64>().map_err(|_| {
                    format!("Invalid value '{value}' for page[offset]: expected an integer of 0 or more.")
                })?;
            }
            "page[limit]" => {
                query.limit = value
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|l| (1..=MAX_LIMIT).contains(l))
                    .ok_or_else(|| {
                        format!("Invalid value '{value}' for page[limit]: expected an integer from 1 to {MAX_LIMIT}.")
                    })?;
            }
            "sort" => {
                query.descending = match value.as_ref() {
                    "name" => false,
                    "-name" => true,
                    other => {
                        return Err(format!(
                            "Unsupported sort '{other}': the simulator sorts storage units on name or -name."
                        ));
                    }
                };
                query.sort_text = Some(value.into_owned());
            }
            "filter" => {
                return Err("filter is not supported by the simulator on storage-units.".to_owned());
            }
            _ => {}
        }
    }
    Ok(query)
}

fn href(query: &StorageQuery, offset: u64) -> String {
    let mut params = form_urlencoded::Serializer::new(String::new());
    params.append_pair("page[offset]", &offset.to_string());
    params.append_pair("page[limit]", &query.limit.to_string());
    if let Some(sort) = &query.sort_text {
        params.append_pair("sort", sort);
    }
    format!("{PATH}?{}", params.finish())
}

/// The view of `page` under a page-shaping fault.
fn view(page: &OffsetPage, shape: Option<PageShape>) -> PageView {
    let mut view = PageView::of(page);
    match shape {
        None | Some(PageShape::FreshCursor) => {}
        Some(PageShape::RepeatCursor) => view.next = Some(page.offset),
        Some(PageShape::Oversized(items)) => {
            let sent = page.count.saturating_sub(page.offset).min(items);
            let after = page.offset.saturating_add(sent);
            view.take = items;
            view.next = (after < page.count).then_some(after);
        }
        Some(PageShape::Hostile) => view.hostile = true,
    }
    view
}

/// Handler of `GET /netbackup/storage/storage-units`.
pub(crate) async fn get_units(
    State(shared): State<Arc<Shared>>,
    Extension(version): Extension<ApiVersion>,
    shape: Option<Extension<PageShape>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = match parse_query(raw.as_deref().unwrap_or("")) {
        Ok(query) => query,
        Err(message) => return bad_request(version, message),
    };
    let units = shared.dataset.storage_units();
    let reversed: Vec<StorageUnit>;
    let ordered = if query.descending {
        reversed = units.iter().rev().cloned().collect();
        &reversed[..]
    } else {
        units
    };
    let page = OffsetPage {
        offset: query.offset,
        limit: query.limit,
        count: ordered.len() as u64,
    };
    let view = view(&page, shape.map(|Extension(s)| s));
    ok_json(
        version,
        render_storage_page(ordered, &page, &view, |o| href(&query, o)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_follow_the_vendor_limits() {
        let q = parse_query("").expect("defaults");
        assert_eq!((q.offset, q.limit, q.descending), (0, 10, false));
        let q = parse_query("page%5Boffset%5D=20&page[limit]=500&sort=-name").expect("valid");
        assert_eq!((q.offset, q.limit, q.descending), (20, 500, true));
        for bad in [
            "page[limit]=501",
            "page[limit]=0",
            "page[offset]=-1",
            "sort=size",
            "filter=x",
        ] {
            assert!(parse_query(bad).is_err(), "{bad}");
        }
    }
}
