//! JSON items of `/storage/drives`, `/storage/tape-media`, `/storage/robots-device-hosts`,
//! `/storage/tape-volume-pools` and `/storage/disk-pools` (the 10.5 and 11.0 `storage.yaml`
//! schemas, identical for these paths).

use super::json::JsonOut;
use super::optin::time;
use crate::dataset::optin::{DiskPool, Drive, TapeVolume, VolumePool};

fn drive_control(status: &str) -> &'static str {
    match status {
        "DRIVE_STATUS_UP" => "DRIVE_CONTROL_AVR",
        "DRIVE_STATUS_MIXED" => "DRIVE_CONTROL_MIXED",
        _ => "DRIVE_CONTROL_DOWN",
    }
}

/// A tape drive.
pub(crate) fn drive(out: &mut JsonOut, d: &Drive) {
    out.begin_object();
    out.key("type").str("drive");
    out.key("id").str(&d.name);
    out.key("attributes").begin_object();
    out.key("deviceHost").str(d.device_host);
    out.key("driveType").str(d.drive_type);
    out.key("robotType").str(d.robot_type);
    if let Some(number) = d.robot_number {
        out.key("robotNumber").u64(number);
    }
    out.key("driveStatus").str(d.status);
    out.key("driveControl").str(drive_control(d.status));
    out.key("enabled").bool(d.status != "DRIVE_STATUS_DISABLED");
    out.key("sharedDrive").bool(d.paths.len() > 1);
    out.key("serialNumber").str(&d.serial);
    out.key("devicePaths").begin_array();
    for (index, path) in d.paths.iter().enumerate() {
        out.begin_object();
        out.key("pathIndex").u64(index as u64);
        out.key("deviceHost").str(path.device_host);
        out.key("driveName").str(&d.name);
        out.key("devicePath").str(&path.device_path);
        out.key("isEnabled")
            .bool(d.status != "DRIVE_STATUS_DISABLED");
        out.key("pathStatus").str(if d.status == "DRIVE_STATUS_UP" {
            "PATH_STATUS_UP"
        } else {
            "PATH_STATUS_DOWN"
        });
        out.key("robotControl").str(d.robot_type);
        out.end_object();
    }
    out.end_array();
    out.end_object();
    out.end_object();
}

/// A tape volume; its robot is the nested `robot` object.
pub(crate) fn volume(out: &mut JsonOut, v: &TapeVolume) {
    out.begin_object();
    out.key("type").str("volumeInfo");
    out.key("id").str(&v.media_id);
    out.key("attributes").begin_object();
    out.key("mediaType").str(v.media_type);
    out.key("barcode").str_fmt(format_args!("{}L8", v.media_id));
    out.key("robot").begin_object();
    out.key("robotType").str(v.robot.robot_type);
    if let Some(number) = v.robot.number {
        out.key("robotNumber").u64(number);
    }
    if let Some(host) = &v.robot.host {
        out.key("robotHost").str(host);
    }
    out.end_object();
    out.key("volumePool").str(&v.pool);
    out.key("volumeGroup").str(&v.group);
    out.key("mediaStatus").str(v.status);
    out.key("application").str("NETBACKUP");
    out.key("mounts").u64(v.mounts);
    out.key("maxMounts").u64(0);
    out.key("kiloBytes").u64(v.kilobytes);
    out.key("images").u64(v.images);
    out.key("validImages").u64(v.images);
    out.key("numberOfRestores").u64(0);
    out.key("created");
    time(out, v.created_ms);
    out.key("originHost").str("primary.example.com");
    out.key("mediaOwner").str("ANY");
    out.key("lastWriteHost").str("NONE");
    out.end_object();
    out.end_object();
}

/// A robot device host (no attributes).
pub(crate) fn device_host(out: &mut JsonOut, host: &str) {
    out.begin_object();
    out.key("type").str("deviceHost");
    out.key("id").str(host);
    out.end_object();
}

/// A volume pool.
pub(crate) fn pool(out: &mut JsonOut, p: &VolumePool) {
    out.begin_object();
    out.key("type").str("volumePoolDetails");
    out.key("id").str_fmt(format_args!("{}", p.number));
    out.key("attributes").begin_object();
    out.key("volumePoolName").str(&p.name);
    out.key("description").str(&p.description);
    out.key("partiallyFullMedia").u64(p.partially_full);
    out.key("poolType").str(p.pool_type);
    out.end_object();
    out.end_object();
}

/// A disk pool with its volumes.
pub(crate) fn disk_pool(out: &mut JsonOut, p: &DiskPool) {
    out.begin_object();
    out.key("type").str("diskPool");
    out.key("id").str(&p.name);
    out.key("attributes").begin_object();
    out.key("name").str(&p.name);
    out.key("sType").str(p.s_type);
    out.key("storageCategory").str(p.category);
    out.key("diskPoolState").str(p.state);
    let (raw, free) = p
        .volumes
        .iter()
        .filter_map(|v| v.sizes)
        .fold((0u64, 0u64), |(r, f), (vr, vf)| {
            (r.saturating_add(vr), f.saturating_add(vf))
        });
    if p.category != "CLOUD" {
        out.key("rawSizeBytes").u64(raw);
        out.key("usableSizeBytes").u64(raw);
        out.key("availableSpaceBytes").u64(free);
        out.key("usedCapacityBytes").u64(raw - free.min(raw));
    }
    out.key("highWaterMark").u64(98);
    out.key("lowWaterMark").u64(80);
    out.key("maximumIoStreams").begin_object();
    out.key("limitIoStreams").bool(false);
    out.end_object();
    out.key("wormCapable").bool(false);
    out.key("readOnly").bool(false);
    out.key("mediaServersCount").u64(1);
    out.key("diskPoolCapabilities").begin_array().end_array();
    out.key("diskVolumes").begin_array();
    for v in &p.volumes {
        out.begin_object();
        out.key("name").str(&v.name);
        out.key("id").str(&v.name);
        out.key("diskMediaId").str(&v.disk_media_id);
        out.key("state").str(v.state);
        if let Some((raw, free)) = v.sizes {
            out.key("rawSizeBytes").u64(raw);
            out.key("freeSizeBytes").u64(free);
        }
        out.key("isReplicationSource").bool(false);
        out.key("isReplicationTarget").bool(false);
        out.key("wormIndelibleMinimumInterval").u64(0);
        out.key("wormIndelibleMaximumInterval").u64(0);
        out.end_object();
    }
    out.end_array();
    out.end_object();
    out.key("relationships").begin_object();
    out.key("storageServers").begin_object();
    out.key("data").begin_array().begin_object();
    out.key("type").str("storageServer");
    out.key("id")
        .str_fmt(format_args!("{}:{}", p.media_server, p.s_type));
    out.end_object().end_array();
    out.end_object();
    out.end_object();
    out.end_object();
}
