//! The request log: one record per request, bounded, readable by tests.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Instant;

/// What the simulator saw of one request. The API key itself is never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// When the request arrived.
    pub at: Instant,
    /// HTTP method (`GET`, ...).
    pub method: String,
    /// Path, for example `/netbackup/admin/jobs`.
    pub path: String,
    /// Raw (still percent-encoded) query string, empty without one.
    pub query: String,
    /// The `version` parameter of the first NetBackup media type in `Accept`, as sent.
    pub accept_version: Option<String>,
    /// The request carried an `Authorization` header (whatever its value).
    pub authorized: bool,
    /// HTTP status of the answer; 0 for a request the simulator never answers (`Fault::Hang`).
    pub status: u16,
    /// The `Authorization` header was exactly the configured API key.
    pub authorization_matched: bool,
    /// The W3C `traceparent` header the client sent, if any.
    pub traceparent: Option<String>,
}

/// A bounded, thread-safe list of records; the oldest go first when it is full.
#[derive(Debug)]
pub(crate) struct RequestLog {
    records: Mutex<VecDeque<RequestRecord>>,
    capacity: usize,
}

impl RequestLog {
    /// An empty log keeping at most `capacity` records.
    pub(crate) fn new(capacity: usize) -> Self {
        RequestLog {
            records: Mutex::new(VecDeque::new()),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<RequestRecord>> {
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends a record.
    pub(crate) fn push(&self, record: RequestRecord) {
        if self.capacity == 0 {
            return;
        }
        let mut records = self.lock();
        while records.len() >= self.capacity {
            records.pop_front();
        }
        records.push_back(record);
    }

    /// A copy of every record, oldest first.
    pub(crate) fn snapshot(&self) -> Vec<RequestRecord> {
        self.lock().iter().cloned().collect()
    }

    /// Forgets every record.
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(status: u16) -> RequestRecord {
        RequestRecord {
            at: Instant::now(),
            method: "GET".to_owned(),
            path: "/".to_owned(),
            query: String::new(),
            accept_version: None,
            authorized: false,
            status,
            authorization_matched: false,
            traceparent: None,
        }
    }

    #[test]
    fn keeps_the_newest_records() {
        let log = RequestLog::new(2);
        for status in [1, 2, 3] {
            log.push(record(status));
        }
        let statuses: Vec<u16> = log.snapshot().iter().map(|r| r.status).collect();
        assert_eq!(statuses, [2, 3]);
        log.clear();
        assert!(log.snapshot().is_empty());
        let off = RequestLog::new(0);
        off.push(record(1));
        assert!(off.snapshot().is_empty());
    }
}
