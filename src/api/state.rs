//! What every handler may use: the projects and their keys, the limits,
//! the log, the figures' source, the clock, and the access-control state.

use std::sync::Arc;

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

use super::access::client::WebSettings;
use super::access::guard::AuthGuard;
use super::access::keys::{Authorized, KeyRing, KeyRole};
use super::error::ApiError;
use super::ingest::admission::Admission;
use super::pages::sessions::SessionStore;
use super::read::in_flight::ReadsInFlight;
use crate::clock::Clock;
use crate::config::{IngestSettings, ProjectSettings, ReadSettings, Settings};
use crate::figures::source::FiguresSource;
use crate::instances::InstanceView;
use crate::monitoring::Monitoring;
use crate::wal::Wal;

/// What every handler may use; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub projects: Arc<Vec<ProjectSettings>>,
    pub keys: Arc<KeyRing>,
    pub limits: Arc<IngestSettings>,
    pub admission: Admission,
    pub wal: Wal,
    /// The stored figures and online now, for every read.
    pub figures: Arc<dyn FiguresSource>,
    pub clock: Arc<dyn Clock>,
    pub dashboards_dir: Arc<std::path::PathBuf>,
    pub web: Arc<WebSettings>,
    pub guard: Arc<AuthGuard>,
    pub sessions: Arc<SessionStore>,
    pub reads: ReadsInFlight,
    pub read: Arc<ReadSettings>,
    pub monitoring: Arc<Monitoring>,
    /// SHA-256 of `metrics.scrape_key`, if `/metrics` is served here.
    pub scrape_key_digest: Option<[u8; 32]>,
    /// `/readyz`'s last look at ClickHouse.
    pub clickhouse_check: Arc<super::clickhouse_check::ClickHouseCheck>,
    /// Which instance this is, its role, whether it leads.
    pub instance: InstanceView,
    /// Holds the migrated client once ClickHouse answered and was migrated.
    pub migrated: tokio::sync::watch::Receiver<Option<clickhouse::Client>>,
    /// The servers of a replicated cluster and whether each answers.
    pub clickhouse_servers: Option<crate::store::failover::Servers>,
}

/// What the state is made of beyond the settings: the parts `serve`
/// shares with its other services (or a test with its own).
pub struct StateParts {
    pub wal: Wal,
    pub figures: Arc<dyn FiguresSource>,
    /// Where dashboard sessions are kept.
    pub sessions_client: clickhouse::Client,
    pub clock: Arc<dyn Clock>,
    pub monitoring: Arc<Monitoring>,
    pub instance: InstanceView,
    pub migrated: tokio::sync::watch::Receiver<Option<clickhouse::Client>>,
}

impl AppState {
    pub fn new(settings: &Settings, parts: StateParts) -> anyhow::Result<Self> {
        let limits = &settings.ingest;
        let keys = Arc::new(KeyRing::new(&settings.projects));
        Ok(Self {
            projects: Arc::new(settings.projects.clone()),
            keys: keys.clone(),
            limits: Arc::new(limits.clone()),
            admission: Admission::new(limits)?,
            wal: parts.wal,
            figures: parts.figures,
            clock: parts.clock,
            dashboards_dir: Arc::new(settings.dashboards_dir.clone()),
            web: Arc::new(WebSettings::new(
                settings.public_url.as_deref(),
                &limits.trusted_proxies,
            )),
            guard: Arc::new(AuthGuard::new(
                limits.auth_failure_burst,
                limits.auth_failures_per_minute,
                (limits.login_burst, limits.logins_per_minute),
            )),
            // Sessions expire in real days, whatever the server's clock says.
            sessions: Arc::new(SessionStore::new(
                parts.sessions_client,
                keys,
                crate::clock::system(),
            )),
            reads: ReadsInFlight::new(settings.read.max_in_flight),
            read: Arc::new(settings.read.clone()),
            monitoring: parts.monitoring,
            scrape_key_digest: settings
                .metrics
                .scrape_key
                .as_ref()
                .map(|key| Sha256::digest(key.as_bytes()).into()),
            clickhouse_check: Arc::default(),
            instance: parts.instance,
            migrated: parts.migrated,
            clickhouse_servers: None,
        })
    }

    /// The project the request's read key may read; each call is one
    /// request against the key's rate limit.
    pub fn readable_project(&self, headers: &HeaderMap) -> Result<&ProjectSettings, ApiError> {
        let key = self.keys.authorize(headers, KeyRole::Read)?;
        self.keys.throttle(key, 1)?;
        Ok(&self.projects[key.project])
    }

    /// The request's ingest key and its project (rate-limited per event by
    /// the handler, once it knows how many there are).
    pub fn ingest_key(
        &self,
        headers: &HeaderMap,
    ) -> Result<(Authorized, &ProjectSettings), ApiError> {
        let key = self.keys.authorize(headers, KeyRole::Ingest)?;
        Ok((key, &self.projects[key.project]))
    }
}

impl axum::extract::FromRef<AppState> for Arc<WebSettings> {
    fn from_ref(state: &AppState) -> Self {
        state.web.clone()
    }
}
