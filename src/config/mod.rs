//! One `Settings` struct, loaded once at start-up from `highwater.toml` (path
//! overridable) with environment overrides, validated so that a bad value fails
//! fast with a message that names it.

pub mod keys;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono_tz::Tz;
use serde::Deserialize;

/// Everything highwater needs to run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address the HTTP server listens on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Where the embedded ClickHouse keeps its data, config and logs, and the
    /// write-ahead log its segments (unless `wal.dir` says otherwise).
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Where `GET /dashboards/{name}` finds `{name}.toml` (the built-in
    /// overview and capacity dashboards serve when the file is missing).
    #[serde(default = "default_dashboards_dir")]
    pub dashboards_dir: PathBuf,
    /// The address users reach highwater at (`https://stats.example.com`),
    /// when it differs from `listen` (a reverse proxy): the dashboard login
    /// accepts forms from this origin only, and its cookie is `Secure` when
    /// this is https.
    #[serde(default)]
    pub public_url: Option<String>,
    #[serde(default)]
    pub clickhouse: ClickHouseSettings,
    #[serde(default)]
    pub ingest: IngestSettings,
    #[serde(default)]
    pub wal: WalSettings,
    #[serde(default)]
    pub jobs: JobsSettings,
    #[serde(default, rename = "project")]
    pub projects: Vec<ProjectSettings>,
}

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
    /// Bytes those requests may hold in memory together; beyond, 503.
    pub max_in_flight_bytes: usize,
    /// A client must send its request headers within this...
    pub header_timeout_ms: u64,
    /// ...and its whole body within this, or get 408.
    pub body_timeout_ms: u64,
    /// A read (API or dashboard page) taking longer is cut off: 503, and
    /// ClickHouse stops it too (`max_execution_time`).
    pub read_timeout_ms: u64,
    /// Reads in progress at once; beyond, 503 `busy`.
    pub max_reads_in_flight: usize,
    /// Failed keys (unknown bearer keys, failed logins, unknown dashboard
    /// sessions) one client address may send: this many at once...
    pub auth_failure_burst: u32,
    /// ...refilled at this rate; past it, 429 without even comparing.
    pub auth_failures_per_minute: u32,
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
            header_timeout_ms: 10_000,
            body_timeout_ms: 30_000,
            read_timeout_ms: 30_000,
            max_reads_in_flight: 32,
            auth_failure_burst: 10,
            auth_failures_per_minute: 10,
            trusted_proxies: Vec::new(),
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
    /// Largest ClickHouse insert the shipper sends.
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
        }
    }
}

/// Per-key token buckets of one project.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    /// Events each ingest key may send per second, sustained...
    pub ingest_events_per_s: u32,
    /// ...and at once (a batch larger than this is refused with 429).
    pub ingest_burst_events: u32,
    /// Requests each read key may make per second, sustained...
    pub read_requests_per_s: u32,
    /// ...and at once.
    pub read_burst_requests: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            ingest_events_per_s: 1_000_000,
            ingest_burst_events: 2_000_000,
            read_requests_per_s: 50,
            read_burst_requests: 100,
        }
    }
}

/// The jobs `serve` runs on a schedule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsSettings {
    /// Run them at all (off: only `highwater jobs run` computes figures).
    pub enabled: bool,
    /// Seconds between rounds: provisional days are this fresh.
    pub interval_s: u64,
}

impl Default for JobsSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_s: 300,
        }
    }
}

/// One measured product.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSettings {
    pub name: String,
    /// IANA name; days are local days in this zone.
    #[serde(default = "default_time_zone")]
    pub time_zone: Tz,
    /// `T` of DESIGN §2.
    #[serde(default = "default_session_timeout_s")]
    pub session_timeout_s: u32,
    /// `L` of DESIGN §2.
    #[serde(default = "default_max_session_length_s")]
    pub max_session_length_s: u32,
    /// How far ahead of the server clock an event's `ts` may be.
    #[serde(default = "default_max_ts_ahead_s")]
    pub max_ts_ahead_s: u32,
    /// How old an event's `ts` may be, unless `backfill` is on.
    #[serde(default = "default_max_ts_age_s")]
    pub max_ts_age_s: u32,
    /// Accept any past `ts` (imports and simulations).
    #[serde(default)]
    pub backfill: bool,
    /// A day is final once `D1 + T + lateness_s` has passed.
    #[serde(default = "default_lateness_s")]
    pub lateness_s: u32,
    /// Concurrent users the fleet holds (capacity reports; none: no headroom).
    #[serde(default)]
    pub capacity_users: Option<u64>,
    /// Share of the capacity to plan up to.
    #[serde(default = "default_target_utilisation")]
    pub target_utilisation: f64,
    /// Token buckets per key of this project.
    #[serde(default)]
    pub rate_limits: RateLimits,
    #[serde(default)]
    pub ingest_keys: Vec<String>,
    #[serde(default)]
    pub read_keys: Vec<String>,
}

impl ProjectSettings {
    /// A project with every default, for demos and tests.
    pub fn new(name: &str, ingest_key: &str, read_key: &str) -> Self {
        Self {
            name: name.to_owned(),
            time_zone: default_time_zone(),
            session_timeout_s: default_session_timeout_s(),
            max_session_length_s: default_max_session_length_s(),
            max_ts_ahead_s: default_max_ts_ahead_s(),
            max_ts_age_s: default_max_ts_age_s(),
            backfill: false,
            lateness_s: default_lateness_s(),
            capacity_users: None,
            target_utilisation: default_target_utilisation(),
            rate_limits: RateLimits::default(),
            ingest_keys: vec![ingest_key.to_owned()],
            read_keys: vec![read_key.to_owned()],
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("./highwater-data")
}
fn default_target_utilisation() -> f64 {
    0.8
}
fn default_dashboards_dir() -> PathBuf {
    PathBuf::from("./dashboards")
}
fn default_user() -> String {
    "default".into()
}
fn default_database() -> String {
    "highwater".into()
}
fn default_time_zone() -> Tz {
    Tz::UTC
}
fn default_session_timeout_s() -> u32 {
    600
}
fn default_max_session_length_s() -> u32 {
    7 * 24 * 3600
}
fn default_max_ts_ahead_s() -> u32 {
    300
}
fn default_max_ts_age_s() -> u32 {
    30 * 24 * 3600
}
fn default_lateness_s() -> u32 {
    3600
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            data_dir: default_data_dir(),
            dashboards_dir: default_dashboards_dir(),
            public_url: None,
            clickhouse: ClickHouseSettings::default(),
            ingest: IngestSettings::default(),
            wal: WalSettings::default(),
            jobs: JobsSettings::default(),
            projects: Vec::new(),
        }
    }
}

impl Settings {
    /// Reads the file (a missing file is fine only when `required` is false),
    /// applies the environment, validates.
    pub fn load(path: &Path, required: bool) -> anyhow::Result<Self> {
        let mut settings = match std::fs::read_to_string(path) {
            Ok(text) => Self::from_toml(&text)
                .with_context(|| format!("invalid configuration in {}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => Self::default(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "no configuration at {}: copy highwater.example.toml there and edit its projects \
                 (or pass --config), or try `highwater demo`, which needs none",
                path.display()
            ),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        settings.apply_env(|name| std::env::var(name).ok())?;
        settings.validate()?;
        Ok(settings)
    }

    pub fn from_toml(text: &str) -> anyhow::Result<Self> {
        Ok(toml::from_str(text)?)
    }

    /// `lookup` is injected so tests need not touch the process environment.
    pub fn apply_env(&mut self, lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        if let Some(listen) = lookup("HIGHWATER_LISTEN") {
            self.listen = listen
                .parse()
                .with_context(|| format!("HIGHWATER_LISTEN={listen:?} is not host:port"))?;
        }
        if let Some(dir) = lookup("HIGHWATER_DATA_DIR") {
            self.data_dir = dir.into();
        }
        if let Some(url) = lookup("HIGHWATER_CLICKHOUSE_URL") {
            self.clickhouse.url = Some(url).filter(|u| !u.is_empty());
        }
        if let Some(user) = lookup("HIGHWATER_CLICKHOUSE_USER") {
            self.clickhouse.user = user;
        }
        if let Some(password) = lookup("HIGHWATER_CLICKHOUSE_PASSWORD") {
            self.clickhouse.password = password;
        }
        if let Some(database) = lookup("HIGHWATER_CLICKHOUSE_DATABASE") {
            self.clickhouse.database = database;
        }
        Ok(())
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        let ingest = &self.ingest;
        if ingest.max_events_per_batch == 0 || ingest.max_in_flight_requests == 0 {
            bail!("ingest.max_events_per_batch and ingest.max_in_flight_requests must be positive");
        }
        if ingest.max_reads_in_flight == 0 || ingest.auth_failure_burst == 0 {
            bail!("ingest.max_reads_in_flight and ingest.auth_failure_burst must be positive");
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            bail!("public_url {url:?} must start with http:// or https://");
        }
        // A segment is deleted only once it is sealed and shipped: the log
        // needs room for the one being written and at least one more.
        if self.wal.segment_bytes == 0 || self.wal.max_bytes < 2 * self.wal.segment_bytes {
            bail!(
                "wal.max_bytes ({}) must be at least twice wal.segment_bytes ({}), which must be positive",
                self.wal.max_bytes,
                self.wal.segment_bytes
            );
        }
        if !is_identifier(&self.clickhouse.database) {
            bail!(
                "clickhouse.database {:?} must be letters, digits and '_'",
                self.clickhouse.database
            );
        }
        let mut names = std::collections::HashSet::new();
        let mut keys = std::collections::HashSet::new();
        for project in &self.projects {
            if project.name.is_empty() || project.name.len() > 64 {
                bail!("project name {:?} must be 1-64 bytes", project.name);
            }
            if !names.insert(&project.name) {
                bail!("project {:?} is listed twice", project.name);
            }
            if project.max_session_length_s == 0 {
                bail!(
                    "project {:?}: max_session_length_s must be positive",
                    project.name
                );
            }
            if !(project.target_utilisation > 0.0 && project.target_utilisation <= 1.0) {
                bail!(
                    "project {:?}: target_utilisation must be in (0, 1]",
                    project.name
                );
            }
            if project.capacity_users == Some(0) {
                bail!(
                    "project {:?}: capacity_users must be positive",
                    project.name
                );
            }
            let limits = &project.rate_limits;
            if limits.ingest_events_per_s == 0
                || limits.ingest_burst_events == 0
                || limits.read_requests_per_s == 0
                || limits.read_burst_requests == 0
            {
                bail!("project {:?}: rate_limits must be positive", project.name);
            }
            if project.session_timeout_s == 0 {
                bail!(
                    "project {:?}: session_timeout_s must be positive",
                    project.name
                );
            }
            let roles = [
                ("ingest", &project.ingest_keys),
                ("read", &project.read_keys),
            ];
            let refused: Vec<String> = roles
                .iter()
                .flat_map(|(role, ks)| ks.iter().map(move |k| (role, k)))
                .filter_map(|(role, key)| Some(format!("{role} key: {}", keys::refusal(key)?)))
                .collect();
            if !refused.is_empty() {
                bail!("project {:?}: {}", project.name, refused.join("; "));
            }
            for key in project.ingest_keys.iter().chain(&project.read_keys) {
                if !keys.insert(key) {
                    bail!("project {:?}: a key is used more than once", project.name);
                }
            }
        }
        Ok(())
    }

    /// Where the write-ahead log lives.
    pub fn wal_dir(&self) -> PathBuf {
        self.wal
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("wal"))
    }

    pub fn project(&self, name: &str) -> Option<&ProjectSettings> {
        self.projects.iter().find(|p| p.name == name)
    }

    /// The project named `name`, or an error that lists the known ones.
    pub fn known_project(&self, name: &str) -> anyhow::Result<&ProjectSettings> {
        self.project(name).ok_or_else(|| {
            let known: Vec<&str> = self.projects.iter().map(|p| p.name.as_str()).collect();
            anyhow::anyhow!(
                "unknown project {name:?}; configured projects: {}",
                known.join(", ")
            )
        })
    }
}

fn is_identifier(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
        listen = "0.0.0.0:9000"
        [clickhouse]
        database = "hw"
        [ingest]
        max_events_per_batch = 10
        [[project]]
        name = "chat"
        time_zone = "America/New_York"
        ingest_keys = ["ingest-key-0123456789abcd"]
        read_keys = ["read-key-0123456789abcdef"]
    "#;

    #[test]
    fn a_full_file_parses_with_defaults_filled_in() {
        let settings = Settings::from_toml(EXAMPLE).unwrap();
        settings.validate().unwrap();
        assert_eq!(settings.listen.port(), 9000);
        assert_eq!(settings.ingest.max_events_per_batch, 10);
        assert_eq!(settings.wal.max_bytes, 10 << 30);
        let chat = settings.project("chat").unwrap();
        assert_eq!(chat.time_zone, chrono_tz::America::New_York);
        assert_eq!(chat.session_timeout_s, 600);
        assert!(settings.clickhouse.url.is_none());
    }

    #[test]
    fn environment_overrides_the_file() {
        let mut settings = Settings::from_toml(EXAMPLE).unwrap();
        settings
            .apply_env(|name| match name {
                "HIGHWATER_CLICKHOUSE_URL" => Some("http://ch:8123".into()),
                "HIGHWATER_CLICKHOUSE_DATABASE" => Some("other".into()),
                _ => None,
            })
            .unwrap();
        assert_eq!(settings.clickhouse.url.as_deref(), Some("http://ch:8123"));
        assert_eq!(settings.clickhouse.database, "other");
    }

    #[test]
    fn the_shipped_example_parses_but_its_keys_must_be_replaced() {
        let example = include_str!("../../highwater.example.toml");
        let mut settings = Settings::from_toml(example).unwrap();
        assert_eq!(settings.projects.len(), 1);
        assert_eq!(settings.clickhouse.compression, Compression::None);
        let refused = format!("{:#}", settings.validate().unwrap_err());
        assert!(refused.contains("change-me-ingest-key-0001"), "{refused}");
        let project = &mut settings.projects[0];
        project.ingest_keys = vec![keys::new_key()];
        project.read_keys = vec![keys::new_key()];
        settings.validate().unwrap();
    }

    #[test]
    fn unknown_keys_and_bad_zones_are_rejected() {
        assert!(Settings::from_toml("lisen = \"x\"").is_err());
        let bad_zone = "[[project]]\nname = \"a\"\ntime_zone = \"Mars/Olympus\"";
        assert!(Settings::from_toml(bad_zone).is_err());
    }

    #[test]
    fn short_or_shared_keys_fail_validation() {
        let mut settings = Settings::default();
        settings.projects.push(ProjectSettings::new(
            "a",
            "short",
            "read-key-0123456789abcdef",
        ));
        assert!(settings.validate().is_err());
        settings.projects[0] = ProjectSettings::new(
            "a",
            "same-key-0123456789abcdef",
            "same-key-0123456789abcdef",
        );
        assert!(settings.validate().is_err());
    }

    #[test]
    fn the_log_needs_room_for_two_segments() {
        let mut settings = Settings::default();
        settings.wal.segment_bytes = 1 << 20;
        settings.wal.max_bytes = 1 << 20;
        let refused = format!("{:#}", settings.validate().unwrap_err());
        assert!(
            refused.contains("at least twice wal.segment_bytes"),
            "{refused}"
        );
        settings.wal.max_bytes = 2 << 20;
        settings.validate().unwrap();
    }

    #[test]
    fn database_names_must_be_identifiers() {
        let mut settings = Settings::default();
        settings.clickhouse.database = "x; DROP".into();
        assert!(settings.validate().is_err());
    }
}
