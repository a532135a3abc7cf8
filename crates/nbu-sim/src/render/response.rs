//! Response helpers: NetBackup media types and the vendor error body
//! (`errorCode`, `errorMessage`, `errorDetails`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::json::JsonOut;
use crate::version::ApiVersion;

/// A 200 response with a JSON body in the negotiated media type.
pub(crate) fn ok_json(version: ApiVersion, body: String) -> Response {
    with_media_type(StatusCode::OK, version, body)
}

/// A response with `Content-Type` set to the media type of `version`.
pub(crate) fn with_media_type(status: StatusCode, version: ApiVersion, body: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(version.media_type()),
        )],
        body,
    )
        .into_response()
}

/// The vendor error body. `errorCode` is the HTTP status code: the simulator does not mimic
/// NetBackup's internal error numbers.
pub(crate) fn error_body(status: StatusCode, message: &str, details: &[String]) -> String {
    let mut out = JsonOut::with_capacity(128 + message.len());
    out.begin_object();
    out.key("errorCode").u64(u64::from(status.as_u16()));
    out.key("errorMessage").str(message);
    out.key("errorDetails").begin_array();
    for detail in details {
        out.str(detail);
    }
    out.end_array();
    out.end_object();
    out.finish()
}

/// An error response in the vendor shape.
pub(crate) fn error(
    status: StatusCode,
    version: ApiVersion,
    message: &str,
    details: &[String],
) -> Response {
    with_media_type(status, version, error_body(status, message, details))
}

/// A 400 response naming the problem.
pub(crate) fn bad_request(version: ApiVersion, message: String) -> Response {
    error(StatusCode::BAD_REQUEST, version, &message, &[])
}
