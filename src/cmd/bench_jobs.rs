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
use crate::domain::dimension::Dimension;
use crate::store::local_server::LocalClickHouse;
use crate::store::row_binary::EVENT_COLUMNS;
use crate::store::segments;

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

    // The same jobs without segments, for their cost.
    let config_of = |name: &str, segments: bool| -> anyhow::Result<std::path::PathBuf> {
        let config = args.data_dir.join(name);
        std::fs::write(
            &config,
            format!(
                "[clickhouse]\nurl = \"{url}\"\ndatabase = \"{DATABASE}\"\n{jobs}segments = {segments}\n\
                 [[project]]\nname = \"bench\"\n",
                jobs = args.slicing.jobs_section()
            ),
        )?;
        Ok(config)
    };
    let with_segments = config_of("bench.toml", true)?;
    let without_segments = config_of("bench-without-segments.toml", false)?;
    let mut jobs_runs: Vec<Measured> = Vec::new();
    let mut plain_runs: Vec<Measured> = Vec::new();
    let mut bare_runs = Vec::new();
    for run in 1..=args.runs {
        eprintln!("run {run}/{}", args.runs);
        plain_runs.push(jobs_run(&without_segments).await?);
        let started = Instant::now();
        let rows = db
            .query(BARE_QUERY)
            .fetch_bytes("TabSeparated")?
            .collect()
            .await?;
        bare_runs.push(started.elapsed());
        anyhow::ensure!(!rows.is_empty(), "the bare query returned nothing");
        // Last, so that the segments read below are this run's.
        jobs_runs.push(jobs_run(&with_segments).await?);
    }
    let figures = crate::store::figures::daily(&db, "bench", day, day).await?;
    let segments = segment_summary(&db, day).await?;
    let clickhouse_rss = clickhouse.pid().and_then(peak_rss_bytes).unwrap_or(0);
    clickhouse.stop().await;

    let jobs = median(jobs_runs.iter().map(|m| m.elapsed).collect());
    let plain = median(plain_runs.iter().map(|m| m.elapsed).collect());
    let bare = median(bare_runs);
    let rss_of = |runs: &[Measured]| runs.iter().map(|m| m.peak_rss_bytes).max().unwrap_or(0);
    let (rss, plain_rss) = (rss_of(&jobs_runs), rss_of(&plain_runs));
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
        "  the same without segments:          {:>8.2} s (segments add {:.0}%, target <= 25%)",
        plain.as_secs_f64(),
        (ratio(jobs, plain) - 1.0) * 100.0
    );
    println!(
        "bare per-second delta GROUP BY:       {:>8.2} s",
        bare.as_secs_f64()
    );
    // The bare aggregate knows no segments: compare it with the same work.
    println!(
        "ratio jobs / bare (without segments): {:>8.2}x (target <= 2x; {:.2}x with them, target <= 2.5x)",
        ratio(plain, bare),
        ratio(jobs, bare)
    );
    println!(
        "highwater jobs peak RSS:              {:>8.0} MB (target <= 1024 MB; {:.0} MB without segments)",
        rss as f64 / 1e6,
        plain_rss as f64 / 1e6
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
        crate::figures::daily::rfc3339(row.peak_users_at.into()),
        row.peak_connections,
        row.acu
    );
    println!("segments: {segments}");
    Ok(())
}

/// `highwater jobs run` for the bench day with `config`, as its own process.
async fn jobs_run(config: &std::path::Path) -> anyhow::Result<Measured> {
    let mut command = std::process::Command::new(std::env::current_exe()?);
    command
        .args(["--config"])
        .arg(config)
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
    tokio::task::spawn_blocking(move || measure(command)).await?
}

/// One line about the day's segments: values per dimension, the country
/// diversity, the largest organisation.
async fn segment_summary(db: &clickhouse::Client, day: NaiveDate) -> anyhow::Result<String> {
    let mut parts = Vec::new();
    for dimension in Dimension::ALL {
        let (days, values) = segments::read(db, "bench", dimension, (day, day)).await?;
        let totals = days.first().context("the jobs stored no segments")?;
        let top = values.first().map_or(String::new(), |v| {
            format!(", top {} {}", v.value, v.peak_users)
        });
        parts.push(format!(
            "{dimension} {} values, summed {} / coincident {}{top}",
            totals.value_count, totals.summed_peak, totals.coincident_peak
        ));
    }
    Ok(parts.join("; "))
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
