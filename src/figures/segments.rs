//! Figures per segment as the read API and the CLI show them (docs/design.md §2
//! "Segments"): per day, each kept value and the dimension's summed vs
//! coincident peak.

use serde::{Deserialize, Serialize};

use crate::domain::calendar::{date_of, rfc3339};
use crate::store::figures::ConcurrencyMinuteRow;
use crate::store::segments::{SegmentDayRow, SegmentFiguresRow};

/// One value of `GET /v1/metrics/segments`. `value` is `""` for sessions
/// without the field ("unknown").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SegmentValue {
    pub value: String,
    pub peak_users: u32,
    pub peak_users_at: String,
    pub peak_connections: u32,
    pub peak_connections_at: String,
    pub peak_active_users: u32,
    pub peak_active_users_at: String,
    pub dau: u64,
    pub acu: f64,
}

/// One day of `GET /v1/metrics/segments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SegmentDay {
    pub day: String,
    /// Σ of every value's `peak_users` (each segment's fleet holding its
    /// own peak), over every value seen, kept or not.
    pub summed_peak: u64,
    /// The day's own `peak_users`.
    pub coincident_peak: u32,
    /// `summed_peak / coincident_peak` (≥ 1); `null` on a day without users.
    pub diversity: Option<f64>,
    /// Values seen that day; `values` lists the kept ones, highest peak
    /// first.
    pub value_count: u32,
    pub values: Vec<SegmentValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SegmentsResponse {
    pub project: String,
    pub dimension: String,
    pub days: Vec<SegmentDay>,
}

impl From<&SegmentFiguresRow> for SegmentValue {
    fn from(row: &SegmentFiguresRow) -> Self {
        Self {
            value: row.value.clone(),
            peak_users: row.peak_users,
            peak_users_at: rfc3339(row.peak_users_at.into()),
            peak_connections: row.peak_connections,
            peak_connections_at: rfc3339(row.peak_connections_at.into()),
            peak_active_users: row.peak_active_users,
            peak_active_users_at: rfc3339(row.peak_active_users_at.into()),
            dau: row.dau,
            acu: row.acu,
        }
    }
}

/// The days of `days` with their values (`values` as read: by day, highest
/// peak first).
pub fn segment_days(days: &[SegmentDayRow], values: &[SegmentFiguresRow]) -> Vec<SegmentDay> {
    days.iter()
        .map(|day| SegmentDay {
            day: date_of(day.day).to_string(),
            summed_peak: day.summed_peak,
            coincident_peak: day.coincident_peak,
            diversity: (day.coincident_peak > 0)
                .then(|| day.summed_peak as f64 / f64::from(day.coincident_peak)),
            value_count: day.value_count,
            values: values
                .iter()
                .filter(|v| v.day == day.day)
                .map(SegmentValue::from)
                .collect(),
        })
        .collect()
}

/// A value's per-minute maxima as rows of the day's own series (minute
/// `i` starts at `day_start + 60 i`), so that they fold into steps alike.
pub fn value_minutes(row: &SegmentFiguresRow, day_start: i64) -> Vec<ConcurrencyMinuteRow> {
    row.minute_users
        .iter()
        .zip(&row.minute_connections)
        .zip(&row.minute_active_users)
        .enumerate()
        .map(
            |(i, ((&users, &connections), &active_users))| ConcurrencyMinuteRow {
                project: row.project.clone(),
                day: row.day,
                minute_start: (day_start + 60 * i as i64) as u32,
                users,
                connections,
                active_users,
                computed_ms: row.computed_ms,
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_go_to_their_day_and_diversity_is_summed_over_coincident() {
        let day = |day, summed_peak, coincident_peak| SegmentDayRow {
            project: "p".into(),
            day,
            dimension: "country".into(),
            value_count: 2,
            summed_peak,
            coincident_peak,
            computed_ms: 1,
        };
        let value = |day, value: &str| SegmentFiguresRow {
            day,
            value: value.into(),
            ..SegmentFiguresRow::default()
        };
        let shown = segment_days(
            &[day(18_346, 15, 10), day(18_347, 0, 0)],
            &[value(18_346, "US"), value(18_346, ""), value(18_347, "DE")],
        );
        assert_eq!(shown[0].day, "2020-03-25");
        assert_eq!(shown[0].diversity, Some(1.5));
        assert_eq!(shown[0].values.len(), 2);
        assert_eq!(shown[1].diversity, None);
        assert_eq!(shown[1].values[0].value, "DE");
    }
}
