//! The figures `serve` reads: ClickHouse, through the read client (every
//! query bounded by `max_execution_time`), and online now from the live
//! rounds' counts when they are fresh ([`OnlineCache`]).

use chrono::NaiveDate;

use super::online_cache::OnlineCache;
use crate::config::ProjectSettings;
use crate::domain::dimension::Dimension;
use crate::figures::online::OnlineNow;
use crate::figures::source::FiguresSource;
use crate::store::StoreError;
use crate::store::figures::{self, ConcurrencyMinuteRow, DailyFiguresRow};
use crate::store::segments::{self, SegmentDayRow, SegmentFiguresRow};

#[derive(Debug, Clone)]
pub struct StoredFigures {
    client: clickhouse::Client,
    online: OnlineCache,
}

impl StoredFigures {
    pub fn new(client: clickhouse::Client, online: OnlineCache) -> Self {
        Self { client, online }
    }

    /// The store alone (commands: no live rounds run there).
    pub fn of_store(client: clickhouse::Client) -> Self {
        Self::new(client, OnlineCache::default())
    }
}

#[async_trait::async_trait]
impl FiguresSource for StoredFigures {
    async fn daily(
        &self,
        project: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DailyFiguresRow>, StoreError> {
        figures::daily(&self.client, project, from, to).await
    }

    async fn minutes_between(
        &self,
        project: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<ConcurrencyMinuteRow>, StoreError> {
        figures::minutes_between(&self.client, project, from, to).await
    }

    async fn segment_days(
        &self,
        project: &str,
        dimension: Dimension,
        range: (NaiveDate, NaiveDate),
    ) -> Result<Vec<SegmentDayRow>, StoreError> {
        segments::days(&self.client, project, dimension, range).await
    }

    async fn segment_values(
        &self,
        project: &str,
        dimension: Dimension,
        range: (NaiveDate, NaiveDate),
        value: Option<&str>,
    ) -> Result<Vec<SegmentFiguresRow>, StoreError> {
        segments::values(&self.client, project, dimension, range, value).await
    }

    async fn online_at(
        &self,
        project: &ProjectSettings,
        at: i64,
        dimension: Option<Dimension>,
    ) -> Result<OnlineNow, StoreError> {
        self.online.at(&self.client, project, at, dimension).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        crate::store::connect::ping(&self.client).await
    }
}
