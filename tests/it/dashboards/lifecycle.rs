//! The `nbu-lifecycle` dashboard: each client's backups, duplications and imports, and how
//! late they are.

use super::{Panel, p};

/// The dashboard's panels, in order.
pub(super) const PANELS: &[Panel] = &[
    p(
        "Clients backed up in 24 h / Clients sauvegardés en 24 h",
        "stat",
        "none",
        &[(
            concat!(
                "count by (site) (",
                client_age!(),
                " <= 86400) or 0 * count by (site) (",
                client_age!(),
                ")"
            ),
            "{{site}}",
        )],
    ),
    p(
        "Clients over 25 h / Clients au-delà de 25 h",
        "stat",
        "none",
        &[(
            concat!(
                "count by (site) (",
                client_age!(),
                " > 90000) or 0 * count by (site) (",
                client_age!(),
                ")"
            ),
            "{{site}}",
        )],
    ),
    p(
        "Clients over the cap / Clients hors plafond",
        "stat",
        "none",
        &[(
            r#"max by (site) (nbu_clients_over_cap{site=~"$site"})"#,
            "{{site}}",
        )],
    ),
    p(
        "Last successful backup age / Âge de la dernière sauvegarde réussie",
        "table",
        "s",
        &[(client_age!(), "{{site}} {{client}}")],
    ),
    p(
        "Clients without a backup for 25 h / Clients sans sauvegarde depuis 25 h",
        "table",
        "s",
        &[(concat!(client_age!(), " > 90000"), "{{site}} {{client}}")],
    ),
    p(
        "Compliance timeline / Conformité dans le temps",
        "timeseries",
        "s",
        &[(client_age!(), "{{site}} {{client}}")],
    ),
    p(
        "Success rate: BACKUP, DUPLICATE, IMPORT / Réussite par phase",
        "timeseries",
        "percent",
        &[(
            r#"100 * (sum by (site, action) (nbu_status_count{site=~"$site", action=~"BACKUP|DUPLICATE|IMPORT", status="0"}) or 0 * sum by (site, action) (nbu_status_count{site=~"$site", action=~"BACKUP|DUPLICATE|IMPORT"})) / clamp_min(sum by (site, action) (nbu_status_count{site=~"$site", action=~"BACKUP|DUPLICATE|IMPORT"}), 1)"#,
            "{{site}} {{action}}",
        )],
    ),
    p(
        "Success rate per phase and client / Réussite par phase et par client",
        "table",
        "percent",
        &[(
            concat!(
                "100 * (",
                client_phase_jobs!(r#", status="0""#),
                " or 0 * ",
                client_phase_jobs!(""),
                ") / clamp_min(",
                client_phase_jobs!(""),
                ", 1)"
            ),
            "{{site}} {{client}} {{action}}",
        )],
    ),
    p(
        "Last successful BACKUP age / Âge du dernier BACKUP réussi",
        "table",
        "s",
        &[(
            client_phase_age!("BACKUP"),
            "{{site}} {{client}} {{policy}}",
        )],
    ),
    p(
        "Last successful tape copy (DUPLICATE) age / Âge de la dernière copie sur bande",
        "table",
        "s",
        &[(
            client_phase_age!("DUPLICATE"),
            "{{site}} {{client}} {{policy}}",
        )],
    ),
    p(
        "Last successful replication (IMPORT) age / Âge de la dernière réplication",
        "table",
        "s",
        &[(
            client_phase_age!("IMPORT"),
            "{{site}} {{client}} {{policy}}",
        )],
    ),
    p(
        "Finished jobs by phase / Travaux terminés par phase",
        "timeseries",
        "none",
        &[(
            r#"sum by (site, action) (nbu_client_jobs_count{site=~"$site", client=~"$client", action=~"BACKUP|DUPLICATE|IMPORT"})"#,
            "{{site}} {{action}}",
        )],
    ),
    p(
        "Activity by phase / Activité par phase",
        "timeseries",
        "bytes",
        &[(
            r#"sum by (site, action) (nbu_jobs_bytes{site=~"$site", action=~"BACKUP|DUPLICATE|IMPORT"})"#,
            "{{site}} {{action}}",
        )],
    ),
    p(
        "BACKUP duration p50/p95 / Durée des sauvegardes p50/p95",
        "timeseries",
        "s",
        &[
            (
                r#"histogram_quantile(0.5, sum by (site, le) (rate(nbu_job_duration_seconds_bucket{site=~"$site", action="BACKUP"}[$__rate_interval])))"#,
                "{{site}} p50",
            ),
            (
                r#"histogram_quantile(0.95, sum by (site, le) (rate(nbu_job_duration_seconds_bucket{site=~"$site", action="BACKUP"}[$__rate_interval])))"#,
                "{{site}} p95",
            ),
        ],
    ),
];
