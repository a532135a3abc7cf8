//! The endpoints of the opt-in sources and the API versions that have them.

use crate::version::ApiVersion;

/// An endpoint of an opt-in source (alerts, malware, catalog images, SLOs, tape, disk pools).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OptInEndpoint {
    /// `GET /manage/alerts` (offset pagination).
    Alerts,
    /// `GET /malware/latest-scan-results` (offset pagination).
    MalwareScans,
    /// `GET /catalog/images` (offset pagination, default window of 24 hours).
    CatalogImages,
    /// `GET /servicecatalog/slos` (offset pagination, `data` only).
    Slos,
    /// `GET /storage/drives` (offset pagination).
    Drives,
    /// `GET /storage/tape-media` (cursor pagination).
    TapeMedia,
    /// `GET /storage/robots-device-hosts` (no pagination).
    RobotDeviceHosts,
    /// `GET /storage/tape-volume-pools` (cursor pagination).
    TapeVolumePools,
    /// `GET /storage/disk-pools` (offset pagination).
    DiskPools,
}

impl OptInEndpoint {
    /// Every opt-in endpoint.
    pub const ALL: [OptInEndpoint; 9] = [
        OptInEndpoint::Alerts,
        OptInEndpoint::MalwareScans,
        OptInEndpoint::CatalogImages,
        OptInEndpoint::Slos,
        OptInEndpoint::Drives,
        OptInEndpoint::TapeMedia,
        OptInEndpoint::RobotDeviceHosts,
        OptInEndpoint::TapeVolumePools,
        OptInEndpoint::DiskPools,
    ];

    /// The path under the API base (`/netbackup`), e.g. `/manage/alerts`.
    pub fn path(self) -> &'static str {
        match self {
            OptInEndpoint::Alerts => "/manage/alerts",
            OptInEndpoint::MalwareScans => "/malware/latest-scan-results",
            OptInEndpoint::CatalogImages => "/catalog/images",
            OptInEndpoint::Slos => "/servicecatalog/slos",
            OptInEndpoint::Drives => "/storage/drives",
            OptInEndpoint::TapeMedia => "/storage/tape-media",
            OptInEndpoint::RobotDeviceHosts => "/storage/robots-device-hosts",
            OptInEndpoint::TapeVolumePools => "/storage/tape-volume-pools",
            OptInEndpoint::DiskPools => "/storage/disk-pools",
        }
    }

    /// The endpoint of a full request path (`/netbackup/...`), if it is one.
    pub(crate) fn of_request_path(path: &str) -> Option<OptInEndpoint> {
        let rest = path.strip_prefix("/netbackup")?;
        OptInEndpoint::ALL.into_iter().find(|e| e.path() == rest)
    }

    /// Whether API `version` serves the endpoint; the others answer 404. SLOs exist from 13.0
    /// on; tape media, robot device hosts and volume pools from 12.0 on; the rest in every
    /// version.
    pub fn available(self, version: ApiVersion) -> bool {
        match self {
            OptInEndpoint::Slos => version >= ApiVersion::V13_0,
            OptInEndpoint::TapeMedia
            | OptInEndpoint::RobotDeviceHosts
            | OptInEndpoint::TapeVolumePools => version >= ApiVersion::V12_0,
            OptInEndpoint::Alerts
            | OptInEndpoint::MalwareScans
            | OptInEndpoint::CatalogImages
            | OptInEndpoint::Drives
            | OptInEndpoint::DiskPools => true,
        }
    }
}
