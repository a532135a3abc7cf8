//! The `nbu-agent` dashboard: the agent itself: requests, collections, exports, reloads.

use super::{DATA_AGE, Panel, p};

/// The dashboard's panels, in order.
pub(super) const PANELS: &[Panel] = &[
    p(
        "Mean NetBackup request duration / Durée moyenne des requêtes",
        "timeseries",
        "ms",
        &[(
            r#"max by (site) (nbu_response_time_ms{site=~"$site"})"#,
            "{{site}}",
        )],
    ),
    p(
        "API requests by outcome / Requêtes API",
        "timeseries",
        "reqps",
        &[(
            r#"sum by (site, endpoint, status) (rate(nbu_api_requests_total{site=~"$site"}[$__rate_interval]))"#,
            "{{site}} {{endpoint}} {{status}}",
        )],
    ),
    p(
        "Collection errors by kind / Erreurs de collecte",
        "timeseries",
        "none",
        &[(
            r#"sum by (site, source, kind) (increase(nbu_collection_errors_total{site=~"$site"}[$__rate_interval]))"#,
            "{{site}} {{source}} {{kind}}",
        )],
    ),
    p(
        "Stale sources / Sources périmées",
        "state-timeline",
        "none",
        &[(
            r#"max by (site, source) (nbu_source_stale{site=~"$site"})"#,
            "{{site}} {{source}}",
        )],
    ),
    DATA_AGE,
    p(
        "Invalid values skipped / Valeurs ignorées",
        "timeseries",
        "none",
        &[(
            r#"sum by (site, source) (nbu_source_invalid_values{site=~"$site"})"#,
            "{{site}} {{source}}",
        )],
    ),
    p(
        "OTLP exports by result / Exports OTLP",
        "timeseries",
        "none",
        &[(
            r#"sum by (instance, result) (increase(nbu_otlp_exports_total[$__rate_interval]))"#,
            "{{instance}} {{result}}",
        )],
    ),
    p(
        "Agents reporting (export health) / Agents actifs",
        "stat",
        "none",
        &[(
            r#"count by (version) (nbu_exporter_build_info)"#,
            "agents {{version}}",
        )],
    ),
    p(
        "Job events by outcome / Événements de travaux",
        "timeseries",
        "none",
        &[(
            r#"sum by (site, outcome) (increase(nbu_job_events_total{site=~"$site"}[$__rate_interval]))"#,
            "{{site}} {{outcome}}",
        )],
    ),
    p(
        "Job events waiting for the Collector / Événements en attente",
        "timeseries",
        "none",
        &[(
            r#"max by (site) (nbu_job_events_waiting{site=~"$site"})"#,
            "{{site}}",
        )],
    ),
    p(
        "Try-log lookups by outcome / Lectures des journaux d'essais",
        "timeseries",
        "none",
        &[(
            r#"sum by (site, outcome) (increase(nbu_job_events_try_logs_total{site=~"$site"}[$__rate_interval]))"#,
            "{{site}} {{outcome}}",
        )],
    ),
    p(
        "Configuration reloads / Rechargements",
        "timeseries",
        "none",
        &[(
            r#"sum by (result) (increase(nbu_config_reloads_total[$__rate_interval]))"#,
            "{{result}}",
        )],
    ),
];
