//! Walks over pages shaped like the vendor's schemas, served without a network: how offset
//! pagination ends, and a full walk meeting a job that contradicts its walk's filter.

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

mod list_walks {
    //! The walks of the opt-in sources' endpoints: offset, cursor, and no pagination metadata.

    use super::*;
    use nbu_otel::netbackup::resources::{ListQuery, Paging, count_matching, walk_list};

    fn query(paging: Paging, page_size: u32) -> ListQuery<'static> {
        ListQuery {
            endpoint: "/storage/drives",
            params: Vec::new(),
            page_size,
            paging,
            what: "drives",
        }
    }

    fn items(ids: &[&str]) -> String {
        ids.iter()
            .map(|id| format!(r#"{{"type":"drive","id":"{id}","attributes":{{}}}}"#))
            .collect::<Vec<_>>()
            .join(",")
    }

    async fn ids(api: &RecordedApi, q: &ListQuery<'_>) -> Result<Vec<String>, ApiError> {
        let mut out = Vec::new();
        walk_list(api, V, q, |r| {
            out.push(r["id"].as_str().unwrap_or("?").to_owned());
        })
        .await?;
        Ok(out)
    }

    #[tokio::test]
    async fn an_offset_walk_reads_to_the_count_and_ends_on_next_zero() {
        let first = format!(
            r#"{{"data":[{}],"meta":{{"pagination":{{"offset":0,"limit":2,"count":5,"next":2,"last":4}}}}}}"#,
            items(&["a", "b"])
        );
        let second = format!(
            r#"{{"data":[{}],"meta":{{"pagination":{{"offset":2,"limit":2,"count":5,"next":4,"last":4}}}}}}"#,
            items(&["c", "d"])
        );
        // The vendor's last page: `next` is 0.
        let last = format!(
            r#"{{"data":[{}],"meta":{{"pagination":{{"offset":4,"limit":2,"count":5,"next":0,"last":4}}}}}}"#,
            items(&["e"])
        );
        let api = RecordedApi::lists(&[
            ("/storage/drives#", &first),
            ("/storage/drives#2", &second),
            ("/storage/drives#4", &last),
        ]);
        let got = ids(&api, &query(Paging::Offset, 2)).await.unwrap();
        assert_eq!(got, ["a", "b", "c", "d", "e"]);
        assert_eq!(
            *api.list_requests.lock().unwrap(),
            ["/storage/drives#", "/storage/drives#2", "/storage/drives#4"]
        );
    }

    #[tokio::test]
    async fn an_offset_walk_that_would_lose_records_fails() {
        let first = format!(
            r#"{{"data":[{}],"meta":{{"pagination":{{"offset":0,"limit":2,"count":9,"next":0}}}}}}"#,
            items(&["a", "b"])
        );
        let api = RecordedApi::lists(&[("/storage/drives#", &first)]);
        let err = ids(&api, &query(Paging::Offset, 2)).await.unwrap_err();
        assert!(
            matches!(&err.failure, ApiFailure::Pagination { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("drives"), "{err}");
    }

    #[tokio::test]
    async fn without_metadata_an_offset_walk_goes_on_while_pages_are_full() {
        // The 11.0 schema of the service catalog declares only `data`.
        let first = format!(r#"{{"data":[{}]}}"#, items(&["a", "b"]));
        let second = format!(r#"{{"data":[{}]}}"#, items(&["c", "d"]));
        let third = format!(r#"{{"data":[{}]}}"#, items(&["e"]));
        let api = RecordedApi::lists(&[
            ("/storage/drives#", &first),
            ("/storage/drives#2", &second),
            ("/storage/drives#4", &third),
        ]);
        let got = ids(&api, &query(Paging::Offset, 2)).await.unwrap();
        assert_eq!(got, ["a", "b", "c", "d", "e"]);
    }

    #[tokio::test]
    async fn a_cursor_walk_follows_string_cursors_and_stops_on_a_repeat() {
        let first = format!(
            r#"{{"data":[{}],"meta":{{"pagination":{{"limit":2,"next":"k2"}}}}}}"#,
            items(&["a", "b"])
        );
        let second = format!(
            r#"{{"data":[{}],"meta":{{"pagination":{{"limit":2,"prev":"k0"}}}}}}"#,
            items(&["c"])
        );
        let api = RecordedApi::lists(&[
            ("/storage/drives#", &first),
            ("/storage/drives#k2", &second),
        ]);
        let got = ids(&api, &query(Paging::Cursor, 2)).await.unwrap();
        assert_eq!(got, ["a", "b", "c"]);

        let looping = format!(
            r#"{{"data":[{}],"meta":{{"pagination":{{"limit":2,"next":"k2"}}}}}}"#,
            items(&["x", "y"])
        );
        let api = RecordedApi::lists(&[
            ("/storage/drives#", &first),
            ("/storage/drives#k2", &looping),
        ]);
        let err = ids(&api, &query(Paging::Cursor, 2)).await.unwrap_err();
        assert!(
            matches!(&err.failure, ApiFailure::Pagination { .. }),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn more_items_than_asked_for_is_an_error_and_a_count_needs_a_count() {
        let big = format!(r#"{{"data":[{}]}}"#, items(&["a", "b", "c"]));
        let api = RecordedApi::lists(&[("/storage/drives#", &big)]);
        let err = ids(&api, &query(Paging::Offset, 2)).await.unwrap_err();
        assert!(
            matches!(&err.failure, ApiFailure::Pagination { .. }),
            "{err:?}"
        );

        let counted = r#"{"data":[],"meta":{"pagination":{"count":42}}}"#;
        let api = RecordedApi::lists(&[("/storage/drives#", counted)]);
        let (count, stats) = count_matching(&api, V, &query(Paging::Offset, 1))
            .await
            .unwrap();
        assert_eq!((count, stats.requests), (42, 1));
        let api = RecordedApi::lists(&[("/storage/drives#", r#"{"data":[]}"#)]);
        let err = count_matching(&api, V, &query(Paging::Offset, 1))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("meta.pagination.count"), "{err}");
    }
}

mod opt_in_sources {
    //! Opt-in sources over vendor-shaped pages; expected values worked out by hand from the
    //! pages below.

    use super::*;
    use nbu_otel::collect::sources::{self, SourceContext, SourceValues};
    use nbu_otel::config::SourceId;

    fn context(id: SourceId) -> SourceContext {
        SourceContext::new(id.default_config(), 2, Utc::now())
    }

    fn series(values: &SourceValues, metric: &str) -> Vec<(String, f64)> {
        values
            .series(metric)
            .map(|(labels, v)| {
                let text: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                (text.join(","), v)
            })
            .collect()
    }

    const SCANS: &str = r#"{"data":[
        {"type":"scanResult","id":"1","attributes":{"scanState":"SCAN_COMPLETED","numberOfFilesScanned":100,"noOfFilesImpacted":3,"numberOfFilesImpacted":7}},
        {"type":"scanResult","id":"2","attributes":{"scanState":"SCAN_FAILED","numberOfFilesScanned":50,"noOfFilesImpacted":0}}
      ],"meta":{"pagination":{"offset":0,"limit":2,"count":3,"next":2}}}"#;
    const SCANS_2: &str = r#"{"data":[
        {"type":"scanResult","id":"3","attributes":{"scanState":"SCAN_COMPLETED","numberOfFilesScanned":"many","noOfFilesImpacted":1}}
      ],"meta":{"pagination":{"offset":2,"limit":2,"count":3,"next":0}}}"#;

    #[tokio::test]
    async fn malware_reads_the_impacted_field_of_each_version_over_every_page() {
        let api = RecordedApi::lists(&[
            ("/malware/latest-scan-results#", SCANS),
            ("/malware/latest-scan-results#2", SCANS_2),
        ]);
        let old = sources::collect(
            SourceId::Malware,
            &api,
            ApiVersion::V10_0,
            &context(SourceId::Malware),
        )
        .await
        .unwrap();
        assert_eq!(
            series(&old, "nbu.malware_files_scanned"),
            [(String::new(), 150.0)]
        );
        assert_eq!(
            series(&old, "nbu.malware_files_infected"),
            [(String::new(), 4.0)]
        );
        assert_eq!(
            series(&old, "nbu.malware_scan_count"),
            [
                ("status=SCAN_COMPLETED".to_owned(), 2.0),
                ("status=SCAN_FAILED".to_owned(), 1.0)
            ]
        );
        assert_eq!(old.invalid_values, 1, "\"many\" files scanned");
        assert_eq!(old.pages, 2);

        let new = sources::collect(
            SourceId::Malware,
            &api,
            ApiVersion::V13_0,
            &context(SourceId::Malware),
        )
        .await
        .unwrap();
        assert_eq!(
            series(&new, "nbu.malware_files_infected"),
            [(String::new(), 7.0)]
        );
    }

    const DRIVES: &str = r#"{"data":[
        {"type":"drive","id":"HP.ULTRIUM-1","attributes":{"deviceHost":"media1","driveType":"DT_HCART","robotType":"TLD","robotNumber":0,"driveStatus":"DRIVE_STATUS_UP","devicePaths":[{"driveName":"HP.ULTRIUM-1","devicePath":"/dev/nst0"}]}},
        {"type":"drive","id":"HP.ULTRIUM-2","attributes":{"deviceHost":"media1","driveType":"DT_HCART","robotType":"TLD","robotNumber":0,"driveStatus":"DRIVE_STATUS_DOWN","devicePaths":[]}}
      ],"meta":{"pagination":{"offset":0,"limit":2,"count":3,"next":2}}}"#;
    const DRIVES_2: &str = r#"{"data":[
        {"type":"drive","id":"standalone","attributes":{"deviceHost":"media2","driveType":"DT_DLT","robotType":"NOT_ROBOTIC","driveStatus":"DRIVE_STATUS_UP","devicePaths":[]}}
      ],"meta":{"pagination":{"offset":2,"limit":2,"count":3}}}"#;
    const DISK_POOLS: &str = r#"{"data":[
        {"type":"diskPool","id":"dp1","attributes":{"name":"msdp-pool","storageCategory":"MSDP","diskPoolState":"UP","diskVolumes":[
          {"name":"v1","id":"v1","diskMediaId":"m1","state":"UP"},{"name":"v2","id":"v2","diskMediaId":"m2","state":"DOWN"},{"name":"v3","id":"v3","diskMediaId":"m3","state":"UP"}]}}
      ],"meta":{"pagination":{"offset":0,"limit":2,"count":1,"next":0}}}"#;
    const MEDIA: &str = r#"{"data":[
        {"type":"volumeInfo","id":"A00001","attributes":{"mediaType":"HCART","volumePool":"Scratch","robot":{"robotType":"TLD","robotNumber":0}}},
        {"type":"volumeInfo","id":"A00002","attributes":{"mediaType":"HCART","volumePool":"Scratch","robot":{"robotType":"TLD","robotNumber":0}}}
      ],"meta":{"pagination":{"limit":2,"next":"A00002"}}}"#;
    const MEDIA_2: &str = r#"{"data":[
        {"type":"volumeInfo","id":"B00001","attributes":{"mediaType":"HCART2","volumePool":"NetBackup","robot":{"robotType":"ACS"}}}
      ],"meta":{"pagination":{"limit":2,"prev":"A00001"}}}"#;
    const HOSTS: &str = r#"{"data":[{"type":"deviceHost","id":"media1"},{"type":"deviceHost","id":"media2"},{"type":"deviceHost","id":"media3"}]}"#;
    const POOLS: &str = r#"{"data":[
        {"type":"volumePoolDetails","id":"1","attributes":{"volumePoolName":"Scratch","poolType":"SCRATCH_MEDIA_POOL","partiallyFullMedia":0,"description":""}},
        {"type":"volumePoolDetails","id":"2","attributes":{"volumePoolName":"NetBackup","poolType":"REGULAR_MEDIA_POOL","partiallyFullMedia":4,"description":""}}
      ],"meta":{"pagination":{"limit":2}}}"#;

    fn tape_api() -> RecordedApi {
        RecordedApi::lists(&[
            ("/storage/drives#", DRIVES),
            ("/storage/drives#2", DRIVES_2),
            ("/storage/disk-pools#", DISK_POOLS),
            ("/storage/tape-media#", MEDIA),
            ("/storage/tape-media#A00002", MEDIA_2),
            ("/storage/robots-device-hosts#", HOSTS),
            ("/storage/tape-volume-pools#", POOLS),
        ])
    }

    #[tokio::test]
    async fn tape_follows_the_vendor_spec_not_the_go_exporter() {
        let api = tape_api();
        let v = sources::collect(
            SourceId::Tape,
            &api,
            ApiVersion::V12_0,
            &context(SourceId::Tape),
        )
        .await
        .unwrap();
        assert_eq!(
            series(&v, "nbu.tape_drives_count"),
            [
                (
                    "drive_type=DT_DLT,robot_type=NOT_ROBOTIC,status=DRIVE_STATUS_UP".to_owned(),
                    1.0
                ),
                (
                    "drive_type=DT_HCART,robot_type=TLD,status=DRIVE_STATUS_DOWN".to_owned(),
                    1.0
                ),
                (
                    "drive_type=DT_HCART,robot_type=TLD,status=DRIVE_STATUS_UP".to_owned(),
                    1.0
                ),
            ]
        );
        // The drive name is the resource id; a drive outside a robot has no robot number.
        let info: Vec<String> = series(&v, "nbu.tape_drive_info")
            .into_iter()
            .map(|(l, _)| l)
            .collect();
        assert_eq!(
            info,
            [
                "drive_name=HP.ULTRIUM-1,media_server=media1,drive_type=DT_HCART,robot_number=0,status=DRIVE_STATUS_UP",
                "drive_name=HP.ULTRIUM-2,media_server=media1,drive_type=DT_HCART,robot_number=0,status=DRIVE_STATUS_DOWN",
                "drive_name=standalone,media_server=media2,drive_type=DT_DLT,robot_number=,status=DRIVE_STATUS_UP",
            ]
        );
        // The robot type of a medium is nested under `robot`; media are read by cursor.
        assert_eq!(
            series(&v, "nbu.tape_media_count"),
            [
                (
                    "pool=NetBackup,media_type=HCART2,robot_type=ACS".to_owned(),
                    1.0
                ),
                (
                    "pool=Scratch,media_type=HCART,robot_type=TLD".to_owned(),
                    2.0
                ),
            ]
        );
        assert_eq!(
            series(&v, "nbu.tape_robot_device_hosts"),
            [(String::new(), 3.0)]
        );
        assert_eq!(
            series(&v, "nbu.tape_pool_partially_full"),
            [
                (
                    "pool_name=NetBackup,pool_type=REGULAR_MEDIA_POOL".to_owned(),
                    4.0
                ),
                (
                    "pool_name=Scratch,pool_type=SCRATCH_MEDIA_POOL".to_owned(),
                    0.0
                ),
            ]
        );
        assert_eq!(
            series(&v, "nbu.disk_pool_volume_count"),
            [
                (
                    "pool_name=msdp-pool,storage_category=MSDP,state=DOWN".to_owned(),
                    1.0
                ),
                (
                    "pool_name=msdp-pool,storage_category=MSDP,state=UP".to_owned(),
                    2.0
                ),
            ]
        );
    }

    #[tokio::test]
    async fn tape_on_api_10_does_not_call_the_endpoints_it_lacks() {
        let api = tape_api();
        let v = sources::collect(
            SourceId::Tape,
            &api,
            ApiVersion::V10_0,
            &context(SourceId::Tape),
        )
        .await
        .unwrap();
        assert_eq!(series(&v, "nbu.tape_media_count"), []);
        let asked = api.list_requests.lock().unwrap().clone();
        assert!(
            asked
                .iter()
                .all(|k| k.starts_with("/storage/drives") || k.starts_with("/storage/disk-pools")),
            "{asked:?}"
        );
        assert!(!sources::supported(SourceId::Catalog, ApiVersion::V12_0));
        assert!(!sources::supported(SourceId::Slo, ApiVersion::V12_0));
        assert!(sources::supported(SourceId::Slo, ApiVersion::V13_0));
    }

    #[tokio::test]
    async fn catalog_counts_one_request_per_status_pair() {
        let api = RecordedApi::lists(&[(
            "/catalog/images#",
            r#"{"data":[{"type":"image","id":"x"}],"meta":{"pagination":{"offset":0,"limit":1,"count":12}}}"#,
        )]);
        let v = sources::collect(
            SourceId::Catalog,
            &api,
            ApiVersion::V13_0,
            &context(SourceId::Catalog),
        )
        .await
        .unwrap();
        let pairs = series(&v, "nbu.catalog_images_count");
        assert_eq!(pairs.len(), 9);
        assert!(pairs.iter().all(|(_, n)| *n == 12.0));
        assert_eq!(api.list_requests.lock().unwrap().len(), 9);
        assert_eq!(v.requests, 9);
    }
}

#[tokio::test]
async fn a_cursor_longer_than_the_cap_ends_the_walk_with_an_error() {
    let long = "c".repeat(nbu_otel::netbackup::MAX_CURSOR_BYTES + 1);
    let first = format!(
        r#"{{"data":[{{"type":"volumeInfo","id":"A1","attributes":{{}}}}],"meta":{{"pagination":{{"limit":1,"next":"{long}"}}}}}}"#
    );
    let api = RecordedApi::lists(&[("/storage/tape-media#", &first)]);
    let query = nbu_otel::netbackup::resources::ListQuery {
        endpoint: "/storage/tape-media",
        params: Vec::new(),
        page_size: 1,
        paging: nbu_otel::netbackup::resources::Paging::Cursor,
        what: "tape media",
    };
    let err = nbu_otel::netbackup::resources::walk_list(&api, V, &query, |_| {})
        .await
        .expect_err("a 1 KB cursor is refused");
    assert!(err.to_string().contains("bytes long"), "{err}");
    assert_eq!(api.list_requests.lock().unwrap().len(), 1, "not followed");
}
