//! `nbu_slo_count`: the protection plans (service level objectives) of
//! `GET /servicecatalog/slos`, all of them (the Go exporter counted the first page, at most
//! 100). The 11.0 schema declares no `meta` for this endpoint, so the walk pages by offset until
//! a short page when the server sends no pagination metadata.

use super::context::{SourceContext, SourceValues, walk_into};
use super::{Family, FamilyRow, OptInSource};
use crate::config::SourceId;
use crate::netbackup::resources::{ListQuery, Paging};
use crate::netbackup::{ApiError, ApiVersion, NetBackupApi};

/// The service level objectives endpoint.
pub const ENDPOINT: &str = "/servicecatalog/slos";
/// Protection plans.
pub static SLO_COUNT: Family<0> = Family::gauge(
    "nbu.slo_count",
    "{slo}",
    [],
    "Protection plans (service level objectives), all of them. Source: `GET /servicecatalog/slos` (API 13.0 and later).",
);

/// The service level objectives source.
#[derive(Debug)]
pub struct Slo;

impl OptInSource for Slo {
    const ID: SourceId = SourceId::Slo;
    const FAMILIES: &'static [FamilyRow] = &[SLO_COUNT.row()];

    /// The service catalog is described from 13.0 on.
    fn supported(version: ApiVersion) -> bool {
        version.supports_service_catalog()
    }

    /// Counts the protection plans.
    async fn collect<A: NetBackupApi>(
        api: &A,
        version: ApiVersion,
        context: &SourceContext,
    ) -> Result<SourceValues, ApiError> {
        let query = ListQuery {
            endpoint: ENDPOINT,
            params: vec![("sort", "name".to_owned())],
            page_size: context.page_size,
            paging: Paging::Offset,
            what: "service level objectives",
        };
        let mut values = SourceValues::default();
        // Each plan adds one to the single series, which exists (at 0) when there is none.
        values.set(&SLO_COUNT, [], 0.0);
        walk_into(api, version, &query, &mut values, |values, _| {
            values.add(&SLO_COUNT, [], 1.0);
        })
        .await?;
        Ok(values)
    }
}
