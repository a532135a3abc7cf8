//! Version negotiation from the `Accept` header.

use axum::http::HeaderValue;

use crate::version::ApiVersion;

/// The NetBackup media type without parameters.
pub(crate) const MEDIA_TYPE: &str = "application/vnd.netbackup+json";

/// The outcome of reading `Accept`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Negotiation {
    /// The first requested version that is supported, if any.
    pub version: Option<ApiVersion>,
    /// The `version` parameter of the first NetBackup media range, as sent.
    pub requested: Option<String>,
}

/// Reads `Accept`: a comma-separated list of media ranges; a range counts when it is the
/// NetBackup media type (case-insensitive) with a `version` parameter (spaces and quotes
/// tolerated) naming a supported version.
pub(crate) fn negotiate(accept: Option<&HeaderValue>, supported: &[ApiVersion]) -> Negotiation {
    let mut outcome = Negotiation {
        version: None,
        requested: None,
    };
    let Some(text) = accept.and_then(|v| v.to_str().ok()) else {
        return outcome;
    };
    for range in text.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case(MEDIA_TYPE) {
            continue;
        }
        let version = parts.find_map(|param| {
            let (name, value) = param.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("version")
                .then(|| value.trim().trim_matches('"').to_owned())
        });
        let Some(version) = version else { continue };
        if outcome.requested.is_none() {
            outcome.requested = Some(version.clone());
        }
        if let Ok(parsed) = version.parse::<ApiVersion>()
            && supported.contains(&parsed)
        {
            outcome.version = Some(parsed);
            break;
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(accept: &str, supported: &[ApiVersion]) -> Negotiation {
        negotiate(
            Some(&HeaderValue::from_str(accept).expect("header")),
            supported,
        )
    }

    #[test]
    fn picks_supported_versions_only() {
        let all = ApiVersion::NEWEST_FIRST;
        let n = run("application/vnd.netbackup+json;version=14.0", &all);
        assert_eq!(n.version, Some(ApiVersion::V14_0));
        assert_eq!(n.requested.as_deref(), Some("14.0"));
        let n = run("Application/VND.netbackup+json; version=\"12.0\"", &all);
        assert_eq!(n.version, Some(ApiVersion::V12_0));
        let n = run(
            "application/vnd.netbackup+json;version=14.0",
            &[ApiVersion::V13_0],
        );
        assert_eq!((n.version, n.requested.as_deref()), (None, Some("14.0")));
        let n = run(
            "application/vnd.netbackup+json;version=99.0, application/vnd.netbackup+json;version=13.0",
            &all,
        );
        assert_eq!(
            (n.version, n.requested.as_deref()),
            (Some(ApiVersion::V13_0), Some("99.0"))
        );
        assert_eq!(run("application/json", &all).version, None);
        assert_eq!(run("application/vnd.netbackup+json", &all).version, None);
        assert_eq!(negotiate(None, &all).version, None);
    }
}
