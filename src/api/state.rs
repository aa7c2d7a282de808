//! What every handler may use: the projects and their keys, the limits,
//! the log, the figures' source, the clock, and the access-control state.

use std::sync::Arc;

use axum::http::HeaderMap;

use super::access::client::WebSettings;
use super::access::guard::AuthGuard;
use super::access::keys::{Authorized, KeyRing, KeyRole};
use super::error::ApiError;
use super::ingest::admission::Admission;
use super::pages::sessions::SessionStore;
use super::read::in_flight::ReadsInFlight;
use crate::clock::Clock;
use crate::config::{IngestSettings, ProjectSettings};
use crate::figures::source::FiguresSource;
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
    pub monitoring: Arc<Monitoring>,
    /// SHA-256 of `metrics.scrape_key`, if `/metrics` is served here.
    pub scrape_key_digest: Option<[u8; 32]>,
    /// `/readyz`'s last look at ClickHouse.
    pub clickhouse_check: Arc<super::clickhouse_check::ClickHouseCheck>,
    /// Which instance this is, its role, whether it leads.
    pub instance: crate::instances::InstanceView,
    /// Holds the migrated client once ClickHouse answered and was migrated.
    pub migrated: tokio::sync::watch::Receiver<Option<clickhouse::Client>>,
    /// The servers of a replicated cluster and whether each answers.
    pub clickhouse_servers: Option<crate::store::failover::Servers>,
}

impl AppState {
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
