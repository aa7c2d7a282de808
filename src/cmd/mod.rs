//! One file per command; each is thin and calls into the library.

mod bench_ingest;
mod demo;
mod serve;

use crate::cli::{BenchCommand, Cli, Command};

pub async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(&cli.config, args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Bench(BenchCommand::Ingest(args)) => bench_ingest::run(args).await,
    }
}
