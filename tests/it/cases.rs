//! The hand-worked cases of `fixtures/cases/`: posted through HTTP, jobs run,
//! every field of `GET /v1/metrics/daily` compared. Then everything is posted
//! again and the jobs re-run: no figure may change.

use std::path::Path;

use chrono::{DateTime, NaiveDate, TimeZone};
use highwater::config::ProjectSettings;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{Place, TestApp, spawn_app_with};

#[derive(Debug, Deserialize)]
struct Case {
    project: toml::Table,
    step: Vec<Step>,
}

#[derive(Debug, Deserialize)]
struct Step {
    now: String,
    run: Option<[String; 2]>,
    #[serde(default)]
    batch: Vec<Batch>,
    #[serde(default)]
    heartbeats: Vec<Heartbeats>,
    #[serde(default)]
    expect: Vec<toml::Table>,
    #[serde(default)]
    expect_segments: Vec<toml::Table>,
}

#[derive(Debug, Deserialize)]
struct Batch {
    #[serde(default = "main")]
    project: String,
    #[serde(default = "one")]
    repeat: usize,
    events: String,
}

#[derive(Debug, Deserialize)]
struct Heartbeats {
    user_id: String,
    session_id: String,
    from: String,
    to: String,
    every_s: i64,
}

fn main() -> String {
    "main".into()
}
fn one() -> usize {
    1
}

const PROJECTS: [&str; 2] = ["main", "other"];

fn ingest_key(project: &str) -> String {
    format!("{project}-ingest-key-0000001")
}
fn read_key(project: &str) -> String {
    format!("{project}-read-key-00000001")
}

fn project_settings(name: &str, table: &toml::Table) -> ProjectSettings {
    let mut table = table.clone();
    table.insert("name".into(), name.into());
    table.insert("ingest_keys".into(), vec![ingest_key(name)].into());
    table.insert("read_keys".into(), vec![read_key(name)].into());
    table.try_into().expect("valid [project] in case")
}

fn epoch_ms(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_millis()
}

async fn post(app: &TestApp, project: &str, ndjson: String) {
    let response = app
        .post(&ingest_key(project), "application/x-ndjson")
        .body(ndjson)
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert_eq!(status, 200, "{}", response.text().await.unwrap());
}

async fn post_step(app: &TestApp, step: &Step) {
    for batch in &step.batch {
        for _ in 0..batch.repeat {
            post(app, &batch.project, batch.events.clone()).await;
        }
    }
    for hb in &step.heartbeats {
        let (from, to) = (epoch_ms(&hb.from), epoch_ms(&hb.to));
        let lines: Vec<String> = (from..=to)
            .step_by(hb.every_s as usize * 1000)
            .map(|ts| {
                json!({"type": "heartbeat", "user_id": hb.user_id, "session_id": hb.session_id, "ts": ts})
                    .to_string()
            })
            .collect();
        post(app, "main", lines.join("\n")).await;
    }
}

/// Seconds in `day` in `zone`, worked out here rather than by highwater.
fn day_seconds(day: NaiveDate, zone: chrono_tz::Tz) -> i64 {
    let midnight = |d: NaiveDate| {
        zone.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap())
            .earliest()
            .unwrap()
            .timestamp()
    };
    midnight(day.succ_opt().unwrap()) - midnight(day)
}

/// The API's view of one day, as the case expects it.
fn expected_day(expect: &toml::Table, zone: chrono_tz::Tz) -> Value {
    let mut day: serde_json::Map<String, Value> = serde_json::to_value(expect)
        .unwrap()
        .as_object()
        .unwrap()
        .clone();
    day.remove("project");
    let date: NaiveDate = day["day"].as_str().unwrap().parse().unwrap();
    let user_seconds = day.remove("acu_user_seconds").unwrap().as_f64().unwrap();
    day.insert(
        "acu".into(),
        json!(user_seconds / day_seconds(date, zone) as f64),
    );
    let (dau, mau) = (day["dau"].as_f64().unwrap(), day["mau"].as_f64().unwrap());
    day.insert(
        "stickiness".into(),
        json!(if mau == 0.0 { 0.0 } else { dau / mau }),
    );
    Value::Object(day)
}

async fn check_expectations(app: &TestApp, step: &Step, zone: chrono_tz::Tz, case: &str) {
    for expect in &step.expect {
        let project = expect
            .get("project")
            .and_then(|p| p.as_str())
            .unwrap_or("main");
        let day = expect["day"].as_str().unwrap();
        let path = format!("/v1/metrics/daily?from={day}&to={day}");
        let (_, response) = app.read(&read_key(project), &path).await;
        assert_eq!(response["project"], project);
        let days = response["days"].as_array().unwrap();
        assert_eq!(days.len(), 1, "{case}: {response}");
        assert_eq!(
            days[0],
            expected_day(expect, zone),
            "{case}, {project} {day} at {}",
            step.now
        );
    }
}

/// The API's view of one day of one dimension, as the case expects it:
/// `diversity` = summed / coincident, each value's `acu` from its
/// user-seconds.
fn expected_segment_day(expect: &toml::Table, zone: chrono_tz::Tz) -> Value {
    let mut day = serde_json::to_value(expect).unwrap();
    let day = day.as_object_mut().unwrap();
    day.remove("project");
    day.remove("dimension");
    let date: NaiveDate = day["day"].as_str().unwrap().parse().unwrap();
    let (summed, coincident) = (
        day["summed_peak"].as_f64().unwrap(),
        day["coincident_peak"].as_f64().unwrap(),
    );
    day.insert(
        "diversity".into(),
        if coincident == 0.0 {
            Value::Null
        } else {
            json!(summed / coincident)
        },
    );
    for value in day.get_mut("values").unwrap().as_array_mut().unwrap() {
        let value = value.as_object_mut().unwrap();
        let user_seconds = value.remove("acu_user_seconds").unwrap().as_f64().unwrap();
        value.insert(
            "acu".into(),
            json!(user_seconds / day_seconds(date, zone) as f64),
        );
    }
    Value::Object(day.clone())
}

async fn check_segment_expectations(app: &TestApp, step: &Step, zone: chrono_tz::Tz, case: &str) {
    for expect in &step.expect_segments {
        let project = expect
            .get("project")
            .and_then(|p| p.as_str())
            .unwrap_or("main");
        let (day, dimension) = (
            expect["day"].as_str().unwrap(),
            expect["dimension"].as_str().unwrap(),
        );
        let path = format!("/v1/metrics/segments?dimension={dimension}&from={day}&to={day}");
        let (_, response) = app.read(&read_key(project), &path).await;
        assert_eq!(response["dimension"], dimension);
        let days = response["days"].as_array().unwrap();
        assert_eq!(days.len(), 1, "{case}: {response}");
        assert_eq!(
            days[0],
            expected_segment_day(expect, zone),
            "{case}, {project} {day} by {dimension} at {}",
            step.now
        );
    }
}

async fn run_case(path: &Path, place: Place) {
    let name = path
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .replace('-', "_");
    let case: Case = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let projects: Vec<ProjectSettings> = PROJECTS
        .iter()
        .map(|p| project_settings(p, &case.project))
        .collect();
    let zone = projects[0].time_zone;
    let app = spawn_app_with(&name, place.url(), |settings| {
        settings.projects = projects;
        place.apply(settings);
    })
    .await;
    for step in &case.step {
        app.clock.set(epoch_ms(&step.now));
        post_step(&app, step).await;
        if let Some([from, to]) = &step.run {
            for project in PROJECTS {
                app.run_jobs(project, from, to).await;
            }
        }
        check_expectations(&app, step, zone, &name).await;
        check_segment_expectations(&app, step, zone, &name).await;
    }
    // At-least-once delivery and re-runs must change nothing.
    let last = case.step.last().unwrap();
    for step in &case.step {
        post_step(&app, step).await;
    }
    for step in case.step.iter().filter(|s| s.run.is_some()) {
        let [from, to] = step.run.as_ref().unwrap();
        for project in PROJECTS {
            app.run_jobs(project, from, to).await;
        }
    }
    check_expectations(&app, last, zone, &name).await;
    check_segment_expectations(&app, last, zone, &name).await;
    app.stop().await.unwrap();
}

fn case_path(file: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/cases")
        .join(file)
}

/// One test per case, so that they run in parallel and fail by name.
macro_rules! cases {
    ($($name:ident => $file:literal,)*) => {
        $(
            #[tokio::test]
            async fn $name() {
                run_case(&case_path($file), Place::Node).await;
            }
        )*

        /// The same cases on a two-shard cluster: the same figures.
        mod on_two_shards {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    run_case(&case_path($file), Place::TwoShards).await;
                }
            )*
        }

        /// And on two shards of two replicas each.
        mod on_two_shards_with_replicas {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    run_case(&case_path($file), Place::TwoShardsWithReplicas).await;
                }
            )*
        }

        #[test]
        fn every_case_file_has_a_test() {
            let listed: Vec<&str> = vec![$($file),*];
            let mut files: Vec<String> = std::fs::read_dir(case_path(""))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|f| f.ends_with(".toml"))
                .collect();
            files.sort();
            let mut listed: Vec<String> = listed.into_iter().map(String::from).collect();
            listed.sort();
            assert_eq!(files, listed);
        }
    };
}

cases! {
    one_user_on_two_overlapping_devices => "two-devices.toml",
    a_lost_session_end_times_out => "lost-session-end.toml",
    a_session_end_before_its_start_leaves_it_empty => "end-before-start.toml",
    every_event_sent_twice_changes_nothing => "every-event-twice.toml",
    events_out_of_order_give_the_same_figures => "out-of-order.toml",
    a_session_across_midnight_counts_on_both_days => "across-midnight.toml",
    a_three_day_session_with_heartbeats => "three-day-session.toml",
    a_dst_day_in_new_york_is_23_hours => "dst-new-york.toml",
    presence_away_and_active => "presence.toml",
    a_late_event_reopens_a_final_day => "late-event-reopens-final-day.toml",
    two_projects_never_mix => "two-projects.toml",
    one_user_on_two_platforms_counts_once_in_each => "segments-two-platforms.toml",
    a_session_takes_the_country_of_its_earliest_event_with_one => "segments-disagreeing-country.toml",
    the_top_orgs_and_the_watched_ones_are_kept => "segments-top-and-watched-orgs.toml",
}
