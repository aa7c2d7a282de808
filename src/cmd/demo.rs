//! `highwater demo`: the embedded ClickHouse, the API, the March 2020
//! scenario posted through HTTP, the jobs, and the daily figures with their
//! records — then it keeps serving.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};

use crate::capacity::report::{capacity_report, growth_report};
use crate::cli::DemoArgs;
use crate::clock;
use crate::config::Settings;
use crate::dashboards::{self, spec::Dashboard};
use crate::domain::figures::records;
use crate::jobs::runner::run_range;
use crate::jobs::schedule::Scheduler;
use crate::simulate::Simulation;
use crate::simulate::deliver::{PostTarget, progress_bar, to_server};
use crate::simulate::scenario::Scenario;
use crate::startup::{Server, Storage, shutdown_signal};
use crate::store::figures::{DailyFiguresRow, date_of};

/// The built-in scenario, so the demo runs from anywhere.
const MARCH_2020: &str = include_str!("../../fixtures/scenarios/march-2020.toml");
const DEMO_DATABASE: &str = "highwater_demo";

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let scenario = match &args.scenario {
        Some(path) => Scenario::load(path)?,
        None => Scenario::from_toml(MARCH_2020).context("the built-in scenario")?,
    };
    let ingest_key = format!("hw_ingest_{}", crate::config::keys::new_key());
    let read_key = format!("hw_read_{}", crate::config::keys::new_key());
    let project = scenario.project_settings(&ingest_key, &read_key);
    let mut settings = Settings {
        listen: args.listen,
        data_dir: args.data_dir.clone(),
        projects: vec![project.clone()],
        ..Settings::default()
    };
    settings.clickhouse.database = DEMO_DATABASE.into();
    // The demo runs the jobs itself once the month is in (a scheduler
    // running meanwhile would recompute every day after each batch).
    settings.jobs.enabled = false;
    settings.validate()?;
    let simulation = Arc::new(Simulation::new(scenario, args.scale, args.seed)?);
    let days = simulation.days(None, None)?;
    let started = Instant::now();

    println!(
        "Starting the embedded ClickHouse in {} ...",
        args.data_dir.display()
    );
    let storage = Storage::open(&settings).await?;
    clear_demo_tables(&storage.client).await?;
    let server = Server::bind(
        &settings,
        settings.listen,
        storage.client.clone(),
        clock::system(),
    )
    .await?;
    let base_url = format!("http://{}", server.local_addr());
    let log = server.log_monitor();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async move {
        tokio::select! { _ = stop_rx => {}, _ = shutdown_signal() => {} }
    }));

    let scenario = &simulation.scenario;
    println!(
        "Replaying {:?} ({}) at scale {}: {} .. {}, posted to {base_url}/v1/events",
        scenario.name,
        scenario.description,
        simulation.scale,
        days[0],
        days[days.len() - 1]
    );
    let target = PostTarget {
        url: base_url.clone(),
        ingest_key: ingest_key.clone(),
        connections: 4,
        batch_events: crate::simulate::DEFAULT_BATCH_EVENTS,
    };
    let (summaries, posted) =
        to_server(simulation.clone(), days.clone(), &target, progress_bar()).await?;
    let shipped_after = Instant::now();
    println!(
        "  {} events accepted in {:.1} s ({:.0} events/s, {} retries)",
        posted.events,
        posted.elapsed.as_secs_f64(),
        posted.events as f64 / posted.elapsed.as_secs_f64(),
        posted.retries
    );

    // Acknowledged means in the write-ahead log; the jobs read ClickHouse.
    if !log.wait_drained(Duration::from_secs(600)).await {
        anyhow::bail!("the log did not reach ClickHouse within 10 minutes");
    }
    println!(
        "  all of them in ClickHouse {:.1} s after the first was sent (the write-ahead log shipped them)",
        posted.elapsed.as_secs_f64() + shipped_after.elapsed().as_secs_f64()
    );
    println!("Running the jobs (highwater jobs run) ...");
    let jobs_started = Instant::now();
    let bar = ProgressBar::new(days.len() as u64);
    bar.set_style(ProgressStyle::with_template(
        "  [{bar:31}] {pos}/{len} days {msg}",
    )?);
    let now = || chrono::Utc::now().timestamp_millis();
    let (first, last) = (days[0], days[days.len() - 1]);
    let rows = run_range(&storage.client, &project, first, last, now, |row| {
        bar.set_message(date_of(row.day).to_string());
        bar.inc(1);
    })
    .await?;
    bar.finish_and_clear();
    println!(
        "  {} days in {:.1} s",
        rows.len(),
        jobs_started.elapsed().as_secs_f64()
    );

    print_story(&simulation, &rows);
    print_growth_and_capacity(&storage.client, &project, simulation.scale).await?;
    let overview = Dashboard::built_in("overview").expect("shipped");
    let readable = [project.name.clone()];
    let panels =
        dashboards::load::load(&storage.client, &project, &overview, None, &readable).await?;
    let index = dashboards::report::write(&args.report, &overview.title, &project.name, &panels)?;
    println!(
        "\nCharts (the overview dashboard as PNG and SVG): {}",
        index.display()
    );
    let simulated_peaks: Vec<_> = summaries.iter().map(|s| (s.day, s.peak)).collect();
    check_against_simulation(&rows, &simulated_peaks);
    println!("\nThe demo took {:.0} s.", started.elapsed().as_secs_f64());

    if args.exit {
        let _ = stop_tx.send(());
    } else {
        // From now on, events posted to the demo reach the figures as they
        // would under `serve`: a round of the scheduled jobs every minute.
        let scheduler = Scheduler::new(
            storage.client.clone(),
            Arc::new(vec![project.clone()]),
            clock::system(),
            Duration::from_secs(60),
        )
        .with_log(log);
        tokio::spawn(scheduler.run(std::future::pending()));
        println!(
            "\nhighwater is serving at {base_url} (ClickHouse at {})",
            storage.url
        );
        println!("  project:    {}", project.name);
        println!("  ingest key: {ingest_key}");
        println!("  read key:   {read_key}");
        println!(
            "Dashboards (enter the read key once): {base_url}/dashboards/overview  {base_url}/dashboards/capacity"
        );
        println!(
            "Read the figures:\n  curl -H 'Authorization: Bearer {read_key}' '{base_url}/v1/metrics/daily?from={first}&to={last}'"
        );
        println!("  curl -H 'Authorization: Bearer {read_key}' '{base_url}/v1/records'");
        println!(
            "  curl -H 'Authorization: Bearer {read_key}' '{base_url}/v1/metrics/concurrency?day=2020-03-25&step=600'"
        );
        let story_day = scenario
            .peaks
            .anchors
            .iter()
            .rev()
            .find(|a| a.note.is_some())
            .map_or(last, |a| a.day);
        println!(
            "Post an event (one more user from 15:00 UTC on {story_day}, for T):\n  curl -H 'Authorization: Bearer {ingest_key}' -H 'Content-Type: application/json' \\\n    -d '[{{\"type\":\"session_start\",\"user_id\":\"U-you\",\"session_id\":\"S1\",\"ts\":\"{story_day}T15:00:00Z\"}}]' {base_url}/v1/events"
        );
        println!("Events posted now are in the figures within a minute. Press Ctrl-C to stop.");
    }
    let served = serving.await.context("server task panicked")?;
    storage.close().await;
    served
}

/// The growth and capacity reports of the replay, for a fleet sized for
/// 18M users at scale 1.0 and planned at 80%.
async fn print_growth_and_capacity(
    client: &clickhouse::Client,
    project: &crate::config::ProjectSettings,
    scale: f64,
) -> anyhow::Result<()> {
    let rows = crate::store::figures::all_days(client, &project.name).await?;
    println!();
    if let Some(growth) = growth_report(&project.name, &rows) {
        super::capacity::print_growth_summary(&growth);
    }
    let mut planned = project.clone();
    planned.capacity_users = Some(((18e6 * scale).round() as u64).max(1));
    match capacity_report(&planned, &rows, 28) {
        Ok(report) => super::capacity::print_capacity_summary(&report),
        Err(why) => println!("No capacity report: {why}"),
    }
    Ok(())
}

/// Every demo starts from an empty database.
async fn clear_demo_tables(client: &clickhouse::Client) -> anyhow::Result<()> {
    for table in [
        "events",
        "session_days",
        "daily_figures",
        "concurrency_minutes",
        "daily_active_sets",
    ] {
        client
            .query("TRUNCATE TABLE ?")
            .bind(clickhouse::sql::Identifier(table))
            .execute()
            .await
            .context("could not clear the demo database")?;
    }
    Ok(())
}

/// The daily table, records marked, and the scenario's story days.
fn print_story(simulation: &Simulation, rows: &[DailyFiguresRow]) {
    let record_days: Vec<String> = records(rows).into_iter().map(|r| r.day).collect();
    let scale = simulation.scale;
    println!(
        "\n{:<14} {:>7} {:>7} {:>7} {:>10} {:>13} {:>10} {:>8}  {:<8} as at scale 1.0",
        "day", "DAU", "WAU", "MAU", "peak_users", "at (UTC)", "peak conns", "ACU", "record"
    );
    for row in rows {
        let day = date_of(row.day);
        let at = chrono::DateTime::from_timestamp(row.peak_users_at.into(), 0)
            .map(|t| t.format("%H:%M:%S").to_string())
            .unwrap_or_default();
        let is_record = record_days.contains(&day.to_string());
        let note = story_note(simulation, day)
            .map(|n| format!("  ← {n}"))
            .unwrap_or_default();
        println!(
            "{:<14} {:>7} {:>7} {:>7} {:>10} {:>13} {:>10} {:>8.0}  {:<8} {:>6} {note}",
            day.format("%Y-%m-%d %a"),
            row.dau,
            row.wau,
            row.mau,
            row.peak_users,
            at,
            row.peak_connections,
            row.acu,
            if is_record { "★ record" } else { "" },
            millions(row.peak_users as f64 / scale),
        );
    }
    let story: Vec<(NaiveDate, u32)> = rows
        .iter()
        .filter(|r| story_note(simulation, date_of(r.day)).is_some())
        .map(|r| (date_of(r.day), r.peak_users))
        .collect();
    if let Some((_, first_peak)) = story.first() {
        let base = simulation.scenario.target_peak(story[0].0) / 1e6;
        let ratio: Vec<String> = story
            .iter()
            .map(|(_, p)| format!("{:.2}", base * *p as f64 / *first_peak as f64))
            .collect();
        let marks: Vec<String> = story
            .iter()
            .map(|(day, _)| {
                let record = record_days.contains(&day.to_string());
                format!("{day}{}", if record { " ★" } else { "" })
            })
            .collect();
        println!(
            "\nThe story days {}: peaks in the ratio {}.",
            marks.join(", "),
            ratio.join(" : ")
        );
    }
    println!(
        "★ = all-time record (a final day whose peak_users beats every earlier day). DAU/peak on weekdays: {}.",
        weekday_dau_ratio(rows)
    );
}

fn story_note(simulation: &Simulation, day: NaiveDate) -> Option<&str> {
    let anchors = &simulation.scenario.peaks.anchors;
    anchors
        .iter()
        .find(|a| a.day == day)
        .and_then(|a| a.note.as_deref())
}

fn weekday_dau_ratio(rows: &[DailyFiguresRow]) -> String {
    let ratios: Vec<f64> = rows
        .iter()
        .filter(|r| !crate::simulate::scenario::is_weekend(date_of(r.day)) && r.peak_users > 0)
        .map(|r| r.dau as f64 / r.peak_users as f64)
        .collect();
    if ratios.is_empty() {
        return "n/a".into();
    }
    format!("{:.2}", ratios.iter().sum::<f64>() / ratios.len() as f64)
}

/// The simulator knows the peak its events must give; say if they differ.
fn check_against_simulation(rows: &[DailyFiguresRow], simulated: &[(NaiveDate, u64)]) {
    let differing: Vec<String> = simulated
        .iter()
        .filter_map(|(day, peak)| {
            let row = rows.iter().find(|r| date_of(r.day) == *day)?;
            (row.peak_users as u64 != *peak)
                .then(|| format!("{day}: simulated {peak}, measured {}", row.peak_users))
        })
        .collect();
    if differing.is_empty() {
        println!("Every day's measured peak equals the peak the simulator built into its events.");
    } else {
        println!(
            "Measured peaks that differ from the simulator's (the next day's earliest users \
             overlap this day's peak): {}",
            differing.join("; ")
        );
    }
}

fn millions(users: f64) -> String {
    if users >= 1e6 {
        format!("{:.2}M", users / 1e6)
    } else {
        format!("{:.0}k", users / 1e3)
    }
}
