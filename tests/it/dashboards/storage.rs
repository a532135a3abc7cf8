//! The `nbu-storage` dashboard: storage units, their usage against capacity and their limits.

use super::{Panel, p};

/// The dashboard's panels, in order.
pub(super) const PANELS: &[Panel] = &[
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
];
