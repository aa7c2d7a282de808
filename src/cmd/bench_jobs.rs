//! `highwater bench jobs`: one realistic day of sessions loaded through the
//! fast insert path, then `highwater jobs run` for that day (its own process:
//! wall time and peak RSS) against the bare ClickHouse aggregate any correct
//! method must at least read: per-session first/last second, turned into
//! per-second +1/−1 deltas and grouped by second. Runs alternate; medians.

use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};

use crate::bench::day_of_sessions::{DayShape, generate};
use crate::bench::fresh_database;
use crate::bench::process::{Measured, measure, median, peak_rss_bytes};
use crate::cli::BenchJobsArgs;
use crate::store::local_server::LocalClickHouse;
use crate::store::row_binary::EVENT_COLUMNS;

const DATABASE: &str = "bench_jobs";
const CHUNK_SESSIONS: usize = 200_000;
const BARE_QUERY: &str = "SELECT second, sum(delta) FROM (
        SELECT min(intDiv(ts_ms, 1000)) AS first_s, max(intDiv(ts_ms, 1000)) AS last_s
        FROM events WHERE project = 'bench'
        GROUP BY user_id, session_id
    )
    ARRAY JOIN [first_s, last_s + 600] AS second, [1, -1] AS delta
    GROUP BY second";

pub async fn run(args: BenchJobsArgs) -> anyhow::Result<()> {
    let _ = std::fs::remove_dir_all(&args.data_dir);
    std::fs::create_dir_all(&args.data_dir)?;
    eprintln!("starting ClickHouse in {} ...", args.data_dir.display());
    let clickhouse = LocalClickHouse::start(&args.data_dir).await?;
    let url = clickhouse.url();
    let db = fresh_database(&url, DATABASE).await?;
    let day: NaiveDate = "2020-03-25".parse().expect("valid date");

    let loaded = Instant::now();
    let events = load(&db, args.sessions, day, args.seed).await?;
    let load_time = loaded.elapsed();
    eprintln!("loaded {events} events in {:.1} s", load_time.as_secs_f64());

    let config = args.data_dir.join("bench.toml");
    std::fs::write(
        &config,
        format!(
            "[clickhouse]\nurl = \"{url}\"\ndatabase = \"{DATABASE}\"\n{jobs}\
             [[project]]\nname = \"bench\"\n",
            jobs = args.slicing.jobs_section()
        ),
    )?;
    let mut jobs_runs: Vec<Measured> = Vec::new();
    let mut bare_runs = Vec::new();
    for run in 1..=args.runs {
        eprintln!("run {run}/{}", args.runs);
        let mut command = std::process::Command::new(std::env::current_exe()?);
        command
            .args(["--config"])
            .arg(&config)
            .args([
                "jobs",
                "run",
                "--project",
                "bench",
                "--from",
                "2020-03-25",
                "--to",
                "2020-03-25",
            ])
            .stdout(std::process::Stdio::null());
        jobs_runs.push(tokio::task::spawn_blocking(move || measure(command)).await??);
        let started = Instant::now();
        let rows = db
            .query(BARE_QUERY)
            .fetch_bytes("TabSeparated")?
            .collect()
            .await?;
        bare_runs.push(started.elapsed());
        anyhow::ensure!(!rows.is_empty(), "the bare query returned nothing");
    }
    let figures = crate::store::figures::daily(&db, "bench", day, day).await?;
    let clickhouse_rss = clickhouse.pid().and_then(peak_rss_bytes).unwrap_or(0);
    clickhouse.stop().await;

    let jobs = median(jobs_runs.iter().map(|m| m.elapsed).collect());
    let bare = median(bare_runs);
    let rss = jobs_runs
        .iter()
        .map(|m| m.peak_rss_bytes)
        .max()
        .unwrap_or(0);
    let row = figures.first().context("the jobs stored no figures")?;
    println!(
        "\nhighwater bench jobs: {} sessions, {events} events on {day}, {} runs (medians), {} cores",
        args.sessions,
        args.runs,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "load (RowBinary, materialized view):  {:>8.2} s  ({:.0} events/s)",
        load_time.as_secs_f64(),
        events as f64 / load_time.as_secs_f64()
    );
    println!(
        "highwater jobs run (whole process):   {:>8.2} s",
        jobs.as_secs_f64()
    );
    println!(
        "bare per-second delta GROUP BY:       {:>8.2} s",
        bare.as_secs_f64()
    );
    println!(
        "ratio jobs / bare:                    {:>8.2}x (target <= 3x)",
        ratio(jobs, bare)
    );
    println!(
        "highwater jobs peak RSS:              {:>8.0} MB (target <= 1024 MB)",
        rss as f64 / 1e6
    );
    println!(
        "ClickHouse peak RSS (load + runs):    {:>8.0} MB",
        clickhouse_rss as f64 / 1e6
    );
    println!(
        "slicing: {}",
        match args.slicing.slices {
            0 => format!(
                "from the day's size, <= {} sessions a slice",
                args.slicing.max_sessions_per_slice
            ),
            n => format!("{n} slices"),
        }
    );
    println!(
        "figures: dau {}, peak_users {} at {}, peak_connections {}, acu {:.0}",
        row.dau,
        row.peak_users,
        crate::figures::rfc3339(row.peak_users_at.into()),
        row.peak_connections,
        row.acu
    );
    Ok(())
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

/// Generates on a blocking thread while chunks are inserted.
async fn load(
    db: &clickhouse::Client,
    sessions: usize,
    day: NaiveDate,
    seed: u64,
) -> anyhow::Result<usize> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(Vec<u8>, usize)>(2);
    let shape = DayShape {
        sessions,
        day_start: day
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp(),
        seed,
    };
    let generator = tokio::task::spawn_blocking(move || {
        generate(shape, CHUNK_SESSIONS, |bytes, count| {
            let _ = tx.blocking_send((bytes, count));
        })
    });
    let progress = ProgressBar::new(sessions as u64).with_style(
        ProgressStyle::with_template(
            "loading [{bar:30}] {human_pos}/{human_len} sessions, {per_sec}, eta {eta}",
        )
        .expect("valid template"),
    );
    while let Some((bytes, count)) = rx.recv().await {
        let mut insert = db.insert_formatted_with(format!(
            "INSERT INTO events ({EVENT_COLUMNS}) FORMAT RowBinary"
        ));
        insert.send(Bytes::from(bytes)).await?;
        insert.end().await?;
        progress.inc(count as u64);
    }
    progress.finish_and_clear();
    Ok(generator.await?)
}
