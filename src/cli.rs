//! The command line (DESIGN §3). Commands of later milestones (jobs,
//! metrics, render, simulate) are added as they are built.

use std::net::SocketAddr;
use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "highwater",
    version,
    about = "Daily active users and exact peak concurrency from presence and session events",
    long_about = "highwater ingests presence and session events over HTTP into ClickHouse and \
                  computes how many people use a product and how many are online at the same time.\n\n\
                  With no ClickHouse URL configured it runs its own local clickhouse-server."
)]
pub struct Cli {
    /// Configuration file (projects, keys, limits); see README.
    #[arg(
        long,
        global = true,
        env = "HIGHWATER_CONFIG",
        default_value = "highwater.toml"
    )]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the ingest API (POST /v1/events), /healthz and /readyz.
    Serve(ServeArgs),
    /// Start everything on the embedded ClickHouse, post a sample of events
    /// through the API and show what was stored.
    Demo(DemoArgs),
    /// Batch jobs that compute the figures.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Print computed figures.
    #[command(subcommand)]
    Metrics(MetricsCommand),
    /// Benchmarks that print highwater's figures beside a baseline.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// (Re)compute the figures of a range of days; idempotent: a recompute
    /// replaces a day's figures, never adds to them.
    Run(DayRangeArgs),
}

#[derive(Debug, Subcommand)]
pub enum MetricsCommand {
    /// Daily figures, as JSON (the same as GET /v1/metrics/daily) or a table.
    Daily(MetricsDailyArgs),
}

#[derive(Debug, Args)]
pub struct DayRangeArgs {
    /// Project name, as in the configuration file.
    #[arg(long)]
    pub project: String,
    /// First day (YYYY-MM-DD, the project's local day).
    #[arg(long)]
    pub from: NaiveDate,
    /// Last day, inclusive (at most 400 days after `from`).
    #[arg(long)]
    pub to: NaiveDate,
}

#[derive(Debug, Args)]
pub struct MetricsDailyArgs {
    #[command(flatten)]
    pub range: DayRangeArgs,
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Table,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address; overrides `listen` in the config file.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the demo serves its API.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Data directory of the embedded ClickHouse.
    #[arg(long, default_value = "./highwater-data")]
    pub data_dir: PathBuf,
    /// Stop when the demo is done instead of leaving the server running.
    #[arg(long)]
    pub exit: bool,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Ingest throughput: highwater's API vs. JSONEachRow straight into ClickHouse.
    Ingest(BenchIngestArgs),
    /// Jobs speed: `jobs run` for a busy day vs. the bare per-second aggregate.
    Jobs(BenchJobsArgs),
}

#[derive(Debug, Args)]
pub struct BenchJobsArgs {
    /// Sessions in the generated day (≈2.4 events each).
    #[arg(long, default_value_t = 5_000_000)]
    pub sessions: usize,
    /// Runs of each side; medians are reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Data directory of the benchmark's own ClickHouse (wiped first).
    #[arg(long, default_value = "./highwater-bench-data")]
    pub data_dir: PathBuf,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct BenchIngestArgs {
    /// Events to post (each run: highwater, then the direct baseline).
    #[arg(long, default_value_t = 2_000_000)]
    pub events: usize,
    /// Events per request.
    #[arg(long, default_value_t = 5_000)]
    pub batch: usize,
    /// Concurrent connections.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Data directory of the benchmark's own ClickHouse (wiped first).
    #[arg(long, default_value = "./highwater-bench-data")]
    pub data_dir: PathBuf,
    /// Runs of each side; medians are reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}
