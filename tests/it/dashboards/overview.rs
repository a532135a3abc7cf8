//! The `nbu-overview` dashboard: each site at a glance: up, API version and latency, backups,
//! storage, data age, alerts.

use super::{ALERTS_BY_SEVERITY, DATA_AGE, INFECTED_FILES, Panel, p};

/// The dashboard's panels, in order.
pub(super) const PANELS: &[Panel] = &[
    p(
        "Site up / Site joignable",
        "stat",
        "none",
        &[(r#"max by (site) (nbu_up{site=~"$site"})"#, "{{site}}")],
    ),
    p(
        "API version / Version d'API",
        "table",
        "none",
        &[(
            r#"max by (site, version) (nbu_api_version{site=~"$site"})"#,
            "{{site}} {{version}}",
        )],
    ),
    DATA_AGE,
    p(
        "API latency / Latence API",
        "timeseries",
        "ms",
        &[(
            r#"max by (site) (nbu_response_time_ms{site=~"$site"})"#,
            "{{site}}",
        )],
    ),
    p(
        "Backup success / Réussite des sauvegardes",
        "gauge",
        "percent",
        &[(
            r#"100 * (sum by (site) (nbu_status_count{site=~"$site", action="BACKUP", status="0"}) or 0 * sum by (site) (nbu_status_count{site=~"$site", action="BACKUP"})) / clamp_min(sum by (site) (nbu_status_count{site=~"$site", action="BACKUP"}), 1)"#,
            "{{site}}",
        )],
    ),
    p(
        "Failed backups in the window / Sauvegardes en échec",
        "stat",
        "none",
        &[(
            r#"sum by (site) (nbu_status_count{site=~"$site", action="BACKUP", status!="0"})"#,
            "{{site}}",
        )],
    ),
    p(
        "Storage used / Stockage utilisé",
        "bargauge",
        "percent",
        &[(
            r#"100 * sum by (site, name) (nbu_disk_bytes{site=~"$site", size="used"}) / sum by (site, name) (nbu_disk_bytes{site=~"$site"})"#,
            "{{site}} {{name}}",
        )],
    ),
    INFECTED_FILES,
    ALERTS_BY_SEVERITY,
];
