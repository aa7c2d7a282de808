//! `highwater simulate`: a scenario's events into a file or to a server,
//! then a table of what was simulated per day.

use std::sync::Arc;
use std::time::Instant;

use anyhow::ensure;

use crate::cli::SimulateArgs;
use crate::simulate::deliver::{PostTarget, progress_bar, to_file, to_server};
use crate::simulate::scenario::Scenario;
use crate::simulate::{DaySummary, Simulation};

pub async fn run(args: SimulateArgs) -> anyhow::Result<()> {
    ensure!(args.batch >= 1, "--batch must be at least 1");
    let scenario = Scenario::load(&args.scenario)?;
    let simulation = Simulation::new(scenario, args.scale, args.seed)?;
    let days = simulation.days(args.from, args.to)?;
    let started = Instant::now();
    let progress = progress_bar();
    let (summaries, bytes) = if let Some(path) = &args.out {
        let simulation = Arc::new(simulation);
        let (path, bar) = (path.clone(), progress.clone());
        let sim = simulation.clone();
        tokio::task::spawn_blocking(move || to_file(&sim, &days, &path, &bar)).await??
    } else {
        let target = PostTarget {
            url: args.post.clone().expect("clap: --out or --post"),
            ingest_key: args.key.clone().expect("clap: --post requires --key"),
            connections: args.connections,
            batch_events: args.batch,
            max_events_per_s: None,
        };
        let (summaries, posted) =
            to_server(Arc::new(simulation), days, &target, progress.clone()).await?;
        if posted.retries > 0 {
            eprintln!(
                "{} requests were retried (429/503 or connection)",
                posted.retries
            );
        }
        (summaries, posted.bytes)
    };
    progress.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    print_summaries(&summaries);
    let events: u64 = summaries.iter().map(|s| s.events).sum();
    let destination = match &args.out {
        Some(path) => path.display().to_string(),
        None => args.post.clone().unwrap_or_default(),
    };
    println!(
        "{events} events ({:.1} MB of NDJSON) to {destination} in {elapsed:.1} s: {:.0} events/s",
        bytes as f64 / 1e6,
        events as f64 / elapsed
    );
    Ok(())
}

/// One line per day: the target peak, the peak the events hold, the users.
pub fn print_summaries(summaries: &[DaySummary]) {
    println!(
        "{:<10} {:<3} {:>11} {:>11} {:>11} {:>11} {:>12}",
        "day", "", "target peak", "peak_users", "DAU", "population", "events"
    );
    for s in summaries {
        println!(
            "{:<10} {:<3} {:>11} {:>11} {:>11} {:>11} {:>12}",
            s.day,
            s.day.format("%a"),
            s.target,
            s.peak,
            s.active_users,
            s.population,
            s.events
        );
    }
}
