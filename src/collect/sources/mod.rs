//! The opt-in sources: alerts, malware scans, catalog images, service level objectives, tape,
//! clients.
//!
//! Each source is one module with one type implementing [`OptInSource`]: its identity in the
//! configuration ([`SourceId`]: name, default interval and window), the API versions that
//! have its endpoints, its metric families ([`Family`], the catalog's rows, with typed label
//! keys), and its collection, which walks its endpoints to the end (with the pagination the
//! vendor spec gives each) and returns the series of its families as [`SourceValues`]. This
//! module lists the types once ([`every_source!`]); the catalog, the site cycle and the
//! readiness report go through that list.
//!
//! Sources are scheduled by the site cycle on their own interval, share the site's request
//! limiter (rate and concurrency) with the jobs and storage walks, go stale on their own, and
//! never change `nbu_up`.

pub mod alerts;
pub mod catalog;
pub mod clients;
mod context;
mod family;
pub mod malware;
pub mod slo;
pub mod tape;

pub use alerts::ALERTS_COUNT;
pub use catalog::CATALOG_IMAGES_COUNT;
pub use clients::{CLIENT_LAST_SUCCESSFUL_BACKUP, CLIENTS_OVER_CAP};
pub use context::{Labels, SourceContext, SourceValues, covered_clients};
pub use family::{Family, FamilyRow};
pub use malware::{MALWARE_FILES_INFECTED, MALWARE_FILES_SCANNED, MALWARE_SCAN_COUNT};
pub use slo::SLO_COUNT;
pub use tape::{
    DISK_POOL_VOLUME_COUNT, TAPE_DRIVE_INFO, TAPE_DRIVES_COUNT, TAPE_MEDIA_COUNT,
    TAPE_POOL_PARTIALLY_FULL, TAPE_ROBOT_DEVICE_HOSTS,
};

use crate::config::SourceId;
use crate::netbackup::{ApiError, ApiVersion, NetBackupApi};

pub use crate::collect::label::MAX_LABEL_BYTES;

/// One opt-in source: everything the agent knows of it besides its configuration keys.
pub trait OptInSource {
    /// Its identity in the configuration: the name under `sources`, the default interval
    /// and window.
    const ID: SourceId;

    /// Its metric families, in the catalog's order.
    const FAMILIES: &'static [FamilyRow];

    /// Whether NetBackup's API `version` has its endpoints (the vendor specs of each
    /// release). A source the version lacks is not called; `check` and `/readyz` say so.
    fn supported(version: ApiVersion) -> bool {
        let _ = version;
        true
    }

    /// Collects the source once.
    fn collect<A: NetBackupApi>(
        api: &A,
        version: ApiVersion,
        context: &SourceContext,
    ) -> impl Future<Output = Result<SourceValues, ApiError>> + Send;
}

/// Applies the macro `$apply` to the list of every opt-in source type: the one place that
/// lists them.
macro_rules! every_source {
    ($apply:ident) => {
        $apply!(
            alerts::Alerts,
            malware::Malware,
            catalog::Catalog,
            slo::Slo,
            tape::Tape,
            clients::Clients
        )
    };
}

/// Whether NetBackup's API `version` has the endpoints of `source` ([`OptInSource::supported`]).
pub fn supported(source: SourceId, version: ApiVersion) -> bool {
    macro_rules! find {
        ($($source:ty),*) => {
            $(if source == <$source>::ID {
                return <$source>::supported(version);
            })*
        };
    }
    every_source!(find);
    false
}

/// Collects `source` once ([`OptInSource::collect`]).
pub async fn collect<A: NetBackupApi>(
    source: SourceId,
    api: &A,
    version: ApiVersion,
    context: &SourceContext,
) -> Result<SourceValues, ApiError> {
    macro_rules! find {
        ($($source:ty),*) => {
            $(if source == <$source>::ID {
                return <$source>::collect(api, version, context).await;
            })*
        };
    }
    every_source!(find);
    Err(ApiError::of_site(
        api.site(),
        crate::netbackup::ApiFailure::Internal {
            detail: format!("no collection for the source {source}"),
        },
    ))
}

/// Every family of every opt-in source with its source, in the catalog's order.
pub fn families() -> impl Iterator<Item = (SourceId, &'static FamilyRow)> {
    macro_rules! chain {
        ($($source:ty),*) => {
            std::iter::empty()
                $(.chain(<$source>::FAMILIES.iter().map(|f| (<$source>::ID, f))))*
        };
    }
    every_source!(chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_configurable_source_has_one_module_with_families() {
        for id in SourceId::ALL {
            let families = families().filter(|(source, _)| *source == id).count();
            assert!(families > 0, "{id} has no module with families");
        }
        let mut names: Vec<&str> = families().map(|(_, f)| f.name).collect();
        let all = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all, "a family is declared twice");
    }

    #[test]
    fn the_service_catalog_sources_need_api_13() {
        assert!(supported(SourceId::Alerts, ApiVersion::V10_0));
        assert!(!supported(SourceId::Catalog, ApiVersion::V12_0));
        assert!(supported(SourceId::Catalog, ApiVersion::V13_0));
        assert_eq!(
            supported(SourceId::Slo, ApiVersion::V12_0),
            ApiVersion::V12_0.supports_service_catalog()
        );
    }
}
