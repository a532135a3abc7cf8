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
