//! Forecasting the daily peak with its weekly rhythm: additive Holt-Winters
//! (level, trend, a 7-day season; smoothing constants by least squares over
//! a grid) against the seasonal-naive baseline (the same weekday a week
//! earlier). A rolling-origin backtest over the last four weeks picks the
//! method with the lower MAPE, and both errors are reported.

use serde::Serialize;

pub const PERIOD: usize = 7;
/// Steps ahead each backtest origin is scored on.
const BACKTEST_HORIZON: usize = 7;
/// Origins: one per day of the last four weeks (when the series allows).
const BACKTEST_ORIGINS: usize = 28;
/// 95% prediction interval.
const Z: f64 = 1.96;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    HoltWinters,
    SeasonalNaive,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    /// Days after the last observation (1 = the next day).
    pub step: usize,
    pub value: f64,
    pub lower: f64,
    pub upper: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Forecast {
    pub method: Method,
    pub points: Vec<Point>,
    /// Mean absolute percentage error (%) of each method in the backtest.
    pub holt_winters_mape: Option<f64>,
    pub seasonal_naive_mape: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Params {
    alpha: f64,
    beta: f64,
    gamma: f64,
}

/// A fitted model: its state after the last observation.
#[derive(Debug, Clone)]
struct Fitted {
    params: Params,
    level: f64,
    trend: f64,
    season: [f64; PERIOD],
    /// Observations seen; the next one is season index `n % PERIOD`.
    n: usize,
    sigma: f64,
}

/// Forecasts `horizon` days after `series` (at least two weeks).
pub fn forecast(series: &[f64], horizon: usize) -> Option<Forecast> {
    let fitted = fit_best(series)?;
    let (hw_mape, naive_mape) = backtest(series);
    let method = match (hw_mape, naive_mape) {
        (Some(hw), Some(naive)) if naive < hw => Method::SeasonalNaive,
        _ => Method::HoltWinters,
    };
    let points = match method {
        Method::HoltWinters => (1..=horizon).map(|h| fitted.point(h)).collect(),
        Method::SeasonalNaive => seasonal_naive(series, horizon),
    };
    Some(Forecast {
        method,
        points,
        holt_winters_mape: hw_mape,
        seasonal_naive_mape: naive_mape,
    })
}

impl Fitted {
    fn value(&self, h: usize) -> f64 {
        self.level + h as f64 * self.trend + self.season[(self.n + h - 1) % PERIOD]
    }

    /// The forecast `h` steps ahead with the ETS(A,A,A) interval:
    /// variance σ²·(1 + Σ_{j<h} c_j²), c_j = α(1 + jβ) + γ·[j ≡ 0 mod 7].
    fn point(&self, h: usize) -> Point {
        let Params { alpha, beta, gamma } = self.params;
        let spread: f64 = (1..h)
            .map(|j| {
                let c = alpha * (1.0 + j as f64 * beta) + if j % PERIOD == 0 { gamma } else { 0.0 };
                c * c
            })
            .sum();
        let half = Z * self.sigma * (1.0 + spread).sqrt();
        let value = self.value(h);
        Point {
            step: h,
            value,
            lower: value - half,
            upper: value + half,
        }
    }
}

fn fit(series: &[f64], params: Params) -> Option<Fitted> {
    if series.len() < 2 * PERIOD {
        return None;
    }
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    let first = mean(&series[..PERIOD]);
    let second = mean(&series[PERIOD..2 * PERIOD]);
    let mut level = first;
    let mut trend = (second - first) / PERIOD as f64;
    // The first week, detrended around its middle, sets the season; the
    // level is carried to the week's last day, where fitting starts.
    let middle = (PERIOD as f64 - 1.0) / 2.0;
    let mut season = [0.0; PERIOD];
    for (i, s) in season.iter_mut().enumerate() {
        *s = series[i] - (first + (i as f64 - middle) * trend);
    }
    level += trend * middle;
    let mut squared = 0.0;
    for (t, &y) in series.iter().enumerate().skip(PERIOD) {
        let s = season[t % PERIOD];
        let error = y - (level + trend + s);
        squared += error * error;
        let new_level = params.alpha * (y - s) + (1.0 - params.alpha) * (level + trend);
        trend = params.beta * (new_level - level) + (1.0 - params.beta) * trend;
        season[t % PERIOD] = params.gamma * (y - new_level) + (1.0 - params.gamma) * s;
        level = new_level;
    }
    let fitted_points = (series.len() - PERIOD) as f64;
    Some(Fitted {
        params,
        level,
        trend,
        season,
        n: series.len(),
        sigma: (squared / fitted_points).sqrt(),
    })
}

/// The smoothing constants with the least one-step squared error.
fn fit_best(series: &[f64]) -> Option<Fitted> {
    const ALPHAS: [f64; 9] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
    const BETAS: [f64; 5] = [0.01, 0.05, 0.1, 0.2, 0.3];
    const GAMMAS: [f64; 5] = [0.05, 0.1, 0.2, 0.3, 0.5];
    let mut best: Option<Fitted> = None;
    for alpha in ALPHAS {
        for beta in BETAS {
            for gamma in GAMMAS {
                let fitted = fit(series, Params { alpha, beta, gamma })?;
                if best.as_ref().is_none_or(|b| fitted.sigma < b.sigma) {
                    best = Some(fitted);
                }
            }
        }
    }
    best
}

/// The same weekday of the last observed week, with the spread of
/// week-on-week differences widening per week ahead.
fn seasonal_naive(series: &[f64], horizon: usize) -> Vec<Point> {
    let n = series.len();
    let differences: Vec<f64> = (PERIOD..n)
        .map(|t| series[t] - series[t - PERIOD])
        .collect();
    let sigma = if differences.is_empty() {
        0.0
    } else {
        (differences.iter().map(|d| d * d).sum::<f64>() / differences.len() as f64).sqrt()
    };
    (1..=horizon)
        .map(|h| {
            let weeks = h.div_ceil(PERIOD);
            let value = series[n + h - 1 - PERIOD * weeks];
            let half = Z * sigma * (weeks as f64).sqrt();
            Point {
                step: h,
                value,
                lower: value - half,
                upper: value + half,
            }
        })
        .collect()
}

/// MAPE (%) of both methods over rolling origins in the last four weeks,
/// each scored on the 7 days after it.
fn backtest(series: &[f64]) -> (Option<f64>, Option<f64>) {
    let n = series.len();
    let first_origin = (2 * PERIOD).max(n.saturating_sub(BACKTEST_ORIGINS + BACKTEST_HORIZON));
    let (mut hw, mut naive) = (Vec::new(), Vec::new());
    for origin in first_origin..n.saturating_sub(BACKTEST_HORIZON) + 1 {
        let history = &series[..origin];
        let Some(fitted) = fit_best(history) else {
            continue;
        };
        let naive_points = seasonal_naive(history, BACKTEST_HORIZON);
        for h in 1..=BACKTEST_HORIZON.min(n - origin) {
            let actual = series[origin + h - 1];
            if actual == 0.0 {
                continue;
            }
            hw.push(((fitted.value(h) - actual) / actual).abs());
            naive.push(((naive_points[h - 1].value - actual) / actual).abs());
        }
    }
    let mape = |errors: Vec<f64>| {
        (!errors.is_empty()).then(|| 100.0 * errors.iter().sum::<f64>() / errors.len() as f64)
    };
    (mape(hw), mape(naive))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weekly(weeks: usize, trend_per_day: f64) -> Vec<f64> {
        let shape = [1.0, 1.0, 0.98, 0.97, 0.93, 0.3, 0.25];
        (0..weeks * PERIOD)
            .map(|t| 10_000.0 * shape[t % PERIOD] + trend_per_day * t as f64)
            .collect()
    }

    #[test]
    fn a_pure_weekly_pattern_is_forecast_within_a_few_percent() {
        let series = weekly(8, 0.0);
        let forecast = forecast(&series, 28).unwrap();
        for point in &forecast.points {
            let truth = weekly(12, 0.0)[series.len() + point.step - 1];
            assert!(
                (point.value / truth - 1.0).abs() < 0.03,
                "step {}: {} vs {truth}",
                point.step,
                point.value
            );
            assert!(point.lower <= point.value && point.value <= point.upper);
        }
        assert!(forecast.holt_winters_mape.unwrap() < 3.0);
    }

    #[test]
    fn a_weekly_pattern_on_a_trend_keeps_the_trend() {
        let series = weekly(8, 50.0);
        let forecast = forecast(&series, 14).unwrap();
        assert_eq!(forecast.method, Method::HoltWinters, "{forecast:?}");
        let truth = weekly(12, 50.0);
        for point in &forecast.points {
            let expected = truth[series.len() + point.step - 1];
            assert!(
                (point.value / expected - 1.0).abs() < 0.03,
                "step {}",
                point.step
            );
        }
        // Intervals widen with the horizon.
        assert!(
            forecast.points[13].upper - forecast.points[13].lower
                >= forecast.points[0].upper - forecast.points[0].lower
        );
    }

    #[test]
    fn seasonal_naive_repeats_last_week() {
        let series: Vec<f64> = (0..14).map(|t| t as f64).collect();
        let points = seasonal_naive(&series, 9);
        let values: Vec<f64> = points.iter().map(|p| p.value).collect();
        assert_eq!(values, [7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 7.0, 8.0]);
    }

    #[test]
    fn too_short_a_series_has_no_forecast() {
        assert!(forecast(&[1.0; 13], 7).is_none());
    }
}
