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

#[tokio::test]
async fn a_cursor_longer_than_the_cap_ends_the_walk_with_an_error() {
    let long = "c".repeat(nbu_otel::netbackup::MAX_CURSOR_BYTES + 1);
    let first = format!(
        r#"{{"data":[{{"type":"volumeInfo","id":"A1","attributes":{{}}}}],"meta":{{"pagination":{{"limit":1,"next":"{long}"}}}}}}"#
    );
    let api = RecordedApi::lists(&[("/storage/tape-media#", &first)]);
    let query = ListQuery {
        endpoint: "/storage/tape-media",
        params: Vec::new(),
        page_size: 1,
        paging: Paging::Cursor,
        what: "tape media",
    };
    let err = walk_list(&api, V, &query, |_| {})
        .await
        .expect_err("a 1 KB cursor is refused");
    assert!(err.to_string().contains("bytes long"), "{err}");
    assert_eq!(api.list_requests.lock().unwrap().len(), 1, "not followed");
}
