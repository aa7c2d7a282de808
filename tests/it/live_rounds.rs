//! Live rounds (today's figures from the users whose events arrived since
//! the last round) against the full computation of the same day, after
//! each batch of random events (the brute-force test's scenarios: lost
//! ends, presence, several devices, duplicates, any order), the clock
//! moving on between batches so that rounds see only recent users.

use std::sync::Arc;
use std::time::Duration;

use highwater::config::ProjectSettings;
use highwater::jobs::live_round::LiveRounds;
use highwater::jobs::slicing::Slicing;
use serde_json::Value;

use crate::brute_force::{Event, midnight, scenario};
use crate::{Place, TestApp, spawn_app_with};

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
    let mut live = LiveRounds::new(
        app.db.clone(),
        Arc::new(app.settings.projects.clone()),
        app.clock.clone(),
        Duration::from_secs(10),
        Slicing::from(&app.settings.jobs),
    )
    .with_log(app.log.clone());
    let day = s.day.to_string();
    for (batch, chunk) in events.chunks(events.len().div_ceil(5).max(1)).enumerate() {
        // More than the rounds' overlap (60 s) between batches.
        app.clock.set(first_ms + batch as i64 * 61_000);
        let posted: Vec<Value> = chunk.iter().map(|e| e.json()).collect();
        let response = app
            .post(INGEST, "application/json")
            .json(&posted)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        app.drained().await;
        live.round(0).await.unwrap();
        let live = today(&app, &day).await;
        app.run_jobs("live", &day, &day).await;
        let full = today(&app, &day).await;
        assert_eq!(live, full, "seed {seed}, after batch {batch}");
    }
    app.stop().await.unwrap();
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
