//! Figures as the read API and the CLI show them (docs/design.md §3), and the
//! all-time records derived from them.

use serde::{Deserialize, Serialize};

use crate::domain::calendar::date_of;
pub use crate::domain::calendar::rfc3339;
use crate::store::figures::{ConcurrencyMinuteRow, DailyFiguresRow};

/// One day of `GET /v1/metrics/daily`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DayMetrics {
    pub day: String,
    pub dau: u64,
    pub wau: u64,
    pub mau: u64,
    pub stickiness: f64,
    pub peak_users: u32,
    pub peak_users_at: String,
    pub peak_connections: u32,
    pub peak_connections_at: String,
    pub peak_active_users: u32,
    pub peak_active_users_at: String,
    pub acu: f64,
    pub session_p50_s: u64,
    pub session_p90_s: u64,
    pub session_p99_s: u64,
    #[serde(rename = "final")]
    pub is_final: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DailyResponse {
    pub project: String,
    pub days: Vec<DayMetrics>,
}

impl From<&DailyFiguresRow> for DayMetrics {
    fn from(row: &DailyFiguresRow) -> Self {
        Self {
            day: date_of(row.day).to_string(),
            dau: row.dau,
            wau: row.wau,
            mau: row.mau,
            stickiness: if row.mau == 0 {
                0.0
            } else {
                row.dau as f64 / row.mau as f64
            },
            peak_users: row.peak_users,
            peak_users_at: rfc3339(row.peak_users_at.into()),
            peak_connections: row.peak_connections,
            peak_connections_at: rfc3339(row.peak_connections_at.into()),
            peak_active_users: row.peak_active_users,
            peak_active_users_at: rfc3339(row.peak_active_users_at.into()),
            acu: row.acu,
            session_p50_s: row.session_p50_s,
            session_p90_s: row.session_p90_s,
            session_p99_s: row.session_p99_s,
            is_final: row.r#final == 1,
        }
    }
}

/// One step of `GET /v1/metrics/concurrency`: the maximum of each count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConcurrencyStep {
    pub at: String,
    pub users: u32,
    pub connections: u32,
    pub active_users: u32,
}

/// `GET /v1/metrics/concurrency`: one day's steps, of the whole project or
/// of one segment value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConcurrencyResponse {
    pub project: String,
    pub day: String,
    /// Seconds per step.
    pub step: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimension: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub series: Vec<ConcurrencyStep>,
}

/// `GET /v1/records`: the all-time record days, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordsResponse {
    pub project: String,
    pub records: Vec<Record>,
}

/// Folds per-minute maxima into steps of `step_minutes` minutes.
pub fn concurrency_steps(
    minutes: &[ConcurrencyMinuteRow],
    step_minutes: usize,
) -> Vec<ConcurrencyStep> {
    minutes
        .chunks(step_minutes.max(1))
        .map(|chunk| ConcurrencyStep {
            at: rfc3339(chunk[0].minute_start.into()),
            users: chunk.iter().map(|m| m.users).max().unwrap_or(0),
            connections: chunk.iter().map(|m| m.connections).max().unwrap_or(0),
            active_users: chunk.iter().map(|m| m.active_users).max().unwrap_or(0),
        })
        .collect()
}

/// An all-time record day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Record {
    pub day: String,
    pub peak_users: u32,
    pub peak_users_at: String,
    /// The best earlier day's peak (0 for the first record).
    pub previous_peak_users: u32,
}

/// The final days whose `peak_users` exceeds that of every earlier day
/// (docs/design.md §2). `days` must be in day order.
pub fn records(days: &[DailyFiguresRow]) -> Vec<Record> {
    above_every_earlier_day(days)
        .filter(|(_, is_final)| *is_final)
        .map(|(record, _)| record)
        .collect()
}

/// Every day (final or provisional — a "record in progress") whose
/// `peak_users` exceeds that of every earlier day, and whether it is
/// final. `days` must be in day order.
pub fn above_every_earlier_day(
    days: &[DailyFiguresRow],
) -> impl Iterator<Item = (Record, bool)> + '_ {
    days.iter()
        .scan(0, |best_so_far, day| {
            let record = (day.peak_users > *best_so_far).then(|| {
                let record = Record {
                    day: date_of(day.day).to_string(),
                    peak_users: day.peak_users,
                    peak_users_at: rfc3339(day.peak_users_at.into()),
                    previous_peak_users: *best_so_far,
                };
                (record, day.r#final == 1)
            });
            *best_so_far = (*best_so_far).max(day.peak_users);
            Some(record)
        })
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(day: u16, peak_users: u32, is_final: bool) -> DailyFiguresRow {
        DailyFiguresRow {
            project: "p".into(),
            day,
            day_start: u32::from(day) * 86_400,
            day_seconds: 86_400,
            peak_users,
            peak_users_at: u32::from(day) * 86_400,
            r#final: u8::from(is_final),
            ..DailyFiguresRow::default()
        }
    }

    #[test]
    fn records_are_final_days_above_every_earlier_day() {
        let days = [
            day(18_331, 100, true),
            day(18_332, 90, true),
            day(18_333, 100, true),
            day(18_334, 105, true),
            day(18_335, 125, false),
            day(18_336, 110, true),
        ];
        let found: Vec<(String, u32, u32)> = records(&days)
            .into_iter()
            .map(|r| (r.day, r.peak_users, r.previous_peak_users))
            .collect();
        assert_eq!(
            found,
            [
                ("2020-03-10".to_string(), 100, 0),
                ("2020-03-13".to_string(), 105, 100),
            ]
        );
    }

    #[test]
    fn steps_take_the_maximum_of_their_minutes() {
        let minute = |i: u32, users| ConcurrencyMinuteRow {
            project: "p".into(),
            day: 0,
            minute_start: 60 * i,
            users,
            connections: users + 1,
            active_users: users,
            computed_ms: 0,
        };
        let steps = concurrency_steps(&[minute(0, 1), minute(1, 5), minute(2, 2)], 2);
        assert_eq!(steps.len(), 2);
        assert_eq!((steps[0].users, steps[0].connections), (5, 6));
        assert_eq!(steps[1].at, "1970-01-01T00:02:00Z");
    }
}
