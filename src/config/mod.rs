//! One `Settings` struct, loaded once at start-up from `highwater.toml` (path
//! overridable) with environment overrides, validated so that a bad value fails
//! fast with a message that names it.

mod alert;
mod env;
pub(crate) mod keys;
mod moved_keys;
mod project;
mod sections;

pub use alert::{AlertKind, AlertSettings};
pub use project::{ProjectSettings, RateLimits};
pub use sections::{
    ClickHouseSettings, Compression, IngestSettings, JobsSettings, MetricsSettings, ReadSettings,
    Role, ServerSettings, WalSettings,
};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
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
    pub server: ServerSettings,
    #[serde(default)]
    pub clickhouse: ClickHouseSettings,
    #[serde(default)]
    pub ingest: IngestSettings,
    #[serde(default)]
    pub read: ReadSettings,
    #[serde(default)]
    pub wal: WalSettings,
    #[serde(default)]
    pub jobs: JobsSettings,
    #[serde(default)]
    pub metrics: MetricsSettings,
    /// Webhooks (`[[alert]]`).
    #[serde(default, rename = "alert")]
    pub alerts: Vec<AlertSettings>,
    #[serde(default, rename = "project")]
    pub projects: Vec<ProjectSettings>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("./highwater-data")
}
fn default_dashboards_dir() -> PathBuf {
    PathBuf::from("./dashboards")
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            data_dir: default_data_dir(),
            dashboards_dir: default_dashboards_dir(),
            public_url: None,
            server: ServerSettings::default(),
            clickhouse: ClickHouseSettings::default(),
            ingest: IngestSettings::default(),
            read: ReadSettings::default(),
            wal: WalSettings::default(),
            jobs: JobsSettings::default(),
            metrics: MetricsSettings::default(),
            alerts: Vec::new(),
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
        let mut settings: Self = toml::from_str(text)?;
        for warning in settings.adopt_moved_keys() {
            tracing::warn!("{warning}");
        }
        Ok(settings)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        let ingest = &self.ingest;
        if ingest.max_events_per_batch == 0 || ingest.max_in_flight_requests == 0 {
            bail!("ingest.max_events_per_batch and ingest.max_in_flight_requests must be positive");
        }
        if self.read.max_in_flight == 0 || ingest.auth_failure_burst == 0 {
            bail!("read.max_in_flight and ingest.auth_failure_burst must be positive");
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
        if self.server.lease_s < 3 {
            bail!("server.lease_s must be at least 3 (a heartbeat goes every third of it)");
        }
        if let Some(id) = &self.server.instance
            && (id.is_empty() || id.len() > 64)
        {
            bail!("server.instance must be 1 to 64 characters");
        }
        if let Some(why) = self.metrics.scrape_key.as_deref().and_then(keys::refusal) {
            bail!("metrics.scrape_key: {why}");
        }
        for alert in &self.alerts {
            alert.validate(&self.projects)?;
        }
        let clickhouse = &self.clickhouse;
        let servers_listed = !clickhouse.shard_urls.is_empty() || !clickhouse.replicas.is_empty();
        match &clickhouse.cluster {
            Some(name) if !is_identifier(name) => {
                bail!("clickhouse.cluster {name:?} must be letters, digits and '_'")
            }
            Some(_) if !servers_listed || clickhouse.url.is_some() => bail!(
                "with clickhouse.cluster, list every shard's HTTP URL in clickhouse.shard_urls \
                 (the first is where highwater sends queries and keeps the figures), or every \
                 server in clickhouse.replicas (one list per shard), and leave clickhouse.url out"
            ),
            Some(_) if !clickhouse.shard_urls.is_empty() && !clickhouse.replicas.is_empty() => {
                bail!(
                    "list the cluster's servers in clickhouse.shard_urls or in clickhouse.replicas, not both"
                )
            }
            None if servers_listed => {
                bail!(
                    "clickhouse.shard_urls and clickhouse.replicas need clickhouse.cluster, the cluster's name"
                )
            }
            _ => {}
        }
        if clickhouse.replicas.iter().any(Vec::is_empty) {
            bail!("clickhouse.replicas lists a shard without servers");
        }
        if clickhouse.replicated && clickhouse.cluster.is_none() {
            bail!(
                "clickhouse.replicated needs clickhouse.cluster (ZooKeeper and macros are the cluster's)"
            );
        }
        if clickhouse.insert_quorum == Some(0) {
            bail!("clickhouse.insert_quorum must be at least 1");
        }
        let slices = self.jobs.slices;
        if slices > 64
            || (slices > 0 && !slices.is_power_of_two())
            || self.jobs.max_sessions_per_slice == 0
        {
            bail!(
                "jobs.slices must be 0 (from the day's size) or a power of two up to 64, and jobs.max_sessions_per_slice positive"
            );
        }
        if !(1..=16).contains(&clickhouse.embedded_shards) {
            bail!("clickhouse.embedded_shards must be 1 to 16");
        }
        if !(1..=3).contains(&clickhouse.embedded_replicas) {
            bail!("clickhouse.embedded_replicas must be 1 to 3");
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
            project.validate()?;
            if !names.insert(&project.name) {
                bail!("project {:?} is listed twice", project.name);
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
    fn allowed_origins_must_be_origins() {
        let mut settings = Settings::from_toml(EXAMPLE).unwrap();
        let origins = |list: &[&str]| list.iter().map(|o| o.to_string()).collect();
        settings.projects[0].allowed_origins =
            origins(&["https://app.example.com", "http://127.0.0.1:3000", "*"]);
        settings.validate().unwrap();
        for bad in [
            "app.example.com",
            "https://app.example.com/",
            "ftp://x",
            "https://",
        ] {
            settings.projects[0].allowed_origins = origins(&[bad]);
            let refused = format!("{:#}", settings.validate().unwrap_err());
            assert!(refused.contains("allowed_origins"), "{bad}: {refused}");
        }
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
