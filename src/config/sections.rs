//! The sections of `highwater.toml` besides the projects and the alerts:
//! which ClickHouse, the HTTP limits, the write-ahead log, the scheduled
//! jobs, metrics and the instance's role.

use std::path::PathBuf;

use serde::Deserialize;

/// Which ClickHouse to use. With no `url`, highwater starts its own server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClickHouseSettings {
    /// `http://host:8123` of an existing server or cluster; `None` = embedded.
    pub url: Option<String>,
    #[serde(default = "default_user")]
    pub user: String,
    #[serde(default)]
    pub password: String,
    #[serde(default = "default_database")]
    pub database: String,
    /// Compression of inserts and results; lz4 pays off on a remote cluster.
    #[serde(default)]
    pub compression: Compression,
    /// An existing cluster: its name in the servers' `remote_servers`...
    #[serde(default)]
    pub cluster: Option<String>,
    /// ...and the HTTP URL of each of its shards, one server each
    /// (highwater runs its DDL on each; queries and inserts go to the first,
    /// which also keeps the figures)...
    #[serde(default)]
    pub shard_urls: Vec<String>,
    /// ...or, for a cluster with replicas, every server: one list per
    /// shard (highwater runs its DDL on each and moves to another server
    /// when one fails).
    #[serde(default)]
    pub replicas: Vec<Vec<String>>,
    /// The cluster's tables are `Replicated*MergeTree` (ZooKeeper or
    /// ClickHouse Keeper; paths from the `{shard}` and `{replica}` macros,
    /// `internal_replication` true).
    #[serde(default)]
    pub replicated: bool,
    /// Replicas that must hold an insert before the log moves past it
    /// (default 2 when replicated: a node lost right after an insert loses
    /// nothing; while a shard has fewer live replicas, the log holds the
    /// events).
    #[serde(default)]
    pub insert_quorum: Option<u32>,
    /// With no `url` and no `cluster`: how many local servers highwater
    /// starts; more than one makes them a cluster of their own...
    #[serde(default = "one")]
    pub embedded_shards: usize,
    /// ...with this many replicas each (more than one starts a local
    /// ZooKeeper, Debian's, and makes the tables replicated).
    #[serde(default = "one")]
    pub embedded_replicas: usize,
}

impl ClickHouseSettings {
    /// Whether the tables are replicated: a replicated cluster, or an
    /// embedded one with replicas.
    pub fn is_replicated(&self) -> bool {
        self.replicated
            || (self.url.is_none() && self.cluster.is_none() && self.embedded_replicas > 1)
    }

    /// The quorum inserts wait for.
    pub fn quorum(&self) -> Option<u32> {
        match self.insert_quorum {
            Some(n) => (n > 1).then_some(n),
            None => self.is_replicated().then_some(2),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Best for the embedded server on loopback: no CPU spent.
    #[default]
    None,
    Lz4,
}

impl Default for ClickHouseSettings {
    fn default() -> Self {
        Self {
            url: None,
            user: default_user(),
            password: String::new(),
            database: default_database(),
            compression: Compression::None,
            cluster: None,
            shard_urls: Vec::new(),
            replicas: Vec::new(),
            replicated: false,
            insert_quorum: None,
            embedded_shards: 1,
            embedded_replicas: 1,
        }
    }
}

/// Limits of `POST /v1/events` and of requests in general.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestSettings {
    /// Largest request body accepted as sent on the wire.
    pub max_body_bytes: usize,
    /// Largest body after gzip decompression (guards against gzip bombs).
    pub max_decompressed_bytes: usize,
    pub max_events_per_batch: usize,
    /// Ingest requests being read, parsed or logged at once; beyond, 503.
    pub max_in_flight_requests: usize,
    /// Bytes those requests may hold in memory together (charged as bodies
    /// arrive, inflate and parse); beyond, 503.
    pub max_in_flight_bytes: usize,
    /// Largest in-memory form of a parsed OpenTelemetry body; beyond, 413.
    /// (Other bodies are bounded by their size and `max_events_per_batch`.)
    pub max_parsed_bytes: usize,
    /// Body bytes one client address may have in flight whose key is not
    /// known yet (PostHog bodies carry theirs inside); beyond, 429.
    pub max_keyless_bytes_per_address: usize,
    /// A client must send its request headers within this (an idle
    /// keep-alive connection is closed after it too: hyper's one timer)...
    pub header_timeout_ms: u64,
    /// ...and its whole body within this, or get 408...
    pub body_timeout_ms: u64,
    /// ...and after the first `body_grace_ms`, at least this fast on
    /// average (a stalled sender is cut off at once, not after the timeout).
    pub min_body_bytes_per_s: u64,
    pub body_grace_ms: u64,
    /// Moved to `[read] timeout_ms` (still read here, with a warning).
    pub read_timeout_ms: Option<u64>,
    /// Moved to `[read] max_in_flight` (still read here, with a warning).
    pub max_reads_in_flight: Option<usize>,
    /// Failed keys (unknown bearer keys, failed logins, unknown dashboard
    /// sessions) one client address may send: this many at once...
    pub auth_failure_burst: u32,
    /// ...refilled at this rate; past it, 429 without even comparing.
    pub auth_failures_per_minute: u32,
    /// Dashboard logins one client address may make: this many at once...
    pub login_burst: u32,
    /// ...refilled at this rate; past it, 429.
    pub logins_per_minute: u32,
    /// Reverse proxies whose `X-Forwarded-For` / `X-Forwarded-Proto` are
    /// believed (the client address and whether it came over HTTPS).
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for IngestSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 8 * 1024 * 1024,
            max_decompressed_bytes: 32 * 1024 * 1024,
            max_events_per_batch: 100_000,
            max_in_flight_requests: 1024,
            max_in_flight_bytes: 512 * 1024 * 1024,
            max_parsed_bytes: 128 * 1024 * 1024,
            max_keyless_bytes_per_address: 32 * 1024 * 1024,
            header_timeout_ms: 10_000,
            body_timeout_ms: 30_000,
            min_body_bytes_per_s: 64 * 1024,
            body_grace_ms: 1_000,
            read_timeout_ms: None,
            max_reads_in_flight: None,
            auth_failure_burst: 10,
            auth_failures_per_minute: 10,
            login_burst: 60,
            logins_per_minute: 60,
            trusted_proxies: Vec::new(),
        }
    }
}

/// The read API and the dashboard pages.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReadSettings {
    /// A read taking longer is cut off: 503, and ClickHouse stops it too
    /// (`max_execution_time`).
    pub timeout_ms: u64,
    /// Reads in progress at once; beyond, 503 `busy`.
    pub max_in_flight: usize,
}

impl Default for ReadSettings {
    fn default() -> Self {
        Self {
            timeout_ms: 30_000,
            max_in_flight: 32,
        }
    }
}

/// The write-ahead log every accepted batch goes through (see `src/wal`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WalSettings {
    /// Where the log lives; default `<data_dir>/wal`.
    pub dir: Option<PathBuf>,
    /// Disk the log may use; when full, ingest answers 503 until it ships.
    pub max_bytes: u64,
    /// A new segment file is started past this size.
    pub segment_bytes: u64,
    /// Largest ClickHouse insert the shipper sends. Larger inserts mean
    /// fewer merges; 64 MiB took longer than a 15 s insert timeout on a
    /// loaded machine (docs/benchmarks.md, "Not met").
    pub ship_bytes: u64,
    /// A small backlog waits this long for more before it is shipped.
    pub ship_linger_ms: u64,
    /// An insert that takes longer counts as ClickHouse being unavailable.
    pub insert_timeout_ms: u64,
    /// Retries back off exponentially up to this delay.
    pub retry_max_ms: u64,
    /// SIGTERM / Ctrl-C: requests in progress finish and the log ships for
    /// at most this long in all; then highwater exits (the rest ships at the
    /// next start).
    pub shutdown_drain_s: u64,
    /// A backlog that ships nothing for this long makes `/readyz` answer
    /// 503 ("shipping stalled"), even while ClickHouse answers queries.
    pub stall_after_s: u64,
    /// The shipping position is made durable (fsynced) at most this often
    /// and at every clean stop: after a power cut, at most about this long's
    /// worth of inserts is shipped again (copies that no figure counts).
    pub checkpoint_sync_ms: u64,
    /// Shipped segments are kept this long before they are deleted; after
    /// an unclean stop (or a reboot of the machine) the records shipped in
    /// the last this-long are shipped again: ClickHouse 18.16 does not
    /// fsync its parts, and a power cut of its machine can lose them. 0:
    /// deleted at once, never shipped again.
    pub keep_shipped_s: u64,
}

impl Default for WalSettings {
    fn default() -> Self {
        Self {
            dir: None,
            max_bytes: 10 << 30,
            segment_bytes: 64 << 20,
            ship_bytes: 16 << 20,
            ship_linger_ms: 200,
            insert_timeout_ms: 60_000,
            retry_max_ms: 10_000,
            shutdown_drain_s: 10,
            stall_after_s: 60,
            checkpoint_sync_ms: 1_000,
            keep_shipped_s: 120,
        }
    }
}

/// Prometheus metrics (`GET /metrics`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// A listen address of their own (e.g. `127.0.0.1:9464`), unauthenticated:
    /// keep it on a private network.
    pub listen: Option<std::net::SocketAddr>,
    /// Or on the main address, for scrapers that send
    /// `Authorization: Bearer <scrape_key>` (at least 24 characters).
    pub scrape_key: Option<String>,
}

/// What this instance of `serve` does among several behind one load
/// balancer (see `crate::instances`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// `all` (the default), `ingest` or `jobs`.
    pub role: Role,
    /// This instance's id in the lease (default: one made up at the first
    /// start and kept in the log's directory). The lowest live id leads.
    pub instance: Option<String>,
    /// A leader that stops beating is replaced within this many seconds.
    pub lease_s: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            role: Role::All,
            instance: None,
            lease_s: 30,
        }
    }
}

/// The part an instance plays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Takes events, answers reads and pages, and may lead: full rounds
    /// and alerts.
    #[default]
    All,
    /// Takes events and answers reads and pages (with today's live rounds);
    /// never leads.
    Ingest,
    /// May lead: full rounds and alerts; takes no events.
    Jobs,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Ingest => "ingest",
            Self::Jobs => "jobs",
        }
    }

    /// Takes events and answers reads (and runs live rounds for them).
    pub fn serves_clients(self) -> bool {
        self != Self::Jobs
    }

    /// May lead, and so run the full rounds and the alerts.
    pub fn may_lead(self) -> bool {
        self != Self::Ingest
    }
}

/// The jobs `serve` runs on a schedule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsSettings {
    /// Run them at all (off: only `highwater jobs run` computes figures).
    pub enabled: bool,
    /// Seconds between full rounds (every figure of today, the provisional
    /// days and the days late events re-open); they wait at least twice as
    /// long as their last pass took.
    pub interval_s: u64,
    /// Seconds between live rounds, which bring today's session figures
    /// (peaks and their seconds, minutes, DAU, ACU, session lengths) up to
    /// date from the users whose events arrived since; 0: none.
    pub live_interval_s: u64,
    /// A day is read in slices of users of at most this many sessions
    /// (about 250 bytes of job memory each, and ClickHouse's grouping of
    /// them): the memory bound of the jobs, whatever the day's size.
    pub max_sessions_per_slice: u64,
    /// A fixed number of slices (a power of two up to 64) instead; 0: from
    /// the day's size.
    pub slices: u32,
    /// Also compute every figure per platform, country and org_id
    /// (docs/design.md §2 "Segments"), in the same pass.
    pub segments: bool,
    /// Seconds between checks of the `online_above` and `shipping_stalled`
    /// alerts.
    pub alert_check_s: u64,
}

impl Default for JobsSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_s: 300,
            live_interval_s: 10,
            max_sessions_per_slice: 2_000_000,
            slices: 0,
            segments: true,
            alert_check_s: 15,
        }
    }
}

fn default_user() -> String {
    "default".into()
}
fn default_database() -> String {
    "highwater".into()
}
fn one() -> usize {
    1
}
