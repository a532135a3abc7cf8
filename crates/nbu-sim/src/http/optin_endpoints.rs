//! The opt-in endpoints: parameters, filters, sort orders and version gates.
//!
//! - `/manage/alerts`: offset; `filter` on `alertId`, `createdDateTime` (all comparisons),
//!   `severity`, `category`, `subCategory` (`eq`/`ne`); `sort` `-createdDateTime` (default),
//!   `createdDateTime`, `alertId`, `-alertId`; `page[limit]` 0 to 10000, default 10.
//! - `/malware/latest-scan-results`: offset, limit 0 to 100 (10); `filter` on `client`,
//!   `scanResult` (`eq`), `backupTime` (integer); `sort` `-dateOfScan` (default) or `dateOfScan`.
//! - `/catalog/images`: offset, limit 1 to 100 (10); `filter` on `backupTime` (`ge`/`le`),
//!   `clientName`, `policyName`, `policyType`, `scheduleType`, `anomalyStatus` (12.0+) and
//!   `malwareStatus` (13.0+), all `eq`; without a `backupTime` bound the window is the 24 hours
//!   before the request's instant, as on a primary server.
//! - `/servicecatalog/slos` (13.0+): offset, limit 1 to 10000 (10), only `data`; `sort`
//!   `-name` (default) or `name`.
//! - `/storage/drives` (limit 0 to 100; `sort` `id` or `-id`) and `/storage/disk-pools` (1 to
//!   500; `sort` `name` or `-name`): offset.
//! - `/storage/tape-media` (`sort` `mediaId` or `-mediaId`) and `/storage/tape-volume-pools`
//!   (`sort` `poolNumber` or `-poolNumber`), 12.0+: cursor, limit 0 to 100.
//! - `/storage/robots-device-hosts` (12.0+): every host, no parameters.
//!
//! A version without the endpoint answers 404 with the vendor error body; `filter` where the
//! simulator does not filter, an unknown `sort`, or an out-of-range limit are a 400.

use std::sync::Arc;

use axum::extract::{Extension, RawQuery, State};
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{MethodRouter, get};

use super::optin_filter::{
    ALL_OPS, Actual, EQ, EQ_NE, FieldSpec, GE_LE, Kind, Op, Term, Value, parse,
};
use super::state::{RequestInstant, Shared};
use crate::dataset::optin::{Alert, Image, OptInData, ScanResult};
use crate::optin::OptInEndpoint;
use crate::render::PageShape;
use crate::render::json::JsonOut;
use crate::render::optin::{alert, image, scan, slo};
use crate::render::optin_hostile::{Spots, spoil};
use crate::render::optin_page::{
    Limits, OffsetStyle, Params, link, parse_params, render_cursor, render_offset,
};
use crate::render::optin_tape::{device_host, disk_pool, drive, pool, volume};
use crate::render::response::{bad_request, error, ok_json};
use crate::version::ApiVersion;

const DAY_NS: i128 = 86_400_000_000_000;

const FULL: OffsetStyle = OffsetStyle {
    links: true,
    pages: true,
    meta: true,
};
const META_ONLY: OffsetStyle = OffsetStyle {
    links: false,
    pages: false,
    meta: true,
};
const DATA_ONLY: OffsetStyle = OffsetStyle {
    links: false,
    pages: false,
    meta: false,
};

const fn field(name: &'static str, kind: Kind, ops: &'static [Op]) -> FieldSpec {
    FieldSpec { name, kind, ops }
}

const ALERT_FIELDS: &[FieldSpec] = &[
    field("alertId", Kind::Int, ALL_OPS),
    field("createdDateTime", Kind::Time, ALL_OPS),
    field("severity", Kind::Text, EQ_NE),
    field("category", Kind::Text, EQ_NE),
    field("subCategory", Kind::Text, EQ_NE),
];

const SCAN_FIELDS: &[FieldSpec] = &[
    field("client", Kind::Text, EQ),
    field("scanResult", Kind::Text, EQ),
    field("backupTime", Kind::Int, ALL_OPS),
];

/// The image filter fields and the first version that has each.
const IMAGE_FIELDS: &[(FieldSpec, ApiVersion)] = &[
    (field("backupTime", Kind::Time, GE_LE), ApiVersion::V10_0),
    (field("clientName", Kind::Text, EQ), ApiVersion::V10_0),
    (field("policyName", Kind::Text, EQ), ApiVersion::V10_0),
    (field("policyType", Kind::Text, EQ), ApiVersion::V10_0),
    (field("scheduleType", Kind::Text, EQ), ApiVersion::V10_0),
    (field("anomalyStatus", Kind::Text, EQ), ApiVersion::V12_0),
    (field("malwareStatus", Kind::Text, EQ), ApiVersion::V13_0),
];

const ALERT_SPOTS: Spots = Spots {
    labels: &["/attributes/severity", "/attributes/category"],
    numbers: &["/attributes/titleId"],
};
const SCAN_SPOTS: Spots = Spots {
    labels: &["/attributes/scanState"],
    numbers: &[
        "/attributes/numberOfFilesScanned",
        "/attributes/numberOfFilesImpacted",
        "/attributes/noOfFilesImpacted",
    ],
};
const IMAGE_SPOTS: Spots = Spots {
    labels: &["/attributes/malwareStatus", "/attributes/anomalyStatus"],
    numbers: &["/attributes/kbytes"],
};
const SLO_SPOTS: Spots = Spots {
    labels: &["/attributes/name"],
    numbers: &["/attributes/subscriptionCount"],
};
const DRIVE_SPOTS: Spots = Spots {
    labels: &["/id", "/attributes/deviceHost", "/attributes/driveType"],
    numbers: &["/attributes/robotNumber"],
};
const MEDIA_SPOTS: Spots = Spots {
    labels: &[
        "/attributes/volumePool",
        "/attributes/mediaType",
        "/attributes/robot/robotType",
    ],
    numbers: &["/attributes/kiloBytes"],
};
const HOST_SPOTS: Spots = Spots {
    labels: &["/id"],
    numbers: &[],
};
const POOL_SPOTS: Spots = Spots {
    labels: &["/attributes/volumePoolName", "/attributes/poolType"],
    numbers: &["/attributes/partiallyFullMedia"],
};
const DISK_SPOTS: Spots = Spots {
    labels: &[
        "/attributes/name",
        "/attributes/storageCategory",
        "/attributes/diskVolumes/0/state",
    ],
    numbers: &["/attributes/diskVolumes/0/rawSizeBytes"],
};

/// Writes an item, or its hostile variant.
fn put(out: &mut JsonOut, position: u64, hostile: bool, spots: &Spots, f: impl Fn(&mut JsonOut)) {
    if hostile {
        let mut item = JsonOut::default();
        f(&mut item);
        out.raw(&spoil(&item.finish(), position, spots));
    } else {
        f(out);
    }
}

fn href_offset<'a>(path: &'static str, params: &'a Params) -> impl Fn(u64) -> String + 'a {
    move |offset| {
        let offset = offset.to_string();
        let limit = params.limit.to_string();
        link(
            &format!("/netbackup{path}"),
            &[
                ("filter", params.filter.as_deref()),
                ("sort", params.sort.as_deref()),
                ("page[offset]", Some(&offset)),
                ("page[limit]", Some(&limit)),
            ],
        )
    }
}

fn href_cursor<'a>(
    path: &'static str,
    params: &'a Params,
) -> impl Fn(Option<&str>, Option<&str>) -> String + 'a {
    move |after, before| {
        let limit = params.limit.to_string();
        link(
            &format!("/netbackup{path}"),
            &[
                ("page[limit]", Some(&limit)),
                ("page[after]", after),
                ("page[before]", before),
            ],
        )
    }
}

fn refuse_filter(params: &Params, endpoint: OptInEndpoint) -> Result<(), String> {
    match &params.filter {
        Some(_) => Err(format!(
            "filter is not supported by the simulator on {}.",
            endpoint.path()
        )),
        None => Ok(()),
    }
}

fn alert_value<'a>(a: &'a Alert, term: &Term) -> Actual<'a> {
    match term.field {
        "alertId" => Actual::Int(i64::try_from(a.id).unwrap_or(i64::MAX)),
        "createdDateTime" => Actual::TimeMs(a.created_ms),
        "severity" => Actual::Text(&a.severity),
        "category" => Actual::Text(a.category),
        _ => Actual::Text(a.sub_category),
    }
}

fn scan_value<'a>(s: &'a ScanResult, term: &Term) -> Actual<'a> {
    match term.field {
        "client" => Actual::Text(&s.client),
        "scanResult" => Actual::Text(s.scan_result),
        _ => Actual::Int(s.backup_time_s),
    }
}

fn image_value<'a>(i: &'a Image, term: &Term) -> Actual<'a> {
    match term.field {
        "backupTime" => Actual::TimeMs(i.backup_time_ms),
        "clientName" => Actual::Text(&i.client),
        "policyName" => Actual::Text(&i.policy_name),
        "policyType" => Actual::Text(i.policy_type),
        "scheduleType" => Actual::Text(i.schedule_type),
        "anomalyStatus" => Actual::Text(i.anomaly_status),
        _ => Actual::Text(i.malware_status),
    }
}

/// The sort orders of an endpoint: `sort` text and whether it reverses the stored order;
/// the first entry is the default. Without entries, `sort` is ignored.
type Sorts = &'static [(&'static str, bool)];

/// The items of `all` that match the request's filter, in its sort order.
fn select<'a, T>(
    all: &'a [T],
    params: &Params,
    fields: &[FieldSpec],
    value: impl for<'b> Fn(&'b T, &Term) -> Actual<'b>,
    sorts: Sorts,
) -> Result<Vec<&'a T>, String> {
    let terms = parse(params.filter.as_deref().unwrap_or(""), fields)?;
    select_terms(all, params, &terms, value, sorts)
}

fn select_terms<'a, T>(
    all: &'a [T],
    params: &Params,
    terms: &[Term],
    value: impl for<'b> Fn(&'b T, &Term) -> Actual<'b>,
    sorts: Sorts,
) -> Result<Vec<&'a T>, String> {
    let reverse = match (params.sort.as_deref(), sorts.first()) {
        (_, None) => false,
        (None, Some((_, reverse))) => *reverse,
        (Some(text), Some(_)) => sorts
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, reverse)| *reverse)
            .ok_or_else(|| {
                let names: Vec<&str> = sorts.iter().map(|(name, _)| *name).collect();
                format!(
                    "Unsupported sort '{text}': the simulator sorts on {}.",
                    names.join(", ")
                )
            })?,
    };
    let mut items: Vec<&T> = all
        .iter()
        .filter(|item| terms.iter().all(|t| t.holds(value(item, t))))
        .collect();
    if reverse {
        items.reverse();
    }
    Ok(items)
}

fn alerts(data: &OptInData, params: &Params, shape: Option<PageShape>) -> Result<String, String> {
    let items = select(
        &data.alerts,
        params,
        ALERT_FIELDS,
        alert_value,
        &[
            ("-createdDateTime", true),
            ("createdDateTime", false),
            ("alertId", false),
            ("-alertId", true),
        ],
    )?;
    let href = href_offset(OptInEndpoint::Alerts.path(), params);
    Ok(render_offset(
        &items,
        params,
        shape,
        FULL,
        &href,
        &|out, a, pos, hostile| put(out, pos, hostile, &ALERT_SPOTS, |o| alert(o, a)),
    ))
}

fn scans(
    data: &OptInData,
    params: &Params,
    shape: Option<PageShape>,
    version: ApiVersion,
) -> Result<String, String> {
    let items = select(
        &data.scans,
        params,
        SCAN_FIELDS,
        scan_value,
        &[("-dateOfScan", false), ("dateOfScan", true)],
    )?;
    let href = href_offset(OptInEndpoint::MalwareScans.path(), params);
    Ok(render_offset(
        &items,
        params,
        shape,
        FULL,
        &href,
        &|out, s, pos, hostile| put(out, pos, hostile, &SCAN_SPOTS, |o| scan(o, s, version)),
    ))
}

fn images(
    data: &OptInData,
    params: &Params,
    shape: Option<PageShape>,
    version: ApiVersion,
    now_ms: i64,
) -> Result<String, String> {
    let fields: Vec<FieldSpec> = IMAGE_FIELDS
        .iter()
        .filter(|(_, since)| version >= *since)
        .map(|(spec, _)| *spec)
        .collect();
    let mut terms = parse(params.filter.as_deref().unwrap_or(""), &fields)?;
    if !terms.iter().any(|t| t.field == "backupTime") {
        let now_ns = i128::from(now_ms) * 1_000_000;
        for (op, at) in [(Op::Ge, now_ns - DAY_NS), (Op::Le, now_ns)] {
            terms.push(Term {
                field: "backupTime",
                op,
                value: Value::TimeNs(at),
            });
        }
    }
    let items = select_terms(&data.images, params, &terms, image_value, &[])?;
    let href = href_offset(OptInEndpoint::CatalogImages.path(), params);
    Ok(render_offset(
        &items,
        params,
        shape,
        META_ONLY,
        &href,
        &|out, i, pos, hostile| put(out, pos, hostile, &IMAGE_SPOTS, |o| image(o, i, version)),
    ))
}

fn slos(data: &OptInData, params: &Params, shape: Option<PageShape>) -> Result<String, String> {
    refuse_filter(params, OptInEndpoint::Slos)?;
    let items = select(
        &data.slos,
        params,
        &[],
        |s, _| Actual::Text(&s.name),
        &[("-name", false), ("name", true)],
    )?;
    let href = href_offset(OptInEndpoint::Slos.path(), params);
    Ok(render_offset(
        &items,
        params,
        shape,
        DATA_ONLY,
        &href,
        &|out, s, pos, hostile| put(out, pos, hostile, &SLO_SPOTS, |o| slo(o, s)),
    ))
}

/// The items of a storage list in the order `sort` asks: its key (the stored order) or the
/// key with `-` (reversed).
fn sorted<'a, T>(all: &'a [T], params: &Params, key: Sorts) -> Result<Vec<&'a T>, String> {
    select(all, params, &[], |_, _| Actual::Int(0), key)
}

fn storage(
    endpoint: OptInEndpoint,
    data: &OptInData,
    params: &Params,
    shape: Option<PageShape>,
) -> Result<String, String> {
    refuse_filter(params, endpoint)?;
    let path = endpoint.path();
    match endpoint {
        OptInEndpoint::Drives => Ok(render_offset(
            &sorted(&data.drives, params, &[("id", false), ("-id", true)])?,
            params,
            shape,
            META_ONLY,
            &href_offset(path, params),
            &|out, d, pos, hostile| put(out, pos, hostile, &DRIVE_SPOTS, |o| drive(o, d)),
        )),
        OptInEndpoint::DiskPools => Ok(render_offset(
            &sorted(
                &data.disk_pools,
                params,
                &[("name", false), ("-name", true)],
            )?,
            params,
            shape,
            FULL,
            &href_offset(path, params),
            &|out, p, pos, hostile| put(out, pos, hostile, &DISK_SPOTS, |o| disk_pool(o, p)),
        )),
        OptInEndpoint::TapeMedia => render_cursor(
            &sorted(
                &data.media,
                params,
                &[("mediaId", false), ("-mediaId", true)],
            )?,
            &|v| v.media_id.as_str(),
            params,
            shape,
            &href_cursor(path, params),
            &|out, v, pos, hostile| put(out, pos, hostile, &MEDIA_SPOTS, |o| volume(o, v)),
        ),
        OptInEndpoint::TapeVolumePools => {
            let pools = sorted(
                &data.pools,
                params,
                &[("poolNumber", false), ("-poolNumber", true)],
            )?;
            let ids: Vec<(String, &_)> = pools
                .into_iter()
                .map(|p| (p.number.to_string(), p))
                .collect();
            render_cursor(
                &ids,
                &|(id, _)| id.as_str(),
                params,
                shape,
                &href_cursor(path, params),
                &|out, (_, p), pos, hostile| put(out, pos, hostile, &POOL_SPOTS, |o| pool(o, p)),
            )
        }
        _ => {
            let hostile = shape == Some(PageShape::Hostile);
            let mut out = JsonOut::with_capacity(64 + data.robot_hosts.len() * 64);
            out.begin_object();
            out.key("data").begin_array();
            for (pos, host) in data.robot_hosts.iter().enumerate() {
                put(&mut out, pos as u64, hostile, &HOST_SPOTS, |o| {
                    device_host(o, host)
                });
            }
            out.end_array();
            out.end_object();
            Ok(out.finish())
        }
    }
}

/// Limits of `page[limit]` per endpoint.
fn limits(endpoint: OptInEndpoint) -> Limits {
    let (min, max) = match endpoint {
        OptInEndpoint::Alerts | OptInEndpoint::Slos => {
            (u64::from(endpoint == OptInEndpoint::Slos), 10_000)
        }
        OptInEndpoint::CatalogImages => (1, 100),
        OptInEndpoint::DiskPools => (1, 500),
        _ => (0, 100),
    };
    Limits {
        default: 10,
        min,
        max,
    }
}

/// Serves `endpoint` for a request in API `version` at instant `now_ms`.
pub(crate) fn serve(
    endpoint: OptInEndpoint,
    shared: &Arc<Shared>,
    version: ApiVersion,
    shape: Option<PageShape>,
    raw_query: &str,
    now_ms: i64,
) -> Response {
    if !endpoint.available(version) {
        return error(
            StatusCode::NOT_FOUND,
            version,
            "No entity found.",
            &[format!(
                "{} is not available in API version {}.",
                endpoint.path(),
                version.as_str()
            )],
        );
    }
    let data = shared.dataset.opt_in();
    let body = parse_params(raw_query, limits(endpoint)).and_then(|params| match endpoint {
        OptInEndpoint::Alerts => alerts(data, &params, shape),
        OptInEndpoint::MalwareScans => scans(data, &params, shape, version),
        OptInEndpoint::CatalogImages => images(data, &params, shape, version, now_ms),
        OptInEndpoint::Slos => slos(data, &params, shape),
        other => storage(other, data, &params, shape),
    });
    match body {
        Ok(body) => ok_json(version, body),
        Err(message) => bad_request(version, message),
    }
}

/// The route of `endpoint`: `GET` served by [`serve`], other methods by `fallback`.
pub(crate) fn route<H, T>(endpoint: OptInEndpoint, fallback: H) -> MethodRouter<Arc<Shared>>
where
    H: Handler<T, Arc<Shared>>,
    T: 'static,
{
    get(
        move |State(shared): State<Arc<Shared>>,
              Extension(version): Extension<ApiVersion>,
              shape: Option<Extension<PageShape>>,
              instant: Option<Extension<RequestInstant>>,
              RawQuery(raw): RawQuery| async move {
            let now_ms =
                instant.map_or_else(|| shared.clock.now_ms(), |Extension(RequestInstant(ms))| ms);
            serve(
                endpoint,
                &shared,
                version,
                shape.map(|Extension(s)| s),
                raw.as_deref().unwrap_or(""),
                now_ms,
            )
        },
    )
    .fallback(fallback)
}
