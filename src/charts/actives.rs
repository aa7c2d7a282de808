//! Active users: DAU, WAU and MAU per day, and stickiness (DAU / MAU) on
//! the right-hand axis. Provisional days sit on a grey band.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::data::{Daily, Day};
use super::numbers::short;
use super::style::{self, ACTIVE, CONNECTIONS, EARLIER, PROVISIONAL_BAND, USERS};

/// Draws a non-empty range (the caller draws the "no figures" frame).
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    daily: &Daily,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let days = &daily.days;
    let top = daily.top(|d| d.mau.max(d.dau), 1.4);
    let slots = style::day_slots(days.len());
    let mut chart = style::frame(area, title)
        .right_y_label_area_size(50)
        .build_cartesian_2d(slots.clone(), 0.0..top)?
        .set_secondary_coord(slots, 0.0..1.0);
    style::day_mesh(&mut chart, daily, &|y| short(*y), "")?;
    chart
        .configure_secondary_axes()
        .y_label_formatter(&|y| format!("{:.0}%", y * 100.0))
        .label_style(style::label_font())
        .draw()?;
    chart.draw_series(
        days.iter()
            .enumerate()
            .filter(|(_, d)| !d.is_final)
            .map(|(i, _)| {
                let x = i as f64;
                Rectangle::new([(x - 0.5, 0.0), (x + 0.5, top)], PROVISIONAL_BAND.filled())
            }),
    )?;
    type Series = (&'static str, RGBColor, fn(&Day) -> u64);
    let series: [Series; 3] = [
        ("MAU", CONNECTIONS, |d| d.mau),
        ("WAU", ACTIVE, |d| d.wau),
        ("DAU", USERS, |d| d.dau),
    ];
    for (label, colour, value) in series {
        chart
            .draw_series(LineSeries::new(
                days.iter()
                    .enumerate()
                    .map(|(i, d)| (i as f64, value(d) as f64)),
                colour.stroke_width(2),
            ))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
            });
    }
    chart
        .draw_secondary_series(LineSeries::new(
            days.iter()
                .enumerate()
                .map(|(i, d)| (i as f64, d.stickiness())),
            EARLIER.stroke_width(1),
        ))?
        .label("stickiness (DAU/MAU, right axis)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], EARLIER));
    style::legend(chart.configure_series_labels())?;
    Ok(())
}
