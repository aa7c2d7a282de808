//! Growth: week-over-week change of the daily peak, each day against the
//! same weekday a week earlier, as bars (green up, red down).

use chrono::Duration;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::data::Daily;
use super::style::{self, ACTIVE, RECORD};

/// Per day with a figure 7 days earlier: its index and the change in percent.
pub fn week_over_week(daily: &Daily) -> Vec<(usize, f64)> {
    daily
        .days
        .iter()
        .enumerate()
        .filter_map(|(i, day)| {
            let earlier = daily
                .days
                .iter()
                .find(|d| d.day == day.day - Duration::days(7) && d.peak_users > 0)?;
            Some((
                i,
                (day.peak_users as f64 / earlier.peak_users as f64 - 1.0) * 100.0,
            ))
        })
        .collect()
}

pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    daily: &Daily,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let changes = week_over_week(daily);
    if changes.is_empty() {
        return style::no_data(area, title, "Needs two weeks of figures");
    }
    let extent = changes.iter().map(|(_, c)| c.abs()).fold(1.0, f64::max) * 1.2;
    let slots = style::day_slots(daily.days.len());
    let last = slots.end;
    let mut chart = style::frame(area, title).build_cartesian_2d(slots, -extent..extent)?;
    let desc = "peak users vs. same weekday a week earlier";
    style::day_mesh(&mut chart, daily, &|y| format!("{y:+.0}%"), desc)?;
    chart.draw_series(changes.iter().map(|(i, change)| {
        let x = *i as f64;
        let colour = if *change >= 0.0 { ACTIVE } else { RECORD };
        let fill = if daily.days[*i].is_final {
            colour.filled()
        } else {
            colour.mix(0.35).filled()
        };
        Rectangle::new([(x - 0.35, 0.0), (x + 0.35, *change)], fill)
    }))?;
    chart.draw_series(LineSeries::new(
        [(-0.5, 0.0), (last, 0.0)],
        BLACK.stroke_width(1),
    ))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charts::data::Day;

    fn day(day: &str, peak: u64) -> Day {
        Day {
            day: day.parse().unwrap(),
            peak_users: peak,
            peak_connections: peak,
            dau: 0,
            wau: 0,
            mau: 0,
            is_final: true,
            is_record: false,
        }
    }

    #[test]
    fn each_day_is_compared_with_the_same_weekday_a_week_earlier() {
        let daily = Daily {
            days: vec![
                day("2020-03-09", 9_750),
                day("2020-03-10", 10_000),
                day("2020-03-16", 10_500),
                day("2020-03-17", 10_000),
            ],
        };
        let changes = week_over_week(&daily);
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0].0, 2);
        assert!((changes[0].1 - (10_500.0 / 9_750.0 - 1.0) * 100.0).abs() < 1e-9);
        assert!((changes[1].1 - 0.0).abs() < 1e-9);
    }
}
