//! Walks over pages shaped like the vendor's schemas, served without a network: how offset
//! pagination ends, and a full walk meeting a job that contradicts its walk's filter.

mod list_walks;
mod opt_in_sources;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use nbu_otel::collect::{JobSync, JobsSettings};
use nbu_otel::netbackup::{
    ApiError, ApiFailure, ApiVersion, Body, DecodeKind, JobsPageQuery, NetBackupApi,
    walk_storage_units,
};

const V: ApiVersion = ApiVersion::V13_0;

/// Pages of a fake NetBackup: storage pages by offset, and a fixed set of jobs served to
/// every jobs query whatever its filter (sorted, limited and paged by cursor).
struct RecordedApi {
    storage: BTreeMap<u64, String>,
    jobs: Vec<(u64, String)>,
    now: DateTime<Utc>,
    storage_requests: Mutex<Vec<u64>>,
    /// Pages of any other list, by `<endpoint>#<page[offset] or page[after]>` (nothing after
    /// `#` for the first page).
    lists: BTreeMap<String, String>,
    list_requests: Mutex<Vec<String>>,
}

impl RecordedApi {
    fn storage(pages: &[(u64, String)]) -> Self {
        Self {
            storage: pages.iter().cloned().collect(),
            jobs: Vec::new(),
            now: Utc::now(),
            storage_requests: Mutex::default(),
            lists: BTreeMap::new(),
            list_requests: Mutex::default(),
        }
    }

    fn lists(pages: &[(&str, &str)]) -> Self {
        Self {
            lists: pages
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..Self::storage(&[])
        }
    }

    fn body(&self, text: String) -> Body {
        Body {
            bytes: text.into_bytes(),
            attempts: 1,
            server_time: Some(self.now),
        }
    }
}

impl NetBackupApi for RecordedApi {
    fn site(&self) -> &str {
        "recorded"
    }

    async fn negotiate(&self, _pinned: Option<ApiVersion>) -> Result<ApiVersion, ApiError> {
        Ok(V)
    }

    async fn jobs_page(
        &self,
        _version: ApiVersion,
        query: &JobsPageQuery<'_>,
    ) -> Result<Body, ApiError> {
        let mut jobs: Vec<&(u64, String)> = self.jobs.iter().collect();
        if query.newest_first {
            jobs.reverse();
        }
        let after: Option<u64> = query.after.and_then(|a| a.parse().ok());
        let page: Vec<&(u64, String)> = jobs
            .into_iter()
            .filter(|(id, _)| after.is_none_or(|a| *id > a))
            .take(query.limit as usize)
            .collect();
        let more = page.len() == query.limit as usize
            && page
                .last()
                .is_some_and(|(last, _)| self.jobs.iter().any(|(id, _)| id > last));
        let next = match page.last() {
            Some((last, _)) if more && !query.newest_first => format!(r#","next":"{last}""#),
            _ => String::new(),
        };
        let data: Vec<&str> = page.iter().map(|(_, json)| json.as_str()).collect();
        Ok(self.body(format!(
            r#"{{"data":[{}],"meta":{{"pagination":{{"limit":{}{next}}}}}}}"#,
            data.join(","),
            query.limit
        )))
    }

    async fn storage_page(
        &self,
        _version: ApiVersion,
        offset: u64,
        _limit: u32,
    ) -> Result<Body, ApiError> {
        self.storage_requests.lock().unwrap().push(offset);
        let page = self
            .storage
            .get(&offset)
            .cloned()
            .unwrap_or_else(|| r#"{"data":[]}"#.to_owned());
        Ok(self.body(page))
    }

    async fn list_page(
        &self,
        _version: ApiVersion,
        endpoint: &'static str,
        params: &[(&'static str, String)],
    ) -> Result<Body, ApiError> {
        let page = params
            .iter()
            .find(|(k, _)| *k == "page[offset]" || *k == "page[after]")
            .map(|(_, v)| v.clone())
            .filter(|v| v != "0")
            .unwrap_or_default();
        let key = format!("{endpoint}#{page}");
        self.list_requests.lock().unwrap().push(key.clone());
        let page = self
            .lists
            .get(&key)
            .cloned()
            .unwrap_or_else(|| r#"{"data":[]}"#.to_owned());
        Ok(self.body(page))
    }

    fn decode_error(
        &self,
        endpoint: &str,
        kind: DecodeKind,
        detail: String,
        _body: &[u8],
    ) -> ApiError {
        ApiError::at(
            "recorded",
            endpoint,
            ApiFailure::Decode {
                kind,
                detail,
                snippet: String::new(),
            },
        )
    }
}

/// A page of `GET /storage/storage-units` as the vendor's schema describes it: `count`
/// records in pages of `limit`, this one at `offset`, with `next` as given (`None`: absent).
fn storage_page(offset: u64, limit: u64, count: u64, next: Option<&str>) -> String {
    let units: Vec<String> = (offset..count.min(offset + limit))
        .map(|i| {
            format!(
                r#"{{"type":"storageUnit","id":"stu-{i}","attributes":{{"name":"stu-{i}","storageType":"DISK","storageServerType":"PureDisk","freeCapacityBytes":1000,"totalCapacityBytes":4000,"usedCapacityBytes":3000,"maxConcurrentJobs":10}}}}"#
            )
        })
        .collect();
    let last = count.saturating_sub(1) / limit * limit;
    let next = next.map_or(String::new(), |n| format!(r#","next":{n}"#));
    format!(
        r#"{{"data":[{}],"meta":{{"pagination":{{"page":{},"pages":{},"offset":{offset},"limit":{limit},"count":{count},"first":0,"last":{last},"prev":{}{next}}}}},"links":{{"self":{{"href":"/storage/storage-units?page%5Boffset%5D={offset}"}}}}}}"#,
        units.join(","),
        offset / limit + 1,
        count.div_ceil(limit),
        offset.saturating_sub(limit),
    )
}

async fn walk(api: &RecordedApi, page_size: u32) -> Result<Vec<String>, ApiError> {
    let mut ids = Vec::new();
    walk_storage_units(api, V, page_size, |id, _| {
        ids.push(id.unwrap_or_default().to_owned());
    })
    .await?;
    Ok(ids)
}

fn expected(n: u64) -> Vec<String> {
    (0..n).map(|i| format!("stu-{i}")).collect()
}

#[tokio::test]
async fn a_last_page_with_next_zero_ends_the_storage_walk() {
    let api = RecordedApi::storage(&[
        (0, storage_page(0, 2, 5, Some("2"))),
        (2, storage_page(2, 2, 5, Some("4"))),
        (4, storage_page(4, 2, 5, Some("0"))),
    ]);
    assert_eq!(walk(&api, 2).await.expect("complete walk"), expected(5));
}

#[tokio::test]
async fn a_last_page_with_next_absent_null_or_its_own_offset_ends_the_storage_walk() {
    for last_next in [None, Some("null"), Some("4"), Some("1")] {
        let api = RecordedApi::storage(&[
            (0, storage_page(0, 2, 5, Some("2"))),
            (2, storage_page(2, 2, 5, Some("4"))),
            (4, storage_page(4, 2, 5, last_next)),
        ]);
        let ids = walk(&api, 2)
            .await
            .unwrap_or_else(|e| panic!("next {last_next:?}: {e}"));
        assert_eq!(ids, expected(5), "next {last_next:?}");
    }
}

#[tokio::test]
async fn a_single_page_with_next_zero_and_no_count_is_complete() {
    let page = r#"{"data":[{"type":"storageUnit","id":"stu-0","attributes":{"name":"stu-0"}}],"meta":{"pagination":{"offset":0,"limit":10,"next":0}}}"#;
    let api = RecordedApi::storage(&[(0, page.to_owned())]);
    assert_eq!(walk(&api, 10).await.expect("complete"), expected(1));
}

#[tokio::test]
async fn a_walk_that_stops_before_the_announced_count_is_an_error() {
    // The second page says there is no next page, with 2 of 6 units still unread.
    let api = RecordedApi::storage(&[
        (0, storage_page(0, 2, 6, Some("2"))),
        (2, storage_page(2, 2, 6, Some("0"))),
    ]);
    let err = walk(&api, 2).await.expect_err("units would be lost");
    assert!(
        matches!(&err.failure, ApiFailure::Pagination { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("4 units"), "{err}");
}

#[tokio::test]
async fn hostile_pagination_counts_end_in_an_error_not_a_panic() {
    for count in [u64::MAX, u64::MAX - 1, 1 << 63] {
        let page = format!(
            r#"{{"data":[{{"type":"storageUnit","id":"stu-0","attributes":{{"name":"stu-0"}}}}],"meta":{{"pagination":{{"offset":0,"limit":1,"count":{count},"last":{count},"next":1}}}}}}"#
        );
        let next = format!(
            r#"{{"data":[{{"type":"storageUnit","id":"stu-1","attributes":{{"name":"stu-1"}}}}],"meta":{{"pagination":{{"offset":1,"limit":1,"count":{count},"last":{count},"next":{count}}}}}}}"#
        );
        let api = RecordedApi::storage(&[(0, page), (1, next)]);
        let err = walk(&api, 1)
            .await
            .expect_err("count {count} cannot be read");
        assert!(
            matches!(&err.failure, ApiFailure::Pagination { .. }),
            "{err:?}"
        );
        assert!(api.storage_requests.lock().unwrap().len() <= 3);
    }
}

fn job(id: u64, state: &str, end: Option<DateTime<Utc>>, updated: DateTime<Utc>) -> String {
    let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let end = end.map_or(String::new(), |e| format!(r#","endTime":"{}""#, fmt(e)));
    format!(
        r#"{{"type":"job","id":"{id}","attributes":{{"jobId":{id},"jobType":"BACKUP","policyType":"VMWARE","policyName":"p","clientName":"c","status":0,"state":"{state}","kilobytesTransferred":2,"numberOfFiles":3,"startTime":"{}"{end},"lastUpdateTime":"{}"}}}}"#,
        fmt(updated - chrono::Duration::minutes(10)),
        fmt(updated)
    )
}

#[tokio::test]
async fn a_job_that_contradicts_its_walks_filter_is_counted_once() {
    // Every walk of the full walk (finished jobs in the window, unfinished jobs, each slice)
    // gets every job whatever its filter: DONE jobs turn up in the unfinished walk too.
    let now = Utc::now();
    let hour_ago = now - chrono::Duration::hours(1);
    let mut api = RecordedApi::storage(&[]);
    api.now = now;
    api.jobs = (100..110)
        .map(|id| {
            let json = if id % 3 == 0 {
                job(id, "ACTIVE", None, hour_ago)
            } else {
                job(id, "DONE", Some(hour_ago), hour_ago)
            };
            (id, json)
        })
        .collect();
    let settings = JobsSettings {
        window: Duration::from_secs(24 * 3600),
        page_size: 3,
        concurrency: 2,
        resync_interval: Duration::from_secs(6 * 3600),
        clock_tolerance: Duration::from_secs(600),
    };
    let mut sync = JobSync::new();
    let mut finished = Vec::new();
    sync.cycle(&api, V, &settings, |f| finished.push(f.job_id))
        .await
        .expect("the full walk succeeds");
    let summary = sync.summary();
    assert_eq!(summary.jobs, 10, "each job once in the store");
    finished.sort_unstable();
    let done: Vec<u64> = (100..110).filter(|id| id % 3 != 0).collect();
    assert_eq!(finished, done, "each finished job reported once");
}
