//! A scenario: who the users are, how they behave on workdays and weekends,
//! how their number grows, and how their clients deliver events. Read from
//! TOML (`fixtures/scenarios/*.toml`, documented field by field in
//! `fixtures/scenarios/README.md`).

use std::collections::BTreeMap;
use std::path::Path;

use crate::domain::calendar::is_weekend;
use anyhow::{Context, ensure};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use super::behaviour::check_weights;
pub use super::behaviour::{Away, Behaviour, Length, Pause, SessionKind, TimeOfDay};
use crate::config::ProjectSettings;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// First simulated day (the project's local day).
    pub start: NaiveDate,
    pub days: u32,
    pub project: ScenarioProject,
    #[serde(default)]
    pub delivery: Delivery,
    pub peaks: Peaks,
    #[serde(rename = "region")]
    pub regions: Vec<Region>,
    /// Average users per organisation (`org_id`).
    #[serde(default = "default_org_size")]
    pub org_size: u32,
    /// Users of the largest organisation at scale 1: organisation sizes
    /// then have a heavy tail (see `organisations`); none: all even.
    #[serde(default)]
    pub largest_org_users: Option<u64>,
    pub weekday: Behaviour,
    pub weekend: Behaviour,
    #[serde(default, rename = "outage")]
    pub outages: Vec<Outage>,
}

/// The project the scenario's clients report to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioProject {
    pub name: String,
    #[serde(default = "utc")]
    pub time_zone: Tz,
    /// `T`: clients send a heartbeat every `T/2` while connected.
    pub session_timeout_s: u32,
}

/// How events travel from clients to the server.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    /// Share of sessions whose `session_end` never arrives (crash, lost
    /// network): their heartbeats stop where the session ended.
    #[serde(default)]
    pub lost_end_rate: f64,
    /// Share of events delivered twice (client retries).
    #[serde(default)]
    pub duplicate_rate: f64,
    /// Share of events that arrive late: after the next day's events.
    #[serde(default)]
    pub late_rate: f64,
}

/// The growth schedule: daily `peak_users` at scale 1.0.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Peaks {
    /// Days whose peak is given exactly.
    pub anchors: Vec<Anchor>,
    /// Other days: the anchors interpolated linearly, times the factor of
    /// the weekday (Monday first).
    pub weekday_factors: [f64; 7],
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anchor {
    pub day: NaiveDate,
    pub users: f64,
    /// What the day stands for in the story (shown by `highwater demo`).
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    pub name: String,
    pub time_zone: Tz,
    /// Share of users (weights are normalised).
    pub weight: f64,
    /// ISO 3166-1 alpha-2 codes with their weights.
    pub countries: BTreeMap<String, f64>,
}

/// Every connection drops at `at`; users reconnect once the service is back
/// (`duration_min` later), spread over `reconnect_within_min`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outage {
    pub at: DateTime<Utc>,
    pub duration_min: f64,
    pub reconnect_within_min: f64,
}

fn default_org_size() -> u32 {
    40
}
fn utc() -> Tz {
    Tz::UTC
}

impl Scenario {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read scenario {}", path.display()))?;
        Self::from_toml(&text).with_context(|| format!("scenario {}", path.display()))
    }

    pub fn from_toml(text: &str) -> anyhow::Result<Self> {
        let scenario: Self = toml::from_str(text)?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// The project that receives the scenario's events: its time zone and
    /// timeout, and backfill (the events are dated on the scenario's days).
    pub fn project_settings(&self, ingest_key: &str, read_key: &str) -> ProjectSettings {
        let mut project = ProjectSettings::new(&self.project.name, ingest_key, read_key);
        project.time_zone = self.project.time_zone;
        project.session_timeout_s = self.project.session_timeout_s;
        project.backfill = true;
        project
    }

    /// The scenario's days, in order.
    pub fn all_days(&self) -> Vec<NaiveDate> {
        self.start.iter_days().take(self.days as usize).collect()
    }

    /// The day's `peak_users` at scale 1.0.
    pub fn target_peak(&self, day: NaiveDate) -> f64 {
        let anchors = &self.peaks.anchors;
        if let Some(anchor) = anchors.iter().find(|a| a.day == day) {
            return anchor.users;
        }
        let after = anchors.iter().position(|a| a.day > day);
        let level = match after {
            Some(0) => anchors[0].users,
            None => anchors[anchors.len() - 1].users,
            Some(i) => {
                let (a, b) = (&anchors[i - 1], &anchors[i]);
                let span = (b.day - a.day).num_days() as f64;
                let done = (day - a.day).num_days() as f64;
                a.users + (b.users - a.users) * done / span
            }
        };
        level * self.peaks.weekday_factors[day.weekday().num_days_from_monday() as usize]
    }

    /// The behaviour of a day of the week.
    pub fn behaviour(&self, day: NaiveDate) -> &Behaviour {
        if is_weekend(day) {
            &self.weekend
        } else {
            &self.weekday
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        ensure!(self.days >= 1, "days must be at least 1");
        ensure!(
            self.project.session_timeout_s >= 2,
            "project.session_timeout_s must be at least 2"
        );
        let d = &self.delivery;
        for (name, rate) in [
            ("lost_end_rate", d.lost_end_rate),
            ("duplicate_rate", d.duplicate_rate),
            ("late_rate", d.late_rate),
        ] {
            ensure!(
                (0.0..=1.0).contains(&rate),
                "delivery.{name} must be in [0, 1]"
            );
        }
        ensure!(!self.peaks.anchors.is_empty(), "peaks.anchors is empty");
        ensure!(
            self.peaks.anchors.windows(2).all(|w| w[0].day < w[1].day),
            "peaks.anchors must be in date order, one per day"
        );
        ensure!(
            self.peaks.anchors.iter().all(|a| a.users >= 1.0),
            "every anchor needs users >= 1"
        );
        ensure!(
            self.peaks.weekday_factors.iter().all(|f| *f > 0.0),
            "peaks.weekday_factors must be positive"
        );
        ensure!(
            !self.regions.is_empty(),
            "at least one [[region]] is needed"
        );
        for region in &self.regions {
            ensure!(
                region.weight > 0.0,
                "region {}: weight must be > 0",
                region.name
            );
            check_weights(
                &region.countries,
                &format!("region {}: countries", region.name),
            )?;
            for code in region.countries.keys() {
                ensure!(
                    code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()),
                    "region {}: country {code:?} is not an ISO 3166-1 alpha-2 code",
                    region.name
                );
            }
        }
        ensure!(self.org_size >= 1, "org_size must be at least 1");
        for (label, behaviour) in [("weekday", &self.weekday), ("weekend", &self.weekend)] {
            behaviour.validate().with_context(|| format!("[{label}]"))?;
        }
        for outage in &self.outages {
            ensure!(
                outage.duration_min >= 0.0 && outage.reconnect_within_min >= 0.0,
                "outage at {}: durations must not be negative",
                outage.at
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        name = "t"
        start = "2020-03-02"
        days = 14
        [project]
        name = "p"
        session_timeout_s = 600
        [peaks]
        anchors = [{ day = "2020-03-03", users = 100 }, { day = "2020-03-13", users = 200 }]
        weekday_factors = [1.0, 1.0, 1.0, 1.0, 0.9, 0.5, 0.4]
        [[region]]
        name = "r"
        time_zone = "Europe/Berlin"
        weight = 1
        countries = { DE = 1 }
        [weekday]
        active_share = 0.9
        [[weekday.session]]
        name = "desktop"
        share = 1
        platforms = { macos = 1 }
        app_versions = { "1.0" = 1 }
        start = [{ at = "09:00", sd_min = 30 }]
        until = { at = "17:00", sd_min = 30 }
        [weekend]
        active_share = 0.2
        [[weekend.session]]
        name = "phone"
        share = 1
        count = [1, 3]
        platforms = { ios = 1 }
        app_versions = { "1.0" = 1 }
        start = [{ at = "11:00", sd_min = 120 }]
        length = { median_min = 10, sigma = 0.5 }
    "#;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn anchors_are_exact_and_days_between_interpolate_times_weekday_factor() {
        let s = Scenario::from_toml(MINIMAL).unwrap();
        assert_eq!(s.target_peak(date("2020-03-03")), 100.0);
        assert_eq!(s.target_peak(date("2020-03-13")), 200.0);
        // Monday before the first anchor: the first anchor's level.
        assert_eq!(s.target_peak(date("2020-03-02")), 100.0);
        // Sunday 03-08: 5 of 10 days along, 150, times 0.4.
        assert!((s.target_peak(date("2020-03-08")) - 60.0).abs() < 1e-9);
        // After the last anchor, Saturday 03-14: 200 × 0.5.
        assert_eq!(s.target_peak(date("2020-03-14")), 100.0);
        assert_eq!(s.all_days().len(), 14);
        assert_eq!(s.behaviour(date("2020-03-14")).active_share, 0.2);
        assert_eq!(s.behaviour(date("2020-03-13")).active_share, 0.9);
    }

    #[test]
    fn bad_scenarios_are_refused_with_the_reason() {
        let cases = [
            (
                "until = { at = \"17:00\", sd_min = 30 }",
                "until = { at = \"25:61\" }",
                "HH:MM",
            ),
            ("DE = 1", "Germany = 1", "alpha-2"),
            ("active_share = 0.9", "active_share = 1.5", "active_share"),
            (
                "until = { at = \"17:00\", sd_min = 30 }",
                "",
                "exactly one of",
            ),
            ("days = 14", "days = 0", "days"),
            ("name = \"r\"", "name = \"r\"\nextra = 1", "unknown field"),
        ];
        for (from, to, expected) in cases {
            let text = MINIMAL.replacen(from, to, 1);
            let error = format!("{:#}", Scenario::from_toml(&text).unwrap_err());
            assert!(error.contains(expected), "{to}: {error}");
        }
    }
}
