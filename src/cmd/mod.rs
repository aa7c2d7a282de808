//! One file per command; each is thin and calls into the library.

mod bench_charts;
mod bench_fullscale;
mod bench_ingest;
mod bench_jobs;
mod bench_simulate;
mod capacity;
mod demo;
mod jobs_run;
mod keys;
mod metrics_daily;
mod metrics_segments;
mod online;
mod render;
mod serve;
mod simulate;

use crate::cli::{BenchCommand, Cli, Command, JobsCommand, KeysCommand, MetricsCommand};

pub async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(&cli.config, args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Jobs(JobsCommand::Run(args)) => jobs_run::run(&cli.config, args).await,
        Command::Metrics(MetricsCommand::Daily(args)) => {
            metrics_daily::run(&cli.config, args).await
        }
        Command::Metrics(MetricsCommand::Segments(args)) => {
            metrics_segments::run(&cli.config, args).await
        }
        Command::Online(args) => online::run(&cli.config, args).await,
        Command::Growth(args) => capacity::growth(&cli.config, args).await,
        Command::Capacity(args) => capacity::capacity(&cli.config, args).await,
        Command::Render(args) => render::run(&cli.config, args).await,
        Command::Simulate(args) => simulate::run(args).await,
        Command::Bench(BenchCommand::Ingest(args)) => bench_ingest::run(args).await,
        Command::Bench(BenchCommand::Jobs(args)) => bench_jobs::run(args).await,
        Command::Bench(BenchCommand::Fullscale(args)) => bench_fullscale::run(args).await,
        Command::Bench(BenchCommand::Simulate(args)) => bench_simulate::run(args).await,
        Command::Bench(BenchCommand::Charts(args)) => bench_charts::run(args),
        Command::Keys(KeysCommand::New { count }) => {
            keys::new(count);
            Ok(())
        }
        Command::Openapi => {
            use std::io::Write;
            let written = writeln!(std::io::stdout(), "{}", crate::api::openapi::spec_json());
            match written {
                // `highwater openapi | head` is no failure.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => Ok(other?),
            }
        }
    }
}
