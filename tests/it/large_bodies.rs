//! Bodies at the default limits, against a `serve` process of its own whose
//! memory is measured: the largest valid batch is always admitted on an
//! idle server (200, never a 503 no retry could pass), and bodies that
//! decode to far more than their size — deeply nested JSON, OpenTelemetry
//! records of two bytes — are refused without being built.

use std::io::Write;
use std::net::SocketAddr;

use highwater::bench::server_process::{stop_server, wait_shipped};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use prost::Message;
use serde_json::{Value, json};

use crate::crash::{DAY_START_MS, KillableServer};
use crate::{ALPHA_INGEST, scratch_dir};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Peak resident memory of process `pid`, in bytes (`VmHWM`).
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// A PostHog batch of `events` events as posthog-js sends them (dozens of
/// properties each), `users` users.
fn posthog_batch(events: usize, users: usize) -> Vec<u8> {
    let batch: Vec<Value> = (0..events)
        .map(|i| {
            json!({
                "event": "$pageview",
                "uuid": format!("0190a1b2-{i:08}-7000-8000-000000000000"),
                "properties": {
                    "distinct_id": format!("user-{}", i % users),
                    "$session_id": format!("session-{}", i % users),
                    "$time": (DAY_START_MS + 36_000_000 + i as i64 * 10) as f64 / 1000.0,
                    "$os": "Mac OS X", "$browser": "Chrome", "$browser_version": 131,
                    "$screen_height": 1117, "$screen_width": 1728, "$lib": "web",
                    "$insert_id": format!("{i:016x}"), "$device_type": "Desktop",
                },
            })
        })
        .collect();
    json!({"api_key": ALPHA_INGEST, "batch": batch})
        .to_string()
        .into_bytes()
}

/// Posts `body` to `url` (gzipped, with `Content-Encoding`, if `gzipped`).
async fn post(
    http: &reqwest::Client,
    url: String,
    content_type: &str,
    body: Vec<u8>,
    gzipped: bool,
) -> (u16, Value) {
    let mut request = http
        .post(url)
        .bearer_auth(ALPHA_INGEST)
        .header("content-type", content_type);
    if gzipped {
        request = request.header("content-encoding", "gzip");
    }
    let response = request.body(body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_largest_batches_pass_and_bombs_are_refused_unbuilt() {
    let dir = scratch_dir("large-bodies");
    let setup = KillableServer::prepare(&dir, "it_large_bodies", &dir.join("wal"), "", "").await;
    let mut server = setup.start().await;
    let pid = server.id().unwrap();
    let listen: SocketAddr = setup.listen.parse().unwrap();
    let http = crate::http_client().build().unwrap();

    // 70,000 PostHog events: 22 MiB of JSON, gzipped as posthog-js does.
    let json = posthog_batch(70_000, 5_000);
    assert!(
        (22 << 20..24 << 20).contains(&json.len()),
        "{} bytes",
        json.len()
    );
    let body = gzip(&json);
    let (status, answer) = post(
        &http,
        format!("http://{listen}/batch"),
        "text/plain",
        body,
        false,
    )
    .await;
    assert_eq!(
        (status, &answer["accepted"]),
        (200, &json!(70_000)),
        "{answer}"
    );
    println!(
        "a {} MiB PostHog batch: 200; peak RSS {} MiB",
        json.len() >> 20,
        peak_rss(pid) >> 20
    );

    // Nested JSON: 65,000 events, each an object 100 levels deep: 32 MiB.
    let nested = format!("{}1{}", "{\"\":".repeat(100), "}".repeat(100));
    let bomb = format!(
        "{{\"api_key\":\"{ALPHA_INGEST}\",\"batch\":[{}]}}",
        vec![nested.as_str(); 64_000].join(",")
    );
    assert!(bomb.len() < 32 << 20);
    let compressed = gzip(bomb.as_bytes());
    println!("the nested bomb: {} KiB gzipped", compressed.len() >> 10);
    let (status, answer) = post(
        &http,
        format!("http://{listen}/batch"),
        "text/plain",
        compressed,
        false,
    )
    .await;
    // Read into fixed-size events, it costs nothing; none has an id.
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_events")),
        "{answer}"
    );

    // The same nesting as OpenTelemetry JSON: charged per value, refused.
    let attribute = format!(
        r#"{{"key":"x","value":{{"kvlistValue":{{"values":[{}]}}}}}}"#,
        "{\"key\":\"\"},".repeat(60) + "{}"
    );
    let otlp_json = format!(
        r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{}]}}]}}]}}"#,
        vec![format!(r#"{{"attributes":[{attribute}]}}"#); 20_000].join(",")
    );
    assert!(otlp_json.len() < 32 << 20);
    let (status, answer) = post(
        &http,
        format!("http://{listen}/v1/logs"),
        "application/json",
        gzip(otlp_json.as_bytes()),
        true,
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (413, Some("parsed_body_too_large")),
        "{answer}"
    );

    // 4 million OpenTelemetry records of 2 bytes each: 8 MiB of protobuf
    // that prost would build into about a gigabyte.
    let request = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord::default(); 4_000_000],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let protobuf = request.encode_to_vec();
    assert!(protobuf.len() < 8 << 20);
    let (status, answer) = post(
        &http,
        format!("http://{listen}/v1/logs"),
        "application/x-protobuf",
        protobuf,
        false,
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (413, Some("parsed_body_too_large")),
        "{answer}"
    );

    let peak = peak_rss(pid);
    println!("peak RSS after the bombs: {} MiB", peak >> 20);
    assert!(peak < 400 << 20, "peak RSS {} MiB", peak >> 20);
    wait_shipped(&setup.listen, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    let stored: u64 = setup
        .db
        .query("SELECT count() FROM events")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(stored, 70_000, "only the PostHog batch is stored");
    stop_server(&mut server).await;
}
