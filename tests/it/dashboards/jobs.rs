//! The `nbu-jobs` dashboard: jobs: counts, states, sizes, durations, queue, job events.

use super::{Panel, logs, p};

/// The dashboard's panels, in order.
pub(super) const PANELS: &[Panel] = &[
    p(
        "Success rate by type / Réussite par type",
        "timeseries",
        "percent",
        &[(
            r#"100 * (sum by (site, action) (nbu_status_count{site=~"$site", status="0"}) or 0 * sum by (site, action) (nbu_status_count{site=~"$site"})) / clamp_min(sum by (site, action) (nbu_status_count{site=~"$site"}), 1)"#,
            "{{site}} {{action}}",
        )],
    ),
    p(
        "Jobs by state / Travaux par état",
        "piechart",
        "none",
        &[(
            r#"sum by (state) (nbu_jobs_state_count{site=~"$site"})"#,
            "{{state}}",
        )],
    ),
    p(
        "Finished jobs by policy type / Travaux terminés par type de politique",
        "timeseries",
        "none",
        &[(
            r#"sum by (site, policy_type) (nbu_jobs_count{site=~"$site", policy_type=~"$policy_type"})"#,
            "{{site}} {{policy_type}}",
        )],
    ),
    p(
        "Backup volume in the window / Volume sauvegardé",
        "timeseries",
        "bytes",
        &[(
            r#"sum by (site) (nbu_jobs_bytes{site=~"$site", action="BACKUP", policy_type=~"$policy_type"})"#,
            "{{site}}",
        )],
    ),
    p(
        "Throughput / Débit",
        "timeseries",
        "Bps",
        &[(
            r#"sum by (site, action) (rate(nbu_jobs_transferred_bytes_total{site=~"$site", policy_type=~"$policy_type"}[$__rate_interval]))"#,
            "{{site}} {{action}}",
        )],
    ),
    p(
        "Failed jobs per hour / Échecs par heure",
        "timeseries",
        "none",
        &[(
            r#"sum by (site, action) (increase(nbu_jobs_completed_total{site=~"$site", status!="0"}[1h]))"#,
            "{{site}} {{action}}",
        )],
    ),
    logs(
        "Failed jobs, with NetBackup's reason (Loki) / Travaux en échec et leur raison",
        "logs",
        "none",
        &[(job_events!(r#" | severity_text=~"WARN|ERROR""#), "")],
    ),
    logs(
        "Failed jobs per client (Loki) / Échecs par client",
        "bargauge",
        "none",
        &[(
            concat!(
                "topk(20, sum by (site, nbu_job_client) (count_over_time(",
                job_events!(r#" | severity_text="ERROR""#),
                " [$__range])))"
            ),
            "{{site}} {{nbu_job_client}}",
        )],
    ),
    logs(
        "Failures by status code (Loki) / Échecs par code de statut",
        "timeseries",
        "none",
        &[(
            concat!(
                "sum by (site, error_type) (count_over_time(",
                job_events!(r#" | severity_text=~"WARN|ERROR""#),
                " [$__auto]))"
            ),
            "{{site}} status {{error_type}}",
        )],
    ),
    p(
        "Queued by reason / En file par raison",
        "timeseries",
        "none",
        &[(
            r#"sum by (site, reason) (nbu_jobs_queued_count{site=~"$site"})"#,
            "{{site}} reason {{reason}}",
        )],
    ),
    p(
        "Duration p50/p95 / Durée p50/p95",
        "timeseries",
        "s",
        &[
            (
                r#"histogram_quantile(0.5, sum by (site, le) (rate(nbu_job_duration_seconds_bucket{site=~"$site", policy_type=~"$policy_type"}[$__rate_interval])))"#,
                "{{site}} p50",
            ),
            (
                r#"histogram_quantile(0.95, sum by (site, le) (rate(nbu_job_duration_seconds_bucket{site=~"$site", policy_type=~"$policy_type"}[$__rate_interval])))"#,
                "{{site}} p95",
            ),
        ],
    ),
    p(
        "Files protected / Fichiers protégés",
        "timeseries",
        "none",
        &[(
            r#"sum by (site, action) (nbu_jobs_files_count{site=~"$site", policy_type=~"$policy_type"})"#,
            "{{site}} {{action}}",
        )],
    ),
    p(
        "Mean dedup ratio / Ratio de déduplication moyen",
        "timeseries",
        "none",
        &[(
            r#"avg by (site, policy_type) (nbu_jobs_dedup_ratio{site=~"$site", policy_type=~"$policy_type"})"#,
            "{{site}} {{policy_type}}",
        )],
    ),
];
