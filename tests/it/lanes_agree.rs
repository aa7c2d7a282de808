//! The two engines give the same figures: the March 2020 replay (a month at
//! a small scale: weekdays, weekends, a surge, records) goes through
//! highwater on ClickHouse 18.16 and on the current engine side by side, and
//! every stored figure, every read endpoint and every CLI command (`jobs
//! run`, `metrics daily`, `growth`, `capacity`, `render`, run as the real
//! binary) must answer alike.

use chrono::NaiveDate;
use highwater::simulate::Simulation;
use highwater::store::figures::all_days;
use serde_json::Value;

use crate::lane::{Lane, TestClickHouse};
use crate::simulate::{INGEST_KEY, MARCH_2020, READ_KEY, app_for_on, replay, scenario};
use crate::{TestApp, scratch_dir};

const SCALE: f64 = 0.0001;

/// The whole of March at [`SCALE`] (a 1,250 peak on the 25th), jobs run.
async fn replayed_on(lane: Lane, name: &str) -> (TestApp, TestClickHouse) {
    let clickhouse = TestClickHouse::start_of(lane, &scratch_dir(name)).await;
    let scenario = scenario(MARCH_2020);
    let app = app_for_on(name, &scenario, &clickhouse.url()).await;
    let simulation = Simulation::new(scenario, SCALE, 5).unwrap();
    let days = simulation.days(None, None).unwrap();
    replay(&app, simulation, &days).await;
    (app, clickhouse)
}

/// Every read endpoint's answer for the replay.
async fn answers(app: &TestApp, days: &[NaiveDate]) -> Vec<(String, Value)> {
    let mut paths = vec![
        "/v1/metrics/daily?from=2020-03-01&to=2020-03-31".to_owned(),
        "/v1/records".to_owned(),
        "/v1/growth".to_owned(),
        "/v1/capacity?horizon=14".to_owned(),
    ];
    paths.extend(
        days.iter()
            .map(|d| format!("/v1/metrics/concurrency?day={d}&step=300")),
    );
    let mut out = Vec::new();
    for path in paths {
        let (status, body) = app.read(READ_KEY, &path).await;
        assert_eq!(status, 200, "{path}: {body}");
        out.push((path, body));
    }
    out
}

/// `highwater ARGS --config` a configuration naming `app`'s ClickHouse,
/// database and project; returns stdout, failing on a non-zero exit.
async fn cli(app: &TestApp, url: &str, args: &[&str]) -> String {
    let project = &app.settings.projects[0];
    let dir = scratch_dir(&app.settings.clickhouse.database);
    let config = dir.join("cli.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[clickhouse]\nurl = \"{url}\"\ndatabase = \"{}\"\n\
             [[project]]\nname = \"{}\"\ntime_zone = \"{}\"\nsession_timeout_s = {}\nbackfill = true\n\
             ingest_keys = [\"{INGEST_KEY}\"]\nread_keys = [\"{READ_KEY}\"]\n",
            dir.display(),
            app.settings.clickhouse.database,
            project.name,
            project.time_zone,
            project.session_timeout_s,
        ),
    )
    .unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_highwater"))
        .args(args)
        .arg("--config")
        .arg(&config)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "highwater {args:?}: {stderr}");
    String::from_utf8(output.stdout).unwrap()
}

/// The CLI's answers on `app`'s engine: JSON of `metrics daily`, `growth`
/// and `capacity` after a `jobs run`, and the SVG panels `render` writes.
async fn cli_answers(app: &TestApp, url: &str) -> Vec<(String, String)> {
    let project = app.settings.projects[0].name.clone();
    let range = ["--from", "2020-03-01", "--to", "2020-03-31"];
    let p = ["--project", project.as_str()];
    cli(app, url, &[&["jobs", "run"][..], &p, &range].concat()).await;
    let mut out = Vec::new();
    for command in [
        &[&["metrics", "daily"][..], &p, &range, &["--format", "json"]].concat(),
        &[&["growth"][..], &p, &["--format", "json"]].concat(),
        &[
            &["capacity"][..],
            &p,
            &["--horizon", "14", "--format", "json"],
        ]
        .concat(),
    ] {
        out.push((command.join(" "), cli(app, url, command).await));
    }
    let report = scratch_dir(&app.settings.clickhouse.database).join("report");
    let report_arg = report.to_string_lossy().into_owned();
    let render = [
        &["render"][..],
        &p,
        &[
            "--dashboard",
            "dashboards/overview.toml",
            "--out",
            &report_arg,
        ],
    ]
    .concat();
    cli(app, url, &render).await;
    let mut panels: Vec<_> = std::fs::read_dir(&report)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
        .collect();
    panels.sort();
    assert!(panels.len() >= 4, "render wrote {panels:?}");
    for panel in panels {
        let name = panel.file_name().unwrap().to_string_lossy().into_owned();
        out.push((name, std::fs::read_to_string(&panel).unwrap()));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_18_16_and_the_current_engine_give_the_same_figures() {
    let ((debian, debian_server), (current, current_server)) = tokio::join!(
        replayed_on(Lane::Debian1816, "lanes_agree_18_16"),
        replayed_on(Lane::Current, "lanes_agree_current"),
    );
    let project = &debian.settings.projects[0].name;
    let mut stored = Vec::new();
    for app in [&debian, &current] {
        let mut rows = all_days(&app.db, project).await.unwrap();
        for row in &mut rows {
            row.computed_ms = 0;
        }
        stored.push(rows);
    }
    // March, and the days its sessions spill into.
    assert!(stored[0].len() >= 31, "every day of March has figures");
    assert!(
        stored[0].iter().any(|d| d.peak_users == 1_250),
        "the 25th's peak at this scale"
    );
    assert_eq!(
        stored[0], stored[1],
        "daily_figures differ between the engines"
    );

    let days: Vec<NaiveDate> = (1..=31)
        .map(|d| NaiveDate::from_ymd_opt(2020, 3, d).unwrap())
        .collect();
    let (on_debian, on_current) = (
        answers(&debian, &days).await,
        answers(&current, &days).await,
    );
    for ((path, a), (_, b)) in on_debian.iter().zip(&on_current) {
        assert_eq!(a, b, "{path} differs between the engines");
    }

    let cli_debian = cli_answers(&debian, &debian_server.url()).await;
    let cli_current = cli_answers(&current, &current_server.url()).await;
    assert_eq!(cli_debian.len(), cli_current.len());
    for ((what, a), (_, b)) in cli_debian.iter().zip(&cli_current) {
        assert!(a == b, "`{what}` differs between the engines");
    }
    // The CLI reads the same figures as the API.
    let daily: Value = serde_json::from_str(&cli_debian[0].1).unwrap();
    assert_eq!(
        daily, on_debian[0].1,
        "metrics daily --format json vs GET /v1/metrics/daily"
    );
    debian.stop().await.unwrap();
    current.stop().await.unwrap();
}
