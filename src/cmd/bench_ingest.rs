//! `highwater bench ingest`: the same events posted (a) through highwater's
//! API, run as its own `highwater serve` process, and (b) as JSONEachRow
//! straight into ClickHouse's HTTP interface, into an identical table, with
//! the same batches and connections. highwater is timed twice: until every
//! batch is acknowledged (fsynced into its write-ahead log), and until the
//! log has shipped all of it into ClickHouse — the fair comparison with (b).
//! Prints all three, the ratios, and the server's peak RSS. Runs alternate
//! so that drift hits both alike.

use std::sync::Arc;

use anyhow::ensure;
use bytes::Bytes;

use crate::bench::events::{BenchEvent, generate};
use crate::bench::fresh_database;
use crate::bench::live_sampler::quantile;
use crate::bench::post::{Batch, PostStats, post_all};
use crate::bench::process::{cpu_seconds, peak_rss_bytes};
use crate::bench::server_process::{free_addr, spawn_server, stop_server, wait_shipped};
use crate::cli::BenchIngestArgs;
use crate::store::local_server::LocalClickHouse;

const PROJECT: &str = "bench";
const KEY: &str = "bench-ingest-key-00000000";
const API_DATABASE: &str = "bench_highwater";
const DIRECT_DATABASE: &str = "bench_direct";

pub async fn run(args: BenchIngestArgs) -> anyhow::Result<()> {
    ensure!(
        args.events > 0 && args.batch > 0 && args.connections > 0 && args.runs > 0,
        "counts must be positive"
    );
    let _ = std::fs::remove_dir_all(&args.data_dir);
    std::fs::create_dir_all(&args.data_dir)?;
    eprintln!("starting ClickHouse in {} ...", args.data_dir.display());
    let clickhouse = LocalClickHouse::start(&args.data_dir).await?;
    let ch_url = clickhouse.url();
    let version =
        crate::store::connect::server_version(&clickhouse::Client::default().with_url(&ch_url))
            .await?;

    eprintln!("generating {} events ...", args.events);
    let now_ms = chrono::Utc::now().timestamp_millis();
    let events = generate(args.events, args.seed, now_ms);
    let api_batches = Arc::new(build_batches(&events, args.batch, |chunk| {
        serde_json::to_vec(
            &chunk
                .iter()
                .map(BenchEvent::to_api_json)
                .collect::<Vec<_>>(),
        )
    })?);
    let direct_batches = Arc::new(build_batches(&events, args.batch, |chunk| {
        let mut body = Vec::new();
        for event in chunk {
            serde_json::to_writer(&mut body, &event.to_row_json(PROJECT, now_ms))?;
            body.push(b'\n');
        }
        Ok(body)
    })?);
    drop(events);

    let config_path = args.data_dir.join("bench.toml");
    let listen = free_addr()?;
    let wal_dir = args.data_dir.join("wal");
    std::fs::write(&config_path, server_config(&listen, &ch_url, &wal_dir))?;
    let direct_url = reqwest::Url::parse_with_params(
        &ch_url,
        &[(
            "query",
            format!("INSERT INTO {DIRECT_DATABASE}.events FORMAT JSONEachRow"),
        )],
    )?
    .to_string();

    let mut api_runs = Vec::new();
    let mut stored_runs = Vec::new();
    let mut direct_runs = Vec::new();
    let mut peak_rss = 0;
    // CPU seconds per run: highwater serve, and ClickHouse while it took
    // highwater's inserts and while it took the direct ones.
    let mut serve_cpu = Vec::new();
    let mut clickhouse_api_cpu = Vec::new();
    let mut clickhouse_direct_cpu = Vec::new();
    let clickhouse_cpu = || clickhouse.pid().and_then(cpu_seconds).unwrap_or(0.0);
    for run in 1..=args.runs {
        eprintln!("run {run}/{}", args.runs);
        let db = fresh_database(&ch_url, API_DATABASE).await?;
        let _ = std::fs::remove_dir_all(&wal_dir);
        let mut server = spawn_server(&config_path, &listen).await?;
        let clickhouse_before = clickhouse_cpu();
        let headers = [
            ("authorization", format!("Bearer {KEY}")),
            ("content-type", "application/json".to_owned()),
        ];
        let stats = post_all(
            &format!("http://{listen}/v1/events"),
            &headers,
            api_batches.clone(),
            args.connections,
            "highwater",
        )
        .await?;
        let posting_started = std::time::Instant::now() - stats.elapsed;
        wait_shipped(&listen, std::time::Duration::from_secs(600)).await?;
        let stored = PostStats {
            elapsed: posting_started.elapsed(),
            ..stats.clone()
        };
        peak_rss = peak_rss.max(server.id().and_then(peak_rss_bytes).unwrap_or(0));
        serve_cpu.push(server.id().and_then(cpu_seconds).unwrap_or(0.0));
        clickhouse_api_cpu.push(clickhouse_cpu() - clickhouse_before);
        stop_server(&mut server).await;
        check_count(&db, args.events).await?;
        api_runs.push(stats);
        stored_runs.push(stored);

        let db = fresh_database(&ch_url, DIRECT_DATABASE).await?;
        let clickhouse_before = clickhouse_cpu();
        let headers = [("content-type", "application/x-ndjson".to_owned())];
        let stats = post_all(
            &direct_url,
            &headers,
            direct_batches.clone(),
            args.connections,
            "direct",
        )
        .await?;
        check_count(&db, args.events).await?;
        clickhouse_direct_cpu.push(clickhouse_cpu() - clickhouse_before);
        direct_runs.push(stats);
    }
    clickhouse.stop().await;

    println!(
        "\nhighwater bench ingest: {} events, batches of {}, {} connections, {} runs (medians), ClickHouse {version}, {} cores",
        args.events,
        args.batch,
        args.connections,
        args.runs,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<28} {:>12} {:>8} {:>9} {:>9} {:>8}",
        "", "events/s", "MB/s", "p50 ms", "p99 ms", "retries"
    );
    let api = print_row("highwater, acknowledged", &api_runs, true);
    let stored = print_row("highwater, in ClickHouse", &stored_runs, false);
    let direct = print_row("ClickHouse JSONEachRow", &direct_runs, true);
    println!(
        "ratio highwater / direct:    {:.2}x acknowledged, {:.2}x in ClickHouse (target >= 2.5x)",
        api / direct,
        stored / direct
    );
    println!(
        "highwater server peak RSS:   {:.0} MB (target <= 300 MB)",
        peak_rss as f64 / 1e6
    );
    let per_million = |cpu: Vec<f64>| quantile(&cpu, 0.5).unwrap_or(0.0) / args.events as f64 * 1e6;
    println!(
        "CPU seconds per million events (medians): highwater serve {:.2}, ClickHouse taking highwater's inserts {:.2}, ClickHouse taking JSONEachRow {:.2}",
        per_million(serve_cpu),
        per_million(clickhouse_api_cpu),
        per_million(clickhouse_direct_cpu)
    );
    Ok(())
}

fn build_batches(
    events: &[BenchEvent],
    size: usize,
    encode: impl Fn(&[BenchEvent]) -> serde_json::Result<Vec<u8>>,
) -> anyhow::Result<Vec<Batch>> {
    events
        .chunks(size)
        .map(|chunk| {
            Ok(Batch {
                body: Bytes::from(encode(chunk)?),
                events: chunk.len(),
            })
        })
        .collect()
}

/// Prints the medians of `runs` (request latencies only when they are this
/// row's own); returns the median events/s.
fn print_row(label: &str, runs: &[PostStats], latencies: bool) -> f64 {
    let median = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let events_per_s = median(runs.iter().map(PostStats::events_per_s).collect());
    let latency = |q: f64| {
        if latencies {
            format!(
                "{:.1}",
                median(runs.iter().map(|r| r.latency_ms(q)).collect())
            )
        } else {
            "-".to_owned()
        }
    };
    println!(
        "{label:<28} {events_per_s:>12.0} {:>8.1} {:>9} {:>9} {:>8}",
        median(runs.iter().map(PostStats::mb_per_s).collect()),
        latency(0.5),
        latency(0.99),
        runs.iter().map(|r| r.retries).sum::<usize>(),
    );
    events_per_s
}

async fn check_count(db: &clickhouse::Client, expected: usize) -> anyhow::Result<()> {
    let stored: u64 = db.query("SELECT count() FROM events").fetch_one().await?;
    ensure!(
        stored == expected as u64,
        "stored {stored} rows, expected {expected}"
    );
    Ok(())
}

fn server_config(listen: &str, ch_url: &str, wal_dir: &std::path::Path) -> String {
    format!(
        "listen = \"{listen}\"\n\
         [clickhouse]\nurl = \"{ch_url}\"\ndatabase = \"{API_DATABASE}\"\n\
         [wal]\ndir = \"{}\"\n\
         [[project]]\nname = \"{PROJECT}\"\ningest_keys = [\"{KEY}\"]\n",
        wal_dir.display()
    )
}
