//! Growth: how fast the daily figures move. Week over week compares a day
//! with the same weekday a week earlier; month over month with the same
//! weekday four weeks (28 days) earlier, so weekends never meet weekdays.

use chrono::{Duration, NaiveDate};
use serde::Serialize;

/// One day's figures that growth looks at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DayFigures {
    pub day: NaiveDate,
    pub peak_users: f64,
    pub dau: f64,
    pub mau: f64,
}

/// Relative changes (0.05 = +5%); `None` where the earlier day is missing
/// or zero.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Changes {
    pub peak_users: Option<f64>,
    pub dau: Option<f64>,
    pub mau: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Growth {
    pub day: NaiveDate,
    pub week_over_week: Changes,
    pub month_over_month: Changes,
    /// The mean daily peak of the last 7 days against the 7 before, per week.
    pub weekly_peak_growth: Option<f64>,
    /// At that rate, days until the peak doubles (`None` when not growing).
    pub days_to_double: Option<f64>,
}

/// Growth as of the last day of `days` (in day order).
pub fn growth(days: &[DayFigures]) -> Option<Growth> {
    let last = *days.last()?;
    let find = |day: NaiveDate| days.iter().find(|d| d.day == day);
    let changes = |back: i64| {
        let earlier = find(last.day - Duration::days(back));
        let change = |now: f64, then: Option<f64>| then.filter(|t| *t > 0.0).map(|t| now / t - 1.0);
        Changes {
            peak_users: change(last.peak_users, earlier.map(|e| e.peak_users)),
            dau: change(last.dau, earlier.map(|e| e.dau)),
            mau: change(last.mau, earlier.map(|e| e.mau)),
        }
    };
    let window_mean = |from_back: i64| {
        let values: Vec<f64> = (from_back..from_back + 7)
            .filter_map(|back| find(last.day - Duration::days(back)).map(|d| d.peak_users))
            .collect();
        (values.len() == 7).then(|| values.iter().sum::<f64>() / 7.0)
    };
    let weekly_peak_growth = match (window_mean(0), window_mean(7)) {
        (Some(now), Some(then)) if then > 0.0 => Some(now / then - 1.0),
        _ => None,
    };
    Some(Growth {
        day: last.day,
        week_over_week: changes(7),
        month_over_month: changes(28),
        weekly_peak_growth,
        days_to_double: weekly_peak_growth
            .filter(|g| *g > 0.0)
            .map(|g| 7.0 * 2f64.ln() / (1.0 + g).ln()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(peaks: &[f64]) -> Vec<DayFigures> {
        let first: NaiveDate = "2020-03-01".parse().unwrap();
        peaks
            .iter()
            .enumerate()
            .map(|(i, p)| DayFigures {
                day: first + Duration::days(i as i64),
                peak_users: *p,
                dau: p * 2.0,
                mau: 1000.0 + i as f64,
            })
            .collect()
    }

    #[test]
    fn week_and_month_over_month_compare_the_same_weekday() {
        // 29 days: day 28 is 2020-03-29; a week earlier 03-22 (day 21),
        // four weeks earlier 03-01 (day 0).
        let mut peaks = vec![100.0; 29];
        peaks[0] = 80.0;
        peaks[21] = 110.0;
        peaks[28] = 121.0;
        let g = growth(&days(&peaks)).unwrap();
        assert_eq!(g.day.to_string(), "2020-03-29");
        assert!((g.week_over_week.peak_users.unwrap() - 0.10).abs() < 1e-12);
        assert!((g.month_over_month.peak_users.unwrap() - (121.0 / 80.0 - 1.0)).abs() < 1e-12);
        assert!((g.week_over_week.dau.unwrap() - 0.10).abs() < 1e-12);
        // MAU 1028 against 1021 and 1000.
        assert!((g.week_over_week.mau.unwrap() - (1028.0 / 1021.0 - 1.0)).abs() < 1e-12);
        assert!((g.month_over_month.mau.unwrap() - 0.028).abs() < 1e-12);
    }

    #[test]
    fn doubling_time_follows_the_weekly_rate() {
        // Every day 1% above the day before: each week 1.01^7 of the last.
        let peaks: Vec<f64> = (0..21).map(|i| 1000.0 * 1.01f64.powi(i)).collect();
        let g = growth(&days(&peaks)).unwrap();
        assert!((g.weekly_peak_growth.unwrap() - (1.01f64.powi(7) - 1.0)).abs() < 1e-9);
        // ln 2 / ln 1.01 = 69.66 days.
        assert!((g.days_to_double.unwrap() - 2f64.ln() / 1.01f64.ln()).abs() < 1e-6);
        let flat = growth(&days(&[5.0; 21])).unwrap();
        assert_eq!(flat.days_to_double, None);
        // Too short for a month: None, not a guess.
        assert_eq!(
            growth(&days(&[5.0; 10]))
                .unwrap()
                .month_over_month
                .peak_users,
            None
        );
    }
}
