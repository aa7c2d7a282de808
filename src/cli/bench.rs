//! The arguments of `highwater bench`: each benchmark prints our figure
//! beside a baseline measured in the same run.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Ingest throughput: highwater's API vs. JSONEachRow straight into ClickHouse.
    Ingest(BenchIngestArgs),
    /// Jobs speed: `jobs run` for a busy day vs. the bare per-second aggregate.
    Jobs(BenchJobsArgs),
    /// One scenario day at full scale end to end: simulate, post over HTTP
    /// to a `highwater serve`, jobs; time and rate per stage, disk, peak.
    Fullscale(BenchFullscaleArgs),
    /// Generator speed: NDJSON events/s into a file vs. writing the same
    /// bytes from memory.
    Simulate(BenchSimulateArgs),
    /// Chart speed: a year of daily figures as PNG and SVG vs. a bare
    /// plotters line chart of the same points.
    Charts(BenchChartsArgs),
}

#[derive(Debug, Args)]
pub struct BenchChartsArgs {
    /// Days of figures in the chart.
    #[arg(long, default_value_t = 365)]
    pub days: usize,
    /// Renders of each kind; medians are reported.
    #[arg(long, default_value_t = 21)]
    pub runs: usize,
}

#[derive(Debug, Args)]
pub struct BenchFullscaleArgs {
    /// Scenario (default: the March 2020 surge).
    #[arg(long, default_value = "fixtures/scenarios/march-2020.toml")]
    pub scenario: PathBuf,
    /// The day to replay.
    #[arg(long, default_value = "2020-03-25")]
    pub day: NaiveDate,
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Concurrent connections posting.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Data directory of the benchmark's own ClickHouse (wiped first).
    #[arg(long, default_value = "./highwater-bench-data")]
    pub data_dir: PathBuf,
    /// Local ClickHouse servers, as a cluster when more than one.
    #[arg(long, default_value_t = 1)]
    pub shards: usize,
    /// Replicas of each shard: more than one starts Debian's ZooKeeper and
    /// replicates the tables (inserts wait for a quorum of 2).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=3))]
    pub replicas: u8,
    #[command(flatten)]
    pub slicing: SlicingArgs,
    /// Ingest without the scheduled jobs (no live rounds, no online
    /// sampling): the ingest figures alone.
    #[arg(long)]
    pub no_live: bool,
    /// The server clock's start (RFC 3339; default: 15:30 UTC of --day, a
    /// quarter of an hour before the March 2020 record's peak), so that
    /// "today" is the replayed day and "online now" counts its users.
    #[arg(long)]
    pub clock_start: Option<chrono::DateTime<chrono::Utc>>,
    /// Post at most this many events a second (default: as fast as the
    /// server takes them). The bench prints the day's busiest minute at
    /// real time to compare with.
    #[arg(long, value_parser = positive_rate)]
    pub rate: Option<f64>,
}

/// How `jobs run` cuts the day into slices of users (`[jobs]` settings).
#[derive(Debug, Args)]
pub struct SlicingArgs {
    /// A fixed number of slices (a power of two up to 64); 0: from the
    /// day's size and --max-sessions-per-slice.
    #[arg(long, default_value_t = 0)]
    pub slices: u32,
    #[arg(long, default_value_t = 2_000_000)]
    pub max_sessions_per_slice: u64,
}

impl SlicingArgs {
    /// The `[jobs]` section of a configuration file with these settings.
    pub fn jobs_section(&self) -> String {
        format!(
            "[jobs]\nenabled = false\nslices = {}\nmax_sessions_per_slice = {}\n",
            self.slices, self.max_sessions_per_slice
        )
    }
}

#[derive(Debug, Args)]
pub struct BenchSimulateArgs {
    #[arg(long, default_value = "fixtures/scenarios/march-2020.toml")]
    pub scenario: PathBuf,
    #[arg(long, default_value = "2020-03-25")]
    pub day: NaiveDate,
    /// 0.01 gives about 5M events for the March 2020 record day.
    #[arg(long, default_value_t = 0.01)]
    pub scale: f64,
    /// Runs of each side; medians are reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Where the files go (deleted after each run).
    #[arg(long, default_value = "./highwater-bench-data")]
    pub data_dir: PathBuf,
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
    #[command(flatten)]
    pub slicing: SlicingArgs,
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

fn positive_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!(
            "{text:?} is not a positive number of events a second"
        )),
    }
}
