//! The scheduler `serve` runs: provisional days refresh, days become final,
//! late events re-open final days.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate};
use highwater::jobs::schedule::Scheduler;
use serde_json::{Value, json};

use crate::{ALPHA_READ, TestApp, spawn_app};

fn ms(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_millis()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

async fn march_25(app: &TestApp) -> Value {
    let path = "/v1/metrics/daily?from=2020-03-25&to=2020-03-25";
    app.read(ALPHA_READ, path).await.1["days"][0].clone()
}

/// One session of `user` (its id is its start: one session per start).
async fn post_session(app: &TestApp, user: &str, start: &str, end: &str) {
    let batch = json!([
        {"type": "session_start", "user_id": user, "session_id": start, "ts": start},
        {"type": "session_end", "user_id": user, "session_id": start, "ts": end},
    ]);
    assert_eq!(app.post_json(batch.to_string()).await.status(), 200);
    app.drained().await;
}

#[tokio::test]
async fn provisional_days_finalise_and_late_events_reopen_them() {
    let app = spawn_app("schedule").await;
    let projects = Arc::new(vec![app.settings.project("alpha").unwrap().clone()]);
    let mut scheduler = Scheduler::new(
        app.db.clone(),
        projects,
        app.clock.clone(),
        Duration::from_secs(300),
    )
    .with_log(app.log.clone());

    app.clock.set(ms("2020-03-25T12:00:00Z"));
    post_session(&app, "U1", "2020-03-25T09:00:00Z", "2020-03-25T10:00:00Z").await;
    assert_eq!(scheduler.tick(0).await.unwrap(), [day("2020-03-25")]);
    let figures = march_25(&app).await;
    assert_eq!(
        (figures["dau"].as_u64(), figures["final"].as_bool()),
        (Some(1), Some(false))
    );

    // Past D1 + T + 1 h: the provisional day is recomputed and final.
    app.clock.set(ms("2020-03-26T02:00:00Z"));
    assert_eq!(
        scheduler.tick(0).await.unwrap(),
        [day("2020-03-25"), day("2020-03-26")]
    );
    assert_eq!(march_25(&app).await["final"], true);

    // Nothing new: a final day is left alone.
    app.clock.set(ms("2020-03-27T12:00:00Z"));
    assert_eq!(
        scheduler.tick(0).await.unwrap(),
        [day("2020-03-26"), day("2020-03-27")]
    );

    // A late session on 03-25 re-opens it (and the days it may carry into).
    post_session(&app, "U2", "2020-03-25T09:30:00Z", "2020-03-25T09:45:00Z").await;
    let days = scheduler.tick(0).await.unwrap();
    assert!(
        days.contains(&day("2020-03-25")) && days.contains(&day("2020-03-24")),
        "{days:?}"
    );
    let figures = march_25(&app).await;
    assert_eq!(figures["dau"], 2);
    assert_eq!(figures["peak_users"], 2);
    assert_eq!(figures["peak_users_at"], "2020-03-25T09:30:00Z");
    assert_eq!(figures["final"], true);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_late_event_ten_days_back_updates_the_rolling_figures_after_it() {
    let app = spawn_app("schedule_rolling").await;
    let projects = Arc::new(vec![app.settings.project("alpha").unwrap().clone()]);
    let mut scheduler = Scheduler::new(
        app.db.clone(),
        projects,
        app.clock.clone(),
        Duration::from_secs(300),
    )
    .with_log(app.log.clone());
    app.clock.set(ms("2020-03-20T12:00:00Z"));
    // U1 every day from 03-01 to 03-20; every day but today final.
    for d in 1..=20 {
        let start = format!("2020-03-{d:02}T09:00:00Z");
        let end = format!("2020-03-{d:02}T10:00:00Z");
        post_session(&app, "U1", &start, &end).await;
    }
    app.run_jobs("alpha", "2020-03-01", "2020-03-20").await;
    app.clock.set(ms("2020-03-20T12:10:00Z"));
    scheduler.tick(0).await.unwrap();
    app.clock.set(ms("2020-03-20T12:20:00Z"));
    let mau_of = |day: &'static str| {
        let app = &app;
        async move {
            let path = format!("/v1/metrics/daily?from={day}&to={day}");
            app.read(ALPHA_READ, &path).await.1["days"][0]["mau"].clone()
        }
    };
    assert_eq!(mau_of("2020-03-12").await, 1);

    // U2, seen only on 03-02, arrives late: 03-02 re-opens (with the days
    // its sessions may carry into), and every later day whose 30-day window
    // holds 03-02 counts U2 in its MAU.
    post_session(&app, "U2", "2020-03-02T09:00:00Z", "2020-03-02T09:30:00Z").await;
    let recomputed = scheduler.tick(0).await.unwrap();
    assert!(!recomputed.contains(&day("2020-03-12")), "{recomputed:?}");
    for later in ["2020-03-12", "2020-03-19"] {
        assert_eq!(mau_of(later).await, 2, "{later}");
    }
    let path = "/v1/metrics/daily?from=2020-03-12&to=2020-03-12";
    let figures = app.read(ALPHA_READ, path).await.1["days"][0].clone();
    assert_eq!(
        (figures["wau"].as_u64(), figures["dau"].as_u64()),
        (Some(1), Some(1)),
        "03-02 is outside 03-12's week"
    );
    app.stop().await.unwrap();
}
