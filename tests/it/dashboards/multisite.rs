//! The `nbu-multisite` dashboard: every site side by side.

use super::{Panel, p};

/// The dashboard's panels, in order.
pub(super) const PANELS: &[Panel] = &[
    p(
        "Finished jobs per site / Travaux terminés par site",
        "bargauge",
        "none",
        &[(
            r#"sum by (site) (nbu_jobs_count{site=~"$site"})"#,
            "{{site}}",
        )],
    ),
    p(
        "Success rate: BACKUP, DUPLICATE, IMPORT / Réussite",
        "timeseries",
        "percent",
        &[(
            r#"100 * (sum by (site, action) (nbu_status_count{site=~"$site", action=~"BACKUP|DUPLICATE|IMPORT", status="0"}) or 0 * sum by (site, action) (nbu_status_count{site=~"$site", action=~"BACKUP|DUPLICATE|IMPORT"})) / clamp_min(sum by (site, action) (nbu_status_count{site=~"$site", action=~"BACKUP|DUPLICATE|IMPORT"}), 1)"#,
            "{{site}} {{action}}",
        )],
    ),
    p(
        "Backup volume per site / Volume par site",
        "bargauge",
        "bytes",
        &[(
            r#"sum by (site) (nbu_jobs_bytes{site=~"$site", action="BACKUP"})"#,
            "{{site}}",
        )],
    ),
    p(
        "Replication volume (IMPORT) / Volume répliqué",
        "bargauge",
        "bytes",
        &[(
            r#"sum by (site) (nbu_jobs_bytes{site=~"$site", action="IMPORT"})"#,
            "{{site}}",
        )],
    ),
    p(
        "Divergence from the mean / Écart à la moyenne",
        "timeseries",
        "none",
        &[(
            r#"sum by (site) (nbu_jobs_bytes{site=~"$site", action="BACKUP"}) / on () group_left () avg(sum by (site) (nbu_jobs_bytes{site=~"$site", action="BACKUP"}))"#,
            "{{site}}",
        )],
    ),
    p(
        "Clients without a backup for 25 h / Clients sans sauvegarde depuis 25 h",
        "bargauge",
        "none",
        &[(
            r#"count by (site) (time() - max by (site, client) (nbu_client_last_successful_backup_timestamp_seconds{site=~"$site"}) > 90000) or 0 * count by (site) (max by (site, client) (nbu_client_last_successful_backup_timestamp_seconds{site=~"$site"}))"#,
            "{{site}}",
        )],
    ),
    p(
        "Clients without a tape copy for 26 h / Clients sans copie sur bande depuis 26 h",
        "table",
        "s",
        &[(
            clients_late!("DUPLICATE", "93600"),
            "{{site}} {{client}} {{policy}}",
        )],
    ),
    p(
        "Clients without a replication for 28 h / Clients sans réplication depuis 28 h",
        "table",
        "s",
        &[(
            clients_late!("IMPORT", "100800"),
            "{{site}} {{client}} {{policy}}",
        )],
    ),
    p(
        "Tape drives per site by status / Lecteurs par site et état",
        "bargauge",
        "none",
        &[(
            r#"sum by (site, status) (nbu_tape_drives_count{site=~"$site"})"#,
            "{{site}} {{status}}",
        )],
    ),
    p(
        "Tape volumes per site / Médias par site",
        "bargauge",
        "none",
        &[(
            r#"sum by (site) (nbu_tape_media_count{site=~"$site"})"#,
            "{{site}}",
        )],
    ),
    p(
        "Disk pool volumes per site by state / Volumes disque par site et état",
        "bargauge",
        "none",
        &[(
            r#"sum by (site, state) (nbu_disk_pool_volume_count{site=~"$site"})"#,
            "{{site}} {{state}}",
        )],
    ),
];
