//! Capacity: how much room the fleet has now, when the forecast's upper
//! bound crosses the usable capacity (capacity × target utilisation), and
//! when a surge at a given rate would.

use chrono::{Duration, NaiveDate};
use serde::Serialize;

use super::forecast::Forecast;

/// A what-if: the peak grows by `growth` every `days` days from now on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Surge {
    pub label: &'static str,
    pub growth: f64,
    pub days: u32,
}

/// Slack's March 2020: 10.0M → 12.5M simultaneously connected users between
/// 03-10 and 03-25, +25% in 15 days.
pub const SURGES: [Surge; 2] = [
    Surge {
        label: "March 2020 rate (+25% in 15 days)",
        growth: 0.25,
        days: 15,
    },
    Surge {
        label: "+10% in 30 days",
        growth: 0.10,
        days: 30,
    },
];

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SurgeCrossing {
    pub label: &'static str,
    /// `None` if it stays below capacity for the horizon.
    pub crosses_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Headroom {
    pub capacity: u64,
    pub target_utilisation: f64,
    pub usable: f64,
    /// The highest daily peak of the last 7 days: the load to plan for.
    pub recent_peak: f64,
    /// `usable − recent_peak`, and as a share of `usable`.
    pub headroom: f64,
    pub headroom_share: f64,
    /// First day whose forecast upper bound reaches `usable`.
    pub upper_crosses_on: Option<NaiveDate>,
    /// First day whose forecast value reaches `usable`.
    pub forecast_crosses_on: Option<NaiveDate>,
    pub surges: Vec<SurgeCrossing>,
}

/// `last_day` is the day of the forecast's step 0; `recent_peak` the
/// planning load; the surges run `horizon_days` ahead.
pub fn headroom(
    capacity: u64,
    target_utilisation: f64,
    recent_peak: f64,
    last_day: NaiveDate,
    forecast: &Forecast,
    horizon_days: u32,
) -> Headroom {
    let usable = capacity as f64 * target_utilisation;
    let day_of = |step: usize| last_day + Duration::days(step as i64);
    let first = |value: fn(&super::forecast::Point) -> f64| {
        forecast
            .points
            .iter()
            .find(|p| value(p) >= usable)
            .map(|p| day_of(p.step))
    };
    Headroom {
        capacity,
        target_utilisation,
        usable,
        recent_peak,
        headroom: usable - recent_peak,
        headroom_share: if usable > 0.0 {
            (usable - recent_peak) / usable
        } else {
            0.0
        },
        upper_crosses_on: first(|p| p.upper),
        forecast_crosses_on: first(|p| p.value),
        surges: SURGES
            .iter()
            .map(|surge| {
                let daily = (1.0 + surge.growth).powf(1.0 / f64::from(surge.days));
                SurgeCrossing {
                    label: surge.label,
                    crosses_on: (0..=horizon_days)
                        .find(|d| recent_peak * daily.powi(*d as i32) >= usable)
                        .map(|d| day_of(d as usize)),
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::forecast::{Method, Point};

    fn linear(from: f64, per_day: f64, steps: usize) -> Forecast {
        Forecast {
            method: Method::HoltWinters,
            points: (1..=steps)
                .map(|step| {
                    let value = from + per_day * step as f64;
                    Point {
                        step,
                        value,
                        lower: value - 50.0,
                        upper: value + 50.0,
                    }
                })
                .collect(),
            holt_winters_mape: Some(1.0),
            seasonal_naive_mape: Some(2.0),
        }
    }

    #[test]
    fn linear_growth_crosses_on_the_right_day() {
        // 1,000 users + 10 a day; usable = 2,000 × 0.8 = 1,600:
        // the value reaches it at step 60, the upper bound (+50) at step 55.
        let day: NaiveDate = "2020-03-31".parse().unwrap();
        let h = headroom(2_000, 0.8, 1_000.0, day, &linear(1_000.0, 10.0, 90), 90);
        assert_eq!(h.usable, 1_600.0);
        assert_eq!(h.headroom, 600.0);
        assert!((h.headroom_share - 0.375).abs() < 1e-12);
        assert_eq!(h.forecast_crosses_on, Some(day + Duration::days(60)));
        assert_eq!(h.upper_crosses_on, Some(day + Duration::days(55)));
        // +25% per 15 days from 1,000 reaches 1,600 after
        // 15 · ln 1.6 / ln 1.25 = 31.6 days: day 32.
        assert_eq!(h.surges[0].crosses_on, Some(day + Duration::days(32)));
        let flat = headroom(2_000, 0.8, 1_000.0, day, &linear(1_000.0, 0.0, 28), 28);
        assert_eq!(flat.upper_crosses_on, None);
    }

    #[test]
    fn a_linearly_growing_peak_is_forecast_to_cross_on_the_right_day() {
        // 42 days of 1,000 + 10 per day: day 41 (2020-04-11) holds 1,410.
        // Usable 2,000 × 0.8025 = 1,605: 19 days later the line is at 1,600,
        // 20 days later at 1,610 — the crossing.
        let series: Vec<f64> = (0..42).map(|t| 1_000.0 + 10.0 * t as f64).collect();
        let forecast = crate::capacity::forecast::forecast(&series, 60).unwrap();
        let day: NaiveDate = "2020-04-11".parse().unwrap();
        let h = headroom(2_000, 0.8025, 1_410.0, day, &forecast, 60);
        assert_eq!(h.forecast_crosses_on, Some(day + Duration::days(20)));
        // An exact line leaves no error: the band is the line.
        assert_eq!(h.upper_crosses_on, h.forecast_crosses_on);
    }
}
