//! A dashboard file (`dashboards/*.toml`, format in `dashboards/README.md`):
//! a title and panels, each a chart kind with a range and a size.

use std::path::Path;

use anyhow::{Context, bail, ensure};
use chrono::{Duration, NaiveDate};
use serde::Deserialize;

use crate::domain::dimension::Dimension;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dashboard {
    pub title: String,
    /// Default range of the panels.
    #[serde(default = "default_range")]
    pub range: Range,
    #[serde(rename = "panel")]
    pub panels: Vec<Panel>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Panel {
    pub chart: ChartKind,
    pub title: String,
    /// Overrides the dashboard's range.
    #[serde(default)]
    pub range: Option<Range>,
    /// Intraday and segment_day: `"latest"` (default) or a day,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub day: Option<String>,
    /// Segment panels: `platform`, `country` (default) or `org_id`.
    #[serde(default)]
    pub dimension: Option<Dimension>,
    /// Compare: the projects to show (default: the dashboard's project).
    #[serde(default)]
    pub projects: Vec<String>,
    #[serde(default = "default_width")]
    pub width: u32,
    #[serde(default = "default_height")]
    pub height: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChartKind {
    /// Daily peak_users and peak_connections, records annotated.
    Peak,
    /// DAU, WAU, MAU and stickiness.
    Actives,
    /// Per-minute C_user and C_active of one day, a week earlier overlaid.
    Intraday,
    /// Session length distribution.
    SessionLengths,
    /// Average concurrency per weekday and hour.
    HourOfWeek,
    /// Week-over-week change of the daily peak.
    Growth,
    /// The daily peak, its 28-day forecast band, the usable capacity, the
    /// day the band crosses it, and what-if surges.
    Forecast,
    /// Several projects' daily peaks side by side (`projects = [...]`).
    Compare,
    /// The top values' daily peaks of a dimension, the rest as "other".
    SegmentPeaks,
    /// One day's users online per value, the day's own curve on top.
    SegmentDay,
    /// A dimension's summed vs coincident peak per day (diversity).
    SummedVsCoincident,
    /// The largest organisations: latest peak, record and its day.
    TopOrgs,
}

impl ChartKind {
    /// Whether the panel shows segments (and so takes a `dimension`).
    pub fn is_segments(self) -> bool {
        matches!(
            self,
            ChartKind::SegmentPeaks
                | ChartKind::SegmentDay
                | ChartKind::SummedVsCoincident
                | ChartKind::TopOrgs
        )
    }
}

/// Which days a panel shows, counted back from the latest day with
/// figures (so a report on last March's data shows last March).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    LastDays(u32),
    All,
}

impl<'de> Deserialize<'de> for Range {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for Range {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text == "all" {
            return Ok(Range::All);
        }
        let days = text
            .strip_prefix("last_")
            .and_then(|rest| rest.strip_suffix("_days"))
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|n| (1..=400).contains(n));
        days.map(Range::LastDays).ok_or_else(|| {
            format!("range {text:?}: use \"last_N_days\" (N from 1 to 400) or \"all\"")
        })
    }
}

impl Range {
    /// The first day of the range ending on `last`.
    pub fn first_day(self, last: NaiveDate, earliest: NaiveDate) -> NaiveDate {
        match self {
            Range::LastDays(n) => (last - Duration::days(i64::from(n) - 1)).max(earliest),
            Range::All => earliest,
        }
    }
}

fn default_range() -> Range {
    Range::LastDays(30)
}
fn default_width() -> u32 {
    1000
}
fn default_height() -> u32 {
    420
}

/// The dashboards shipped in `dashboards/`, built into the binary.
const BUILT_IN: [(&str, &str); 3] = [
    ("overview", include_str!("../../dashboards/overview.toml")),
    ("capacity", include_str!("../../dashboards/capacity.toml")),
    ("segments", include_str!("../../dashboards/segments.toml")),
];

impl Dashboard {
    /// The names of the shipped dashboards.
    pub fn built_in_names() -> impl Iterator<Item = &'static str> {
        BUILT_IN.iter().map(|(name, _)| *name)
    }

    /// A shipped dashboard by name (`overview`, `capacity`, `segments`).
    pub fn built_in(name: &str) -> Option<Self> {
        BUILT_IN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, text)| Self::from_toml(text).expect("shipped dashboards are valid"))
    }

    /// `{dir}/{name}.toml`, else the built-in dashboard of that name.
    /// `Ok(None)`: there is no such dashboard.
    pub fn named(dir: &Path, name: &str) -> anyhow::Result<Option<Self>> {
        let path = dir.join(format!("{name}.toml"));
        if path.is_file() {
            return Self::load(&path).map(Some);
        }
        Ok(Self::built_in(name))
    }

    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read dashboard {}", path.display()))?;
        Self::from_toml(&text).with_context(|| format!("dashboard {}", path.display()))
    }

    pub fn from_toml(text: &str) -> anyhow::Result<Self> {
        let dashboard: Self = toml::from_str(text)?;
        ensure!(
            !dashboard.panels.is_empty(),
            "a dashboard needs at least one [[panel]]"
        );
        for panel in &dashboard.panels {
            ensure!(
                (200..=4000).contains(&panel.width) && (150..=3000).contains(&panel.height),
                "panel {:?}: width 200–4000 and height 150–3000 pixels",
                panel.title
            );
            if !panel.projects.is_empty() && panel.chart != ChartKind::Compare {
                bail!("panel {:?}: only compare panels take projects", panel.title);
            }
            if panel.dimension.is_some() && !panel.chart.is_segments() {
                bail!(
                    "panel {:?}: only segment panels take a dimension",
                    panel.title
                );
            }
            if let Some(day) = &panel.day {
                if !matches!(panel.chart, ChartKind::Intraday | ChartKind::SegmentDay) {
                    bail!(
                        "panel {:?}: only intraday and segment_day panels take a day",
                        panel.title
                    );
                }
                if day != "latest" && day.parse::<NaiveDate>().is_err() {
                    bail!(
                        "panel {:?}: day {day:?} is not \"latest\" or YYYY-MM-DD",
                        panel.title
                    );
                }
            }
        }
        Ok(dashboard)
    }
}

impl Panel {
    /// A file name for the panel: `01-peak-concurrency`.
    pub fn file_stem(&self, index: usize) -> String {
        let slug: String = self
            .title
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let slug = slug
            .split('-')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        format!("{:02}-{slug}", index + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_dashboards_load() {
        for name in ["overview", "capacity", "segments"] {
            let path = format!("{}/dashboards/{name}.toml", env!("CARGO_MANIFEST_DIR"));
            let dashboard = Dashboard::load(Path::new(&path)).unwrap();
            assert!(!dashboard.panels.is_empty());
        }
    }

    #[test]
    fn ranges_and_mistakes() {
        assert_eq!("last_30_days".parse(), Ok(Range::LastDays(30)));
        assert_eq!("all".parse(), Ok(Range::All));
        assert!("last_0_days".parse::<Range>().is_err());
        assert!("yesterday".parse::<Range>().is_err());
        let last: NaiveDate = "2020-03-31".parse().unwrap();
        let earliest: NaiveDate = "2020-03-01".parse().unwrap();
        assert_eq!(
            Range::LastDays(7).first_day(last, earliest).to_string(),
            "2020-03-25"
        );
        assert_eq!(Range::LastDays(90).first_day(last, earliest), earliest);
        let bad = [
            ("title = \"t\"\npanel = []", "at least one"),
            (
                "title = \"t\"\n[[panel]]\nchart = \"pie\"\ntitle = \"x\"",
                "unknown variant",
            ),
            (
                "title = \"t\"\n[[panel]]\nchart = \"peak\"\ntitle = \"x\"\nday = \"latest\"",
                "only intraday",
            ),
            (
                "title = \"t\"\nrange = \"last_week\"\n[[panel]]\nchart = \"peak\"\ntitle = \"x\"",
                "last_N_days",
            ),
        ];
        for (text, expected) in bad {
            let error = format!("{:#}", Dashboard::from_toml(text).unwrap_err());
            assert!(error.contains(expected), "{text}: {error}");
        }
        let panel = Dashboard::from_toml(
            "title = \"t\"\n[[panel]]\nchart = \"peak\"\ntitle = \"Peak: users (all)\"",
        )
        .unwrap()
        .panels[0]
            .clone();
        assert_eq!(panel.file_stem(0), "01-peak-users-all");
    }
}
