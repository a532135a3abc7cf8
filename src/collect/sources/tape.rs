//! The tape and disk pool families, one endpoint each, every endpoint walked to its end:
//!
//! | family | endpoint | pagination | API |
//! |---|---|---|---|
//! | `nbu_tape_drives_count`, `nbu_tape_drive_info` | `/storage/drives` | offset | all |
//! | `nbu_tape_media_count` | `/storage/tape-media` | cursor | 12.0 and later |
//! | `nbu_tape_robot_device_hosts` | `/storage/robots-device-hosts` | none | 12.0 and later |
//! | `nbu_tape_pool_partially_full` | `/storage/tape-volume-pools` | cursor | 12.0 and later |
//! | `nbu_disk_pool_volume_count` | `/storage/disk-pools` | offset | all |
//!
//! Where the Go exporter was wrong, this follows the vendor spec: the drive name is the
//! resource `id` (there is no top-level `driveName`), a medium's robot type is
//! `attributes.robot.robotType`, and the media and volume pool lists are walked by cursor
//! (`page[after]`, a string) rather than by offset. One endpoint failing fails the source, so
//! its families keep their last complete values until they go stale, rather than showing a
//! partial count.

use serde_json::Value;

use super::context::{SourceContext, SourceValues, walk_into};
use super::{Family, FamilyRow, OptInSource};
use crate::config::SourceId;
use crate::netbackup::resources::{ListQuery, Paging, attribute, field_i64, field_str, field_u64};
use crate::netbackup::{ApiError, ApiVersion, NetBackupApi};

/// Tape drives by type, robot type and status.
pub static TAPE_DRIVES_COUNT: Family<3> = Family::gauge(
    "nbu.tape_drives_count",
    "{drive}",
    ["drive_type", "robot_type", "status"],
    "Tape drives by drive type, robot type and drive status. Source: `GET /storage/drives`.",
);
/// One series per tape drive.
pub static TAPE_DRIVE_INFO: Family<5> = Family::gauge(
    "nbu.tape_drive_info",
    "",
    [
        "drive_name",
        "media_server",
        "drive_type",
        "robot_number",
        "status",
    ],
    "Always 1, one series per tape drive and media server; the labels describe the drive. Source: `GET /storage/drives`.",
);
/// Tape volumes by pool, media type and robot type.
pub static TAPE_MEDIA_COUNT: Family<3> = Family::gauge(
    "nbu.tape_media_count",
    "{volume}",
    ["pool", "media_type", "robot_type"],
    "Tape volumes by volume pool, media type and robot type. Source: `GET /storage/tape-media` (API 12.0 and later).",
);
/// Device hosts of robots.
pub static TAPE_ROBOT_DEVICE_HOSTS: Family<0> = Family::gauge(
    "nbu.tape_robot_device_hosts",
    "{host}",
    [],
    "Device hosts of tape robots. Source: `GET /storage/robots-device-hosts` (API 12.0 and later).",
);
/// Partially full media per volume pool.
pub static TAPE_POOL_PARTIALLY_FULL: Family<2> = Family::gauge(
    "nbu.tape_pool_partially_full",
    "{volume}",
    ["pool_name", "pool_type"],
    "Partially full media of each tape volume pool (`partiallyFullMedia`). Source: `GET /storage/tape-volume-pools` (API 12.0 and later).",
);
/// Disk volumes per disk pool and state.
pub static DISK_POOL_VOLUME_COUNT: Family<3> = Family::gauge(
    "nbu.disk_pool_volume_count",
    "{volume}",
    ["pool_name", "storage_category", "state"],
    "Disk volumes of each disk pool by volume state. Source: `GET /storage/disk-pools`.",
);

/// The tape and disk pool source.
#[derive(Debug)]
pub struct Tape;

impl OptInSource for Tape {
    const ID: SourceId = SourceId::Tape;
    const FAMILIES: &'static [FamilyRow] = &[
        TAPE_DRIVES_COUNT.row(),
        TAPE_DRIVE_INFO.row(),
        TAPE_MEDIA_COUNT.row(),
        TAPE_ROBOT_DEVICE_HOSTS.row(),
        TAPE_POOL_PARTIALLY_FULL.row(),
        DISK_POOL_VOLUME_COUNT.row(),
    ];

    /// Collects every tape endpoint the version has.
    async fn collect<A: NetBackupApi>(
        api: &A,
        version: ApiVersion,
        context: &SourceContext,
    ) -> Result<SourceValues, ApiError> {
        let mut values = SourceValues::default();
        let tape_page = context.page_size.min(MAX_TAPE_PAGE);
        drives(api, version, tape_page, &mut values).await?;
        disk_pools(
            api,
            version,
            context.page_size.min(MAX_DISK_POOL_PAGE),
            &mut values,
        )
        .await?;
        if version.supports_tape_media() {
            tape_media(api, version, tape_page, &mut values).await?;
            robot_device_hosts(api, version, &mut values).await?;
            volume_pools(api, version, tape_page, &mut values).await?;
        }
        Ok(values)
    }
}

/// `page[limit]` maximum of the tape endpoints.
const MAX_TAPE_PAGE: u32 = 100;
/// `page[limit]` maximum of `/storage/disk-pools`.
const MAX_DISK_POOL_PAGE: u32 = 500;

fn text<'v>(resource: &'v Value, name: &str) -> &'v str {
    attribute(resource, name)
        .and_then(Value::as_str)
        .unwrap_or("")
}

async fn drives<A: NetBackupApi>(
    api: &A,
    version: ApiVersion,
    page_size: u32,
    values: &mut SourceValues,
) -> Result<(), ApiError> {
    let query = ListQuery {
        endpoint: "/storage/drives",
        params: vec![("sort", "id".to_owned())],
        page_size,
        paging: Paging::Offset,
        what: "tape drives",
    };
    walk_into(api, version, &query, values, |values, drive| {
        let name = field_str(drive, "id").unwrap_or("");
        let robot_number = drive
            .get("attributes")
            .and_then(|a| field_i64(a, "robotNumber"))
            .map(|n| n.to_string())
            .unwrap_or_default();
        let (drive_type, robot_type, status) = (
            text(drive, "driveType"),
            text(drive, "robotType"),
            text(drive, "driveStatus"),
        );
        values.add(&TAPE_DRIVES_COUNT, [drive_type, robot_type, status], 1.0);
        let media_server = text(drive, "deviceHost");
        values.set(
            &TAPE_DRIVE_INFO,
            [name, media_server, drive_type, &robot_number, status],
            1.0,
        );
    })
    .await
}

async fn disk_pools<A: NetBackupApi>(
    api: &A,
    version: ApiVersion,
    page_size: u32,
    values: &mut SourceValues,
) -> Result<(), ApiError> {
    let query = ListQuery {
        endpoint: "/storage/disk-pools",
        params: vec![("sort", "name".to_owned())],
        page_size,
        paging: Paging::Offset,
        what: "disk pools",
    };
    walk_into(api, version, &query, values, |values, pool| {
        let name = text(pool, "name");
        let category = text(pool, "storageCategory");
        let volumes = attribute(pool, "diskVolumes").and_then(Value::as_array);
        for volume in volumes.into_iter().flatten() {
            let state = field_str(volume, "state").unwrap_or("UNKNOWN");
            values.add(&DISK_POOL_VOLUME_COUNT, [name, category, state], 1.0);
        }
    })
    .await
}

async fn tape_media<A: NetBackupApi>(
    api: &A,
    version: ApiVersion,
    page_size: u32,
    values: &mut SourceValues,
) -> Result<(), ApiError> {
    let query = ListQuery {
        endpoint: "/storage/tape-media",
        params: Vec::new(),
        page_size,
        paging: Paging::Cursor,
        what: "tape media",
    };
    walk_into(api, version, &query, values, |values, medium| {
        // The spec nests the robot type; some servers also send it at the top level.
        let robot_type = attribute(medium, "robot")
            .and_then(|r| field_str(r, "robotType"))
            .unwrap_or_else(|| text(medium, "robotType"));
        let (pool, media_type) = (text(medium, "volumePool"), text(medium, "mediaType"));
        values.add(&TAPE_MEDIA_COUNT, [pool, media_type, robot_type], 1.0);
    })
    .await
}

async fn robot_device_hosts<A: NetBackupApi>(
    api: &A,
    version: ApiVersion,
    values: &mut SourceValues,
) -> Result<(), ApiError> {
    let query = ListQuery {
        endpoint: "/storage/robots-device-hosts",
        params: Vec::new(),
        page_size: 0,
        paging: Paging::Single,
        what: "robot device hosts",
    };
    // Each host is one series of one: their sum is the number of hosts.
    values.set(&TAPE_ROBOT_DEVICE_HOSTS, [], 0.0);
    walk_into(api, version, &query, values, |values, _| {
        values.add(&TAPE_ROBOT_DEVICE_HOSTS, [], 1.0);
    })
    .await
}

async fn volume_pools<A: NetBackupApi>(
    api: &A,
    version: ApiVersion,
    page_size: u32,
    values: &mut SourceValues,
) -> Result<(), ApiError> {
    let query = ListQuery {
        endpoint: "/storage/tape-volume-pools",
        params: Vec::new(),
        page_size,
        paging: Paging::Cursor,
        what: "tape volume pools",
    };
    walk_into(api, version, &query, values, |values, pool| {
        let Some(partially_full) = pool
            .get("attributes")
            .and_then(|a| field_u64(a, "partiallyFullMedia"))
        else {
            values.invalid_values += 1;
            return;
        };
        let (name, pool_type) = (text(pool, "volumePoolName"), text(pool, "poolType"));
        values.set(
            &TAPE_POOL_PARTIALLY_FULL,
            [name, pool_type],
            partially_full as f64,
        );
    })
    .await
}
