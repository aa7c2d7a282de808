//! Growth: week-over-week change of the daily peak, each day against the
//! same weekday a week earlier, as bars (green up, red down).

use chrono::Duration;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::data::Daily;
use super::style::{self, ACTIVE, RECORD};

/// Per day with a figure 7 days earlier: its index and the change in
/// percent. The day before must be a full day: not the project's first
/// (its data began during it, so any later day would look like a surge).
pub fn week_over_week(daily: &Daily) -> Vec<(usize, f64)> {
    daily
        .days
        .iter()
        .enumerate()
        .filter_map(|(i, day)| {
            let base_day = day.day - Duration::days(7);
            if daily.first_day.is_some_and(|first| base_day <= first) {
                return None;
            }
            let earlier = daily
                .days
                .iter()
                .find(|d| d.day == base_day && d.peak_users > 0)?;
            Some((
                i,
                (day.peak_users as f64 / earlier.peak_users as f64 - 1.0) * 100.0,
            ))
        })
        .collect()
}

/// The half-height of the value axis: enough for the bulk of the changes
/// (their 90th percentile by size, with room to spare, at least ±5%), so
/// that one extreme day does not flatten every other bar. Changes beyond
/// it are drawn clipped, marked and labelled with their value.
pub fn axis_extent(changes: &[(usize, f64)]) -> f64 {
    let mut sizes: Vec<f64> = changes.iter().map(|(_, c)| c.abs()).collect();
    sizes.sort_by(f64::total_cmp);
    let Some(largest) = sizes.last().copied() else {
        return 5.0;
    };
    let bulk = sizes[((sizes.len() - 1) as f64 * 0.9).round() as usize];
    (largest * 1.2).min((bulk * 1.5).max(5.0))
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
    let extent = axis_extent(&changes);
    let slots = style::day_slots(daily.days.len());
    let last = slots.end;
    let mut chart = style::frame(area, title)
        .y_label_area_size(75)
        .build_cartesian_2d(slots, -extent..extent)?;
    let desc = "peak users vs. same weekday a week earlier";
    style::day_mesh(&mut chart, daily, &|y| format!("{y:+.0}%"), desc)?;
    // A clipped bar stops short of the edge, leaving room for its label.
    let edge = extent * 0.88;
    chart.draw_series(changes.iter().map(|(i, change)| {
        let x = *i as f64;
        let colour = if *change >= 0.0 { ACTIVE } else { RECORD };
        let fill = if daily.days[*i].is_final {
            colour.filled()
        } else {
            colour.mix(0.35).filled()
        };
        Rectangle::new(
            [(x - 0.35, 0.0), (x + 0.35, change.clamp(-edge, edge))],
            fill,
        )
    }))?;
    for (i, change) in changes.iter().filter(|(_, c)| c.abs() > edge) {
        let (x, y) = (*i as f64, edge.copysign(*change));
        let (mark, pos) = if *change > 0.0 {
            ("▲", Pos::new(HPos::Center, VPos::Bottom))
        } else {
            ("▼", Pos::new(HPos::Center, VPos::Top))
        };
        chart.plotting_area().draw(
            &(EmptyElement::at((x, y))
                + Text::new(
                    format!("{mark} {change:+.0}%"),
                    (0, if *change > 0.0 { -3 } else { 3 }),
                    style::note_font().pos(pos),
                )),
        )?;
    }
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
            first_day: None,
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

    #[test]
    fn the_first_day_of_the_data_is_no_base() {
        let daily = Daily {
            first_day: Some("2020-03-01".parse().unwrap()),
            days: vec![
                day("2020-03-01", 30),
                day("2020-03-02", 9_000),
                day("2020-03-08", 9_100),
                day("2020-03-09", 9_500),
            ],
        };
        let changes = week_over_week(&daily);
        assert_eq!(changes.len(), 1, "only 03-09 against 03-02: {changes:?}");
        assert_eq!(changes[0].0, 3);
    }

    #[test]
    fn one_extreme_day_does_not_set_the_axis() {
        let mut changes: Vec<(usize, f64)> =
            (0..20).map(|i| (i, f64::from(i as u8 % 7) - 3.0)).collect();
        assert_eq!(
            axis_extent(&changes),
            3.0 * 1.2,
            "no outlier: the largest sets it"
        );
        changes.push((20, 3_800.0));
        let extent = axis_extent(&changes);
        assert!((5.0..=10.0).contains(&extent), "{extent}");
        assert_eq!(axis_extent(&[]), 5.0);
    }
}
