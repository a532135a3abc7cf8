//! The `nbu-tape` dashboard: tape drives, media, pools and disk pools.

use super::{Panel, p};

/// The dashboard's panels, in order.
pub(super) const PANELS: &[Panel] = &[
    p(
        "Drives up, down and total / Lecteurs actifs, en panne, au total",
        "stat",
        "none",
        &[
            (
                r#"sum by (site) (nbu_tape_drives_count{site=~"$site", status="DRIVE_STATUS_UP"}) or 0 * sum by (site) (nbu_tape_drives_count{site=~"$site"})"#,
                "{{site}} up",
            ),
            (
                r#"sum by (site) (nbu_tape_drives_count{site=~"$site", status="DRIVE_STATUS_DOWN"}) or 0 * sum by (site) (nbu_tape_drives_count{site=~"$site"})"#,
                "{{site}} down",
            ),
            (
                r#"sum by (site) (nbu_tape_drives_count{site=~"$site"})"#,
                "{{site}} total",
            ),
        ],
    ),
    p(
        "Drives by status / Lecteurs par état",
        "piechart",
        "none",
        &[(
            r#"sum by (status) (nbu_tape_drives_count{site=~"$site"})"#,
            "{{status}}",
        )],
    ),
    p(
        "Drives by type / Lecteurs par type",
        "bargauge",
        "none",
        &[(
            r#"sum by (site, drive_type, robot_type) (nbu_tape_drives_count{site=~"$site"})"#,
            "{{site}} {{drive_type}} {{robot_type}}",
        )],
    ),
    p(
        "Drives not up / Lecteurs hors service",
        "table",
        "none",
        &[(
            r#"max by (site, drive_name, media_server, drive_type, robot_number, status) (nbu_tape_drive_info{site=~"$site", status!="DRIVE_STATUS_UP"})"#,
            "{{site}} {{drive_name}}",
        )],
    ),
    p(
        "Media by pool / Médias par pool",
        "bargauge",
        "none",
        &[(
            r#"sum by (site, pool) (nbu_tape_media_count{site=~"$site"})"#,
            "{{site}} {{pool}}",
        )],
    ),
    p(
        "Media by type / Médias par type",
        "piechart",
        "none",
        &[(
            r#"sum by (media_type) (nbu_tape_media_count{site=~"$site"})"#,
            "{{media_type}}",
        )],
    ),
    p(
        "Partially full media by pool / Médias partiellement pleins",
        "bargauge",
        "none",
        &[(
            r#"sum by (site, pool_name, pool_type) (nbu_tape_pool_partially_full{site=~"$site"})"#,
            "{{site}} {{pool_name}}",
        )],
    ),
    p(
        "Robot device hosts / Hôtes des robots",
        "stat",
        "none",
        &[(
            r#"sum by (site) (nbu_tape_robot_device_hosts{site=~"$site"})"#,
            "{{site}}",
        )],
    ),
    p(
        "Disk volumes UP, DOWN, UNKNOWN / Volumes disque",
        "stat",
        "none",
        &[
            (
                r#"sum by (site) (nbu_disk_pool_volume_count{site=~"$site", state="UP"}) or 0 * sum by (site) (nbu_disk_pool_volume_count{site=~"$site"})"#,
                "{{site}} UP",
            ),
            (
                r#"sum by (site) (nbu_disk_pool_volume_count{site=~"$site", state="DOWN"}) or 0 * sum by (site) (nbu_disk_pool_volume_count{site=~"$site"})"#,
                "{{site}} DOWN",
            ),
            (
                r#"sum by (site) (nbu_disk_pool_volume_count{site=~"$site", state="UNKNOWN"}) or 0 * sum by (site) (nbu_disk_pool_volume_count{site=~"$site"})"#,
                "{{site}} UNKNOWN",
            ),
        ],
    ),
    p(
        "Disk pools with volumes not up / Pools disque dégradés",
        "table",
        "none",
        &[(
            r#"sum by (site, pool_name, storage_category, state) (nbu_disk_pool_volume_count{site=~"$site", state!="UP"})"#,
            "{{site}} {{pool_name}} {{state}}",
        )],
    ),
];
