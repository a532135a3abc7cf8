//! The NetBackup REST API versions the simulator serves.

use std::fmt;
use std::str::FromStr;

/// A NetBackup REST API version, the `version=` parameter of the media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApiVersion {
    /// API 10.0: NetBackup 10.0 to 10.4.
    V10_0,
    /// API 12.0: NetBackup 10.5.
    V12_0,
    /// API 13.0: NetBackup 11.0.
    V13_0,
    /// API 14.0: NetBackup 11.2.
    V14_0,
}

impl ApiVersion {
    /// Every version served, newest first.
    pub const NEWEST_FIRST: [ApiVersion; 4] = [
        ApiVersion::V14_0,
        ApiVersion::V13_0,
        ApiVersion::V12_0,
        ApiVersion::V10_0,
    ];

    /// The version as it appears in the media type, for example `14.0`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V10_0 => "10.0",
            ApiVersion::V12_0 => "12.0",
            ApiVersion::V13_0 => "13.0",
            ApiVersion::V14_0 => "14.0",
        }
    }

    /// The versioned NetBackup media type, for example
    /// `application/vnd.netbackup+json;version=14.0`.
    pub fn media_type(self) -> &'static str {
        match self {
            ApiVersion::V10_0 => "application/vnd.netbackup+json;version=10.0",
            ApiVersion::V12_0 => "application/vnd.netbackup+json;version=12.0",
            ApiVersion::V13_0 => "application/vnd.netbackup+json;version=13.0",
            ApiVersion::V14_0 => "application/vnd.netbackup+json;version=14.0",
        }
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not one of the versions the simulator serves.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported API version {0:?}; supported: 14.0, 13.0, 12.0, 10.0")]
pub struct UnknownApiVersion(pub String);

impl FromStr for ApiVersion {
    type Err = UnknownApiVersion;

    /// Reads `14.0` or `14` (and so on), ignoring surrounding spaces.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "10.0" | "10" => Ok(ApiVersion::V10_0),
            "12.0" | "12" => Ok(ApiVersion::V12_0),
            "13.0" | "13" => Ok(ApiVersion::V13_0),
            "14.0" | "14" => Ok(ApiVersion::V14_0),
            other => Err(UnknownApiVersion(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_every_version() {
        for v in ApiVersion::NEWEST_FIRST {
            assert_eq!(v.as_str().parse::<ApiVersion>(), Ok(v));
            assert_eq!(v.to_string(), v.as_str());
            assert!(v.media_type().ends_with(v.as_str()));
        }
        assert!("11.0".parse::<ApiVersion>().is_err());
    }
}
