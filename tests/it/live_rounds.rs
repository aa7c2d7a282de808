//! Live rounds (today's figures from the users whose events arrived since
//! the last round) against the full computation of the same day, after
//! each batch of random events (the brute-force test's scenarios: lost
//! ends, presence, several devices, duplicates, any order), the clock
//! moving on between batches so that rounds see only recent users; and
//! `GET /v1/online` answered from the rounds' counts against a
//! second-by-second evaluation of the events posted so far.

use std::sync::Arc;
use std::time::Duration;

use highwater::config::ProjectSettings;
use highwater::jobs::rounds::Rounds;
use highwater::jobs::slicing::Slicing;
use highwater::live::live_round::LiveRounds;
use serde_json::Value;

use crate::brute_force::{
    Event, Scenario, Session, counts_per_second, midnight, scenario, sessions,
};
use crate::{Place, TestApp, spawn_app_with};
use highwater::clock::Clock;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

const INGEST: &str = "live-ingest-key-000000001";
const READ: &str = "live-read-key-00000000001";

/// Today's figures that a live round keeps (not WAU/MAU), and its minutes.
async fn today(app: &TestApp, day: &str) -> (Value, Value) {
    let (_, daily) = app
        .read(READ, &format!("/v1/metrics/daily?from={day}&to={day}"))
        .await;
    let mut figures = daily["days"][0].clone();
    for recounted_by_full_rounds_only in ["wau", "mau", "stickiness"] {
        figures
            .as_object_mut()
            .unwrap()
            .remove(recounted_by_full_rounds_only);
    }
    let (_, series) = app
        .read(READ, &format!("/v1/metrics/concurrency?day={day}&step=60"))
        .await;
    (figures, series["series"].clone())
}

/// Live rounds of `app`'s projects, held back by its log, publishing to
/// its board.
fn live_rounds(app: &TestApp) -> LiveRounds {
    LiveRounds::new(
        app.db.clone(),
        Arc::new(app.settings.projects.clone()),
        app.clock.clone(),
        Duration::from_secs(10),
        Slicing::from(&app.settings.jobs),
    )
    .with_log(app.log.clone())
    .with_board(app.board.clone())
}

async fn check_seed(seed: u64, place: Place) {
    let s = scenario(seed);
    let mut project = ProjectSettings::new("live", INGEST, READ);
    project.time_zone = s.zone;
    project.session_timeout_s = s.timeout as u32;
    project.max_session_length_s = s.max_length as u32;
    let app = spawn_app_with(&format!("live_{seed}"), place.url(), |settings| {
        settings.projects = vec![project];
        place.apply(settings);
    })
    .await;
    // Late on the scenario's day, which is "today"; events more than 5
    // minutes ahead of the clock would be refused, so they are left out.
    let d1 = midnight(s.zone, s.day.succ_opt().unwrap());
    let first_ms = (d1 - 1200) * 1000;
    let events: Vec<&Event> = s.events.iter().filter(|e| e.ts < d1 - 900).collect();
    let mut live = live_rounds(&app);
    let day = s.day.to_string();
    let d0 = midnight(s.zone, s.day);
    let mut posted_so_far: Vec<Event> = Vec::new();
    for (batch, chunk) in events.chunks(events.len().div_ceil(5).max(1)).enumerate() {
        // More than the rounds' overlap (60 s) between batches.
        app.clock.set(first_ms + batch as i64 * 61_000);
        let posted: Vec<Value> = chunk.iter().map(|e| e.json()).collect();
        app.post_accepted(INGEST, &posted).await;
        app.drained().await;
        live.round(0).await.unwrap();
        posted_so_far.extend(chunk.iter().map(|e| (*e).clone()));
        check_online(&app, &s, &posted_so_far, d0, seed * 100 + batch as u64).await;
        let live_figures = today(&app, &day).await;
        app.run_jobs("live", &day, &day).await;
        let full = today(&app, &day).await;
        assert_eq!(live_figures, full, "seed {seed}, after batch {batch}");
    }
    app.stop().await.unwrap();
}

/// `/v1/online` from the live counts at a few seconds of today, against
/// the counts of those seconds over `posted` (the clock is moved there
/// and back).
async fn check_online(app: &TestApp, s: &Scenario, posted: &[Event], d0: i64, seed: u64) {
    let now_ms = app.clock.now_ms();
    let so_far = Scenario {
        events: posted.to_vec(),
        ..*s
    };
    let sessions = sessions(&so_far);
    let all: Vec<&Session> = sessions.iter().collect();
    let mut rng = SmallRng::seed_from_u64(seed);
    // Seconds where counts change (starts and ends), within today so far.
    let mut seconds: Vec<i64> = sessions
        .iter()
        .flat_map(|x| [x.start, x.end - 1, x.end])
        .filter(|t| (d0..now_ms / 1000).contains(t))
        .collect();
    seconds.shuffle(&mut rng);
    seconds.truncate(6);
    seconds.push(rng.random_range(d0..now_ms / 1000));
    for t in seconds {
        app.clock.set(t * 1000 + 500);
        let (status, online) = app.read(READ, "/v1/online").await;
        assert_eq!(status, 200, "{online}");
        assert_eq!(online["source"], "live", "{online}");
        let expected = counts_per_second(&all, t, t + 1)[0];
        assert_eq!(
            [
                &online["users"],
                &online["connections"],
                &online["active_users"]
            ],
            expected.map(|c| serde_json::json!(c)).each_ref(),
            "second {t}"
        );
    }
    app.clock.set(now_ms);
}

#[tokio::test]
async fn live_rounds_match_the_full_computation_after_every_batch() {
    for seed in 0..8 {
        check_seed(seed, Place::Node).await;
    }
}

#[tokio::test]
async fn on_two_shards_live_rounds_match_the_full_computation() {
    for seed in 200..202 {
        check_seed(seed, Place::TwoShards).await;
    }
}

/// Events another instance's log ships late (received long before the
/// rounds' cut-off, so no round reads them as new) are counted by the
/// next whole read, at most `WHOLE_READ_EVERY_MS` later. The late arrival
/// is made with the server's clock: set back while they are posted, so
/// their receive time is old when they reach ClickHouse.
#[tokio::test]
async fn events_shipped_late_are_counted_by_the_next_whole_read() {
    use highwater::live::live_round::WHOLE_READ_EVERY_MS;
    let project = ProjectSettings::new("late", INGEST, READ);
    let app = spawn_app_with("live_late", Place::Node.url(), |settings| {
        settings.projects = vec![project];
    })
    .await;
    let at = |hms: &str| {
        chrono::DateTime::parse_from_rfc3339(&format!("2020-03-25T{hms}Z"))
            .unwrap()
            .timestamp_millis()
    };
    let event = |kind: &str, user: &str, ts_ms: i64| {
        let session = format!("s-{user}");
        serde_json::json!({"type": kind, "user_id": user, "session_id": session, "ts": ts_ms})
    };
    let mut live = live_rounds(&app);
    let dau = |figures: &(Value, Value)| figures.0["dau"].as_u64().unwrap();

    let early = [
        event("session_start", "a", at("09:50:00")),
        event("heartbeat", "a", at("09:58:00")),
    ];
    let late = [
        event("session_start", "b", at("09:52:00")),
        event("heartbeat", "b", at("09:54:00")),
    ];
    // (received at, events, round at): the late ones are received at
    // 09:55, five minutes before the first round's cut-off.
    for (received, events, round) in [
        ("10:00:00", early, "10:00:00"),
        ("09:55:00", late, "10:02:00"),
    ] {
        app.clock.set(at(received));
        app.post_accepted(INGEST, &events).await;
        app.drained().await;
        app.clock.set(at(round));
        live.round(0).await.unwrap();
    }
    assert_eq!(
        dau(&today(&app, "2020-03-25").await),
        1,
        "read as new only since the cut-off"
    );

    app.clock.set(at("10:00:00") + WHOLE_READ_EVERY_MS + 1_000);
    live.round(0).await.unwrap();
    let live_figures = today(&app, "2020-03-25").await;
    app.run_jobs("late", "2020-03-25", "2020-03-25").await;
    let full = today(&app, "2020-03-25").await;
    assert_eq!(dau(&full), 2);
    assert_eq!(live_figures, full);
    app.stop().await.unwrap();
}
