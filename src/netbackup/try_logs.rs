//! A job's try logs (`GET /admin/jobs/{jobId}/try-logs`, the vendor's `parsedTryLogResponse`):
//! NetBackup's own account of why a job failed, reduced to its last try's status message and
//! the log lines of that try at `WARNING` and above.

use serde_json::Value;

use super::client::SiteClient;
use super::error::{ApiError, DecodeKind};
use super::resources::{field_str, field_u64};
use super::version::ApiVersion;

/// The endpoint, as counted and named in errors.
pub const TRY_LOGS_ENDPOINT: &str = "/admin/jobs/{jobId}/try-logs";

/// Severities of try-log lines that explain a failure.
const EXPLAINING: [&str; 3] = ["WARNING", "ERROR", "CRITICAL"];

/// The most text kept of one try's reason (its status message and lines together), in
/// bytes: the largest `events.reason_max_bytes`. A try log of thousands of warning lines
/// keeps only its first ones.
pub const MAX_REASON_BYTES: usize = 65_536;

/// `text` fit for a log line or a terminal: control characters (newlines, NUL, escape
/// sequences) and the invisible characters that reorder text (bidirectional overrides) become
/// spaces, cut to [`MAX_REASON_BYTES`].
fn printable(text: &str) -> String {
    let reorders = |c: char| matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    let mut end = text.len().min(MAX_REASON_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end]
        .chars()
        .map(|c| {
            if c.is_control() || reorders(c) {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// Why a job failed, as NetBackup wrote it in the job's last try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TryReason {
    /// The number of the last try (`tryNumber`), when given.
    pub try_number: Option<u64>,
    /// `tryStatusMessage` of the last try, when given.
    pub status_message: Option<String>,
    /// The last try's log lines of severity `WARNING`, `ERROR` or `CRITICAL`, in order.
    pub lines: Vec<String>,
}

impl TryReason {
    /// The reason as one text: the status message, then each line, separated by `"; "`, cut
    /// to at most `max_bytes` bytes (on a character boundary, ending in `…` when cut).
    pub fn text(&self, max_bytes: usize) -> String {
        let parts = self
            .status_message
            .iter()
            .chain(&self.lines)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty());
        let mut out = String::new();
        for part in parts {
            if !out.is_empty() {
                out.push_str("; ");
            }
            out.push_str(part);
        }
        cut(out, max_bytes)
    }
}

/// `text` cut to at most `max_bytes` bytes on a character boundary, `…` marking a cut.
pub fn cut(mut text: String, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text;
    }
    let ellipsis = '…';
    let mut end = max_bytes.saturating_sub(ellipsis.len_utf8());
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push(ellipsis);
    text
}

/// Reads a try-logs document: the reason of its last try, or `None` when it holds no try.
/// A document that is not JSON, or whose `data` is not a list, is an error.
pub fn read_try_logs(body: &[u8]) -> Result<Option<TryReason>, String> {
    let document: Value = match serde_json::from_slice(body) {
        Ok(document) => document,
        // Bytes that are not UTF-8 in a message cost those bytes (as U+FFFD), not the reason.
        Err(e) if std::str::from_utf8(body).is_err() => {
            serde_json::from_str(&String::from_utf8_lossy(body)).map_err(|_| e.to_string())?
        }
        Err(e) => return Err(e.to_string()),
    };
    let data = match document.get("data") {
        Some(Value::Array(items)) => items,
        Some(Value::Null) | None => return Ok(None),
        Some(_) => return Err("`data` is not a list".to_owned()),
    };
    // The last try: the highest `tryNumber`, else the last element.
    let last = data
        .iter()
        .enumerate()
        .max_by_key(|(i, item)| {
            (
                item.get("attributes")
                    .and_then(|a| field_u64(a, "tryNumber")),
                *i,
            )
        })
        .map(|(_, item)| item);
    let Some(attributes) = last
        .and_then(|item| item.get("attributes"))
        .filter(|a| a.is_object())
    else {
        return Ok(None);
    };
    let status_message = field_str(attributes, "tryStatusMessage").map(printable);
    let mut kept = status_message.as_ref().map_or(0, String::len);
    let lines = match attributes.get("tryLog") {
        Some(Value::Array(lines)) => lines
            .iter()
            .filter(|line| {
                field_str(line, "severity")
                    .is_some_and(|s| EXPLAINING.iter().any(|e| e.eq_ignore_ascii_case(s)))
            })
            .filter_map(|line| field_str(line, "message"))
            .take_while(|message| {
                let more = kept < MAX_REASON_BYTES;
                kept = kept.saturating_add(message.len());
                more
            })
            .map(printable)
            .collect(),
        _ => Vec::new(),
    };
    Ok(Some(TryReason {
        try_number: field_u64(attributes, "tryNumber"),
        status_message,
        lines,
    }))
}

impl SiteClient {
    /// The reason of job `job_id`'s last try, through the site's limiter and retries; `None`
    /// when NetBackup holds no try for it.
    pub async fn job_try_reason(
        &self,
        version: ApiVersion,
        job_id: u64,
    ) -> Result<Option<TryReason>, ApiError> {
        let path = format!("/admin/jobs/{job_id}/try-logs");
        let span = self.request_span(TRY_LOGS_ENDPOINT, version, None);
        let body = {
            use tracing::Instrument as _;
            self.get_at(TRY_LOGS_ENDPOINT, &path, &[], version)
                .instrument(span)
                .await?
        };
        let read = read_try_logs(&body.bytes);
        let result = read.map_err(|detail| {
            self.decode_error(
                TRY_LOGS_ENDPOINT,
                DecodeKind::InvalidJson,
                detail,
                &body.bytes,
            )
        });
        self.recycle_body(body.bytes);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vendor's example document (`admin.yaml`, `parsedTryLogResponse`), two tries, the
    /// second failed.
    const EXAMPLE: &str = r#"{"data":[
      {"type":"parsedTryLogResponse","id":"1-1","attributes":{"tryJobId":1,"tryNumber":1,
        "tryStartTime":"2018-09-27T08:29:32.000Z","tryEndTime":"2018-09-27T08:29:35.000Z",
        "tryStatusCode":0,"tryStatusMessage":"the requested operation was successfully completed",
        "tryLog":[{"timestamp":"2018-09-27T08:29:32.000Z","severity":"INFO","message":"bpdbm image catalog cleanup"}]}},
      {"type":"parsedTryLogResponse","id":"1-2","attributes":{"tryJobId":1,"tryNumber":2,
        "tryStatusCode":13,"tryStatusMessage":"file read failed",
        "tryLog":[
          {"severity":"INFO","message":"started"},
          {"severity":"WARNING","message":"cannot open /data/db.lock"},
          {"message":"no severity"},
          {"severity":"ERROR","message":"client read error"},
          {"severity":"CRITICAL","message":null}]}}]}"#;

    #[test]
    fn the_last_try_gives_the_status_message_and_the_explaining_lines() {
        let reason = read_try_logs(EXAMPLE.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("a try"));
        assert_eq!(reason.try_number, Some(2));
        assert_eq!(reason.status_message.as_deref(), Some("file read failed"));
        assert_eq!(
            reason.lines,
            ["cannot open /data/db.lock", "client read error"]
        );
        assert_eq!(
            reason.text(1000),
            "file read failed; cannot open /data/db.lock; client read error"
        );
    }

    #[test]
    fn a_long_reason_is_cut_on_a_character_boundary() {
        let reason = TryReason {
            try_number: None,
            status_message: Some("ééééé".repeat(100)),
            lines: vec![],
        };
        for max in [64, 65, 66, 67, 100] {
            let text = reason.text(max);
            assert!(text.len() <= max, "{max}: {}", text.len());
            assert!(text.ends_with('…'));
        }
    }

    #[test]
    fn control_characters_and_reordering_marks_never_reach_the_reason() {
        let body = br#"{"data":[{"attributes":{"tryNumber":1,
            "tryStatusMessage":"failed\u0000\n2024-01-01 INFO forged line\u001b[31m",
            "tryLog":[{"severity":"ERROR","message":"evil\u202etxt.exe\r\nERROR fake"}]}}]}"#;
        let reason = read_try_logs(body)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("a try"));
        let text = reason.text(1000);
        assert!(!text.chars().any(char::is_control), "{text:?}");
        assert!(!text.contains('\u{202E}'), "{text:?}");
        assert!(
            text.starts_with("failed  2024-01-01 INFO forged line [31m"),
            "{text:?}"
        );
    }

    #[test]
    fn bytes_that_are_not_utf8_cost_only_themselves() {
        let mut body = br#"{"data":[{"attributes":{"tryStatusMessage":"disk "#.to_vec();
        body.extend_from_slice(b"\xff\xfe");
        body.extend_from_slice(br#" full","tryLog":[]}}]}"#);
        let reason = read_try_logs(&body)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("a try"));
        assert_eq!(
            reason.status_message.as_deref(),
            Some("disk \u{FFFD}\u{FFFD} full")
        );
    }

    #[test]
    fn a_huge_try_log_keeps_a_bounded_reason() {
        let line = format!(
            r#"{{"severity":"WARNING","message":"{}"}}"#,
            "w".repeat(1000)
        );
        let lines = vec![line; 20_000].join(",");
        let body = format!(
            r#"{{"data":[{{"attributes":{{"tryNumber":18446744073709551615,"tryStatusMessage":"{}","tryLog":[{lines}]}}}}]}}"#,
            "m".repeat(200_000)
        );
        let reason = read_try_logs(body.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("a try"));
        assert_eq!(reason.try_number, Some(u64::MAX));
        let kept: usize = reason
            .status_message
            .iter()
            .chain(&reason.lines)
            .map(String::len)
            .sum();
        assert!(kept <= MAX_REASON_BYTES + 1000, "{kept} bytes kept");
        assert!(reason.text(2048).len() <= 2048);
    }

    #[test]
    fn documents_without_tries_or_broken_ones_are_told_apart() {
        assert_eq!(read_try_logs(br#"{"data":[]}"#), Ok(None));
        assert_eq!(read_try_logs(br#"{"data":null}"#), Ok(None));
        assert_eq!(
            read_try_logs(br#"{"data":[{"attributes":null}]}"#),
            Ok(None)
        );
        assert!(read_try_logs(br#"{"data":{}}"#).is_err());
        assert!(read_try_logs(b"<html>").is_err());
        assert!(read_try_logs(br#"{"data":[{"attr"#).is_err());
        // Wrong types are left out, never a panic.
        let odd = br#"{"data":[{"attributes":{"tryNumber":"x","tryStatusMessage":5,"tryLog":[1,{"severity":7}]}}]}"#;
        assert_eq!(
            read_try_logs(odd),
            Ok(Some(TryReason {
                try_number: None,
                status_message: None,
                lines: vec![]
            }))
        );
    }
}
