//! The scheduler `serve` runs: provisional days refresh, days become final,
//! late events re-open final days.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate};
use highwater::jobs::rounds::Rounds;
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

/// The scheduler `serve` would run for `app`'s project alpha, on its log.
fn scheduler_of(app: &TestApp) -> Scheduler {
    let projects = Arc::new(vec![app.settings.project("alpha").unwrap().clone()]);
    Scheduler::new(
        app.db.clone(),
        projects,
        app.clock.clone(),
        Duration::from_secs(300),
    )
    .with_log(app.log.clone())
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
    let mut scheduler = scheduler_of(&app);

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
    let mut scheduler = scheduler_of(&app);
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

#[tokio::test]
async fn provisional_days_spanning_over_400_days_are_computed_in_pieces() {
    use highwater::domain::calendar::day_number;
    use highwater::store::figures::{DailyFiguresRow, insert_rows};
    let app = crate::spawn_app_with("schedule_long", crate::clickhouse_url(), |settings| {
        settings.projects[0].backfill = true;
    })
    .await;
    app.clock.set(ms("2020-04-01T12:00:00Z"));
    // 405 provisional days stored, 2019-01-01 .. 2020-02-09 (as a project
    // with a long lateness would have them), and one user on the last.
    let first = day("2019-01-01");
    let days: Vec<NaiveDate> = first.iter_days().take(405).collect();
    let stored: Vec<DailyFiguresRow> = days
        .iter()
        .map(|d| DailyFiguresRow {
            project: "alpha".into(),
            day: day_number(*d),
            day_start: d.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp() as u32,
            day_seconds: 86_400,
            r#final: 0,
            computed_ms: 1,
            ..DailyFiguresRow::default()
        })
        .collect();
    insert_rows(&app.db, "daily_figures", &stored)
        .await
        .unwrap();
    post_session(&app, "U1", "2020-02-09T09:00:00Z", "2020-02-09T10:00:00Z").await;

    let mut scheduler = scheduler_of(&app);
    let recomputed = scheduler
        .tick(0)
        .await
        .expect("a round over more than 400 days");
    for d in days.iter().chain([&day("2020-04-01")]) {
        assert!(recomputed.contains(d), "{d} missing");
    }
    let last =
        highwater::store::figures::daily(&app.db, "alpha", day("2020-02-09"), day("2020-02-09"))
            .await
            .unwrap();
    assert_eq!(
        (last[0].dau, last[0].r#final),
        (1, 1),
        "recomputed, and final by now"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_first_round_after_a_restart_accounts_for_the_inherited_log() {
    use highwater::domain::batch::{BodyFormat, parse_batch};
    use highwater::domain::validate::AcceptWindow;
    use highwater::store::row_binary::encode_event;
    use highwater::wal::files::create_segment;
    use highwater::wal::record::Record;
    use std::io::Write;

    // A run computes 03-25 (final) with U1 at 12:00 on 03-26...
    let app = spawn_app("schedule_restart").await;
    app.clock.set(ms("2020-03-25T11:00:00Z"));
    post_session(&app, "U1", "2020-03-25T09:00:00Z", "2020-03-25T10:00:00Z").await;
    app.clock.set(ms("2020-03-26T12:00:00Z"));
    app.run_jobs("alpha", "2020-03-25", "2020-03-25").await;
    let settings = app.settings.clone();
    app.stop().await.unwrap();

    // ...while its log still held U2's session, received at 20:00 on 03-25
    // (ClickHouse was away), when it stopped.
    let received = ms("2020-03-25T20:00:00Z");
    let body = json!([
        {"type": "session_start", "user_id": "U2", "session_id": "S2", "ts": "2020-03-25T09:30:00Z"},
        {"type": "session_end", "user_id": "U2", "session_id": "S2", "ts": "2020-03-25T09:45:00Z"},
    ])
    .to_string();
    let window = AcceptWindow {
        now_ms: received,
        max_ahead_ms: 0,
        max_age_ms: None,
    };
    let events = parse_batch(body.as_bytes(), BodyFormat::JsonArray, &window, 10).unwrap();
    let mut rows = Vec::new();
    for event in &events {
        encode_event(&mut rows, "alpha", received, event);
    }
    let mut framed = Vec::new();
    Record {
        rows: 2,
        received_ms: received,
        payload: &rows,
    }
    .encode_into(&mut framed);
    let wal = crate::scratch_dir("schedule-restart-log").join("wal");
    std::fs::create_dir_all(&wal).unwrap();
    create_segment(&wal, 1).unwrap().write_all(&framed).unwrap();

    // The next run ships it at start-up; its first round re-opens 03-25.
    let mut settings = settings;
    settings.wal.dir = Some(wal);
    let db = highwater::store::connect(&settings.clickhouse, crate::clickhouse_url())
        .await
        .unwrap();
    let clock = Arc::new(highwater::clock::ManualClock::new(ms(
        "2020-03-26T12:10:00Z",
    )));
    let server = highwater::startup::Server::bind(
        &settings,
        "127.0.0.1:0".parse().unwrap(),
        db.clone(),
        clock.clone(),
    )
    .await
    .unwrap();
    let log = server.log_monitor();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    assert!(log.wait_drained(Duration::from_secs(60)).await);
    let projects = Arc::new(vec![settings.project("alpha").unwrap().clone()]);
    let mut scheduler =
        Scheduler::new(db.clone(), projects, clock, Duration::from_secs(300)).with_log(log);
    let recomputed = scheduler.tick(0).await.unwrap();
    assert!(recomputed.contains(&day("2020-03-25")), "{recomputed:?}");
    let figures =
        highwater::store::figures::daily(&db, "alpha", day("2020-03-25"), day("2020-03-25"))
            .await
            .unwrap();
    assert_eq!((figures[0].dau, figures[0].peak_users), (2, 2));
    let _ = stop.send(());
    serving.await.unwrap().unwrap();
}
