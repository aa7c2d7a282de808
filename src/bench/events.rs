//! Realistic events for benchmarks: Slack-like ids, RFC 3339 timestamps,
//! a spread of types, platforms and countries. Deterministic per seed.

use chrono::{DateTime, SecondsFormat};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use serde_json::json;

const PLATFORMS: &[&str] = &["macos", "windows", "ios", "android", "linux", "web"];
const COUNTRIES: &[&str] = &["US", "GB", "DE", "JP", "IN", "BR", "FR", "CA", "AU", "NL"];
const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// One generated event, in the shape both benchmark paths need.
#[derive(Debug, Clone)]
pub struct BenchEvent {
    pub kind: &'static str,
    pub user_id: String,
    pub session_id: String,
    pub ts_ms: i64,
    pub status: &'static str,
    pub event_id: String,
    pub platform: &'static str,
    pub country: &'static str,
    pub org_id: String,
    pub app_version: &'static str,
}

impl BenchEvent {
    /// As a client sends it to highwater (docs/design.md §1).
    pub fn to_api_json(&self) -> serde_json::Value {
        let ts = DateTime::from_timestamp_millis(self.ts_ms)
            .expect("generated ts in range")
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        let mut event = json!({
            "type": self.kind, "user_id": self.user_id, "session_id": self.session_id,
            "ts": ts, "event_id": self.event_id, "platform": self.platform,
            "country": self.country, "org_id": self.org_id, "app_version": self.app_version,
        });
        if !self.status.is_empty() {
            event["status"] = json!(self.status);
        }
        event
    }

    /// As a row of the `events` table in ClickHouse's JSONEachRow.
    pub fn to_row_json(&self, project: &str, received_ms: i64) -> serde_json::Value {
        json!({
            "project": project, "type": self.kind, "user_id": self.user_id,
            "session_id": self.session_id, "ts_ms": self.ts_ms, "status": self.status,
            "event_id": self.event_id, "platform": self.platform, "country": self.country,
            "org_id": self.org_id, "app_version": self.app_version, "received_ms": received_ms,
        })
    }
}

fn id(rng: &mut SmallRng, prefix: char, len: usize) -> String {
    let mut s = String::with_capacity(len + 1);
    s.push(prefix);
    for _ in 0..len {
        s.push(ALPHABET[rng.random_range(0..ALPHABET.len())] as char);
    }
    s
}

/// `count` events from a population of `count / 50` users, timestamps spread
/// over the hour before `now_ms`.
pub fn generate(count: usize, seed: u64, now_ms: i64) -> Vec<BenchEvent> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let users: Vec<(String, String)> = (0..(count / 50).max(1))
        .map(|_| (id(&mut rng, 'U', 10), id(&mut rng, 'T', 8)))
        .collect();
    (0..count)
        .map(|_| {
            let (user_id, org_id) = &users[rng.random_range(0..users.len())];
            let roll = rng.random_range(0..100);
            let (kind, status) = match roll {
                0..7 => ("session_start", ""),
                7..14 => ("session_end", ""),
                14..22 => ("presence", if roll % 2 == 0 { "active" } else { "away" }),
                _ => ("heartbeat", ""),
            };
            BenchEvent {
                kind,
                user_id: user_id.clone(),
                session_id: format!("{user_id}-{}", rng.random_range(0..3)),
                ts_ms: now_ms - rng.random_range(0..3_600_000),
                status,
                event_id: id(&mut rng, 'E', 25),
                platform: PLATFORMS[rng.random_range(0..PLATFORMS.len())],
                country: COUNTRIES[rng.random_range(0..COUNTRIES.len())],
                org_id: org_id.clone(),
                app_version: "4.29.149",
            }
        })
        .collect()
}
