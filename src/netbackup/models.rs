//! The parts of NetBackup's JSON:API documents the agent reads.
//!
//! Only the attributes the agent uses are declared; unknown attributes are skipped without
//! allocation. Every declared attribute tolerates absence, `null` and a wrong type (see
//! [`super::lenient`]), so a new NetBackup version cannot fail a page by changing one field.

use serde::Deserialize;

use super::lenient::{Flag, Num, Text};

/// A page document read from a response body.
pub trait PageDocument<'a>: Sized {
    /// Reads the document from `body`, borrowing its strings where possible. The body must be
    /// one JSON document; the error is serde_json's, with its position. Bytes that are not
    /// UTF-8 are tolerated inside strings the agent does not read.
    fn from_body(body: &'a [u8]) -> Result<Self, serde_json::Error>;
}

/// Why one record of a page is skipped while the rest of the page is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordDefect {
    /// A member the agent reads appears twice.
    Duplicate(&'static str),
    /// A member the agent reads is a string that is not valid text: bytes that are not
    /// UTF-8, a control character, an unknown escape or a lone surrogate.
    BadText(&'static str),
    /// A member the agent reads is a malformed JSON number.
    BadNumber(&'static str),
}

impl RecordDefect {
    /// The member that is broken.
    pub fn member(self) -> &'static str {
        match self {
            RecordDefect::Duplicate(m) | RecordDefect::BadText(m) | RecordDefect::BadNumber(m) => m,
        }
    }
}

impl std::fmt::Display for RecordDefect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordDefect::Duplicate(member) => write!(f, "member {member} appears twice"),
            RecordDefect::BadText(member) => write!(
                f,
                "member {member} is not valid text (invalid UTF-8, control character or escape)"
            ),
            RecordDefect::BadNumber(member) => write!(f, "member {member} is a malformed number"),
        }
    }
}

/// A page of `GET /admin/jobs`.
#[derive(Debug, Deserialize)]
pub struct JobsPage<'a> {
    /// The jobs of this page.
    #[serde(default, borrow)]
    pub data: Vec<JobResource<'a>>,
    /// Pagination metadata.
    #[serde(default, borrow)]
    pub meta: Option<CursorMeta<'a>>,
}

/// One job resource.
#[derive(Debug, Deserialize)]
pub struct JobResource<'a> {
    /// The job's attributes; a resource without attributes is counted as invalid.
    #[serde(default, borrow)]
    pub attributes: Option<JobAttributes<'a>>,
    /// Set when the record is broken in a member the agent reads: the record is skipped and
    /// counted, the rest of the page is kept.
    #[serde(skip)]
    pub defect: Option<RecordDefect>,
}

/// The job attributes the aggregation uses.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobAttributes<'a> {
    /// `jobId`.
    #[serde(default)]
    pub job_id: Num<u64>,
    /// `jobType`: the `action` label.
    #[serde(default, borrow)]
    pub job_type: Text<'a>,
    /// `policyType`.
    #[serde(default, borrow)]
    pub policy_type: Text<'a>,
    /// `state`: QUEUED, ACTIVE, REQUEUED, DONE, SUSPENDED, INCOMPLETE.
    #[serde(default, borrow)]
    pub state: Text<'a>,
    /// `status`: the final NetBackup status code.
    #[serde(default)]
    pub status: Num<i64>,
    /// `jobQueueReason`: why a queued job waits.
    #[serde(default)]
    pub job_queue_reason: Num<i64>,
    /// `kilobytesTransferred`.
    #[serde(default)]
    pub kilobytes_transferred: Num<u64>,
    /// `numberOfFiles`.
    #[serde(default)]
    pub number_of_files: Num<u64>,
    /// `dedupRatio`.
    #[serde(default)]
    pub dedup_ratio: Num<f64>,
    /// `startTime`, ISO-8601 UTC.
    #[serde(default, borrow)]
    pub start_time: Text<'a>,
    /// `endTime`, ISO-8601 UTC; absent while the job runs.
    #[serde(default, borrow)]
    pub end_time: Text<'a>,
    /// `lastUpdateTime`, ISO-8601 UTC: when NetBackup last changed the job.
    #[serde(default, borrow)]
    pub last_update_time: Text<'a>,
    /// `clientName`: the `client` label of the per-client families.
    #[serde(default, borrow)]
    pub client_name: Text<'a>,
    /// `policyName`: the `policy` label of `nbu_client_last_job_success_seconds`.
    #[serde(default, borrow)]
    pub policy_name: Text<'a>,
    /// `parentJobId`: the job that started this one (0 for none); a job event's attribute.
    #[serde(default)]
    pub parent_job_id: Num<u64>,
    /// `jobSubType` (SCHEDULED, IMMEDIATE, ...); a job event's attribute.
    #[serde(default, borrow)]
    pub job_sub_type: Text<'a>,
    /// `scheduleName`; a job event's attribute.
    #[serde(default, borrow)]
    pub schedule_name: Text<'a>,
    /// `destinationStorageUnitName`; a job event's attribute.
    #[serde(default, borrow)]
    pub destination_storage_unit_name: Text<'a>,
    /// `destinationMediaServerName`; a job event's attribute.
    #[serde(default, borrow)]
    pub destination_media_server_name: Text<'a>,
    /// `try`: the job's current (for a finished job, last) try number; a job event's attribute.
    #[serde(default, rename = "try")]
    pub try_count: Num<u64>,
}

/// `meta` of a cursor-paginated document.
#[derive(Debug, Default, Deserialize)]
pub struct CursorMeta<'a> {
    /// `meta.pagination`.
    #[serde(default, borrow)]
    pub pagination: Option<CursorPagination<'a>>,
}

/// `meta.pagination` of a cursor-paginated document.
#[derive(Debug, Default, Deserialize)]
pub struct CursorPagination<'a> {
    /// The cursor to pass as `page[after]` for the next page; absent on the last page.
    #[serde(default, borrow)]
    pub next: Text<'a>,
}

/// A page of `GET /storage/storage-units`.
#[derive(Debug, Deserialize)]
pub struct StorageUnitsPage<'a> {
    /// The storage units of this page.
    #[serde(default, borrow)]
    pub data: Vec<StorageUnitResource<'a>>,
    /// Pagination metadata.
    #[serde(default)]
    pub meta: Option<OffsetMeta>,
    /// Why each record left out of `data` was skipped (a broken record, the rest of the page
    /// kept).
    #[serde(skip)]
    pub skipped: Vec<String>,
}

/// One storage unit resource.
#[derive(Debug, Deserialize)]
pub struct StorageUnitResource<'a> {
    /// The resource id: the storage unit name.
    #[serde(default, borrow)]
    pub id: Text<'a>,
    /// The unit's attributes.
    #[serde(default, borrow)]
    pub attributes: Option<StorageUnitAttributes<'a>>,
}

/// The storage unit attributes the aggregation uses.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageUnitAttributes<'a> {
    /// `name`.
    #[serde(default, borrow)]
    pub name: Text<'a>,
    /// `storageType` (`Disk`, `Tape`, ...).
    #[serde(default, borrow)]
    pub storage_type: Text<'a>,
    /// `storageCategory` (`MSDP`, `TAPE`, ...).
    #[serde(default, borrow)]
    pub storage_category: Text<'a>,
    /// `storageSubType`.
    #[serde(default, borrow)]
    pub storage_sub_type: Text<'a>,
    /// `storageServerType`.
    #[serde(default, borrow)]
    pub storage_server_type: Text<'a>,
    /// `freeCapacityBytes`.
    #[serde(default)]
    pub free_capacity_bytes: Num<u64>,
    /// `usedCapacityBytes`.
    #[serde(default)]
    pub used_capacity_bytes: Num<u64>,
    /// `totalCapacityBytes`.
    #[serde(default)]
    pub total_capacity_bytes: Num<u64>,
    /// `maxConcurrentJobs`.
    #[serde(default)]
    pub max_concurrent_jobs: Num<u64>,
    /// `maxFragmentSizeMegabytes`.
    #[serde(default)]
    pub max_fragment_size_megabytes: Num<u64>,
    /// `isCloudSTU`.
    #[serde(default, rename = "isCloudSTU")]
    pub is_cloud_stu: Flag,
    /// `wormCapable`.
    #[serde(default)]
    pub worm_capable: Flag,
    /// `useWorm`.
    #[serde(default)]
    pub use_worm: Flag,
    /// `replicationCapable`.
    #[serde(default)]
    pub replication_capable: Flag,
    /// `instantAccessEnabled`.
    #[serde(default)]
    pub instant_access_enabled: Flag,
}

/// `meta` of an offset-paginated document.
#[derive(Debug, Default, Deserialize)]
pub struct OffsetMeta {
    /// `meta.pagination`.
    #[serde(default)]
    pub pagination: Option<OffsetPagination>,
}

/// `meta.pagination` of an offset-paginated document.
#[derive(Debug, Default, Deserialize)]
pub struct OffsetPagination {
    /// Total number of records.
    #[serde(default)]
    pub count: Num<u64>,
    /// Offset of the next page; absent on the last page.
    #[serde(default)]
    pub next: Num<u64>,
    /// Offset of the last page.
    #[serde(default)]
    pub last: Num<u64>,
}

/// The vendor's error document (`errorCode`, `errorMessage`, `errorDetails`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody<'a> {
    /// NetBackup error code.
    #[serde(default)]
    pub error_code: Num<i64>,
    /// Its description.
    #[serde(default, borrow)]
    pub error_message: Text<'a>,
}

impl ErrorBody<'_> {
    /// `errorMessage (code N)`, when the body is a vendor error document.
    pub fn summary(body: &[u8]) -> Option<String> {
        let parsed: ErrorBody<'_> = serde_json::from_slice(body).ok()?;
        let message = parsed.error_message.as_str()?;
        Some(match parsed.error_code.valid() {
            Some(code) => format!("{message} (NetBackup error {code})"),
            None => message.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_defect_names_its_member_and_what_is_wrong() {
        let cases = [
            (
                RecordDefect::Duplicate("jobId"),
                "member jobId appears twice",
            ),
            (
                RecordDefect::BadText("clientName"),
                "member clientName is not valid text (invalid UTF-8, control character or escape)",
            ),
            (
                RecordDefect::BadNumber("status"),
                "member status is a malformed number",
            ),
        ];
        for (defect, text) in cases {
            assert_eq!(defect.to_string(), text);
            assert!(text.contains(defect.member()));
        }
    }

    #[test]
    fn vendor_example_job_parses_with_integer_id_and_unknown_fields() {
        let body = br#"{"data":[{"links":{"self":{"href":"/admin/jobs/1"}},"type":"job","id":1,
            "meta":{"page":{"cursor":"1"}},"attributes":{"jobId":1,"parentJobId":0,
            "jobType":"IMAGEDELETE","jobSubType":"IMMEDIATE","policyName":"","status":0,
            "state":"DONE","done":1,"numberOfFiles":0,"kilobytesTransferred":0,
            "startTime":"2018-06-25T19:00:32.000Z","endTime":"2018-06-25T19:00:38.000Z",
            "elapsedTime":"PT5M46S","jobPath":"1"}}],
            "meta":{"pagination":{"limit":10,"next":"1"}}}"#;
        let page: JobsPage<'_> = serde_json::from_slice(body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(page.data.len(), 1);
        let a = page.data[0]
            .attributes
            .as_ref()
            .map(|a| a.job_type.as_str());
        assert_eq!(a, Some(Some("IMAGEDELETE")));
        let next = page.meta.and_then(|m| m.pagination).map(|p| p.next);
        assert_eq!(next.as_ref().and_then(|n| n.as_str()), Some("1"));
    }

    /// A storage page of three units whose second one has `attributes` as given.
    fn three_units(attributes: &[u8]) -> Vec<u8> {
        let mut body =
            br#"{"data":[{"id":"a","attributes":{"name":"a"}},{"id":"b","attributes":{"#.to_vec();
        body.extend_from_slice(attributes);
        body.extend_from_slice(br#"}},{"id":"c","attributes":{"name":"c"}}],"#);
        body.extend_from_slice(br#""meta":{"pagination":{"count":3,"last":0}}}"#);
        body
    }

    fn ids(page: &StorageUnitsPage<'_>) -> Vec<String> {
        page.data
            .iter()
            .filter_map(|u| u.id.as_str().map(str::to_owned))
            .collect()
    }

    #[test]
    fn a_storage_unit_broken_where_it_is_read_is_skipped_and_the_rest_kept() {
        // Not read by the agent: tolerated.
        let tolerated = three_units(b"\"name\":\"b\",\"comment\":\"\xc3\x28\"");
        let page = StorageUnitsPage::from_body(&tolerated).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (ids(&page), page.skipped.len()),
            (vec!["a".into(), "b".into(), "c".into()], 0)
        );
        for broken in [
            &b"\"name\":\"b\xc3\x28\""[..],
            b"\"name\":\"b\",\"name\":\"b\"",
            b"\"freeCapacityBytes\":01",
        ] {
            let body = three_units(broken);
            let quoted = String::from_utf8_lossy(broken);
            let page =
                StorageUnitsPage::from_body(&body).unwrap_or_else(|e| panic!("{quoted}: {e}"));
            assert_eq!(ids(&page), ["a", "c"], "{quoted}");
            assert_eq!(page.skipped.len(), 1, "{quoted}");
            let count = page.meta.and_then(|m| m.pagination).map(|p| p.count);
            assert_eq!(count, Some(Num::Valid(3)), "{quoted}");
        }
        // A broken document is refused as a whole.
        let body = three_units(b"\"name\":\"b\xc3\x28\"");
        assert!(StorageUnitsPage::from_body(&body[..body.len() - 2]).is_err());
        assert!(StorageUnitsPage::from_body(b"<html>").is_err());
    }

    #[test]
    fn error_body_summary() {
        let s = ErrorBody::summary(br#"{"errorCode":9995,"errorMessage":"Invalid version"}"#);
        assert_eq!(s.as_deref(), Some("Invalid version (NetBackup error 9995)"));
        assert_eq!(ErrorBody::summary(b"<html>"), None);
    }
}
