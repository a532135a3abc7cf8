//! The Grafana dashboards of deploy/grafana/dashboards, generated from one description here so
//! that every dashboard shares the same variables, tags and query conventions:
//! `NBU_OTEL_BLESS=1 cargo test --test it dashboards` rewrites them; the test fails on drift.
//!
//! Conventions (as the Go exporter's): tags `netbackup`, `nbu`, `backup`; a `datasource`
//! variable and a multi-value `site` variable from `label_values(nbu_up, site)`; every query
//! filters `site=~"$site"`. Counters and the cumulative duration histogram are read with
//! `rate()`/`increase()`; job types are the vendor's (`DUPLICATE`, not `DUPLICATION`); a
//! success rate counts a missing `status="0"` series as 0 (every job failed), not as no data.
//!
//! Panels of job events (the agent's OTLP log records of failed jobs) query Loki instead, through
//! a `loki` data source variable, in LogQL: they select the records by the agent's service and
//! the events' instrumentation scope (Loki keeps no `event_name`), filter `site=~"$site"` too,
//! and name only fields Loki makes of the records (attributes with `_` for `.`).

use std::collections::BTreeSet;

use serde_json::{Value, json};

/// Where a panel's queries go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// PromQL, to the `datasource` variable (Prometheus or Mimir).
    Prometheus,
    /// LogQL over the job events, to the `loki` variable.
    Loki,
}

/// One panel: title, kind, unit, where its queries go, and its queries (expression, legend).
struct Panel {
    title: &'static str,
    kind: &'static str,
    unit: &'static str,
    source: Source,
    queries: &'static [(&'static str, &'static str)],
}

const fn p(
    title: &'static str,
    kind: &'static str,
    unit: &'static str,
    queries: &'static [(&'static str, &'static str)],
) -> Panel {
    Panel {
        title,
        kind,
        unit,
        source: Source::Prometheus,
        queries,
    }
}

/// A panel of job events, from Loki.
const fn logs(
    title: &'static str,
    kind: &'static str,
    unit: &'static str,
    queries: &'static [(&'static str, &'static str)],
) -> Panel {
    Panel {
        title,
        kind,
        unit,
        source: Source::Loki,
        queries,
    }
}

/// The job event records of the selected sites in Loki, with further LogQL (`$more`), as a
/// literal for `concat!`. The stream is the agent's `service.name` (Loki indexes it as
/// `service_name`); the scope (`nbu-otel.job_events`, structured metadata `scope_name`) keeps
/// out the agent's other logs.
macro_rules! job_events {
    ($more:literal) => {
        concat!(
            r#"{service_name="nbu-otel"} | scope_name="nbu-otel.job_events" | site=~"$site""#,
            $more
        )
    };
}

/// The age of each source's data, on the overview and the agent's dashboard.
const DATA_AGE: Panel = p(
    "Data age / Âge des données",
    "timeseries",
    "s",
    &[(
        r#"max by (site, source) (time() - nbu_last_scrape_timestamp_seconds{site=~"$site"})"#,
        "{{site}} {{source}}",
    )],
);

/// Infected files of the latest malware scans, on the overview and data protection.
const INFECTED_FILES: Panel = p(
    "Infected files / Fichiers infectés",
    "stat",
    "none",
    &[(
        r#"sum by (site) (nbu_malware_files_infected{site=~"$site"})"#,
        "{{site}}",
    )],
);

/// NetBackup's alerts of the alerts window by severity, on the overview and data protection.
const ALERTS_BY_SEVERITY: Panel = p(
    "Alerts by severity / Alertes par gravité",
    "bargauge",
    "none",
    &[(
        r#"sum by (site, severity) (nbu_alerts_count{site=~"$site"})"#,
        "{{site}} {{severity}}",
    )],
);

/// Age of each allowlisted client's last successful backup (the clients source), as a
/// literal for `concat!`.
macro_rules! client_age {
    () => {
        r#"time() - max by (site, client) (nbu_client_last_successful_backup_timestamp_seconds{site=~"$site", client=~"$client"})"#
    };
}

/// The finished jobs of the window of each allowlisted client, of the three phases, with a
/// further selector (`, status="0"` or nothing), as a literal for `concat!`.
macro_rules! client_phase_jobs {
    ($more:literal) => {
        concat!(
            r#"sum by (site, client, action) (nbu_client_jobs_count{site=~"$site", client=~"$client", action=~"BACKUP|DUPLICATE|IMPORT""#,
            $more,
            "})"
        )
    };
}

/// Age of the last successful job of one phase (`action`) of each allowlisted client and
/// policy, as a literal for `concat!`.
macro_rules! client_phase_age {
    ($action:literal) => {
        concat!(
            r#"time() - max by (site, client, policy) (nbu_client_last_job_success_seconds{site=~"$site", client=~"$client", action=""#,
            $action,
            r#""})"#
        )
    };
}

/// Clients of one phase (`action`) whose last success is older than `seconds`, on the
/// multi-site dashboard (every client: it has no client variable).
macro_rules! clients_late {
    ($action:literal, $seconds:literal) => {
        concat!(
            r#"time() - max by (site, client, policy) (nbu_client_last_job_success_seconds{site=~"$site", action=""#,
            $action,
            r#""}) > "#,
            $seconds
        )
    };
}

/// Every dashboard: file name (and uid), title, panels.
const DASHBOARDS: &[(&str, &str, &[Panel])] = &[
    (
        "nbu-overview",
        "NetBackup — Overview / Vue d'ensemble",
        &[
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
        ],
    ),
    (
        "nbu-jobs",
        "NetBackup — Jobs / Sauvegardes",
        &[
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
        ],
    ),
    (
        "nbu-storage",
        "NetBackup — Storage / Stockage",
        &[
            p(
                "Used per unit / Utilisation par unité",
                "bargauge",
                "percent",
                &[(
                    r#"100 * sum by (site, name) (nbu_disk_bytes{site=~"$site", name=~"$storage_unit", size="used"}) / sum by (site, name) (nbu_disk_bytes{site=~"$site", name=~"$storage_unit"})"#,
                    "{{site}} {{name}}",
                )],
            ),
            p(
                "Used against capacity / Utilisé et capacité",
                "timeseries",
                "bytes",
                &[
                    (
                        r#"sum by (site, name) (nbu_disk_bytes{site=~"$site", name=~"$storage_unit", size="used"})"#,
                        "{{site}} {{name}} used",
                    ),
                    (
                        r#"sum by (site, name) (nbu_disk_capacity_bytes{site=~"$site", name=~"$storage_unit"})"#,
                        "{{site}} {{name}} capacity",
                    ),
                ],
            ),
            p(
                "Units / Unités",
                "table",
                "none",
                &[(
                    r#"max by (site, name, type, subtype, is_cloud, worm_capable, use_worm, replication_capable, instant_access) (nbu_storage_info{site=~"$site", name=~"$storage_unit"})"#,
                    "{{name}}",
                )],
            ),
            p(
                "Maximum concurrent jobs / Travaux simultanés max",
                "table",
                "none",
                &[(
                    r#"max by (site, name) (nbu_storage_max_concurrent_jobs{site=~"$site", name=~"$storage_unit"})"#,
                    "{{site}} {{name}}",
                )],
            ),
            p(
                "Maximum fragment size / Taille max de fragment",
                "table",
                "bytes",
                &[(
                    r#"max by (site, name) (nbu_storage_max_fragment_size_bytes{site=~"$site", name=~"$storage_unit"})"#,
                    "{{site}} {{name}}",
                )],
            ),
        ],
    ),
    (
        "nbu-multisite",
        "NetBackup — Comparaison multi-sites / Multi-site Comparison",
        &[
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
        ],
    ),
    (
        "nbu-dataprotection",
        "NetBackup — Data Protection / Protection des données",
        &[
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
        ],
    ),
    (
        "nbu-tape",
        "NetBackup — Bande & Disques / Tape & Disk Pools",
        &[
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
        ],
    ),
    (
        "nbu-lifecycle",
        "NetBackup — Cycle de vie des sauvegardes / Backup Lifecycle",
        &[
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
        ],
    ),
    (
        "nbu-agent",
        "nbu-otel — Agent",
        &[
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
        ],
    ),
];

fn query_variable(name: &str, label: &str, query: &str) -> Value {
    json!({
        "name": name, "label": label, "type": "query",
        "datasource": { "type": "prometheus", "uid": "${datasource}" },
        "query": { "query": query, "refId": format!("{name}-var") },
        "definition": query, "refresh": 2, "multi": true, "includeAll": true,
        "allValue": ".*", "current": { "text": "All", "value": "$__all" }, "sort": 1
    })
}

/// The data source reference of a panel or query of `source`.
fn datasource(source: Source) -> Value {
    match source {
        Source::Prometheus => json!({ "type": "prometheus", "uid": "${datasource}" }),
        Source::Loki => json!({ "type": "loki", "uid": "${loki}" }),
    }
}

/// One query of a panel: PromQL as the Go dashboards have it; LogQL a range query for the
/// panels that draw time (logs, time series), an instant one over the dashboard's range else.
fn target(panel: &Panel, expr: &str, legend: &str, ref_id: char) -> Value {
    let mut target = json!({
        "datasource": datasource(panel.source),
        "expr": expr, "legendFormat": legend, "refId": ref_id.to_string()
    });
    if panel.source == Source::Loki {
        let range = matches!(panel.kind, "logs" | "timeseries");
        target["queryType"] = json!(if range { "range" } else { "instant" });
    }
    target
}

fn dashboard(uid: &str, title: &str, panels: &[Panel]) -> Value {
    let mut variables = vec![
        json!({ "name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus" }),
        query_variable("site", "Site", "label_values(nbu_up, site)"),
    ];
    if panels.iter().any(|p| p.source == Source::Loki) {
        variables.push(json!({
            "name": "loki", "label": "Logs data source (job events)", "type": "datasource",
            "query": "loki"
        }));
    }
    if uid == "nbu-jobs" {
        variables.push(query_variable(
            "policy_type",
            "Policy type",
            r#"label_values(nbu_jobs_count{site=~"$site"}, policy_type)"#,
        ));
    }
    if uid == "nbu-lifecycle" {
        variables.push(query_variable(
            "client",
            "Client",
            r#"label_values(nbu_client_last_successful_backup_timestamp_seconds{site=~"$site"}, client)"#,
        ));
    }
    if uid == "nbu-storage" {
        variables.push(query_variable(
            "storage_unit",
            "Storage unit",
            r#"label_values(nbu_disk_bytes{site=~"$site"}, name)"#,
        ));
    }
    let panels: Vec<Value> = panels
        .iter()
        .enumerate()
        .map(|(i, panel)| {
            let targets: Vec<Value> = panel
                .queries
                .iter()
                .zip('A'..)
                .map(|((expr, legend), ref_id)| target(panel, expr, legend, ref_id))
                .collect();
            let mut out = json!({
                "id": i + 1,
                "title": panel.title,
                "type": panel.kind,
                "datasource": datasource(panel.source),
                "gridPos": { "h": 8, "w": 12, "x": (i % 2) * 12, "y": (i / 2) * 8 },
                "fieldConfig": { "defaults": { "unit": panel.unit }, "overrides": [] },
                "targets": targets
            });
            if panel.kind == "logs" {
                // Newest first, each record's attributes a click away.
                out["options"] = json!({
                    "showTime": true, "wrapLogMessage": true, "sortOrder": "Descending",
                    "enableLogDetails": true, "dedupStrategy": "none"
                });
            }
            out
        })
        .collect();
    json!({
        "uid": uid,
        "title": title,
        "tags": ["netbackup", "nbu", "backup"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "1m",
        "time": { "from": "now-24h", "to": "now" },
        "templating": { "list": variables },
        "panels": panels
    })
}

/// Directory of the dashboard files.
pub fn dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/grafana/dashboards")
}

/// Every query of `source` of every generated dashboard, with where it comes from.
fn queries_of(source: Source) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (uid, _, panels) in DASHBOARDS {
        for panel in panels.iter().filter(|p| p.source == source) {
            for (expr, _) in panel.queries {
                out.push((format!("{uid}: {}", panel.title), (*expr).to_owned()));
            }
        }
    }
    out
}

/// Every PromQL expression of every generated dashboard, with where it comes from.
pub fn expressions() -> Vec<(String, String)> {
    queries_of(Source::Prometheus)
}

/// Every LogQL query (of job events, from Loki) of every generated dashboard.
pub fn log_queries() -> Vec<(String, String)> {
    queries_of(Source::Loki)
}

/// The fields Loki's OTLP ingestion makes of a job event record: its attributes (every one the
/// agent can send, from an event with every detail), its resource's indexed `service_name`,
/// the scope's name, the severity; each name with `_` for any character outside
/// `[A-Za-z0-9_]`.
pub fn job_event_fields() -> BTreeSet<String> {
    use nbu_otel::collect::job_event::{JobDetails, JobEvent, Reason, ReasonMissing};
    let full = JobDetails {
        parent_job_id: Some(1),
        sub_type: Some("s".into()),
        policy_name: Some("p".into()),
        schedule: Some("s".into()),
        client: Some("c".into()),
        tries: Some(1),
        files: Some(1),
        storage_unit: Some("u".into()),
        media_server: Some("m".into()),
    };
    let event = |reason| JobEvent {
        site: "a".into(),
        job_id: 1,
        job_type: "BACKUP".into(),
        policy_type: "Standard".into(),
        status: Some(13),
        start_ms: Some(0),
        end_ms: Some(1_000),
        bytes: 1,
        duration_seconds: Some(1.0),
        details: full.clone(),
        observed_ms: 2_000,
        reason,
    };
    let found = Reason::Found {
        status_message: Some("m".into()),
        text: "t".into(),
    };
    let loki = |key: &str| -> String {
        key.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect()
    };
    let mut fields: BTreeSet<String> = [found, Reason::Missing(ReasonMissing::Budget)]
        .into_iter()
        .flat_map(|reason| nbu_otel::telemetry::logs::attributes(&event(reason)))
        .map(|kv| loki(&kv.key))
        .collect();
    fields.extend(
        [
            "service_name",
            "scope_name",
            "severity_text",
            "severity_number",
        ]
        .map(String::from),
    );
    fields
}

/// The field names a LogQL query reads: identifiers outside strings and outside the range's
/// brackets followed by a matcher (`=`, `!=`, `=~`, `!~`), and those of `by (...)` and
/// `without (...)`.
pub fn logql_fields(query: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut in_string = None;
    let mut word = String::new();
    // The last identifier, waiting to see whether a matcher follows it.
    let mut last = String::new();
    let mut grouping = false;
    let chars: Vec<char> = query.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        match in_string {
            Some(q) if c == q => in_string = None,
            Some(_) => {}
            None if c == '"' || c == '`' => in_string = Some(c),
            None if c.is_ascii_alphanumeric() || c == '_' => word.push(c),
            None => {
                if !word.is_empty() {
                    if grouping {
                        names.insert(word.clone());
                    }
                    last = std::mem::take(&mut word);
                }
                let next = chars.get(i + 1).copied();
                let matcher = c == '=' || (c == '!' && matches!(next, Some('=' | '~')));
                if matcher && !last.is_empty() {
                    names.insert(std::mem::take(&mut last));
                } else if c == '(' {
                    grouping = last == "by" || last == "without";
                    last.clear();
                } else if c == ')' {
                    grouping = false;
                    last.clear();
                } else if !c.is_whitespace() {
                    last.clear();
                }
            }
        }
    }
    names
}

/// Whether a LogQL query (a dashboard's or an alert rule's) reads job events as the kit does:
/// the agent's stream and the events' scope, and only fields the records have. `Err` says why
/// not.
pub fn check_job_events_query(query: &str) -> Result<(), String> {
    let scope = format!(
        r#"{{service_name="nbu-otel"}} | scope_name="{}""#,
        nbu_otel::telemetry::logs::SCOPE_NAME
    );
    if !query.contains(&scope) {
        return Err(format!("does not select {scope}"));
    }
    let known = job_event_fields();
    let unknown: Vec<String> = logql_fields(query)
        .into_iter()
        .filter(|f| !known.contains(f))
        .collect();
    if !unknown.is_empty() {
        return Err(format!("reads fields job events do not have: {unknown:?}"));
    }
    Ok(())
}

#[test]
fn dashboards_are_generated_from_one_description() {
    let dir = dir();
    let bless = std::env::var_os("NBU_OTEL_BLESS").is_some();
    for (uid, title, panels) in DASHBOARDS {
        let path = dir.join(format!("{uid}.json"));
        let mut expected = serde_json::to_string_pretty(&dashboard(uid, title, panels)).unwrap();
        expected.push('\n');
        let actual = std::fs::read_to_string(&path).unwrap_or_default();
        if actual != expected {
            assert!(
                bless,
                "{} is out of date; regenerate with NBU_OTEL_BLESS=1 cargo test --test it dashboards",
                path.display()
            );
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &expected).unwrap();
        }
    }
    // No stray dashboard that the description does not make.
    let files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), DASHBOARDS.len(), "{files:?}");
}

#[test]
fn every_query_filters_by_site_and_uses_real_job_types() {
    let logs = log_queries();
    assert!(logs.len() >= 2, "{logs:?}");
    for (what, query) in &logs {
        assert!(query.contains(r#"site=~"$site""#), "{what}: {query}");
        if let Err(e) = check_job_events_query(query) {
            panic!("{what}: {e}: {query}");
        }
    }
    // The legends of Loki panels name fields of the records too.
    for (uid, _, panels) in DASHBOARDS {
        for panel in panels.iter().filter(|p| p.source == Source::Loki) {
            for (_, legend) in panel.queries {
                for field in legend
                    .split("{{")
                    .skip(1)
                    .filter_map(|s| s.split("}}").next())
                {
                    assert!(
                        job_event_fields().contains(field.trim()),
                        "{uid}: {}: legend {legend}",
                        panel.title
                    );
                }
            }
        }
    }
    // The field extraction itself: strings, ranges and functions are not fields.
    assert_eq!(
        logql_fields(
            r#"sum by (site, nbu_job_client) (count_over_time({service_name="x"} | a_b!="by (z)" | c=~"d" [$__range]))"#
        ),
        ["a_b", "c", "nbu_job_client", "service_name", "site"]
            .map(String::from)
            .into()
    );
    assert!(job_event_fields().contains("nbu_job_reason_missing"));
    assert!(job_event_fields().contains("error_type"));
    for (what, expr) in expressions() {
        // The agent's own site-less families.
        let site_free = [
            "nbu_exporter_build_info",
            "nbu_config_reloads_total",
            "nbu_otlp_exports_total",
        ]
        .iter()
        .any(|name| expr.contains(name));
        assert!(
            site_free || expr.contains(r#"site=~"$site""#),
            "{what}: {expr}"
        );
        assert!(!expr.contains("DUPLICATION"), "{what}: {expr}");
        // Counters and the cumulative histogram only through rate() or increase().
        for name in ["_total{", "_bucket{"] {
            if let Some(at) = expr.find(name) {
                let before = &expr[..at];
                assert!(
                    before.ends_with_any_call(),
                    "{what}: a counter or bucket read without rate()/increase(): {expr}"
                );
            }
        }
    }
}

trait EndsWithCall {
    fn ends_with_any_call(&self) -> bool;
}

impl EndsWithCall for &str {
    /// Whether the metric name that follows is the argument of `rate(` or `increase(`.
    fn ends_with_any_call(&self) -> bool {
        let start = self
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let head = &self[..start];
        head.ends_with("rate(") || head.ends_with("increase(")
    }
}
