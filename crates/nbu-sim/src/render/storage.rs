//! JSON:API documents of `/storage/storage-units`, following the 11.0 `storage.yaml` schema.

use super::hostile::render_hostile_unit;
use super::json::JsonOut;
use crate::dataset::{StorageUnit, UnitKind};

/// Offset pagination of one storage page (`meta.pagination`, all integers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OffsetPage {
    /// `offset` of this page.
    pub offset: u64,
    /// `limit`: records per page.
    pub limit: u64,
    /// `count`: total records.
    pub count: u64,
}

impl OffsetPage {
    /// `pages`: number of pages (0 without records).
    pub(crate) fn pages(&self) -> u64 {
        self.count.div_ceil(self.limit.max(1))
    }

    /// `page`: 0-based number of this page, as in the vendor examples.
    pub(crate) fn page(&self) -> u64 {
        self.offset / self.limit.max(1)
    }

    /// `last`: offset of the last page.
    pub(crate) fn last(&self) -> u64 {
        self.pages().saturating_sub(1) * self.limit
    }

    /// `next`: offset of the next page, absent on the last page.
    pub(crate) fn next(&self) -> Option<u64> {
        let next = self.offset.saturating_add(self.limit);
        (next < self.count).then_some(next)
    }

    /// `prev`: offset of the previous page, absent on the first page.
    pub(crate) fn prev(&self) -> Option<u64> {
        (self.offset > 0).then(|| self.offset.saturating_sub(self.limit))
    }
}

/// What a page shows beyond its [`OffsetPage`]: normally `limit` units and the natural `next`,
/// different under page-shaping faults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageView {
    /// Units rendered from `offset` on.
    pub take: u64,
    /// `next` offset (meta and links).
    pub next: Option<u64>,
    /// Render hostile units (`Fault::HostileValues`).
    pub hostile: bool,
}

impl PageView {
    /// The faithful view of `page`.
    pub(crate) fn of(page: &OffsetPage) -> Self {
        PageView {
            take: page.limit,
            next: page.next(),
            hostile: false,
        }
    }
}

/// Renders a page of units; `href` turns an offset into a page link.
pub(crate) fn render_storage_page(
    units: &[StorageUnit],
    page: &OffsetPage,
    view: &PageView,
    href: impl Fn(u64) -> String,
) -> String {
    let start = usize::try_from(page.offset).unwrap_or(usize::MAX);
    let take = usize::try_from(view.take).unwrap_or(usize::MAX);
    let items = units.iter().skip(start).take(take);
    let mut out = JsonOut::with_capacity(1024 + take.min(units.len()) * 1200);
    out.begin_object();
    out.key("data").begin_array();
    for (position, unit) in items.enumerate() {
        if view.hostile {
            let index = page.offset.saturating_add(position as u64);
            render_hostile_unit(&mut out, unit, index);
        } else {
            render_unit(&mut out, unit);
        }
    }
    out.end_array();
    write_offset_links(&mut out, page, view.next, &href);
    write_offset_meta(&mut out, page, view.next, true);
    out.end_object();
    out.finish()
}

/// Writes the `links` of an offset page (`self first last next prev`); `next` is the offset
/// of the next page, if any.
pub(crate) fn write_offset_links(
    out: &mut JsonOut,
    page: &OffsetPage,
    next: Option<u64>,
    href: &dyn Fn(u64) -> String,
) {
    out.key("links").begin_object();
    out.key("self").href(format_args!("{}", href(page.offset)));
    out.key("first").href(format_args!("{}", href(0)));
    out.key("last").href(format_args!("{}", href(page.last())));
    if let Some(next) = next {
        out.key("next").href(format_args!("{}", href(next)));
    }
    if let Some(prev) = page.prev() {
        out.key("prev").href(format_args!("{}", href(prev)));
    }
    out.end_object();
}

/// Writes the `meta.pagination` of an offset page (all integers); `pages` adds `pages` and
/// `page`, which not every schema has.
pub(crate) fn write_offset_meta(
    out: &mut JsonOut,
    page: &OffsetPage,
    next: Option<u64>,
    pages: bool,
) {
    out.key("meta")
        .begin_object()
        .key("pagination")
        .begin_object();
    out.key("count").u64(page.count);
    if pages {
        out.key("pages").u64(page.pages());
        out.key("page").u64(page.page());
    }
    out.key("offset").u64(page.offset);
    out.key("limit").u64(page.limit);
    out.key("first").u64(0);
    out.key("last").u64(page.last());
    if let Some(next) = next {
        out.key("next").u64(next);
    }
    if let Some(prev) = page.prev() {
        out.key("prev").u64(prev);
    }
    out.end_object().end_object();
}

fn render_unit(out: &mut JsonOut, u: &StorageUnit) {
    out.begin_object();
    out.key("links").begin_object();
    out.key("self")
        .href(format_args!("/storage/storage-units/{}", u.name));
    out.end_object();
    out.key("type").str("storageUnit");
    out.key("id").str(&u.name);
    out.key("attributes").begin_object();
    out.key("name").str(&u.name);
    out.key("storageType").str(u.storage_type);
    out.key("storageSubType").str(u.storage_sub_type);
    out.key("storageServerType").str(u.storage_server_type);
    out.key("storageCategory").str(u.storage_category);
    out.key("useAnyAvailableMediaServer")
        .bool(u.kind != UnitKind::Tape);
    out.key("accelerator").bool(u.accelerator);
    out.key("replicationCapable").bool(u.replication_capable);
    out.key("replicationSourceCapable")
        .bool(u.replication_capable);
    out.key("replicationTargetCapable")
        .bool(u.replication_capable && matches!(u.kind, UnitKind::Msdp | UnitKind::Cloud));
    out.key("snapshot").bool(false);
    out.key("mirror").bool(false);
    out.key("independent").bool(false);
    out.key("primary").bool(false);
    out.key("instantAccessEnabled")
        .bool(u.instant_access_enabled);
    out.key("scaleOutEnabled").bool(false);
    out.key("isCloudSTU").bool(u.is_cloud);
    if let Some(free) = u.free_bytes {
        out.key("freeCapacityBytes").u64(free);
    }
    if let Some(total) = u.total_bytes {
        out.key("totalCapacityBytes").u64(total);
    }
    if let Some(used) = u.used_bytes {
        out.key("usedCapacityBytes").u64(used);
    }
    out.key("mediaServerDetails").begin_array().begin_object();
    out.key("name").str(u.media_server);
    out.key("operatingSystem").str("linux");
    out.key("netbackupVersion").str("11.0");
    out.end_object().end_array();
    out.key("maxFragmentSizeMegabytes")
        .u64(u.max_fragment_size_mb);
    if let Some(jobs) = u.max_concurrent_jobs {
        out.key("maxConcurrentJobs").u64(jobs);
    }
    if let Some(drives) = u.max_concurrent_drives {
        out.key("maxConcurrentDrives").u64(drives);
    }
    out.key("onDemandOnly").bool(u.on_demand_only);
    out.key("wormCapable").bool(u.worm_capable);
    out.key("useWorm").bool(u.use_worm);
    match u.kind {
        UnitKind::Tape => {
            let robot = u.robot_number.unwrap_or(0);
            out.key("robotType").str("TLD");
            out.key("robotNumber").u64(robot);
            out.key("density").str("DHCART");
            out.key("multiplexing").u64(robot % 4 + 1);
        }
        UnitKind::BasicDisk => {
            out.key("absolutePath")
                .str_fmt(format_args!("/backup/{}", u.name));
            out.key("okOnRoot").bool(false);
            out.key("stageData").bool(false);
        }
        _ => {}
    }
    out.end_object();
    out.key("relationships").begin_object();
    if let Some(pool) = &u.disk_pool {
        out.key("diskPool").begin_object();
        out.key("links").begin_object();
        out.key("related")
            .href(format_args!("/storage/disk-pools/{pool}"));
        out.end_object();
        out.key("data").begin_object();
        out.key("type").str("diskPool");
        out.key("id").str(pool);
        out.end_object();
        out.end_object();
    }
    out.end_object();
    out.end_object();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::generate_units;

    #[test]
    fn offset_pagination_fields() {
        let p = |offset, limit, count| OffsetPage {
            offset,
            limit,
            count,
        };
        let first = p(0, 10, 25);
        assert_eq!((first.pages(), first.page(), first.last()), (3, 0, 20));
        assert_eq!((first.next(), first.prev()), (Some(10), None));
        let last = p(20, 10, 25);
        assert_eq!((last.page(), last.next(), last.prev()), (2, None, Some(10)));
        let empty = p(0, 10, 0);
        assert_eq!((empty.pages(), empty.last(), empty.next()), (0, 0, None));
        let beyond = p(u64::MAX, 500, 3);
        assert_eq!((beyond.next(), beyond.prev()), (None, Some(u64::MAX - 500)));
    }

    #[test]
    fn units_render_as_valid_json() {
        let units = generate_units(3, 12);
        let page = OffsetPage {
            offset: 0,
            limit: 500,
            count: 12,
        };
        let text = render_storage_page(&units, &page, &PageView::of(&page), |o| {
            format!("/x?page[offset]={o}")
        });
        let doc: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        let data = doc["data"].as_array().expect("data");
        assert_eq!(data.len(), 12);
        for (item, unit) in data.iter().zip(&units) {
            assert_eq!(item["id"], unit.name.as_str());
            let attrs = &item["attributes"];
            assert_eq!(attrs["totalCapacityBytes"].as_u64(), unit.total_bytes);
            assert_eq!(
                attrs["maxConcurrentJobs"].as_u64(),
                unit.max_concurrent_jobs
            );
            assert_eq!(attrs["storageServerType"], unit.storage_server_type);
        }
        assert_eq!(doc["meta"]["pagination"]["count"], 12);
        assert!(doc["meta"]["pagination"].get("next").is_none());
    }
}
