//! The growth and capacity reports of a project, from its final days (a
//! provisional day is still filling and would look like a drop).

use chrono::{Duration, NaiveDate};
use serde::Serialize;

use super::forecast::{Method, forecast};
use super::growth::{DayFigures, Growth, growth};
use super::headroom::{Headroom, headroom};
use super::horizon::Horizon;
use crate::config::ProjectSettings;
use crate::domain::calendar::date_of;
use crate::figures::daily::records;
use crate::store::figures::DailyFiguresRow;

/// Final days a forecast needs: two weeks.
pub const MIN_DAYS: usize = 14;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RecordGap {
    pub day: String,
    pub peak_users: u32,
    pub previous_peak_users: u32,
    /// Days since the previous record (`None` for the first).
    pub days_since_previous: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GrowthReport {
    pub project: String,
    #[serde(flatten)]
    pub growth: Growth,
    pub records: Vec<RecordGap>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ForecastDay {
    pub day: NaiveDate,
    pub peak_users: f64,
    pub lower: f64,
    pub upper: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CapacityReport {
    pub project: String,
    /// The last final day: the forecast starts the day after.
    pub as_of: NaiveDate,
    pub peak_users: u32,
    /// That day's peak over its average concurrency (ACU).
    pub peak_to_average: Option<f64>,
    pub method: Method,
    /// Rolling-origin backtest error (%) of each method, 7 days ahead.
    pub holt_winters_mape: Option<f64>,
    pub seasonal_naive_mape: Option<f64>,
    pub forecast: Vec<ForecastDay>,
    /// `None` when the project has no `capacity_users`.
    pub headroom: Option<Headroom>,
}

fn final_rows(rows: &[DailyFiguresRow]) -> Vec<&DailyFiguresRow> {
    rows.iter().filter(|r| r.r#final == 1).collect()
}

/// Why a report cannot be made yet: the history is too short (not a bad
/// request; the project needs more final days).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapacityError {
    #[error("{project} has no final days yet")]
    NoFinalDays { project: String },
    #[error("a forecast needs at least {need} final days of figures; {project} has {have}")]
    TooFewFinalDays {
        project: String,
        have: usize,
        need: usize,
    },
}

/// Growth as of the last final day, and the record history.
pub fn growth_report(
    project: &str,
    rows: &[DailyFiguresRow],
) -> Result<GrowthReport, CapacityError> {
    let days: Vec<DayFigures> = final_rows(rows)
        .into_iter()
        .map(|r| DayFigures {
            day: date_of(r.day),
            peak_users: r.peak_users.into(),
            dau: r.dau as f64,
            mau: r.mau as f64,
        })
        .collect();
    let mut previous: Option<NaiveDate> = None;
    let records = records(rows)
        .into_iter()
        .map(|r| {
            let day: NaiveDate = r.day.parse().expect("records name valid days");
            let gap = previous.map(|p| (day - p).num_days());
            previous = Some(day);
            RecordGap {
                day: r.day,
                peak_users: r.peak_users,
                previous_peak_users: r.previous_peak_users,
                days_since_previous: gap,
            }
        })
        .collect();
    let growth = growth(&days).ok_or_else(|| CapacityError::NoFinalDays {
        project: project.to_owned(),
    })?;
    Ok(GrowthReport {
        project: project.to_owned(),
        growth,
        records,
    })
}

/// Forecast and headroom; `Err` says why there is none.
pub fn capacity_report(
    project: &ProjectSettings,
    rows: &[DailyFiguresRow],
    horizon: Horizon,
) -> Result<CapacityReport, CapacityError> {
    let horizon = horizon.days();
    let finals = final_rows(rows);
    let series: Vec<f64> = finals.iter().map(|r| f64::from(r.peak_users)).collect();
    if series.len() < MIN_DAYS {
        return Err(CapacityError::TooFewFinalDays {
            project: project.name.clone(),
            have: series.len(),
            need: MIN_DAYS,
        });
    }
    let last = finals[finals.len() - 1];
    let as_of = date_of(last.day);
    let forecast = forecast(&series, horizon as usize).expect("long enough");
    let recent_peak = series[series.len() - 7..]
        .iter()
        .copied()
        .fold(0.0, f64::max);
    Ok(CapacityReport {
        project: project.name.clone(),
        as_of,
        peak_users: last.peak_users,
        peak_to_average: (last.acu > 0.0).then(|| f64::from(last.peak_users) / last.acu),
        method: forecast.method,
        holt_winters_mape: forecast.holt_winters_mape,
        seasonal_naive_mape: forecast.seasonal_naive_mape,
        forecast: forecast
            .points
            .iter()
            .map(|p| ForecastDay {
                day: as_of + Duration::days(p.step as i64),
                peak_users: p.value,
                lower: p.lower.max(0.0),
                upper: p.upper,
            })
            .collect(),
        headroom: project.capacity_users.map(|capacity| {
            headroom(
                capacity,
                project.target_utilisation,
                recent_peak,
                as_of,
                &forecast,
                horizon,
            )
        }),
    })
}
