//! OData filter expressions sent to `/admin/jobs`.
//!
//! Values are written as OData literals: text in single quotes with quotes doubled, so a client
//! or policy name can never change the structure of the query; date-times unquoted in UTC.

use chrono::{DateTime, SecondsFormat, Utc};

/// An OData string literal: `'O''Brien'`.
pub fn string_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' {
            out.push('\'');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// An OData date-time literal, UTC with milliseconds: `2026-11-27T07:00:00.000Z`.
pub fn datetime_literal(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Finished jobs that ended after `cutoff`.
pub fn finished_jobs_since(cutoff: DateTime<Utc>) -> String {
    format!(
        "state eq {} and endTime gt {}",
        string_literal("DONE"),
        datetime_literal(cutoff)
    )
}

/// Jobs that are not finished (active, queued, re-queued, suspended, incomplete), of any age.
pub fn unfinished_jobs() -> String {
    format!("state ne {}", string_literal("DONE"))
}

/// Jobs NetBackup changed at or after `since` (its `lastUpdateTime`).
pub fn updated_since(since: DateTime<Utc>) -> String {
    format!("lastUpdateTime ge {}", datetime_literal(since))
}

/// `filter` restricted to `jobId` in `[lo, hi]`.
pub fn job_ids_within(filter: &str, lo: u64, hi: u64) -> String {
    format!("{filter} and jobId ge {lo} and jobId le {hi}")
}

/// Jobs of one client (used by operators' ad-hoc queries and the property tests).
pub fn client_is(client_name: &str) -> String {
    format!("clientName eq {}", string_literal(client_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_doubled() {
        assert_eq!(string_literal("O'Brien"), "'O''Brien'");
        assert_eq!(
            client_is("a' or '1'='1"),
            "clientName eq 'a'' or ''1''=''1'"
        );
    }

    #[test]
    fn window_filter_shape() {
        let at = DateTime::parse_from_rfc3339("2026-11-27T07:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            finished_jobs_since(at),
            "state eq 'DONE' and endTime gt 2026-11-27T07:00:00.000Z"
        );
        assert_eq!(unfinished_jobs(), "state ne 'DONE'");
        assert_eq!(
            updated_since(at),
            "lastUpdateTime ge 2026-11-27T07:00:00.000Z"
        );
        assert_eq!(
            job_ids_within("state ne 'DONE'", 5, 9),
            "state ne 'DONE' and jobId ge 5 and jobId le 9"
        );
    }
}
