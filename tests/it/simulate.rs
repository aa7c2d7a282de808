//! The simulator: the March 2020 calibration through the real ingest path
//! and jobs, byte-identical output for a seed, and the game launch's
//! reconnect storm.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use chrono::NaiveDate;
use highwater::config::IngestSettings;
use highwater::simulate::deliver::{PostTarget, to_server};
use highwater::simulate::scenario::Scenario;
use highwater::simulate::{DaySummary, Simulation};
use indicatif::ProgressBar;

use crate::{TestApp, clickhouse_url, scratch_dir, spawn_app_with};

pub const MARCH_2020: &str = "fixtures/scenarios/march-2020.toml";
const GAME_LAUNCH: &str = "fixtures/scenarios/game-launch.toml";
pub const INGEST_KEY: &str = "simulated-ingest-key-0001";
pub const READ_KEY: &str = "simulated-read-key-000001";

pub fn scenario(path: &str) -> Scenario {
    Scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// A server with the scenario's project and the shipped ingest limits; the
/// clock is set after the scenario, so every day can be final.
pub async fn app_for(test: &str, scenario: &Scenario) -> TestApp {
    app_for_on(test, scenario, clickhouse_url()).await
}

/// [`app_for`] on the ClickHouse at `url`.
pub async fn app_for_on(test: &str, scenario: &Scenario, url: &str) -> TestApp {
    let project = scenario.project_settings(INGEST_KEY, READ_KEY);
    let app = spawn_app_with(test, url, |settings| {
        settings.ingest = IngestSettings::default();
        settings.projects = vec![project];
    })
    .await;
    let after = scenario.all_days().last().unwrap().succ_opt().unwrap();
    app.clock
        .set(day_start_ms(after.succ_opt().unwrap().succ_opt().unwrap()));
    app
}

fn day_start_ms(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis()
}

/// Posts the simulation through the app's HTTP API, then runs the jobs.
pub async fn replay(app: &TestApp, simulation: Simulation, days: &[NaiveDate]) -> Vec<DaySummary> {
    let target = PostTarget {
        url: app.base_url.clone(),
        ingest_key: INGEST_KEY.into(),
        connections: 4,
        batch_events: 5_000,
        max_events_per_s: None,
    };
    let project = simulation.scenario.project.name.clone();
    let (summaries, posted) = to_server(
        Arc::new(simulation),
        days.to_vec(),
        &target,
        ProgressBar::hidden(),
    )
    .await
    .unwrap();
    let events: u64 = summaries.iter().map(|s| s.events).sum();
    assert_eq!(posted.events, events);
    // Every event is stored; more rows only where an insert that got no
    // answer in time was sent again (and the server kept both).
    let stored = app.stored_count().await;
    let resent = app
        .log
        .status(highwater::clock::Clock::now_ms(&*app.clock))
        .resent_rows;
    assert!(
        (events..=events + resent).contains(&stored),
        "{stored} rows for {events} events, {resent} sent again"
    );
    let (from, to) = (days[0].to_string(), days[days.len() - 1].to_string());
    app.run_jobs(&project, &from, &to).await;
    summaries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn march_2020_at_scale_0_001_peaks_and_records_as_announced() {
    let scenario = scenario(MARCH_2020);
    let app = app_for("march_2020", &scenario).await;
    let simulation = Simulation::new(scenario, 0.001, 1).unwrap();
    let days = simulation.days(None, None).unwrap();
    assert_eq!(days.len(), 31);
    let summaries = replay(&app, simulation, &days).await;

    let (status, daily) = app
        .read(READ_KEY, "/v1/metrics/daily?from=2020-03-01&to=2020-03-31")
        .await;
    assert_eq!(status, 200, "{daily}");
    let peak_of = |day: &str| {
        daily["days"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["day"] == day)
            .unwrap_or_else(|| panic!("no figures for {day}"))["peak_users"]
            .as_f64()
            .unwrap()
    };
    // Slack's announced figures, times 0.001.
    for (day, announced) in [
        ("2020-03-10", 10_000.0),
        ("2020-03-16", 10_500.0),
        ("2020-03-25", 12_500.0),
    ] {
        let measured = peak_of(day);
        assert!(
            (measured / announced - 1.0).abs() <= 0.02,
            "{day}: peak_users {measured}, announced {announced} (±2%)"
        );
    }
    // On working days the events hold exactly the peak the simulator built
    // into them (a quiet Sunday's peak can come from Monday morning in Asia).
    let working_days = summaries
        .iter()
        .filter(|s| !highwater::domain::calendar::is_weekend(s.day));
    for summary in working_days {
        assert_eq!(
            peak_of(&summary.day.to_string()),
            summary.peak as f64,
            "{}",
            summary.day
        );
    }

    let (status, records) = app.read(READ_KEY, "/v1/records").await;
    assert_eq!(status, 200, "{records}");
    let record_days: Vec<&str> = records["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["day"].as_str().unwrap())
        .collect();
    for day in ["2020-03-10", "2020-03-16", "2020-03-25"] {
        assert!(record_days.contains(&day), "{day} not in {record_days:?}");
    }
    // The plateau after the 10th (people still in offices) sets no record.
    for day in ["2020-03-11", "2020-03-12", "2020-03-13"] {
        assert!(!record_days.contains(&day), "{day} in {record_days:?}");
    }
    surge_growth_and_capacity(&app).await;
}

/// The growth and capacity reports on the replayed surge. The peaks are
/// the calibrated targets, so the rates can be worked out by hand from the
/// scenario: 03-31 (anchor 12,800) against Tue 03-24 (12,278) and Tue 03-03
/// (9,536).
async fn surge_growth_and_capacity(app: &TestApp) {
    let (status, growth) = app.read(READ_KEY, "/v1/growth").await;
    assert_eq!(status, 200, "{growth}");
    assert_eq!(growth["day"], "2020-03-31");
    let wow = growth["week_over_week"]["peak_users"].as_f64().unwrap();
    let mom = growth["month_over_month"]["peak_users"].as_f64().unwrap();
    assert!((wow - (12_800.0 / 12_278.0 - 1.0)).abs() < 1e-9, "{wow}");
    assert!((mom - (12_800.0 / 9_536.0 - 1.0)).abs() < 1e-9, "{mom}");
    assert!(growth["days_to_double"].as_f64().unwrap() > 0.0);
    let gaps: Vec<Option<i64>> = growth["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["days_since_previous"].as_i64())
        .collect();
    assert_eq!(gaps[0], None);

    // Without a configured capacity: the forecast and its backtest only.
    let (status, capacity) = app.read(READ_KEY, "/v1/capacity?horizon=42").await;
    assert_eq!(status, 200, "{capacity}");
    assert_eq!(capacity["forecast"].as_array().unwrap().len(), 42);
    assert!(capacity["headroom"].is_null());
    assert!(capacity["holt_winters_mape"].as_f64().unwrap() > 0.0);
    assert_eq!(app.read(READ_KEY, "/v1/capacity?horizon=0").await.0, 400);

    // A fleet for 18,000 users planned at 80%: the surge's forecast crosses.
    let mut project = app.settings.project("chat").unwrap().clone();
    project.capacity_users = Some(18_000);
    let rows = highwater::store::figures::all_days(&app.db, "chat")
        .await
        .unwrap();
    let report =
        highwater::capacity::report::capacity_report(&project, &rows, 92.try_into().unwrap())
            .unwrap();
    let headroom = report.headroom.unwrap();
    assert_eq!(headroom.usable, 14_400.0);
    assert_eq!(headroom.recent_peak, 12_800.0);
    let crossing = headroom
        .upper_crosses_on
        .expect("the surge reaches capacity");
    assert!(crossing > report.as_of, "{crossing}");
    // +25% in 15 days from 12,800 reaches 14,400 on day ⌈15·ln(1.125)/ln(1.25)⌉ = 8.
    assert_eq!(
        headroom.surges[0].crosses_on,
        Some(report.as_of + chrono::Duration::days(8))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_game_launch_outage_storms_connections_but_not_users() {
    let scenario = scenario(GAME_LAUNCH);
    let outage = scenario.outages[0].at;
    let day = outage.date_naive();
    let app = app_for("game_launch", &scenario).await;
    let simulation = Simulation::new(scenario, 0.005, 7).unwrap();
    let days = simulation.days(day.pred_opt(), Some(day)).unwrap();
    let summaries = replay(&app, simulation, &days).await;

    let path = format!("/v1/metrics/concurrency?day={day}&step=60");
    let (status, series) = app.read(READ_KEY, &path).await;
    assert_eq!(status, 200, "{series}");
    let minute = |at: chrono::DateTime<chrono::Utc>| {
        let at = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        series["series"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["at"] == at.as_str())
            .unwrap_or_else(|| panic!("no minute {at} in the series"))
            .clone()
    };
    let before = minute(outage - chrono::Duration::minutes(2));
    // Reconnected clients open new sessions while the dropped ones still
    // count until their last heartbeat + T: connections pile up, users not.
    let storm = minute(outage + chrono::Duration::minutes(4));
    let (users_before, users_storm) = (
        before["users"].as_f64().unwrap(),
        storm["users"].as_f64().unwrap(),
    );
    let conns_before = before["connections"].as_f64().unwrap();
    let conns_storm = storm["connections"].as_f64().unwrap();
    assert!(
        conns_storm > conns_before * 1.3,
        "connections {conns_before} → {conns_storm}"
    );
    assert!(
        (users_storm / users_before - 1.0).abs() < 0.1,
        "users {users_before} → {users_storm}"
    );
    let (status, daily) = app
        .read(READ_KEY, &format!("/v1/metrics/daily?from={day}&to={day}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        daily["days"][0]["peak_users"].as_u64().unwrap(),
        summaries.last().unwrap().peak
    );
}

/// Runs `highwater simulate` and returns the file it wrote.
fn simulate_to_file(seed: &str, name: &str) -> Vec<u8> {
    let out = scratch_dir("simulate").join(name);
    let status = Command::new(env!("CARGO_BIN_EXE_highwater"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["simulate", "--scenario", MARCH_2020, "--scale", "0.0005"])
        .args(["--from", "2020-03-24", "--to", "2020-03-25", "--seed", seed])
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read(&out).unwrap()
}

#[test]
fn the_same_seed_writes_byte_identical_files() {
    let first = simulate_to_file("42", "first.ndjson");
    let again = simulate_to_file("42", "again.ndjson");
    let other = simulate_to_file("43", "other.ndjson");
    assert!(first.len() > 100_000, "{} bytes", first.len());
    assert!(first == again, "same seed, different bytes");
    assert!(first != other, "another seed, same bytes");
    // Compressed output holds the same lines.
    let gz = simulate_to_file("42", "first.ndjson.gz");
    let mut unpacked = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut unpacked).unwrap();
    assert!(unpacked == first);
}

#[test]
fn bad_simulate_arguments_get_precise_errors_and_write_nothing() {
    let out = scratch_dir("simulate-bad").join("never.ndjson");
    let out = out.to_str().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (
            &["--scale", "0", "--out", out],
            "--scale must be in (0, 10]",
        ),
        (
            &["--scale", "0.001", "--from", "2019-01-01", "--out", out],
            "within the scenario's 2020-03-01 .. 2020-03-31",
        ),
        (
            &[
                "--scale",
                "0.001",
                "--out",
                out,
                "--post",
                "http://127.0.0.1:9",
            ],
            "cannot be used with",
        ),
        (
            &["--scale", "0.001", "--post", "http://127.0.0.1:9"],
            "--key",
        ),
        (
            &["--scale", "0.001", "--post", "127.0.0.1:9", "--key", "k"],
            "is not a URL",
        ),
    ];
    for (args, expected) in cases {
        let output = Command::new(env!("CARGO_BIN_EXE_highwater"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["simulate", "--scenario", MARCH_2020])
            .args(args)
            .env_remove("HIGHWATER_INGEST_KEY")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    assert!(!Path::new(out).exists());
    let missing = Command::new(env!("CARGO_BIN_EXE_highwater"))
        .args([
            "simulate",
            "--scenario",
            "no/such.toml",
            "--scale",
            "1",
            "--out",
            out,
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read scenario no/such.toml"));
}
