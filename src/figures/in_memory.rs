//! A [`FiguresSource`] over rows held in memory, for request-level tests
//! of the router: they run in milliseconds, without a database. Reads
//! filter the rows as the ClickHouse queries do (project, days, dimension,
//! value); `unavailable` makes every read fail as a store that is away.

use std::sync::Mutex;

use chrono::NaiveDate;

use super::online::{OnlineCounts, OnlineNow};
use super::source::FiguresSource;
use crate::config::ProjectSettings;
use crate::domain::calendar::day_number;
use crate::domain::dimension::Dimension;
use crate::store::StoreError;
use crate::store::figures::{ConcurrencyMinuteRow, DailyFiguresRow};
use crate::store::segments::{SegmentDayRow, SegmentFiguresRow};

#[derive(Debug, Default)]
pub struct InMemoryFigures {
    pub days: Vec<DailyFiguresRow>,
    pub minutes: Vec<ConcurrencyMinuteRow>,
    pub segment_days: Vec<SegmentDayRow>,
    pub segment_values: Vec<SegmentFiguresRow>,
    /// Online now, whatever the project and second.
    pub online: OnlineCounts,
    /// Every read fails (ClickHouse away).
    pub unavailable: bool,
    /// The questions asked of online now: (project, second, dimension).
    pub online_asked: Mutex<Vec<(String, i64, Option<Dimension>)>>,
}

impl InMemoryFigures {
    fn check(&self) -> Result<(), StoreError> {
        match self.unavailable {
            true => Err(StoreError::ClickHouse(clickhouse::error::Error::Network(
                "the in-memory store is away".into(),
            ))),
            false => Ok(()),
        }
    }
}

/// Whether day number `day` lies in `from..=to`.
fn within(day: u16, from: NaiveDate, to: NaiveDate) -> bool {
    (i64::from(day_number(from))..=i64::from(day_number(to))).contains(&i64::from(day))
}

#[async_trait::async_trait]
impl FiguresSource for InMemoryFigures {
    async fn daily(
        &self,
        project: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DailyFiguresRow>, StoreError> {
        self.check()?;
        Ok(self
            .days
            .iter()
            .filter(|d| d.project == project && within(d.day, from, to))
            .cloned()
            .collect())
    }

    async fn minutes_between(
        &self,
        project: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<ConcurrencyMinuteRow>, StoreError> {
        self.check()?;
        Ok(self
            .minutes
            .iter()
            .filter(|m| m.project == project && within(m.day, from, to))
            .cloned()
            .collect())
    }

    async fn segment_days(
        &self,
        project: &str,
        dimension: Dimension,
        (from, to): (NaiveDate, NaiveDate),
    ) -> Result<Vec<SegmentDayRow>, StoreError> {
        self.check()?;
        Ok(self
            .segment_days
            .iter()
            .filter(|d| {
                d.project == project && d.dimension == dimension.name() && within(d.day, from, to)
            })
            .cloned()
            .collect())
    }

    async fn segment_values(
        &self,
        project: &str,
        dimension: Dimension,
        (from, to): (NaiveDate, NaiveDate),
        value: Option<&str>,
    ) -> Result<Vec<SegmentFiguresRow>, StoreError> {
        self.check()?;
        Ok(self
            .segment_values
            .iter()
            .filter(|v| {
                v.project == project
                    && v.dimension == dimension.name()
                    && within(v.day, from, to)
                    && value.is_none_or(|value| v.value == value)
            })
            .cloned()
            .collect())
    }

    async fn online_at(
        &self,
        project: &ProjectSettings,
        at: i64,
        dimension: Option<Dimension>,
    ) -> Result<OnlineNow, StoreError> {
        self.check()?;
        self.online_asked
            .lock()
            .expect("not poisoned")
            .push((project.name.clone(), at, dimension));
        Ok(OnlineNow {
            at,
            counts: self.online,
            values: dimension.map(|d| (d, Vec::new())),
            counted_until_ms: None,
        })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.check()
    }
}
