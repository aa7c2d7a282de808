//! Hostile input: each gets a precise 4xx, stores nothing, and leaves the
//! server answering. (Ordinary bad input is in `bad_input`.)

use std::io::Write;

use flate2::{Compression, write::GzEncoder};
use serde_json::{Value, json};

use crate::{ALPHA_INGEST, NOW_MS, TestApp, assert_refused, event_json, spawn_app, spawn_app_with};

/// Posts `body`; checks it is refused with `status` and `code` (see
/// [`assert_refused`]) and that `needle` is in the message or the first
/// listed problem. Returns the body.
async fn refused(
    app: &TestApp,
    content_type: &str,
    body: impl Into<reqwest::Body>,
    status: u16,
    code: &str,
    needle: &str,
) -> Value {
    let request = app.post(ALPHA_INGEST, content_type).body(body);
    let body = assert_refused(app, request, status, code).await;
    let said = format!("{} {}", body["message"], body["errors"][0]["message"]);
    assert!(said.contains(needle), "{said} lacks {needle:?}");
    body
}

/// A batch holding one event with `field` set to `value`.
fn with_field(field: &str, value: Value) -> String {
    let mut event = event_json("heartbeat", "U1", "S1", 1);
    event[field] = value;
    json!([event]).to_string()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn a_gzip_bomb_stops_at_the_cap_without_inflating() {
    let app = spawn_app("gzip_bomb").await;
    let gzipped = |body: Vec<u8>| {
        app.post(ALPHA_INGEST, "application/json")
            .header("content-encoding", "gzip")
            .body(body)
    };
    // 64 MiB of zeros in ~64 KB; the cap is 1 MiB.
    let bomb = gzip(&vec![0u8; 64 << 20]);
    assert!(bomb.len() < 256 * 1024);
    // Refused naming the 1 MiB cap (inflation stops there: see the unit
    // test of `gunzip`).
    let body = assert_refused(&app, gzipped(bomb), 413, "decompressed_body_too_large").await;
    assert!(
        body["message"].as_str().unwrap().contains("1048576 bytes"),
        "{body}"
    );
    // Many gzip members, each small, add up past the cap just the same.
    let members: Vec<u8> = std::iter::repeat_n(gzip(&vec![b' '; 200 * 1024]), 8)
        .flatten()
        .collect();
    assert_refused(&app, gzipped(members), 413, "decompressed_body_too_large").await;
}

#[tokio::test]
async fn deep_nesting_is_refused_at_the_recursion_limit() {
    let app = spawn_app("deep_nesting").await;
    let deep = format!("{}{}", "[".repeat(50_000), "]".repeat(50_000));
    let in_unknown_field = format!(
        "[{{\"type\":\"heartbeat\",\"user_id\":\"U\",\"session_id\":\"S\",\"ts\":{NOW_MS},\"x\":{deep}}}]"
    );
    refused(
        &app,
        "application/json",
        in_unknown_field,
        400,
        "malformed_body",
        "recursion limit exceeded",
    )
    .await;
    let as_user_id = format!("{{\"user_id\":{deep}}}\n");
    let body = refused(
        &app,
        "application/x-ndjson",
        as_user_id,
        400,
        "invalid_events",
        "recursion limit exceeded",
    )
    .await;
    assert_eq!(body["errors"][0]["index"], 0);
    // Just under the limit is fine as an ignored field.
    let shallow = format!("{}{}", "[".repeat(100), "]".repeat(100));
    let ok = format!(
        "[{{\"type\":\"heartbeat\",\"user_id\":\"U\",\"session_id\":\"S\",\"ts\":{NOW_MS},\"x\":{shallow}}}]"
    );
    assert_eq!(app.post_json(ok).await.status(), 200);
}

#[tokio::test]
async fn huge_strings_and_arrays_are_named_not_echoed() {
    let app = spawn_app("huge_values").await;
    let long = "u".repeat(200 * 1024);
    refused(
        &app,
        "application/json",
        with_field("user_id", json!(long)),
        400,
        "invalid_events",
        "204800 bytes long; at most 256",
    )
    .await;
    refused(
        &app,
        "application/json",
        with_field("ts", json!(long)),
        400,
        "invalid_events",
        "(204800 bytes) is not an RFC 3339 timestamp",
    )
    .await;
    refused(
        &app,
        "application/json",
        with_field("session_id", json!(vec![1; 50_000])),
        400,
        "invalid_events",
        "must be a string, got an array",
    )
    .await;
    // 100,000 tiny elements: counted, not parsed into 100,000 events.
    let tiny = format!("[{}1]", "1,".repeat(99_999));
    refused(
        &app,
        "application/json",
        tiny,
        413,
        "too_many_events",
        "100000 events; at most 2000",
    )
    .await;
}

#[tokio::test]
async fn invalid_utf8_and_nul_bytes_are_refused() {
    let app = spawn_app("utf8_nul").await;
    let mut bad_utf8 = with_field("user_id", json!("Uxx")).into_bytes();
    let at = bad_utf8.windows(3).position(|w| w == b"Uxx").unwrap();
    bad_utf8[at + 1] = 0xff;
    refused(
        &app,
        "application/json",
        bad_utf8.clone(),
        400,
        "malformed_body",
        "invalid unicode code point",
    )
    .await;
    let mut ndjson = bad_utf8[1..bad_utf8.len() - 1].to_vec();
    ndjson.push(b'\n');
    let body = refused(
        &app,
        "application/x-ndjson",
        ndjson,
        400,
        "invalid_events",
        "invalid unicode code point",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "event");

    let raw_nul = with_field("user_id", json!("U\u{1}")).replace("\\u0001", "\0");
    refused(
        &app,
        "application/json",
        raw_nul,
        400,
        "malformed_body",
        "control character",
    )
    .await;
    refused(
        &app,
        "application/json",
        with_field("user_id", json!("U\u{0}1")),
        400,
        "invalid_events",
        "must not contain NUL characters",
    )
    .await;
}

#[tokio::test]
async fn numbers_out_of_range_are_refused() {
    let app = spawn_app("number_range").await;
    let cases = [
        (
            "18446744073709551616",
            "integer epoch milliseconds, got a fractional",
        ),
        (
            "18446744073709551615",
            "out of range for epoch milliseconds",
        ),
        ("9223372036854775807", "ahead of the server clock"),
        ("-9223372036854775808", "before 1970-01-01"),
        ("1.0e308", "got a fractional number"),
    ];
    for (number, needle) in cases {
        let body = with_field("ts", json!(0)).replace("\"ts\":0", &format!("\"ts\":{number}"));
        refused(
            &app,
            "application/json",
            body,
            400,
            "invalid_events",
            needle,
        )
        .await;
    }
    let body = with_field("ts", json!(0)).replace("\"ts\":0", "\"ts\":1e400");
    refused(
        &app,
        "application/json",
        body,
        400,
        "malformed_body",
        "number out of range",
    )
    .await;
}

#[tokio::test]
async fn timestamps_at_the_extremes_are_refused_precisely() {
    let app = spawn_app_with("ts_extremes", crate::clickhouse_url(), |settings| {
        settings.projects[0].backfill = true;
    })
    .await;
    let cases = [
        ("9999-12-31T23:59:59Z", "ahead of the server clock"),
        ("0000-01-01T00:00:00Z", "before 1970-01-01"),
        ("1969-12-31T23:59:59.999Z", "before 1970-01-01"),
        ("+275760-09-13T00:00:00Z", "is not an RFC 3339 timestamp"),
        ("2020-02-30T00:00:00Z", "is not an RFC 3339 timestamp"),
        ("2020-03-25T12:00:00+99:00", "is not an RFC 3339 timestamp"),
    ];
    for (ts, needle) in cases {
        refused(
            &app,
            "application/json",
            with_field("ts", json!(ts)),
            400,
            "invalid_events",
            needle,
        )
        .await;
    }
    // The first millisecond of 1970 is fine under backfill.
    let first = with_field("ts", json!("1970-01-01T00:00:00Z"));
    assert_eq!(app.post_json(first).await.status(), 200);
}

#[tokio::test]
async fn duplicate_keys_are_named() {
    let app = spawn_app("duplicate_keys").await;
    let body = format!(
        "[{{\"type\":\"heartbeat\",\"user_id\":\"U1\",\"user_id\":\"U2\",\"session_id\":\"S\",\"ts\":{NOW_MS}}}]"
    );
    let body = refused(
        &app,
        "application/json",
        body,
        400,
        "invalid_events",
        "appears more than once",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "user_id");
}
