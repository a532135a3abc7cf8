//! `nbu_alerts_count{severity, category}`: the alerts NetBackup created within the source's
//! window, by severity and category, from `GET /manage/alerts`.
//!
//! The Go exporter counted the first page only (the 100 newest alerts whatever their age). Here
//! the filter `createdDateTime ge <NetBackup's clock - window>` bounds the count explicitly,
//! and the walk follows `page[offset]` to the end, sorted by `alertId` so that alerts created
//! during the walk land after the pages already read.

use super::context::{SourceContext, SourceValues, odata_time, walk_into};
use super::{Family, FamilyRow, OptInSource};
use crate::config::SourceId;
use crate::netbackup::resources::{ListQuery, Paging, attribute};
use crate::netbackup::{ApiError, ApiVersion, NetBackupApi};

/// The alerts endpoint.
pub const ENDPOINT: &str = "/manage/alerts";
/// Alerts by severity and category.
pub static ALERTS_COUNT: Family<2> = Family::gauge(
    "nbu.alerts_count",
    "{alert}",
    ["severity", "category"],
    "Alerts created within the alerts window (`sources.alerts.window`, default 24 h) by severity and category. Source: `GET /manage/alerts`, every page.",
);

/// The alerts source.
#[derive(Debug)]
pub struct Alerts;

impl OptInSource for Alerts {
    const ID: SourceId = SourceId::Alerts;
    const FAMILIES: &'static [FamilyRow] = &[ALERTS_COUNT.row()];

    /// Counts the alerts of the window.
    async fn collect<A: NetBackupApi>(
        api: &A,
        version: ApiVersion,
        context: &SourceContext,
    ) -> Result<SourceValues, ApiError> {
        let query = ListQuery {
            endpoint: ENDPOINT,
            params: vec![
                (
                    "filter",
                    format!("createdDateTime ge {}", odata_time(context.window_start())),
                ),
                ("sort", "alertId".to_owned()),
            ],
            page_size: context.page_size,
            paging: Paging::Offset,
            what: "alerts",
        };
        let mut values = SourceValues::default();
        walk_into(api, version, &query, &mut values, |values, alert| {
            let text = |name| {
                attribute(alert, name)
                    .and_then(|v| v.as_str())
                    .unwrap_or("UNKNOWN")
            };
            values.add(&ALERTS_COUNT, [text("severity"), text("category")], 1.0);
        })
        .await?;
        Ok(values)
    }
}
