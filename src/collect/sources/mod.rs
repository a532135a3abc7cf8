//! The opt-in sources: alerts, malware scans, catalog images, service level objectives, tape.
//!
//! Each source is one module with one `collect` function that walks its endpoints to the end
//! (with the pagination the vendor spec gives each) and returns the series of its families as
//! [`SourceValues`]. Besides that module, a source is its [`SourceId`] (name, defaults) in the
//! configuration, its API-version predicate in [`supported`], one arm in [`collect`], and its
//! metric families in the catalog, which read the values back by name.
//!
//! Sources are scheduled by the site task on their own interval, share the site's request
//! limiter (rate and concurrency) with the jobs and storage walks, go stale on their own, and
//! never change `nbu_up`.

pub mod alerts;
pub mod catalog;
pub mod clients;
mod context;
pub mod malware;
pub mod slo;
pub mod tape;

pub use alerts::ALERTS_COUNT;
pub use catalog::CATALOG_IMAGES_COUNT;
pub use clients::{CLIENT_LAST_SUCCESSFUL_BACKUP, CLIENTS_OVER_CAP};
pub use context::{Labels, SourceContext, SourceValues, covered_clients};
pub use malware::{MALWARE_FILES_INFECTED, MALWARE_FILES_SCANNED, MALWARE_SCAN_COUNT};
pub use slo::SLO_COUNT;
pub use tape::{
    DISK_POOL_VOLUME_COUNT, TAPE_DRIVE_INFO, TAPE_DRIVES_COUNT, TAPE_MEDIA_COUNT,
    TAPE_POOL_PARTIALLY_FULL, TAPE_ROBOT_DEVICE_HOSTS,
};

use crate::config::SourceId;
use crate::netbackup::{ApiError, ApiVersion, NetBackupApi};

pub use crate::collect::label::MAX_LABEL_BYTES;

/// Whether NetBackup's API `version` has the endpoints of `source` (the vendor specs of each
/// release). A source the version lacks is not called; `check` and `/readyz` say so.
pub fn supported(source: SourceId, version: ApiVersion) -> bool {
    match source {
        SourceId::Alerts | SourceId::Malware | SourceId::Tape | SourceId::Clients => true,
        // `malwareStatus` can be filtered from 13.0 on; the service catalog is described from
        // 13.0 on.
        SourceId::Catalog => version >= ApiVersion::V13_0,
        SourceId::Slo => version.supports_service_catalog(),
    }
}

/// Collects `source` once.
pub async fn collect<A: NetBackupApi>(
    source: SourceId,
    api: &A,
    version: ApiVersion,
    context: &SourceContext,
) -> Result<SourceValues, ApiError> {
    match source {
        SourceId::Alerts => alerts::collect(api, version, context).await,
        SourceId::Malware => malware::collect(api, version, context).await,
        SourceId::Catalog => catalog::collect(api, version, context).await,
        SourceId::Slo => slo::collect(api, version, context).await,
        SourceId::Tape => tape::collect(api, version, context).await,
        SourceId::Clients => clients::collect(api, version, context).await,
    }
}
