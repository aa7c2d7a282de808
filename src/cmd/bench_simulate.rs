//! `highwater bench simulate`: how fast the generator writes NDJSON to a
//! file, beside the floor any generator must pay — writing the same bytes,
//! already in memory, to the same file — and beside the generator alone
//! (into /dev/null). Both writes are timed as `simulate --out` works: until
//! the data is written to the file (the kernel's page cache), not fsync'd;
//! everything is synced to disk between measurements so that no run pays
//! for the writeback of another. Runs alternate; medians are printed.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::ensure;
use indicatif::ProgressBar;

use crate::bench::process::median;
use crate::cli::BenchSimulateArgs;
use crate::simulate::Simulation;
use crate::simulate::deliver::to_file;
use crate::simulate::scenario::Scenario;

pub async fn run(args: BenchSimulateArgs) -> anyhow::Result<()> {
    ensure!(args.runs >= 1, "--runs must be at least 1");
    let simulation = Simulation::new(Scenario::load(&args.scenario)?, args.scale, 1)?;
    let days = simulation.days(Some(args.day), Some(args.day))?;
    std::fs::create_dir_all(&args.data_dir)?;
    let path = args.data_dir.join("bench-simulate.ndjson");
    let hidden = ProgressBar::hidden();
    let (mut to_disk, mut to_null, mut plain_write) = (Vec::new(), Vec::new(), Vec::new());
    let (mut events, mut bytes) = (0u64, 0u64);
    for run in 1..=args.runs {
        eprintln!("run {run}/{}", args.runs);
        sync_all();
        let started = Instant::now();
        let (summaries, written) = to_file(&simulation, &days, &path, &hidden)?;
        to_disk.push(started.elapsed());
        events = summaries.iter().map(|s| s.events).sum();
        bytes = written;
        let sample = std::fs::read(&path)?;
        std::fs::remove_file(&path)?;

        let started = Instant::now();
        to_file(
            &simulation,
            &days,
            std::path::Path::new("/dev/null"),
            &hidden,
        )?;
        to_null.push(started.elapsed());

        sync_all();
        plain_write.push(write_bytes(&path, &sample)?);
        std::fs::remove_file(&path)?;
    }
    let rate = |d: Duration| events as f64 / d.as_secs_f64();
    println!(
        "\nhighwater bench simulate: {} {} at scale {}: {events} events, {:.0} MB NDJSON, {} runs (medians)",
        simulation.scenario.name,
        args.day,
        args.scale,
        bytes as f64 / 1e6,
        args.runs
    );
    let rows = [
        ("generator -> file", median(to_disk)),
        ("generator -> /dev/null", median(to_null)),
        ("write same bytes from memory", median(plain_write)),
    ];
    println!(
        "{:<32} {:>9} {:>14} {:>9}",
        "", "seconds", "events/s", "MB/s"
    );
    for (label, d) in &rows {
        println!(
            "{label:<32} {:>9.2} {:>14.0} {:>9.0}",
            d.as_secs_f64(),
            rate(*d),
            bytes as f64 / 1e6 / d.as_secs_f64()
        );
    }
    println!(
        "generator to file / plain write: {:.2}x the time (target: >= 2,000,000 events/s to file: {})",
        rows[0].1.as_secs_f64() / rows[2].1.as_secs_f64(),
        if rate(rows[0].1) >= 2e6 {
            "met"
        } else {
            "not met"
        }
    );
    Ok(())
}

/// Writes `sample` to `path` in 1 MiB pieces: the I/O floor.
fn write_bytes(path: &std::path::Path, sample: &[u8]) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut file = std::fs::File::create(path)?;
    for piece in sample.chunks(1 << 20) {
        file.write_all(piece)?;
    }
    Ok(started.elapsed())
}

/// Flushes every dirty page to disk (outside the timings).
fn sync_all() {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
}
