//! OpenTelemetry logs (`POST /v1/logs`) through real HTTP, protobuf
//! (gzip, as a Collector's `otlphttp` exporter sends it) and JSON: records
//! with `session.id` become figures worked out by hand, the others are
//! counted in OTLP's partial success; refused requests store nothing.

use std::io::Write;

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use serde_json::{Value, json};

use crate::{ALPHA_INGEST, ALPHA_READ, TestApp, assert_refused, spawn_app};

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Any::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

/// Nanoseconds since the epoch of an RFC 3339 time.
fn nanos(t: &str) -> u64 {
    let ms = chrono::DateTime::parse_from_rfc3339(t)
        .unwrap()
        .timestamp_millis();
    ms as u64 * 1_000_000
}

fn logs(resource: Vec<KeyValue>, records: Vec<LogRecord>) -> ResourceLogs {
    ResourceLogs {
        resource: Some(Resource {
            attributes: resource,
            ..Default::default()
        }),
        scope_logs: vec![ScopeLogs {
            log_records: records,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn post(app: &TestApp, content_type: &str, body: Vec<u8>) -> reqwest::RequestBuilder {
    app.http
        .post(format!("{}/v1/logs", app.base_url))
        .bearer_auth(ALPHA_INGEST)
        .header("content-type", content_type)
        .body(body)
}

#[tokio::test]
async fn otlp_logs_become_the_expected_figures() {
    let app = spawn_app("otlp_logs").await;
    let protobuf = "application/x-protobuf";

    // Refused whole, nothing stored: no key, a type OTLP does not send,
    // a body that is not OTLP, and records of which none has a session.
    let no_key = app
        .http
        .post(format!("{}/v1/logs", app.base_url))
        .header("content-type", protobuf)
        .body(Vec::new());
    assert_refused(&app, no_key, 401, "missing_key").await;
    let csv = post(&app, "text/csv", b"a,b".to_vec());
    assert_refused(&app, csv, 415, "unsupported_content_type").await;
    // The limits of /v1/events (256 KiB in the tests).
    let large = post(&app, protobuf, vec![0; 300 * 1024]);
    assert_refused(&app, large, 413, "body_too_large").await;
    let garbage = post(&app, protobuf, vec![0xff; 64]);
    assert_refused(&app, garbage, 400, "malformed_body").await;
    // A wrong type whose value serde would quote whole (the answer must
    // stay short: `assert_refused` checks it).
    let quoted = json!({"resourceLogs": "x".repeat(100_000)}).to_string();
    let echo = post(&app, "application/json", quoted.into_bytes());
    assert_refused(&app, echo, 400, "malformed_body").await;
    let sessionless = ExportLogsServiceRequest {
        resource_logs: vec![logs(
            vec![text("user.id", "u9")],
            vec![LogRecord {
                time_unix_nano: nanos("2020-03-25T11:00:00Z"),
                ..Default::default()
            }],
        )],
    };
    let body = post(&app, protobuf, sessionless.encode_to_vec());
    let refused = assert_refused(&app, body, 400, "invalid_events").await;
    assert_eq!(refused["errors"][0]["field"], "session.id", "{refused}");

    // u1 in s1, from a Collector: protobuf, gzip; user and session on the
    // resource; start and end as events; a log line of another service
    // (no session, no user: one record, two problems) in the same request
    // is rejected, not fatal.
    let collector = ExportLogsServiceRequest {
        resource_logs: vec![
            logs(
                vec![
                    text("user.id", "u1"),
                    text("session.id", "s1"),
                    text("os.type", "linux"),
                ],
                vec![
                    LogRecord {
                        event_name: "session.start".into(),
                        time_unix_nano: nanos("2020-03-25T11:00:00Z"),
                        ..Default::default()
                    },
                    LogRecord {
                        time_unix_nano: nanos("2020-03-25T11:05:00Z"),
                        ..Default::default()
                    },
                    LogRecord {
                        event_name: "session.end".into(),
                        time_unix_nano: nanos("2020-03-25T11:10:00Z"),
                        ..Default::default()
                    },
                ],
            ),
            logs(
                vec![text("service.name", "billing")],
                vec![LogRecord {
                    time_unix_nano: nanos("2020-03-25T11:01:00Z"),
                    ..Default::default()
                }],
            ),
        ],
    };
    let response = post(&app, protobuf, gzip(&collector.encode_to_vec()))
        .header("content-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], protobuf);
    let answer = ExportLogsServiceResponse::decode(response.bytes().await.unwrap()).unwrap();
    let partial = answer.partial_success.expect("one record rejected");
    assert_eq!(partial.rejected_log_records, 1);
    assert!(
        partial.error_message.contains("record 3: session.id"),
        "{}",
        partial.error_message
    );

    // u2 in s2, as OTLP JSON (times as strings, the event name as the older
    // `event.name` attribute); no end: open until 11:06:00 + T (600 s).
    let record = |t: &str, event: Option<&str>| {
        let mut attributes = vec![
            json!({"key": "user.id", "value": {"stringValue": "u2"}}),
            json!({"key": "session.id", "value": {"stringValue": "s2"}}),
        ];
        if let Some(name) = event {
            attributes.push(json!({"key": "event.name", "value": {"stringValue": name}}));
        }
        json!({"timeUnixNano": nanos(t).to_string(), "attributes": attributes})
    };
    let browser = json!({"resourceLogs": [{"resource": {"attributes": []}, "scopeLogs": [
        {"scope": {"name": "browser"}, "logRecords": [
            record("2020-03-25T11:04:00Z", Some("session.start")),
            record("2020-03-25T11:06:00Z", None),
        ]}
    ]}]});
    let response = post(&app, "application/json", browser.to_string().into_bytes())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert!(answer["partialSuccess"].is_null(), "{answer}");

    app.run_jobs("alpha", "2020-03-25", "2020-03-25").await;
    let (status, daily) = app
        .read(
            ALPHA_READ,
            "/v1/metrics/daily?from=2020-03-25&to=2020-03-25",
        )
        .await;
    assert_eq!(status, 200, "{daily}");
    let day = &daily["days"][0];
    // u1 11:00–11:10, u2 11:04–11:16: both online from 11:04:00.
    assert_eq!(day["dau"], 2, "{day}");
    assert_eq!(day["peak_users"], 2, "{day}");
    assert_eq!(day["peak_users_at"], "2020-03-25T11:04:00Z", "{day}");
    // 600 + 720 user-seconds in the day.
    let acu = day["acu"].as_f64().unwrap();
    assert!((acu - 1320.0 / 86_400.0).abs() < 1e-9, "{day}");
    let stored = app.stored().await;
    assert_eq!(stored.len(), 5);
    assert!(
        stored
            .iter()
            .filter(|e| e.user_id == "u1")
            .all(|e| e.platform == "linux")
    );
    app.stop().await.unwrap();
}
