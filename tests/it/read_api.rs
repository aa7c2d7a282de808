//! The read API refuses bad ranges precisely and keeps projects apart.

use serde_json::Value;

use crate::{ALPHA_INGEST, ALPHA_READ, TestApp, event_json, spawn_app};

const BETA_READ: &str = "beta-read-key-0123456789abc";

async fn get(app: &TestApp, key: &str, path: &str) -> (u16, Value) {
    app.read(key, path).await
}

#[tokio::test]
async fn bad_ranges_and_dates_get_precise_400s() {
    let app = spawn_app("read_bad_ranges").await;
    let cases = [
        ("/v1/metrics/daily?from=2020-03-25", "`to` is required"),
        (
            "/v1/metrics/daily?from=2020-03-32&to=2020-04-01",
            "is not a date",
        ),
        (
            "/v1/metrics/daily?from=2020-03-26&to=2020-03-25",
            "is after",
        ),
        (
            "/v1/metrics/daily?from=2019-01-01&to=2020-03-25",
            "at most 400 allowed",
        ),
        ("/v1/metrics/concurrency?day=2020-3-5x", "is not a date"),
        (
            "/v1/metrics/concurrency?day=2020-03-25&step=90",
            "multiple of 60",
        ),
        (
            "/v1/metrics/concurrency?day=2020-03-25&dimension=country",
            "`value` is required",
        ),
        (
            "/v1/metrics/concurrency?day=2020-03-25&value=US",
            "`value` needs `dimension`",
        ),
        (
            "/v1/metrics/segments?dimension=city&from=2020-03-25&to=2020-03-25",
            "is not a dimension",
        ),
        (
            "/v1/metrics/segments?from=2020-03-25&to=2020-03-25",
            "`dimension` is required",
        ),
    ];
    for (path, needle) in cases {
        let (status, body) = get(&app, ALPHA_READ, path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"], "bad_query");
        assert!(
            body["message"].as_str().unwrap().contains(needle),
            "{path}: {body}"
        );
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_read_key_sees_only_its_project_and_ingest_keys_cannot_read() {
    let app = spawn_app("read_isolation").await;
    let batch = serde_json::json!([event_json("session_start", "U1", "S1", 600)]).to_string();
    assert_eq!(app.post_json(batch).await.status(), 200);
    app.run_jobs("alpha", "2020-03-25", "2020-03-25").await;
    app.run_jobs("beta", "2020-03-25", "2020-03-25").await;

    let path = "/v1/metrics/daily?from=2020-03-25&to=2020-03-25";
    let (status, alpha) = get(&app, ALPHA_READ, path).await;
    assert_eq!((status, alpha["project"].as_str()), (200, Some("alpha")));
    assert_eq!(alpha["days"][0]["dau"], 1);
    let (status, beta) = get(&app, BETA_READ, path).await;
    assert_eq!((status, beta["project"].as_str()), (200, Some("beta")));
    assert_eq!(beta["days"][0]["dau"], 0);

    // Naming the other project does not reach it: the key decides.
    let (_, sneaky) = get(&app, ALPHA_READ, &format!("{path}&project=beta")).await;
    assert_eq!(sneaky["project"], "alpha");

    for path in [
        path,
        "/v1/records",
        "/v1/metrics/concurrency?day=2020-03-25",
        "/v1/growth",
        "/v1/capacity",
    ] {
        let (status, body) = get(&app, ALPHA_INGEST, path).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (403, Some("wrong_key_role")),
            "{path}"
        );
        // An unknown key learns nothing about which projects exist.
        let (status, body) = get(&app, "not-a-key-at-all-000", path).await;
        assert_eq!(status, 401, "{path}");
        let said = body.to_string();
        assert!(!said.contains("alpha") && !said.contains("beta"), "{said}");
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn records_are_final_days_that_beat_every_earlier_day() {
    let app = spawn_app("records").await;
    // Day 1: one user; day 2: two users; day 3: one user.
    let mut events = Vec::new();
    for (day, users) in [(20, 1), (21, 2), (22, 1)] {
        for user in 0..users {
            let start = format!("2020-03-{day}T10:00:00Z");
            events.push(
                serde_json::json!({"type": "session_start", "user_id": format!("U{user}"),
                "session_id": format!("S{day}"), "ts": start}),
            );
        }
    }
    assert_eq!(
        app.post_json(serde_json::json!(events).to_string())
            .await
            .status(),
        200
    );
    app.run_jobs("alpha", "2020-03-20", "2020-03-22").await;
    let (status, body) = get(&app, ALPHA_READ, "/v1/records").await;
    assert_eq!(status, 200);
    let records: Vec<(&str, u64)> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["day"].as_str().unwrap(),
                r["peak_users"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(records, [("2020-03-20", 1), ("2020-03-21", 2)]);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_user_who_drops_out_of_a_day_on_recompute_leaves_dau_and_wau() {
    let app = spawn_app("dropout").await;
    // U1 on 03-23, U2 on 03-24; WAU of 03-24 is 2.
    let events = serde_json::json!([
        {"type": "session_start", "user_id": "U1", "session_id": "S1", "ts": "2020-03-23T09:00:00Z"},
        {"type": "session_start", "user_id": "U2", "session_id": "S2", "ts": "2020-03-24T09:00:00Z"},
    ]);
    assert_eq!(app.post_json(events.to_string()).await.status(), 200);
    app.run_jobs("alpha", "2020-03-23", "2020-03-24").await;
    let path = "/v1/metrics/daily?from=2020-03-23&to=2020-03-24";
    let (_, body) = get(&app, ALPHA_READ, path).await;
    assert_eq!(
        (
            body["days"][0]["dau"].as_u64(),
            body["days"][1]["wau"].as_u64()
        ),
        (Some(1), Some(2))
    );

    // A session_end stamped before U1's start empties U1's only session.
    let late = serde_json::json!([
        {"type": "session_end", "user_id": "U1", "session_id": "S1", "ts": "2020-03-23T08:00:00Z"},
    ]);
    assert_eq!(app.post_json(late.to_string()).await.status(), 200);
    app.run_jobs("alpha", "2020-03-23", "2020-03-24").await;
    let (_, body) = get(&app, ALPHA_READ, path).await;
    let days = body["days"].as_array().unwrap();
    assert_eq!(
        (days[0]["dau"].as_u64(), days[0]["mau"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(
        (days[1]["dau"].as_u64(), days[1]["wau"].as_u64()),
        (Some(1), Some(1))
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn reports_without_enough_history_say_so_apart_from_bad_queries() {
    let app = spawn_app("short_history").await;
    let (status, body) = app.read(ALPHA_READ, "/v1/growth").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("not_enough_history")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("no final days"),
        "{body}"
    );
    let (status, body) = app.read(ALPHA_READ, "/v1/capacity").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("not_enough_history")),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("at least 14 final days"),
        "{body}"
    );
    // A horizon out of range is the request's fault.
    for horizon in ["0", "93", "x"] {
        let (status, body) = app
            .read(ALPHA_READ, &format!("/v1/capacity?horizon={horizon}"))
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("bad_query")),
            "{body}"
        );
        assert!(
            body["message"].as_str().unwrap().contains("from 1 to 92"),
            "{body}"
        );
    }
    app.stop().await.unwrap();
}
