//! How users behave on one kind of day (workday or weekend): their session
//! kinds — when sessions start and end, breaks, away periods — and the
//! platforms and versions they use. Part of a [`super::scenario::Scenario`].

use std::collections::BTreeMap;

use anyhow::{Context, bail, ensure};
use serde::Deserialize;

/// How users behave on one kind of day.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Behaviour {
    /// Probability that a user of the population uses the product that day.
    pub active_share: f64,
    #[serde(rename = "session")]
    pub sessions: Vec<SessionKind>,
}

/// Sessions of one device kind (desktop app, phone, browser tab ...).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionKind {
    pub name: String,
    /// Share of the day's active users with sessions of this kind.
    pub share: f64,
    /// Sessions per day of a user who has this kind: `[min, max]`.
    #[serde(default = "one_session")]
    pub count: [u32; 2],
    /// Platforms and their weights; a user keeps theirs across days.
    pub platforms: BTreeMap<String, f64>,
    pub app_versions: BTreeMap<String, f64>,
    /// When sessions start, local time: a mixture of normal distributions.
    pub start: Vec<TimeOfDay>,
    /// When they end: a local time (`until`) or a log-normal length.
    #[serde(default)]
    pub until: Option<TimeOfDay>,
    #[serde(default)]
    pub length: Option<Length>,
    /// A break that splits the session in two (lunch; the laptop sleeps).
    #[serde(default, rename = "break")]
    pub pause: Option<Pause>,
    /// Away periods (`presence` away, then active again).
    #[serde(default)]
    pub away: Option<Away>,
}

/// A local time of day, `"HH:MM"`, with a normal spread in minutes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeOfDay {
    pub at: String,
    #[serde(default)]
    pub sd_min: f64,
    /// Weight within a mixture.
    #[serde(default = "one")]
    pub weight: f64,
}

/// Log-normal session length.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Length {
    pub median_min: f64,
    pub sigma: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pause {
    pub share: f64,
    pub at: String,
    pub sd_min: f64,
    pub median_min: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Away {
    /// Expected away periods per connected hour.
    pub per_hour: f64,
    pub median_min: f64,
}

fn one_session() -> [u32; 2] {
    [1, 1]
}
fn one() -> f64 {
    1.0
}

impl Behaviour {
    pub(super) fn validate(&self) -> anyhow::Result<()> {
        ensure!(
            self.active_share > 0.0 && self.active_share <= 1.0,
            "active_share must be in (0, 1]"
        );
        ensure!(
            !self.sessions.is_empty(),
            "at least one [[session]] is needed"
        );
        ensure!(self.sessions.len() <= 64, "at most 64 session kinds");
        for kind in &self.sessions {
            kind.validate()
                .with_context(|| format!("session {:?}", kind.name))?;
        }
        Ok(())
    }
}

impl SessionKind {
    fn validate(&self) -> anyhow::Result<()> {
        ensure!((0.0..=1.0).contains(&self.share), "share must be in [0, 1]");
        ensure!(
            self.count[0] <= self.count[1] && self.count[1] <= 50,
            "count must be [min, max] with min <= max <= 50"
        );
        check_weights(&self.platforms, "platforms")?;
        check_weights(&self.app_versions, "app_versions")?;
        ensure!(!self.start.is_empty(), "start needs at least one time");
        for time in &self.start {
            time.validate()?;
        }
        match (&self.until, &self.length) {
            (Some(until), None) => until.validate()?,
            (None, Some(length)) => ensure!(
                length.median_min > 0.0 && length.sigma >= 0.0,
                "length needs median_min > 0 and sigma >= 0"
            ),
            _ => bail!("give exactly one of `until` and `length`"),
        }
        if let Some(pause) = &self.pause {
            ensure!(
                (0.0..=1.0).contains(&pause.share),
                "break.share must be in [0, 1]"
            );
            hours(&pause.at)?;
            ensure!(pause.median_min > 0.0, "break.median_min must be > 0");
        }
        if let Some(away) = &self.away {
            ensure!(
                away.per_hour >= 0.0 && away.median_min > 0.0,
                "away needs per_hour >= 0 and median_min > 0"
            );
        }
        Ok(())
    }
}

impl TimeOfDay {
    /// Seconds after local midnight.
    pub fn seconds(&self) -> f64 {
        hours(&self.at).expect("validated") * 3600.0
    }

    fn validate(&self) -> anyhow::Result<()> {
        hours(&self.at)?;
        ensure!(self.sd_min >= 0.0, "sd_min must not be negative");
        ensure!(self.weight > 0.0, "weight must be > 0");
        Ok(())
    }
}

impl Pause {
    pub fn seconds(&self) -> f64 {
        hours(&self.at).expect("validated") * 3600.0
    }
}

/// `"HH:MM"` (up to 47:59, for times after midnight) as hours.
fn hours(text: &str) -> anyhow::Result<f64> {
    let parsed = text.split_once(':').and_then(|(h, m)| {
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h < 48 && m < 60 && text.len() == 5).then_some(h as f64 + m as f64 / 60.0)
    });
    parsed.with_context(|| format!("{text:?} is not a time of day \"HH:MM\""))
}

pub fn check_weights(weights: &BTreeMap<String, f64>, what: &str) -> anyhow::Result<()> {
    ensure!(!weights.is_empty(), "{what}: at least one entry is needed");
    ensure!(
        weights.values().all(|w| *w > 0.0 && w.is_finite()),
        "{what}: weights must be positive"
    );
    Ok(())
}
