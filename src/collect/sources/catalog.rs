//! `nbu_catalog_images_count{malware_status, anomaly_status}`: backup images taken within the
//! catalog window, for each pair of malware status and anomaly status the Go exporter reports,
//! from `GET /catalog/images`.
//!
//! Each pair is one request of one image, reading `meta.pagination.count`. Unlike the Go
//! exporter, every query bounds `backupTime` explicitly (`ge` window start, `le` now, both by
//! NetBackup's clock); without the bounds NetBackup silently counts the last 24 hours only.

use super::context::{SourceContext, SourceValues, odata_time};
use super::{Family, FamilyRow, OptInSource};
use crate::config::SourceId;
use crate::netbackup::resources::{ListQuery, Paging, count_matching};
use crate::netbackup::{ApiError, ApiVersion, NetBackupApi};

/// The catalog images endpoint.
pub const ENDPOINT: &str = "/catalog/images";
/// Images by malware and anomaly status.
pub static CATALOG_IMAGES_COUNT: Family<2> = Family::gauge(
    "nbu.catalog_images_count",
    "{image}",
    ["malware_status", "anomaly_status"],
    "Backup images taken within the catalog window (`sources.catalog.window`, default 24 h) by malware and anomaly status. Source: `GET /catalog/images`, one count per status pair.",
);

/// The catalog images source.
#[derive(Debug)]
pub struct Catalog;

impl OptInSource for Catalog {
    const ID: SourceId = SourceId::Catalog;
    const FAMILIES: &'static [FamilyRow] = &[CATALOG_IMAGES_COUNT.row()];

    /// `malwareStatus` can be filtered from 13.0 on.
    fn supported(version: ApiVersion) -> bool {
        version >= ApiVersion::V13_0
    }

    /// Counts the images of the window for each status pair.
    async fn collect<A: NetBackupApi>(
        api: &A,
        version: ApiVersion,
        context: &SourceContext,
    ) -> Result<SourceValues, ApiError> {
        let window = format!(
            "backupTime ge {} and backupTime le {}",
            odata_time(context.window_start()),
            odata_time(context.now)
        );
        let mut values = SourceValues::default();
        for malware in MALWARE_STATUSES {
            for anomaly in ANOMALY_STATUSES {
                let what =
                    format!("images with malwareStatus {malware} and anomalyStatus {anomaly}");
                let query = ListQuery {
                    endpoint: ENDPOINT,
                    params: vec![(
                        "filter",
                        format!(
                            "{window} and malwareStatus eq '{malware}' and anomalyStatus eq '{anomaly}'"
                        ),
                    )],
                    page_size: 1,
                    paging: Paging::Offset,
                    what: &what,
                };
                let (count, stats) = count_matching(api, version, &query).await?;
                values.set(&CATALOG_IMAGES_COUNT, [malware, anomaly], count as f64);
                values.add_walk(&stats);
            }
        }
        Ok(values)
    }
}

/// The malware statuses counted (`malwareStatus`, API 13.0 and later).
pub const MALWARE_STATUSES: [&str; 3] =
    ["CLEAN", "INFECTION_DETECTED_BY_MALWARE_SCAN", "NOT_SCANNED"];
/// The anomaly statuses counted (`anomalyStatus`, API 12.0 and later).
pub const ANOMALY_STATUSES: [&str; 3] = ["ANOMALOUS", "NOT_ANOMALOUS", "NOT_PROCESSED"];
