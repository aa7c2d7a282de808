//! `highwater demo`: the embedded ClickHouse, the API, a sample of events
//! posted through HTTP, and what ClickHouse stored.

use anyhow::{Context, ensure};
use clickhouse::Row;
use serde::Deserialize;

use crate::cli::DemoArgs;
use crate::clock;
use crate::config::{ProjectSettings, Settings};
use crate::domain::event::EventType;
use crate::domain::figures::{DailyResponse, DayMetrics};
use crate::jobs::runner::run_range;
use crate::startup::{Server, Storage, shutdown_signal};

const DEMO_EVENTS: &str = include_str!("../../fixtures/demo/events.ndjson");
const DEMO_PROJECT: &str = "demo";
const DEMO_DATABASE: &str = "highwater_demo";

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let ingest_key = format!("hw_ingest_{}", random_token());
    let read_key = format!("hw_read_{}", random_token());
    let mut project = ProjectSettings::new(DEMO_PROJECT, &ingest_key, &read_key);
    // The sample is from March 2020: accept history.
    project.backfill = true;
    let mut settings = Settings {
        listen: args.listen,
        data_dir: args.data_dir.clone(),
        projects: vec![project],
        ..Settings::default()
    };
    settings.clickhouse.database = DEMO_DATABASE.into();
    settings.validate()?;

    println!(
        "Starting the embedded ClickHouse in {} ...",
        args.data_dir.display()
    );
    let storage = Storage::open(&settings).await?;
    // Every demo starts from an empty database.
    for table in [
        "events",
        "session_days",
        "daily_figures",
        "concurrency_minutes",
        "daily_active_sets",
    ] {
        storage
            .client
            .query("TRUNCATE TABLE ?")
            .bind(clickhouse::sql::Identifier(table))
            .execute()
            .await
            .context("could not clear the demo database")?;
    }
    let server = Server::bind(
        &settings,
        settings.listen,
        storage.client.clone(),
        clock::system(),
    )
    .await?;
    let base_url = format!("http://{}", server.local_addr());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async move {
        tokio::select! { _ = stop_rx => {}, _ = shutdown_signal() => {} }
    }));

    let accepted = post_sample(&base_url, &ingest_key).await?;
    println!("POST {base_url}/v1/events: {accepted} events accepted");
    print_stored(&storage.client).await?;
    print_figures(&storage.client, &settings.projects[0]).await?;

    if args.exit {
        let _ = stop_tx.send(());
    } else {
        println!(
            "\nhighwater is serving at {base_url} (ClickHouse at {})",
            storage.url
        );
        println!("  project:    {DEMO_PROJECT}");
        println!("  ingest key: {ingest_key}");
        println!("  read key:   {read_key}");
        println!(
            "Read the figures:\n  curl -H 'Authorization: Bearer {read_key}' '{base_url}/v1/metrics/daily?from=2020-03-25&to=2020-03-25'"
        );
        println!(
            "Try:\n  curl -H 'Authorization: Bearer {ingest_key}' -H 'Content-Type: application/json' \\"
        );
        println!(
            "    -d '[{{\"type\":\"session_start\",\"user_id\":\"U1\",\"session_id\":\"S1\",\"ts\":\"2020-03-25T09:00:00Z\"}}]' {base_url}/v1/events"
        );
        println!("Press Ctrl-C to stop.");
    }
    let served = serving.await.context("server task panicked")?;
    storage.close().await;
    served
}

async fn post_sample(base_url: &str, ingest_key: &str) -> anyhow::Result<usize> {
    let response = reqwest::Client::new()
        .post(format!("{base_url}/v1/events"))
        .bearer_auth(ingest_key)
        .header("content-type", "application/x-ndjson")
        .body(DEMO_EVENTS)
        .send()
        .await
        .context("could not reach the demo server")?;
    let status = response.status();
    let body: serde_json::Value = response.json().await?;
    ensure!(status.is_success(), "ingest answered {status}: {body}");
    Ok(body["accepted"].as_u64().unwrap_or(0) as usize)
}

#[derive(Debug, Row, Deserialize)]
struct TypeSummaryRow {
    kind: EventType,
    events: u64,
    users: u64,
    sessions: u64,
    first_ms: i64,
    last_ms: i64,
}

async fn print_stored(client: &clickhouse::Client) -> anyhow::Result<()> {
    let rows: Vec<TypeSummaryRow> = client
        .query(
            "SELECT `type` AS kind, count() AS events, uniqExact(user_id) AS users,
                    uniqExact(session_id) AS sessions, min(ts_ms) AS first_ms, max(ts_ms) AS last_ms
             FROM events WHERE project = ? GROUP BY kind ORDER BY kind",
        )
        .bind(DEMO_PROJECT)
        .fetch_all()
        .await?;
    println!("\nStored in ClickHouse (table events, project {DEMO_PROJECT}):");
    println!(
        "{:<14} {:>7} {:>6} {:>9}  {:<20}  {:<20}",
        "type", "events", "users", "sessions", "first ts (UTC)", "last ts (UTC)"
    );
    for row in rows {
        println!(
            "{:<14} {:>7} {:>6} {:>9}  {:<20}  {:<20}",
            row.kind.as_str(),
            row.events,
            row.users,
            row.sessions,
            format_ms(row.first_ms),
            format_ms(row.last_ms)
        );
    }
    Ok(())
}

fn format_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

fn random_token() -> String {
    use rand::RngExt;
    use rand::distr::Alphanumeric;
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}

/// Runs the jobs for the sample's day and prints its figures.
async fn print_figures(
    client: &clickhouse::Client,
    project: &ProjectSettings,
) -> anyhow::Result<()> {
    let day: chrono::NaiveDate = "2020-03-25".parse().expect("valid date");
    let now = || chrono::Utc::now().timestamp_millis();
    let rows = run_range(client, project, day, day, now, |_| {}).await?;
    println!("\nFigures of {day} (highwater jobs run; GET /v1/metrics/daily returns the same):");
    super::metrics_daily::print_table(&DailyResponse {
        project: project.name.clone(),
        days: rows.iter().map(DayMetrics::from).collect(),
    });
    Ok(())
}
