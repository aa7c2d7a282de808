//! `highwater bench fullscale`: one scenario day at full scale, end to end
//! as a user would run it — `highwater serve` as its own process on the
//! embedded ClickHouse, the simulator posting to it over HTTP, then
//! `highwater jobs run` as its own process. Prints time and rate per stage,
//! the events stored, ClickHouse's disk use and the day's `peak_users`.
//!
//! Unless `--no-live`, the server runs its scheduled jobs meanwhile (live
//! rounds every 10 s) on a clock replaying the day's afternoon, and the
//! bench samples `GET /v1/online`'s latency and the staleness of today's
//! figures while the day is ingested and for a while after.
//!
//! `--shards` and `--replicas` make the embedded ClickHouse a cluster
//! (replicated with Debian's ZooKeeper); every server's peak RSS is printed.

use std::sync::Arc;

use anyhow::{Context, ensure};

use crate::bench::clickhouse_work;
use crate::bench::cpu_breakdown::{CpuAt, clickhouse_cpu, print_cpu};
use crate::bench::fresh_database_on;
use crate::bench::live_sampler::{self, Target};
use crate::bench::process::{cpu_seconds, measure, own_cpu_seconds, peak_rss_bytes};
use crate::bench::server_process::{free_addr, spawn_server_from, stop_server, wait_shipped};
use crate::cli::BenchFullscaleArgs;
use crate::simulate::Simulation;
use crate::simulate::deliver::{PostTarget, progress_bar, to_server};
use crate::simulate::scenario::Scenario;
use crate::store::figures;
use crate::store::local_cluster::{self, Layout};
use crate::store::local_server::{EMBEDDED_CLUSTER, LocalClickHouse, ServerBinary};
use crate::store::local_zookeeper::LocalZooKeeper;

const DATABASE: &str = "bench_fullscale";
const INGEST_KEY: &str = "fullscale-ingest-key-0000";
const READ_KEY: &str = "fullscale-read-key-000000";
/// How long `GET /v1/online` is sampled once everything is stored.
const AFTER_INGEST: std::time::Duration = std::time::Duration::from_secs(90);

pub async fn run(args: BenchFullscaleArgs) -> anyhow::Result<()> {
    // Resolved now: a rebuild during the run replaces the file, and the
    // path of the running one then reads "… (deleted)".
    let exe = std::env::current_exe()?;
    let scenario = Scenario::load(&args.scenario)?;
    let project = scenario.project_settings(INGEST_KEY, READ_KEY);
    let simulation = Arc::new(Simulation::new(scenario, args.scale, args.seed)?);
    let days = simulation.days(Some(args.day), Some(args.day))?;
    let _ = std::fs::remove_dir_all(&args.data_dir);
    std::fs::create_dir_all(&args.data_dir)?;
    let layout = Layout {
        shards: args.shards,
        replicas: usize::from(args.replicas),
    };
    eprintln!(
        "starting {} ClickHouse server(s) ({} shard(s) of {} replica(s)) in {} ...",
        layout.servers(),
        layout.shards,
        layout.replicas,
        args.data_dir.display()
    );
    let zookeeper = match layout.replicas {
        1 => None,
        _ => Some(LocalZooKeeper::start(&args.data_dir.join("zookeeper")).await?),
    };
    let servers = local_cluster::start_accounted(
        &ServerBinary::find()?,
        &args.data_dir,
        layout,
        zookeeper.as_ref().map(LocalZooKeeper::port),
    )
    .await?;
    let urls: Vec<String> = servers.iter().map(LocalClickHouse::url).collect();
    let db = fresh_database_on(&urls, layout.replicas, DATABASE).await?;

    let listen = free_addr()?;
    let metrics_listen = free_addr()?;
    let config_path = args.data_dir.join("fullscale.toml");
    let wal_dir = args.data_dir.join("wal");
    let live = (!args.no_live).then_some(metrics_listen.as_str());
    std::fs::write(
        &config_path,
        server_config(
            &listen,
            &urls,
            layout,
            &wal_dir,
            &project,
            &args.slicing,
            live,
        ),
    )?;
    let clock_start = args.clock_start.unwrap_or_else(|| {
        args.day
            .and_hms_opt(15, 30, 0)
            .expect("a valid time")
            .and_utc()
    });
    let extra = ["--clock-start".to_owned(), clock_start.to_rfc3339()];
    let mut server = spawn_server_from(
        &exe,
        &config_path,
        &listen,
        if args.no_live { &[] } else { &extra },
    )
    .await?;
    let (ingesting, ingesting_rx) = tokio::sync::watch::channel(true);
    let (stop_sampling, stop_rx) = tokio::sync::watch::channel(false);
    let sampler = live.map(|metrics| {
        let target = Target {
            api: format!("http://{listen}"),
            metrics: format!("http://{metrics}"),
            read_key: READ_KEY.into(),
            project: project.name.clone(),
        };
        tokio::spawn(live_sampler::sample(target, ingesting_rx, stop_rx))
    });
    eprintln!(
        "simulating {} of {:?} at scale {} and posting to http://{listen} ...",
        args.day, simulation.scenario.name, args.scale
    );
    let target = PostTarget {
        url: format!("http://{listen}"),
        ingest_key: INGEST_KEY.into(),
        connections: args.connections,
        batch_events: crate::simulate::DEFAULT_BATCH_EVENTS,
        max_events_per_s: args.rate,
    };
    let (summaries, mut posted) =
        to_server(simulation.clone(), days, &target, progress_bar()).await?;
    // Acknowledged = in the log; the stage ends once all of it is stored.
    let posting_started = std::time::Instant::now() - posted.elapsed;
    wait_shipped(&listen, std::time::Duration::from_secs(3600)).await?;
    posted.elapsed = posting_started.elapsed();
    // Once all is in: a while longer at (about) the record's users online.
    let _ = ingesting.send(false);
    let samples = match sampler {
        Some(sampler) => {
            tokio::time::sleep(AFTER_INGEST).await;
            let _ = stop_sampling.send(true);
            sampler.await?
        }
        None => Vec::new(),
    };
    let server_rss = server.id().and_then(peak_rss_bytes).unwrap_or(0);
    // Where the CPU went while the day was ingested (issue #22's breakdown).
    let ingest_end = chrono::Utc::now().timestamp();
    let ingest_cpu = CpuAt {
        client: own_cpu_seconds(),
        serve: server.id().and_then(cpu_seconds).unwrap_or(0.0),
        clickhouse: clickhouse_cpu(&servers),
    };
    stop_server(&mut server).await;
    let summary = &summaries[0];
    // At least once: an insert ClickHouse failed after committing part of
    // it (say, on a full disk) is sent again, so extra copies are possible;
    // missing rows are not.
    let stored: u64 = db.query("SELECT count() FROM events").fetch_one().await?;
    ensure!(
        stored >= posted.events,
        "ClickHouse holds {stored} events, but {} were acknowledged",
        posted.events
    );

    eprintln!("running highwater jobs run for {} ...", args.day);
    let mut jobs = std::process::Command::new(&exe);
    jobs.args(["jobs", "run", "--project", &project.name])
        .arg("--config")
        .arg(&config_path)
        .args([
            "--from",
            &args.day.to_string(),
            "--to",
            &args.day.to_string(),
        ])
        .stdout(std::process::Stdio::null());
    let jobs_run = tokio::task::spawn_blocking(move || measure(jobs)).await??;
    let day_figures = figures::daily(&db, &project.name, args.day, args.day)
        .await?
        .into_iter()
        .next()
        .context("the jobs stored no figures for the day")?;
    // What "live" means for this day: its busiest minute at real time.
    let busiest_minute: u64 = db
        .query(
            "SELECT max(c) FROM (SELECT count() AS c FROM events WHERE project = ?
                                 GROUP BY intDiv(ts_ms, 60000))",
        )
        .bind(&project.name)
        .fetch_one()
        .await?;
    // Every replica's parts: the copies replication keeps.
    let mut disk_bytes = 0u64;
    for url in &urls {
        let shard = clickhouse::Client::default()
            .with_url(url)
            .with_validation(false);
        let bytes: u64 = shard
            .query("SELECT toUInt64(sum(bytes)) FROM system.parts WHERE database = ? AND active")
            .bind(DATABASE)
            .fetch_one()
            .await?;
        disk_bytes += bytes;
    }
    let clickhouse_after_jobs = clickhouse_cpu(&servers);
    let accounting = clickhouse_work::read_servers(&urls, layout, DATABASE, ingest_end).await;
    let clickhouse_rss: Vec<u64> = servers
        .iter()
        .map(|s| s.pid().and_then(peak_rss_bytes).unwrap_or(0))
        .collect();
    for server in servers {
        server.stop().await;
    }
    drop(zookeeper);

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let total = posted.elapsed + jobs_run.elapsed;
    println!(
        "\nhighwater bench fullscale: {} {} at scale {} (seed {}), {cores} cores, {} connections",
        simulation.scenario.name, args.day, args.scale, args.seed, args.connections
    );
    println!("{:<34} {:>10} {:>14}", "stage", "seconds", "events/s");
    let rate = |seconds: f64| posted.events as f64 / seconds;
    let generating = posted.generating.as_secs_f64();
    let posting = posted.elapsed.as_secs_f64();
    let jobs_s = jobs_run.elapsed.as_secs_f64();
    println!(
        "{:<34} {generating:>10.1} {:>14.0}",
        "simulate (generator busy)",
        rate(generating)
    );
    println!(
        "{:<34} {posting:>10.1} {:>14.0}",
        "simulate + POST + ship (wall)",
        rate(posting)
    );
    println!(
        "{:<34} {jobs_s:>10.1} {:>14.0}",
        "jobs run (own process)",
        rate(jobs_s)
    );
    println!("{:<34} {:>10.1} {:>14}", "total", total.as_secs_f64(), "");
    println!(
        "events: {} ({:.1} GB of NDJSON, {} retries); users active: {}",
        posted.events,
        posted.bytes as f64 / 1e9,
        posted.retries,
        summary.active_users
    );
    let real_time = busiest_minute as f64 / 60.0;
    println!(
        "posted at {:.0} events/s ({}) = {:.1}x the day's busiest minute at real time ({real_time:.0} events/s)",
        rate(posting),
        args.rate
            .map_or_else(|| "uncapped".to_owned(), |cap| format!("--rate {cap:.0}")),
        rate(posting) / real_time.max(1.0),
    );
    println!(
        "stored rows: {stored} ({} copies re-sent after failed inserts)",
        stored - posted.events
    );
    println!(
        "ClickHouse disk (database {DATABASE}): {:.2} GB ({:.1} bytes/event)",
        disk_bytes as f64 / 1e9,
        disk_bytes as f64 / posted.events.max(1) as f64
    );
    println!(
        "peak_users {}: {} (target {}, {:+.2}%), at {}; DAU {}; peak connections {}",
        args.day,
        day_figures.peak_users,
        summary.target,
        (day_figures.peak_users as f64 / summary.target as f64 - 1.0) * 100.0,
        crate::figures::daily::rfc3339(day_figures.peak_users_at.into()),
        day_figures.dau,
        day_figures.peak_connections
    );
    println!(
        "peak RSS: highwater serve {:.0} MB, jobs run {:.0} MB; ClickHouse {}",
        server_rss as f64 / 1e6,
        jobs_run.peak_rss_bytes as f64 / 1e6,
        clickhouse_rss
            .iter()
            .enumerate()
            .map(|(i, rss)| format!(
                "shard {} replica {}: {:.0} MB",
                i / layout.replicas + 1,
                i % layout.replicas + 1,
                *rss as f64 / 1e6
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "shards: {}, replicas each: {}{}; slicing: {}",
        layout.shards,
        layout.replicas,
        match layout.replicas {
            1 => "",
            _ => " (the disk above counts every replica's copy; inserts wait for a quorum of 2)",
        },
        match args.slicing.slices {
            0 => format!(
                "from the day's size, <= {} sessions a slice",
                args.slicing.max_sessions_per_slice
            ),
            n => format!("{n} slices"),
        }
    );
    print_cpu(
        &ingest_cpu,
        &clickhouse_after_jobs,
        jobs_run.cpu_seconds,
        layout,
    );
    clickhouse_work::print_servers(&accounting);
    if !samples.is_empty() {
        live_sampler::print_summary(&samples);
    }
    let met = |yes: bool| if yes { "met" } else { "not met" };
    println!(
        "goal: the whole run in <= 900 s: {}; in <= 600 s: {}",
        met(total.as_secs() <= 900),
        met(total.as_secs() <= 600)
    );
    Ok(())
}

fn server_config(
    listen: &str,
    urls: &[String],
    layout: Layout,
    wal_dir: &std::path::Path,
    project: &crate::config::ProjectSettings,
    slicing: &crate::cli::SlicingArgs,
    live_metrics: Option<&str>,
) -> String {
    let quoted = |urls: &[String]| {
        urls.iter()
            .map(|u| format!("\"{u}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let clickhouse = match (urls, layout.replicas) {
        ([url], _) => format!("url = \"{url}\"\n"),
        (shards, 1) => format!(
            "cluster = \"{EMBEDDED_CLUSTER}\"\nshard_urls = [{}]\n",
            quoted(shards)
        ),
        (servers, replicas) => format!(
            "cluster = \"{EMBEDDED_CLUSTER}\"\nreplicated = true\nreplicas = [{}]\n",
            servers
                .chunks(replicas)
                .map(|shard| format!("[{}]", quoted(shard)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    // Live: the scheduled jobs on (full rounds every 300 s, live rounds
    // every 10 s), /metrics on its own address, reads given time to
    // answer at full scale, and the whole day accepted although the
    // clock runs from the afternoon.
    let (jobs, live) = match live_metrics {
        None => (slicing.jobs_section(), String::new()),
        Some(metrics) => (
            slicing.jobs_section().replace(
                "enabled = false",
                "enabled = true\ninterval_s = 300\nlive_interval_s = 10",
            ),
            format!("[metrics]\nlisten = \"{metrics}\"\n[read]\ntimeout_ms = 600000\n"),
        ),
    };
    let ahead = if live_metrics.is_some() {
        "max_ts_ahead_s = 172800\n"
    } else {
        ""
    };
    format!(
        "listen = \"{listen}\"\n\
         [clickhouse]\n{clickhouse}database = \"{DATABASE}\"\n\
         [wal]\ndir = \"{}\"\n\
         {jobs}{live}\
         [[project]]\nname = \"{}\"\ntime_zone = \"{}\"\nsession_timeout_s = {}\nbackfill = true\n{ahead}\
         ingest_keys = [\"{INGEST_KEY}\"]\nread_keys = [\"{READ_KEY}\"]\n",
        wal_dir.display(),
        project.name,
        project.time_zone.name(),
        project.session_timeout_s,
    )
}
