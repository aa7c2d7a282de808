//! Where the read paths take figures from. The read API, the dashboard
//! pages, the alerts' watch of online now and `/metrics` see the stored
//! figures only through [`FiguresSource`]: in `serve` it is ClickHouse
//! and the live rounds' counts (`live::stored_figures`); request-level
//! tests hold an in-memory one, and run without a database.

use chrono::NaiveDate;

use super::online::OnlineNow;
use crate::config::ProjectSettings;
use crate::domain::dimension::Dimension;
use crate::store::StoreError;
use crate::store::figures::{ConcurrencyMinuteRow, DailyFiguresRow, every_day};
use crate::store::segments::{SegmentDayRow, SegmentFiguresRow};

/// The stored figures, as the read paths ask for them. Each method reads
/// what the store function of the same name in `store::figures` or
/// `store::segments` reads.
#[async_trait::async_trait]
pub trait FiguresSource: Send + Sync + std::fmt::Debug {
    /// The figures of `project` for the days `from..=to`, oldest first.
    async fn daily(
        &self,
        project: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DailyFiguresRow>, StoreError>;

    /// Every day of `project` that has figures, oldest first.
    async fn all_days(&self, project: &str) -> Result<Vec<DailyFiguresRow>, StoreError> {
        let (from, to) = every_day();
        self.daily(project, from, to).await
    }

    /// The per-minute maxima of the days `from..=to`, in time order.
    async fn minutes_between(
        &self,
        project: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<ConcurrencyMinuteRow>, StoreError>;

    /// The per-minute maxima of one day.
    async fn minutes(
        &self,
        project: &str,
        day: NaiveDate,
    ) -> Result<Vec<ConcurrencyMinuteRow>, StoreError> {
        self.minutes_between(project, day, day).await
    }

    /// The totals of `dimension` for the days `range` (oldest first).
    async fn segment_days(
        &self,
        project: &str,
        dimension: Dimension,
        range: (NaiveDate, NaiveDate),
    ) -> Result<Vec<SegmentDayRow>, StoreError>;

    /// The values of `dimension` (all, or only `value`) for the days
    /// `range`: each day's latest computation, by day, highest peak first.
    async fn segment_values(
        &self,
        project: &str,
        dimension: Dimension,
        range: (NaiveDate, NaiveDate),
        value: Option<&str>,
    ) -> Result<Vec<SegmentFiguresRow>, StoreError>;

    /// The totals of `dimension` for the days `range` and their values.
    async fn segments(
        &self,
        project: &str,
        dimension: Dimension,
        range: (NaiveDate, NaiveDate),
    ) -> Result<(Vec<SegmentDayRow>, Vec<SegmentFiguresRow>), StoreError> {
        Ok((
            self.segment_days(project, dimension, range).await?,
            self.segment_values(project, dimension, range, None).await?,
        ))
    }

    /// Who is online in `project` at second `at` (and per value of
    /// `dimension`).
    async fn online_at(
        &self,
        project: &ProjectSettings,
        at: i64,
        dimension: Option<Dimension>,
    ) -> Result<OnlineNow, StoreError>;

    /// Whether the store answers (`/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;
}
