//! `GET /v1/online` over hand-built sessions whose counts were worked out
//! by hand from DESIGN §2 (T = 600 s): a lost end timing out, presence
//! away, active winning within a second, a user on two devices connected
//! through two instances of highwater on one ClickHouse.

use serde_json::{Value, json};

use crate::{
    ALPHA_INGEST, ALPHA_READ, NOW_MS, TestApp, event_json, spawn_app, spawn_second_instance,
};

fn with(mut event: Value, field: &str, value: &str) -> Value {
    event[field] = json!(value);
    event
}

async fn online(app: &TestApp, at_ms: i64, query: &str) -> Value {
    app.clock.set(at_ms);
    let (status, body) = app.read(ALPHA_READ, &format!("/v1/online{query}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn counts(body: &Value) -> [u64; 3] {
    ["users", "connections", "active_users"].map(|k| body[k].as_u64().unwrap())
}

#[tokio::test]
async fn online_now_counts_open_sessions_once_per_user_across_two_instances() {
    let first = spawn_app("online_two_instances").await;
    let second = spawn_second_instance(&first).await;
    // Through the first instance:
    first
        .post_accepted(
            ALPHA_INGEST,
            &[
                // u1 on device A: alive 500 s ago → open until 100 s from now.
                with(
                    event_json("session_start", "u1", "a", 3000),
                    "platform",
                    "ios",
                ),
                event_json("heartbeat", "u1", "a", 500),
                // u3: away since 900 s ago, alive 10 s ago.
                event_json("session_start", "u3", "s", 1000),
                with(event_json("presence", "u3", "s", 900), "status", "away"),
                event_json("heartbeat", "u3", "s", 10),
                // u4: ended 50 s ago.
                event_json("session_start", "u4", "s", 100),
                event_json("session_end", "u4", "s", 50),
                // u6: one heartbeat 599 s ago, no start: open for this second only.
                event_json("heartbeat", "u6", "s", 599),
            ],
        )
        .await;
    // Through the second:
    second
        .post_accepted(
            ALPHA_INGEST,
            &[
                // u1 on device B, away 100 s ago.
                with(
                    event_json("session_start", "u1", "b", 200),
                    "platform",
                    "macos",
                ),
                with(event_json("presence", "u1", "b", 100), "status", "away"),
                // u2: its end was lost; alive 700 s ago → timed out 100 s ago.
                event_json("session_start", "u2", "s", 4000),
                event_json("heartbeat", "u2", "s", 700),
                // u5: away and active in the same second → active.
                event_json("session_start", "u5", "s", 50),
                with(event_json("presence", "u5", "s", 40), "status", "away"),
                with(event_json("presence", "u5", "s", 40), "status", "active"),
            ],
        )
        .await;
    first.drained().await;
    second.drained().await;

    // Now: u1 (A active, B away), u3 (away), u5, u6 → 4 users, 5
    // connections, 3 active (u1, u5, u6). Both instances say so.
    for app in [&first, &second] {
        let body = online(app, NOW_MS + 999, "").await;
        assert_eq!(counts(&body), [4, 5, 3], "{body}");
        assert_eq!(body["as_of"], "2020-03-25T12:00:00Z");
        assert_eq!(body["unshipped_bytes"], 0);
        assert_eq!(body["behind_s"], 0.0);
    }
    // Per platform: u1's devices count once in each; the rest unknown.
    let body = online(&second, NOW_MS, "?dimension=platform").await;
    assert_eq!(body["dimension"], "platform");
    assert_eq!(
        body["values"],
        json!([
            {"value": "", "users": 3, "connections": 3, "active_users": 2},
            {"value": "ios", "users": 1, "connections": 1, "active_users": 1},
            {"value": "macos", "users": 1, "connections": 1, "active_users": 0},
        ])
    );
    // One second later u6 has timed out.
    let body = online(&first, NOW_MS + 1000, "").await;
    assert_eq!(counts(&body), [3, 4, 2], "{body}");
    // 100 s later u1's device A has timed out too: u1 (B, away), u3
    // (away), u5 (active).
    let body = online(&first, NOW_MS + 100_000, "").await;
    assert_eq!(counts(&body), [3, 3, 1], "{body}");
    // Ten minutes on, every session has timed out (u3, the last alive, at
    // 590 s).
    let body = online(&second, NOW_MS + 600_000, "").await;
    assert_eq!(counts(&body), [0, 0, 0], "{body}");
    second.stop().await.unwrap();
    first.stop().await.unwrap();
}

#[tokio::test]
async fn online_needs_a_read_key_and_a_known_dimension() {
    let app = spawn_app("online_refusals").await;
    let (status, _) = app.get("/v1/online").await;
    assert_eq!(status, 401);
    let (status, _) = app.read(ALPHA_INGEST, "/v1/online").await;
    assert_eq!(status, 403);
    let (status, body) = app.read(ALPHA_READ, "/v1/online?dimension=colour").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("colour"),
        "{body}"
    );
    app.stop().await.unwrap();
}

/// `highwater online` (its own process, reading ClickHouse): the same
/// counts as the API, as JSON, and `--watch` refreshing.
#[tokio::test]
async fn the_online_command_counts_like_the_api() {
    let app = spawn_app("online_cli").await;
    // The command runs on the system clock: events from just now.
    let now_ms = chrono::Utc::now().timestamp_millis();
    app.clock.set(now_ms);
    let event = |kind: &str, user: &str, seconds_ago: i64| {
        json!({"type": kind, "user_id": user, "session_id": "s",
               "ts": now_ms - seconds_ago * 1000})
    };
    app.post_accepted(
        ALPHA_INGEST,
        &[
            event("session_start", "u1", 120),
            event("session_start", "u2", 60),
            with(event("presence", "u2", 30), "status", "away"),
            event("session_start", "u3", 300),
            event("session_end", "u3", 200),
        ],
    )
    .await;
    app.drained().await;
    let config = crate::scratch_dir("online_cli").join("highwater.toml");
    std::fs::write(
        &config,
        format!(
            "[clickhouse]\nurl = \"{}\"\ndatabase = \"{}\"\n\
             [[project]]\nname = \"alpha\"\ningest_keys = [\"{ALPHA_INGEST}\"]\nread_keys = [\"{ALPHA_READ}\"]\n",
            app.settings.clickhouse.url.as_deref().unwrap(),
            app.settings.clickhouse.database
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_highwater"))
            .arg("--config")
            .arg(&config)
            .args(["online", "--project", "alpha"])
            .args(args)
            .output()
            .unwrap()
    };
    let output = run(&["--format", "json"]);
    assert!(output.status.success(), "{output:?}");
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    // u1 and u2 open (u2 away), u3 ended 200 s ago.
    assert_eq!(counts(&answer), [2, 2, 1], "{answer}");
    let output = run(&["--dimension", "country"]);
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(
        table.contains("2 users online, 2 connections, 1 active"),
        "{table}"
    );
    assert!(table.contains("unknown"), "{table}");
    // --watch keeps refreshing until interrupted: Ctrl-C once it has shown
    // the count twice (read as it comes; a loaded machine starts it slowly).
    let mut watching = std::process::Command::new(env!("CARGO_BIN_EXE_highwater"))
        .arg("--config")
        .arg(&config)
        .args(["online", "--project", "alpha", "--watch", "--every", "1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = watching.id() as libc::pid_t;
    let stdout = watching.stdout.take().unwrap();
    let reading = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut shown = String::new();
        let mut counts = 0;
        let mut interrupted = false;
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.unwrap();
            counts += line.matches("users online").count();
            shown.push_str(&line);
            shown.push('\n');
            if counts >= 2 && !interrupted {
                interrupted = true;
                // SAFETY: a signal to our own child.
                unsafe { libc::kill(pid, libc::SIGINT) };
            }
        }
        (counts, shown)
    });
    let waiting = tokio::task::spawn_blocking(move || watching.wait());
    let Ok(status) = tokio::time::timeout(std::time::Duration::from_secs(60), waiting).await else {
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        panic!("--watch did not show the count twice and stop on Ctrl-C within 60 s");
    };
    assert!(
        status.unwrap().unwrap().success(),
        "Ctrl-C ends --watch cleanly"
    );
    let (counts, shown) = reading.await.unwrap();
    assert!(counts >= 2, "{shown}");
    app.stop().await.unwrap();
}
