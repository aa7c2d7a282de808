//! When ClickHouse dies, nothing is acknowledged: ingest answers 503.

use highwater::store::local_server::LocalClickHouse;
use serde_json::json;

use crate::{event_json, scratch_dir, spawn_app_on};

#[tokio::test]
async fn killing_clickhouse_turns_ingest_into_503_with_retry_after() {
    // A server of this test's own: killing the shared one would break others.
    let clickhouse = LocalClickHouse::start(&scratch_dir("outage"))
        .await
        .unwrap();
    let app = spawn_app_on("outage", &clickhouse.url()).await;
    let batch = json!([event_json("session_start", "U1", "S1", 10)]).to_string();
    assert_eq!(app.post_json(batch.clone()).await.status(), 200);

    clickhouse.signal(libc::SIGKILL);
    let response = app.post_json(batch).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "storage_unavailable");

    let (status, body) = app.get("/readyz").await;
    assert_eq!((status, &body["ready"]), (503, &json!(false)));
    app.stop().await.unwrap();
}
