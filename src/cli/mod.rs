//! The command line (docs/design.md §3): every command, its arguments and their
//! help texts, with clap's derive. `cmd/` carries each command out.

use std::net::SocketAddr;
use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};

use crate::capacity::horizon::Horizon;
use crate::domain::dimension::Dimension;

mod bench;
pub use bench::*;

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
    /// Configuration file (projects, keys, limits); see highwater.example.toml and docs/operations.md.
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
    /// Run the service: ingest (/v1/events, the browser snippet, PostHog and
    /// OpenTelemetry routes), the read API, the dashboards, the rounds that
    /// keep the figures up to date, alerts and /metrics.
    Serve(ServeArgs),
    /// Everything end to end on the embedded ClickHouse: replay the March
    /// 2020 surge through the API, run the jobs, show the daily figures and
    /// records, and keep serving.
    Demo(DemoArgs),
    /// Batch jobs that compute the figures.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Print computed figures.
    #[command(subcommand)]
    Metrics(MetricsCommand),
    /// Users, connections and active users online at this second (from
    /// every event stored), optionally per platform, country or org_id;
    /// `--watch` refreshes it in place.
    Online(OnlineArgs),
    /// Growth of the daily figures (WoW, MoM, doubling time) and the records.
    Growth(ReportArgs),
    /// Forecast of the daily peak, its backtest error, and the headroom of
    /// the project's configured capacity.
    Capacity(CapacityArgs),
    /// Render a dashboard's panels as PNG and SVG files plus an index.html.
    Render(RenderArgs),
    /// Generate realistic presence and session events from a scenario, into
    /// an NDJSON file or posted to a highwater server.
    Simulate(SimulateArgs),
    /// Benchmarks that print highwater's figures beside a baseline.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// API keys for the configuration file.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Print the OpenAPI description of the HTTP API (what `serve` answers
    /// at /openapi.json; checked in as openapi.json).
    Openapi,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print fresh random keys (32 characters, about 190 bits each), one per
    /// line, for `ingest_keys` / `read_keys`.
    New {
        /// How many keys to print.
        #[arg(long, default_value_t = 1)]
        count: usize,
    },
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
    /// Figures per platform, country or organisation, with the summed vs
    /// coincident peak of each day, as JSON (the same as GET
    /// /v1/metrics/segments) or a table.
    Segments(MetricsSegmentsArgs),
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

#[derive(Debug, Args)]
pub struct MetricsSegmentsArgs {
    #[command(flatten)]
    pub range: DayRangeArgs,
    /// platform, country or org_id.
    #[arg(long)]
    pub dimension: Dimension,
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct OnlineArgs {
    /// Project name, as in the configuration file.
    #[arg(long)]
    pub project: String,
    /// Also count per value of platform, country or org_id.
    #[arg(long)]
    pub dimension: Option<Dimension>,
    /// Keep refreshing until interrupted (Ctrl-C).
    #[arg(long)]
    pub watch: bool,
    /// Seconds between refreshes with `--watch`.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    pub every: u64,
    #[arg(long, value_enum, default_value_t = Format::Table)]
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
    /// Run the server clock from this instant (RFC 3339) at real speed,
    /// instead of the system clock: replaying a past day as if live
    /// (benchmarks, demos). "Today", "online now" and the accepted window
    /// of `ts` all follow it.
    #[arg(long)]
    pub clock_start: Option<chrono::DateTime<chrono::Utc>>,
    /// The part this instance plays among several behind a load balancer;
    /// overrides `[server] role`: `all` takes events, answers reads and may
    /// lead (full rounds, alerts); `ingest` only takes events and answers
    /// reads; `jobs` only leads.
    #[arg(long, value_enum)]
    pub role: Option<crate::config::Role>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the demo serves its API.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Data directory of the embedded ClickHouse.
    #[arg(long, default_value = "./highwater-data")]
    pub data_dir: PathBuf,
    /// Scenario to replay (default: the built-in March 2020 surge,
    /// fixtures/scenarios/march-2020.toml).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Population scale: 0.001 turns the 12.5M peak into 12,500.
    #[arg(long, default_value_t = 0.001)]
    pub scale: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where the demo writes its report (the overview dashboard as files).
    #[arg(long, default_value = "./highwater-data/report")]
    pub report: PathBuf,
    /// Stop when the demo is done instead of leaving the server running.
    #[arg(long)]
    pub exit: bool,
    /// Run the embedded ClickHouse as a cluster of this many local servers
    /// (events sharded by user across them).
    #[arg(long, default_value_t = 1)]
    pub shards: usize,
    /// With this many replicas of each shard (replicated tables, with a
    /// local ZooKeeper: Debian's `zookeeper` package).
    #[arg(long, default_value_t = 1)]
    pub replicas: usize,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Project name, as in the configuration file.
    #[arg(long)]
    pub project: String,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct CapacityArgs {
    #[command(flatten)]
    pub report: ReportArgs,
    /// Days to forecast (1 to 92).
    #[arg(long, default_value_t = Horizon::default())]
    pub horizon: Horizon,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  highwater render --project chat --dashboard dashboards/overview.toml --out report/\n\n\
    Panel ranges (last_30_days ...) count back from the latest day with figures;\n\
    --from/--to name the days instead."
)]
pub struct RenderArgs {
    /// Project name, as in the configuration file.
    #[arg(long)]
    pub project: String,
    /// Dashboard file (see dashboards/README.md).
    #[arg(long)]
    pub dashboard: PathBuf,
    /// Directory for the files (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// First day of every panel (with --to).
    #[arg(long, requires = "to")]
    pub from: Option<NaiveDate>,
    /// Last day of every panel (with --from).
    #[arg(long, requires = "from")]
    pub to: Option<NaiveDate>,
}

#[derive(Debug, Args)]
#[command(
    group(clap::ArgGroup::new("output").required(true).args(["out", "post"])),
    after_help = "Examples:\n  \
    highwater simulate --scenario fixtures/scenarios/march-2020.toml --scale 0.001 --out march.ndjson.gz\n  \
    highwater simulate --scenario fixtures/scenarios/march-2020.toml --scale 0.001 \\\n      \
    --post http://127.0.0.1:8080 --key $INGEST_KEY\n\n\
    The receiving project needs the scenario's time zone and session timeout, and\n\
    backfill = true (the events are dated on the scenario's days)."
)]
pub struct SimulateArgs {
    /// Scenario file (see fixtures/scenarios/README.md).
    #[arg(long)]
    pub scenario: PathBuf,
    /// Multiplies the population: 0.001 turns a 12.5M peak into 12,500.
    #[arg(long)]
    pub scale: f64,
    /// Same seed, same events, byte for byte.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// First day to simulate (default: the scenario's first).
    #[arg(long)]
    pub from: Option<NaiveDate>,
    /// Last day to simulate (default: the scenario's last).
    #[arg(long)]
    pub to: Option<NaiveDate>,
    /// Write NDJSON to this file (gzip-compressed when it ends in .gz).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Post to this highwater server (base URL or its /v1/events URL).
    #[arg(long, requires = "key")]
    pub post: Option<String>,
    /// Ingest key of the receiving project.
    #[arg(long, env = "HIGHWATER_INGEST_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Concurrent connections when posting.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Events per request when posting.
    #[arg(long, default_value_t = crate::simulate::DEFAULT_BATCH_EVENTS)]
    pub batch: usize,
}
