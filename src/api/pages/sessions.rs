//! Dashboard sessions, kept in ClickHouse (`dashboard_sessions`), so that a
//! login on one instance of highwater is valid on every other and survives
//! restarts. The browser's cookie holds only an opaque random id (256
//! bits); the table holds its SHA-256 — never a usable id — and the
//! SHA-256 of the read keys entered with it, never a key. Sessions expire,
//! end at logout, and a login always starts a new id (so an id planted
//! before login is worth nothing after it). A key that leaves the
//! configuration leaves every session at once (its digest no longer maps
//! to a key). One key holds at most [`MAX_SESSIONS_PER_KEY`]: its oldest
//! make room for its newest, so no key can push out the sessions of others.
//!
//! A session's rows are versions (`ReplacingMergeTree(version)`); reads
//! take the latest with `argMax`, which needs no merge (and works on every
//! ClickHouse version). An end is a newer version marked `ended`.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clickhouse::{Client, Row};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::api::access::keys::{Authorized, KeyRing};
use crate::clock::Clock;
use crate::store::StoreError;

/// How long a session lasts after its login.
pub const SESSION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Sessions one key (the one a login used) holds at most.
pub const MAX_SESSIONS_PER_KEY: usize = 1_000;
/// Read keys one session may hold (one per project in practice).
const MAX_KEYS: usize = 16;

#[derive(Debug, Row, Serialize, Deserialize)]
struct SessionRow {
    /// Hex SHA-256 of the session id.
    id_digest: String,
    /// Hex SHA-256 of the key the login used.
    owner: String,
    /// Hex SHA-256 of every read key of the session, most recent first.
    key_digests: Vec<String>,
    expires_ms: i64,
    ended: u8,
    version: i64,
}

#[derive(Debug)]
pub struct SessionStore {
    client: Client,
    keys: Arc<KeyRing>,
    /// Wall time: sessions expire in real days, whatever a test's clock says.
    clock: Arc<dyn Clock>,
    per_key: usize,
}

impl SessionStore {
    pub fn new(client: Client, keys: Arc<KeyRing>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            keys,
            clock,
            per_key: MAX_SESSIONS_PER_KEY,
        }
    }

    /// Holds at most `per_key` sessions per key (tests of the eviction).
    pub fn with_sessions_per_key(mut self, per_key: usize) -> Self {
        self.per_key = per_key.max(1);
        self
    }

    /// The read keys of the session `id` that the configuration still
    /// has, if it exists, has not ended and has not expired.
    pub async fn keys(&self, id: &str) -> Result<Option<Vec<Authorized>>, StoreError> {
        let Some(session) = self.latest(&digest(id)).await? else {
            return Ok(None);
        };
        if session.ended != 0 || session.expires_ms <= self.clock.now_ms() {
            return Ok(None);
        }
        let keys: Vec<Authorized> = session
            .key_digests
            .iter()
            .filter_map(|hex| self.keys.read_key_by_digest(hex))
            .collect();
        Ok((!keys.is_empty()).then_some(keys))
    }

    /// Starts a session holding `key` and the keys of the session `old`
    /// (which ends); returns the new id.
    pub async fn log_in(&self, old: Option<&str>, key: Authorized) -> Result<String, StoreError> {
        let mut keys = vec![key];
        if let Some(old) = old {
            let previous = self.keys(old).await?.unwrap_or_default();
            keys.extend(previous.into_iter().filter(|k| *k != key));
            self.log_out(old).await?;
        }
        keys.truncate(MAX_KEYS);
        let owner = self.keys.digest_hex(key);
        self.make_room(&owner).await?;
        let id = URL_SAFE_NO_PAD.encode(rand::rng().random::<[u8; 32]>());
        let now_ms = self.clock.now_ms();
        let row = SessionRow {
            id_digest: digest(&id),
            owner,
            key_digests: keys.iter().map(|k| self.keys.digest_hex(*k)).collect(),
            expires_ms: now_ms + SESSION_TTL.as_millis() as i64,
            ended: 0,
            version: version(now_ms, false),
        };
        crate::store::figures::insert_rows(&self.client, "dashboard_sessions", &[row]).await?;
        Ok(id)
    }

    /// Ends the session `id` (nothing happens for an unknown one).
    pub async fn log_out(&self, id: &str) -> Result<(), StoreError> {
        if let Some(session) = self.latest(&digest(id)).await? {
            self.end(vec![session]).await?;
        }
        Ok(())
    }

    /// Ends `owner`'s oldest live sessions until a new one fits.
    async fn make_room(&self, owner: &str) -> Result<(), StoreError> {
        let live: Vec<SessionRow> = self
            .client
            .query(&format!(
                "SELECT * FROM ({}) WHERE ended = 0 AND expires_ms > ? ORDER BY version",
                latest_where("owner")
            ))
            .bind(owner)
            .bind(self.clock.now_ms())
            .fetch_all()
            .await?;
        let excess = (live.len() + 1).saturating_sub(self.per_key);
        self.end(live.into_iter().take(excess).collect()).await
    }

    async fn end(&self, sessions: Vec<SessionRow>) -> Result<(), StoreError> {
        if sessions.is_empty() {
            return Ok(());
        }
        let at = version(self.clock.now_ms(), true);
        let ended: Vec<SessionRow> = sessions
            .into_iter()
            .map(|s| SessionRow {
                ended: 1,
                version: at.max(s.version + 1),
                ..s
            })
            .collect();
        crate::store::figures::insert_rows(&self.client, "dashboard_sessions", &ended).await
    }

    async fn latest(&self, id_digest: &str) -> Result<Option<SessionRow>, StoreError> {
        let rows: Vec<SessionRow> = self
            .client
            .query(&latest_where("id_digest"))
            .bind(id_digest)
            .fetch_all()
            .await?;
        Ok(rows.into_iter().next())
    }
}

/// The latest version of each session whose `column` is `?`. (The inner
/// names differ from the outer ones: 18.16 would take an outer alias for
/// the column inside an aggregate.)
fn latest_where(column: &str) -> String {
    format!(
        "SELECT id_digest, argMax(o, v) AS owner, argMax(k, v) AS key_digests,
                argMax(e, v) AS expires_ms, argMax(x, v) AS ended, max(v) AS version
         FROM (SELECT id_digest, owner AS o, key_digests AS k, expires_ms AS e,
                      ended AS x, version AS v
               FROM dashboard_sessions WHERE {column} = ?)
         GROUP BY id_digest"
    )
}

/// Versions order by time; at the same millisecond an end goes last.
fn version(now_ms: i64, ended: bool) -> i64 {
    now_ms * 2 + i64::from(ended)
}

fn digest(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}
