//! The `nbu-dataprotection` dashboard: alerts, malware scans, catalog images' malware and
//! anomaly statuses, SLOs.

use super::{ALERTS_BY_SEVERITY, INFECTED_FILES, Panel, p};

/// The dashboard's panels, in order.
pub(super) const PANELS: &[Panel] = &[
    ALERTS_BY_SEVERITY,
    p(
        "Alerts by category / Alertes par catégorie",
        "bargauge",
        "none",
        &[(
            r#"sum by (site, category) (nbu_alerts_count{site=~"$site"})"#,
            "{{site}} {{category}}",
        )],
    ),
    p(
        "Files scanned and infected / Fichiers analysés et infectés",
        "timeseries",
        "none",
        &[
            (
                r#"sum by (site) (nbu_malware_files_scanned{site=~"$site"})"#,
                "{{site}} scanned",
            ),
            (
                r#"sum by (site) (nbu_malware_files_infected{site=~"$site"})"#,
                "{{site}} infected",
            ),
        ],
    ),
    INFECTED_FILES,
    p(
        "Latest scans by state / Dernières analyses par état",
        "piechart",
        "none",
        &[(
            r#"sum by (status) (nbu_malware_scan_count{site=~"$site"})"#,
            "{{status}}",
        )],
    ),
    p(
        "Backup images by malware status / Images par état antimalware",
        "bargauge",
        "none",
        &[(
            r#"sum by (site, malware_status) (nbu_catalog_images_count{site=~"$site"})"#,
            "{{site}} {{malware_status}}",
        )],
    ),
    p(
        "Backup images by anomaly status / Images par état d'anomalie",
        "bargauge",
        "none",
        &[(
            r#"sum by (site, anomaly_status) (nbu_catalog_images_count{site=~"$site"})"#,
            "{{site}} {{anomaly_status}}",
        )],
    ),
    p(
        "Catalog posture / Posture du catalogue",
        "table",
        "none",
        &[(
            r#"sum by (site, malware_status, anomaly_status) (nbu_catalog_images_count{site=~"$site"})"#,
            "{{site}} {{malware_status}} {{anomaly_status}}",
        )],
    ),
    p(
        "Protection plans (SLOs) / Plans de protection",
        "stat",
        "none",
        &[(
            r#"sum by (site) (nbu_slo_count{site=~"$site"})"#,
            "{{site}}",
        )],
    ),
];
