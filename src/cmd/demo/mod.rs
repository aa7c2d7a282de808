//! `highwater demo`: the embedded ClickHouse, the API, the March 2020
//! scenario posted through HTTP, the jobs, and the daily figures with their
//! records — then it keeps serving. `run` reads as the steps it takes; the
//! printing of the story lives in `story`, the way back to the demo's data
//! in `afterwards`.

mod afterwards;
mod story;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::DemoArgs;
use crate::clock::{self, Clock};
use crate::config::{ProjectSettings, Settings};
use crate::dashboards::{self, spec::Dashboard};
use crate::domain::calendar::{date_of, utc_date};
use crate::jobs::runner::run_range;
use crate::jobs::slicing::Slicing;
use crate::live::stored_figures::StoredFigures;
use crate::simulate::deliver::{PostTarget, progress_bar, to_server};
use crate::simulate::scenario::Scenario;
use crate::simulate::{DaySummary, Simulation};
use crate::startup::{Server, Storage, shutdown_signal};
use crate::store::figures::DailyFiguresRow;
use crate::wal::WalMonitor;

/// The built-in scenario, so the demo runs from anywhere.
const MARCH_2020: &str = include_str!("../../../fixtures/scenarios/march-2020.toml");
/// The demo's own database, so it never mixes with a `serve` on the same
/// data directory.
const DEMO_DATABASE: &str = "highwater_demo";
/// How often the demo's scheduled jobs run once it serves.
const JOBS_INTERVAL_S: u64 = 60;

/// What the demo is made of: its settings, keys and simulation.
struct Demo {
    settings: Settings,
    project: ProjectSettings,
    ingest_key: String,
    read_key: String,
    simulation: Arc<Simulation>,
    clock: Arc<dyn Clock>,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    // Caught from here on: Ctrl-C while ClickHouse starts stops the demo
    // as soon as it serves, with ClickHouse stopped too.
    let signalled = shutdown_signal();
    let demo = Demo::prepare(&args)?;
    let layout = match (args.shards, args.replicas) {
        (1, 1) => String::new(),
        (shards, 1) => format!(" ({shards} shards)"),
        (shards, replicas) => {
            format!(" ({shards} shards of {replicas} replicas, with ZooKeeper)")
        }
    };
    println!(
        "Starting the embedded ClickHouse{layout} in {} ...",
        args.data_dir.display()
    );
    let storage = Storage::open(&demo.settings).await?;
    clear_demo_tables(&storage, DEMO_DATABASE).await?;
    let mut server = Server::bind(
        &demo.settings,
        demo.settings.listen,
        storage.client.clone(),
        demo.clock.clone(),
    )
    .await?
    .with_shards(storage.servers.clone());
    // The demo computes the month itself; scheduled rounds start after it.
    let start_jobs = server.hold_jobs();
    let base_url = format!("http://{}", server.local_addr());
    let log = server.log_monitor();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut serving = tokio::spawn(server.run(async move {
        tokio::select! { _ = stopped => {}, () = signalled => {} }
    }));

    // Ctrl-C (or SIGTERM) stops the server; the story stops with it rather
    // than retrying its posts against a closed port.
    tokio::select! {
        told = demo.tell(&storage.client, &base_url, &log, &args.report) => told?,
        served = &mut serving => {
            storage.close().await;
            served.context("server task panicked")??;
            anyhow::bail!("interrupted before the demo was done (run it again to start over)");
        }
    }
    println!("\nThe demo took {:.0} s.", started.elapsed().as_secs_f64());

    let config = afterwards::write_config(&demo.settings)?;
    if args.exit {
        let _ = stop.send(());
        afterwards::print_how_to_come_back(&demo, &config);
    } else {
        let _ = start_jobs.send(());
        afterwards::print_how_to_use(&demo, &base_url, &storage.url, &config);
    }
    let served = serving.await.context("server task panicked")?;
    storage.close().await;
    served
}

impl Demo {
    fn prepare(args: &DemoArgs) -> anyhow::Result<Self> {
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
        settings.clickhouse.embedded_shards = args.shards;
        settings.clickhouse.embedded_replicas = args.replicas;
        settings.jobs.interval_s = JOBS_INTERVAL_S;
        settings.validate()?;
        Ok(Self {
            settings,
            project,
            ingest_key,
            read_key,
            simulation: Arc::new(Simulation::new(scenario, args.scale, args.seed)?),
            clock: clock::system(),
        })
    }

    /// The story: the month posted and shipped, the jobs, the figures with
    /// their records, the charts, and the check against the simulation.
    async fn tell(
        &self,
        client: &clickhouse::Client,
        base_url: &str,
        log: &WalMonitor,
        report: &std::path::Path,
    ) -> anyhow::Result<()> {
        let summaries = self.replay(base_url, log).await?;
        let rows = self.compute(client).await?;
        story::print_daily_table(&self.simulation, &rows);
        story::print_growth_and_capacity(client, &self.project, self.simulation.scale).await?;
        story::print_segments_of_record_day(client, &self.simulation, &self.project, &rows).await?;
        self.render_dashboards(client, report).await?;
        story::check_against_simulation(&rows, &summaries);
        Ok(())
    }

    /// Posts the scenario through `POST /v1/events` and waits until the
    /// log has shipped every event into ClickHouse.
    async fn replay(&self, base_url: &str, log: &WalMonitor) -> anyhow::Result<Vec<DaySummary>> {
        let days = self.simulation.days(None, None)?;
        let scenario = &self.simulation.scenario;
        println!(
            "Replaying {:?} ({}) at scale {}: {} .. {}, posted to {base_url}/v1/events",
            scenario.name,
            scenario.description,
            self.simulation.scale,
            days[0],
            days[days.len() - 1]
        );
        let target = PostTarget {
            url: base_url.to_owned(),
            ingest_key: self.ingest_key.clone(),
            connections: 4,
            batch_events: crate::simulate::DEFAULT_BATCH_EVENTS,
            max_events_per_s: None,
        };
        let (summaries, posted) =
            to_server(self.simulation.clone(), days, &target, progress_bar()).await?;
        let acknowledged_at = Instant::now();
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
            posted.elapsed.as_secs_f64() + acknowledged_at.elapsed().as_secs_f64()
        );
        Ok(summaries)
    }

    /// `highwater jobs run` over the scenario's days, with a progress bar.
    async fn compute(&self, client: &clickhouse::Client) -> anyhow::Result<Vec<DailyFiguresRow>> {
        println!("Running the jobs (highwater jobs run) ...");
        let started = Instant::now();
        let days = self.simulation.days(None, None)?;
        let bar = ProgressBar::new(days.len() as u64);
        bar.set_style(ProgressStyle::with_template(
            "  [{bar:31}] {pos}/{len} days {msg}",
        )?);
        let now = || self.clock.now_ms();
        let (first, last) = (days[0], days[days.len() - 1]);
        let slicing = Slicing::from(&self.settings.jobs);
        let rows = run_range(client, &self.project, slicing, first, last, now, |row| {
            bar.set_message(date_of(row.day).to_string());
            bar.inc(1);
        })
        .await?;
        bar.finish_and_clear();
        println!(
            "  {} days in {:.1} s",
            rows.len(),
            started.elapsed().as_secs_f64()
        );
        Ok(rows)
    }

    /// The overview dashboard as files (PNG, SVG, index.html) in `dir`, and
    /// the segments dashboard in `dir/segments`.
    async fn render_dashboards(
        &self,
        client: &clickhouse::Client,
        dir: &std::path::Path,
    ) -> anyhow::Result<()> {
        let readable = [self.project.name.clone()];
        let today = utc_date(self.clock.now_ms() / 1000);
        for (name, dir) in [
            ("overview", dir.to_owned()),
            ("segments", dir.join("segments")),
        ] {
            let dashboard = Dashboard::built_in(name).expect("shipped");
            let source = StoredFigures::of_store(client.clone());
            let panels =
                dashboards::load::load(&source, &self.project, &dashboard, None, &readable, today)
                    .await?;
            let index =
                dashboards::report::write(&dir, &dashboard.title, &self.project.name, &panels)?;
            println!(
                "\nCharts (the {name} dashboard as PNG and SVG): {}",
                index.display()
            );
        }
        Ok(())
    }
}

/// Every demo starts from an empty database: every table that holds data,
/// on every server (a cluster's shards each hold their own part).
async fn clear_demo_tables(storage: &Storage, database: &str) -> anyhow::Result<()> {
    for url in &storage.urls {
        let client = clickhouse::Client::default()
            .with_url(url)
            .with_validation(false)
            .with_database(database);
        let tables: Vec<String> = client
            .query(
                "SELECT name FROM system.tables
                 WHERE database = currentDatabase() AND engine LIKE '%MergeTree'
                   AND name != 'highwater_migrations' AND name NOT LIKE 'highwater_probe%'",
            )
            .fetch_all()
            .await?;
        for table in tables {
            client
                .query("TRUNCATE TABLE ?")
                .bind(clickhouse::sql::Identifier(&table))
                .execute()
                .await
                .context("could not clear the demo database")?;
        }
    }
    Ok(())
}
