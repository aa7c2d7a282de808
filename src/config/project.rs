//! One measured product: its time zone and session rules, what it accepts,
//! its capacity, its rate limits and its keys.

use anyhow::bail;
use chrono_tz::Tz;
use serde::Deserialize;

use super::keys;

/// One measured product.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSettings {
    pub name: String,
    /// IANA name; days are local days in this zone.
    #[serde(default = "default_time_zone")]
    pub time_zone: Tz,
    /// `T` of docs/design.md §2.
    #[serde(default = "default_session_timeout_s")]
    pub session_timeout_s: u32,
    /// `L` of docs/design.md §2.
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
    /// Organisations kept per day in the `org_id` segments: this many with
    /// the highest peaks...
    #[serde(default = "default_top_orgs")]
    pub top_orgs: usize,
    /// ...and these, always.
    #[serde(default)]
    pub watched_orgs: Vec<String>,
    /// Web origins (`https://app.example.com`) whose pages may send events
    /// from the browser (CORS on the ingest routes): a PostHog SDK or
    /// `fetch` to `/v1/events` on a page of another origin.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// The attribute of an OpenTelemetry log record (or of its scope or
    /// resource) that names the user (`/v1/logs`).
    #[serde(default = "default_otel_user_attribute")]
    pub otel_user_attribute: String,
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
            top_orgs: default_top_orgs(),
            watched_orgs: Vec::new(),
            allowed_origins: Vec::new(),
            otel_user_attribute: default_otel_user_attribute(),
            rate_limits: RateLimits::default(),
            ingest_keys: vec![ingest_key.to_owned()],
            read_keys: vec![read_key.to_owned()],
        }
    }

    /// Checks the project on its own (names and keys shared across
    /// projects are checked by [`super::Settings::validate`]).
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.name.is_empty() || self.name.len() > 64 {
            bail!("project name {:?} must be 1-64 bytes", self.name);
        }
        if self.max_session_length_s == 0 {
            bail!(
                "project {:?}: max_session_length_s must be positive",
                self.name
            );
        }
        if !(self.target_utilisation > 0.0 && self.target_utilisation <= 1.0) {
            bail!(
                "project {:?}: target_utilisation must be in (0, 1]",
                self.name
            );
        }
        if self.capacity_users == Some(0) {
            bail!("project {:?}: capacity_users must be positive", self.name);
        }
        let limits = &self.rate_limits;
        if limits.ingest_events_per_s == 0
            || limits.ingest_burst_events == 0
            || limits.read_requests_per_s == 0
            || limits.read_burst_requests == 0
        {
            bail!("project {:?}: rate_limits must be positive", self.name);
        }
        if self.session_timeout_s == 0 {
            bail!(
                "project {:?}: session_timeout_s must be positive",
                self.name
            );
        }
        if self.otel_user_attribute.trim().is_empty() {
            bail!(
                "project {:?}: otel_user_attribute must name an attribute (e.g. \"user.id\")",
                self.name
            );
        }
        if let Some(origin) = self.allowed_origins.iter().find(|o| !is_origin(o)) {
            bail!(
                "project {:?}: allowed_origins: {origin:?} is not an origin \
                 (scheme://host[:port], no path; or \"*\" for any)",
                self.name
            );
        }
        let roles = [("ingest", &self.ingest_keys), ("read", &self.read_keys)];
        let refused: Vec<String> = roles
            .iter()
            .flat_map(|(role, ks)| ks.iter().map(move |k| (role, k)))
            .filter_map(|(role, key)| Some(format!("{role} key: {}", keys::refusal(key)?)))
            .collect();
        if !refused.is_empty() {
            bail!("project {:?}: {}", self.name, refused.join("; "));
        }
        Ok(())
    }
}

/// `scheme://host[:port]` exactly as a browser sends it in `Origin`, or `*`.
fn is_origin(text: &str) -> bool {
    if text == "*" {
        return true;
    }
    let Some((scheme, rest)) = text.split_once("://") else {
        return false;
    };
    matches!(scheme, "http" | "https")
        && !rest.is_empty()
        && !rest.contains(['/', '?', '#', ' ', '@'])
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

fn default_top_orgs() -> usize {
    50
}
fn default_target_utilisation() -> f64 {
    0.8
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
fn default_otel_user_attribute() -> String {
    "user.id".to_owned()
}
fn default_lateness_s() -> u32 {
    3600
}
