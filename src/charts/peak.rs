//! Peak concurrency: daily `peak_users` (and `peak_connections`) over a
//! range, all-time records marked and labelled with value and date — the
//! "10.0M → 10.5M → 12.5M" picture. Provisional days sit on a grey band.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::data::Daily;
use super::numbers::short;
use super::style::{self, CONNECTIONS, PROVISIONAL_BAND, RECORD, USERS};

/// Record labels closer than this (pixels) to a later one are left out.
const LABEL_SPACING_PX: i32 = 80;

/// Draws a non-empty range (the caller draws the "no figures" frame).
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    daily: &Daily,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let days = &daily.days;
    let top = daily.top(|d| d.peak_connections.max(d.peak_users), 1.18);
    let slots = style::day_slots(days.len());
    let last = slots.end;
    let mut chart = style::frame(area, title).build_cartesian_2d(slots, 0.0..top)?;
    style::day_mesh(&mut chart, daily, &|y| short(*y), "")?;

    let provisional: Vec<_> = (0..days.len()).filter(|i| !days[*i].is_final).collect();
    if !provisional.is_empty() {
        chart
            .draw_series(provisional.iter().map(|i| {
                let x = *i as f64;
                Rectangle::new([(x - 0.5, 0.0), (x + 0.5, top)], PROVISIONAL_BAND.filled())
            }))?
            .label("provisional")
            .legend(|(x, y)| {
                Rectangle::new([(x, y - 5), (x + 16, y + 5)], PROVISIONAL_BAND.filled())
            });
    }

    let points = |value: fn(&super::data::Day) -> u64| {
        days.iter()
            .enumerate()
            .map(move |(i, d)| (i as f64, value(d) as f64))
    };
    chart
        .draw_series(LineSeries::new(
            points(|d| d.peak_connections),
            CONNECTIONS.stroke_width(1),
        ))?
        .label("peak connections")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], CONNECTIONS));
    chart
        .draw_series(LineSeries::new(
            points(|d| d.peak_users),
            USERS.stroke_width(2),
        ))?
        .label("peak users")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], USERS.stroke_width(2)));
    chart.draw_series(points(|d| d.peak_users).map(|p| Circle::new(p, 2, USERS.filled())))?;

    let records: Vec<(f64, &super::data::Day)> = days
        .iter()
        .enumerate()
        .filter(|(_, d)| d.is_record)
        .map(|(i, d)| (i as f64, d))
        .collect();
    chart
        .draw_series(
            records
                .iter()
                .map(|(x, d)| Circle::new((*x, d.peak_users as f64), 5, RECORD.filled())),
        )?
        .label("all-time record")
        .legend(|(x, y)| Circle::new((x + 8, y), 4, RECORD.filled()));
    // Label records from the latest back, skipping any that would collide.
    let mut labelled_at: Option<i32> = None;
    let right_edge = chart.backend_coord(&(last, 0.0)).0;
    for (x, day) in records.iter().rev() {
        let pixel = chart.backend_coord(&(*x, day.peak_users as f64));
        if labelled_at.is_some_and(|at| (at - pixel.0).abs() < LABEL_SPACING_PX) {
            continue;
        }
        labelled_at = Some(pixel.0);
        // Near the right edge the label ends at its point instead of centring.
        let anchor = if right_edge - pixel.0 < LABEL_SPACING_PX / 2 {
            HPos::Right
        } else {
            HPos::Center
        };
        let above = Pos::new(anchor, VPos::Bottom);
        let text = format!(
            "{} {}",
            short(day.peak_users as f64),
            day.day.format("%b %-d")
        );
        chart.plotting_area().draw(
            &(EmptyElement::at((*x, day.peak_users as f64))
                + Text::new(text, (0, -8), style::label_font().color(&RECORD).pos(above))),
        )?;
    }
    style::legend(chart.configure_series_labels())?;
    Ok(())
}
