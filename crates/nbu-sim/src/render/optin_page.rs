//! Query parameters and pagination envelopes of the opt-in endpoints: offset pages (with or
//! without `links` and `meta`) and cursor pages (`page[after]`/`page[before]`), including the
//! page-shaping faults ([`PageShape`]).

use url::form_urlencoded;

use super::PageShape;
use super::json::JsonOut;
use super::storage::{OffsetPage, write_offset_links, write_offset_meta};

/// The bounds of `page[limit]` of an endpoint.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Used when the request has none.
    pub default: u64,
    /// Smallest accepted.
    pub min: u64,
    /// Largest accepted.
    pub max: u64,
}

/// The parameters of a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Params {
    /// `page[offset]` (0 when absent).
    pub offset: u64,
    /// `page[limit]`.
    pub limit: u64,
    /// `filter`, if any.
    pub filter: Option<String>,
    /// `sort`, if any.
    pub sort: Option<String>,
    /// `page[after]`, if any.
    pub after: Option<String>,
    /// `page[before]`, if any.
    pub before: Option<String>,
}

/// Reads the query; other parameters are ignored.
pub(crate) fn parse_params(raw: &str, limits: Limits) -> Result<Params, String> {
    let mut params = Params {
        limit: limits.default,
        ..Params::default()
    };
    for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
        match name.as_ref() {
            "page[offset]" => {
                params.offset = value.trim().parse::<u64>().map_err(|_| {
                    format!("Invalid value '{value}' for page[offset]: expected an integer of 0 or more.")
                })?;
            }
            "page[limit]" => {
                params.limit = value
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|l| (limits.min..=limits.max).contains(l))
                    .ok_or_else(|| {
                        format!(
                            "Invalid value '{value}' for page[limit]: expected an integer from {} to {}.",
                            limits.min, limits.max
                        )
                    })?;
            }
            "filter" => params.filter = Some(value.into_owned()),
            "sort" => params.sort = Some(value.into_owned()),
            "page[after]" => params.after = Some(value.into_owned()),
            "page[before]" => params.before = Some(value.into_owned()),
            _ => {}
        }
    }
    Ok(params)
}

/// Which parts of the offset envelope an endpoint's schema has.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OffsetStyle {
    /// Top-level `links` (`self first last next prev`).
    pub links: bool,
    /// `meta.pagination.page` and `pages`.
    pub pages: bool,
    /// `meta` at all (SLOs have only `data`).
    pub meta: bool,
}

/// Renders one item: the writer, the item, its 0-based position in the listing, hostile.
pub(crate) type RenderItem<'a, T> = &'a dyn Fn(&mut JsonOut, &T, u64, bool);

/// An offset page of `items` (every matching item, in order); `href` makes a page link from an
/// offset.
pub(crate) fn render_offset<T>(
    items: &[T],
    params: &Params,
    shape: Option<PageShape>,
    style: OffsetStyle,
    href: &dyn Fn(u64) -> String,
    render: RenderItem<'_, T>,
) -> String {
    let page = OffsetPage {
        offset: params.offset,
        limit: params.limit,
        count: items.len() as u64,
    };
    let mut take = page.limit;
    let mut next = page.next().filter(|_| page.limit > 0);
    let mut hostile = false;
    match shape {
        None | Some(PageShape::FreshCursor) => {}
        Some(PageShape::RepeatCursor) => next = Some(page.offset),
        Some(PageShape::Oversized(n)) => {
            take = n;
            let after = page.offset.saturating_add(n);
            next = (after < page.count).then_some(after);
        }
        Some(PageShape::Hostile) => hostile = true,
    }
    let start = usize::try_from(page.offset).unwrap_or(usize::MAX);
    let take_n = usize::try_from(take).unwrap_or(usize::MAX);
    let mut out = JsonOut::with_capacity(1024 + take_n.min(items.len()) * 800);
    out.begin_object();
    out.key("data").begin_array();
    for (position, item) in items.iter().skip(start).take(take_n).enumerate() {
        render(&mut out, item, page.offset + position as u64, hostile);
    }
    out.end_array();
    if style.links {
        write_offset_links(&mut out, &page, next, href);
    }
    if style.meta {
        write_offset_meta(&mut out, &page, next, style.pages);
    }
    out.end_object();
    out.finish()
}

/// A cursor page of `items` (every item, in cursor order); `id` is an item's cursor, `href`
/// makes a link from `(page[after], page[before])`. An unknown cursor is an error (400).
pub(crate) fn render_cursor<T>(
    items: &[T],
    id: &dyn Fn(&T) -> &str,
    params: &Params,
    shape: Option<PageShape>,
    href: &dyn Fn(Option<&str>, Option<&str>) -> String,
    render: RenderItem<'_, T>,
) -> Result<String, String> {
    let position = |cursor: &str| {
        items
            .iter()
            .position(|item| id(item) == cursor)
            .ok_or_else(|| format!("Invalid cursor '{cursor}': no such item."))
    };
    let limit = usize::try_from(params.limit).unwrap_or(usize::MAX);
    let (start, mut take) = match (&params.after, &params.before) {
        (Some(after), _) => (position(after)? + 1, limit),
        (None, Some(before)) => {
            let end = position(before)?;
            (end.saturating_sub(limit), end.min(limit))
        }
        (None, None) => (0, limit),
    };
    let mut hostile = false;
    match shape {
        Some(PageShape::Oversized(n)) => take = usize::try_from(n).unwrap_or(usize::MAX),
        Some(PageShape::Hostile) => hostile = true,
        Some(PageShape::RepeatCursor | PageShape::FreshCursor) | None => {}
    }
    let page: Vec<&T> = items.iter().skip(start).take(take).collect();
    let end = start + page.len();
    let mut next = page
        .last()
        .map(|item| id(item).to_owned())
        .filter(|_| end < items.len());
    if shape == Some(PageShape::RepeatCursor) {
        next = params
            .after
            .clone()
            .or_else(|| page.last().map(|item| id(item).to_owned()));
    }
    let prev = page
        .first()
        .map(|item| id(item).to_owned())
        .filter(|_| start > 0);
    let mut out = JsonOut::with_capacity(1024 + page.len() * 800);
    out.begin_object();
    out.key("data").begin_array();
    for (k, item) in page.iter().enumerate() {
        render(&mut out, item, (start + k) as u64, hostile);
    }
    out.end_array();
    out.key("links")
        .begin_object()
        .key("pagination")
        .begin_object();
    out.key("self").href(format_args!(
        "{}",
        href(params.after.as_deref(), params.before.as_deref())
    ));
    out.key("first").href(format_args!("{}", href(None, None)));
    if let Some(next) = &next {
        out.key("next")
            .href(format_args!("{}", href(Some(next), None)));
    }
    if let Some(prev) = &prev {
        out.key("prev")
            .href(format_args!("{}", href(None, Some(prev))));
    }
    out.end_object().end_object();
    out.key("meta")
        .begin_object()
        .key("pagination")
        .begin_object();
    out.key("limit").u64(params.limit);
    if let Some(next) = &next {
        out.key("next").str(next);
    }
    if let Some(prev) = &prev {
        out.key("prev").str(prev);
    }
    out.end_object().end_object();
    out.end_object();
    Ok(out.finish())
}

/// A link to `path` with the given parameters (empty values skipped).
pub(crate) fn link(path: &str, pairs: &[(&str, Option<&str>)]) -> String {
    let mut params = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        if let Some(value) = value {
            params.append_pair(name, value);
        }
    }
    format!("{path}?{}", params.finish())
}
