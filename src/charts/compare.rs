//! Projects side by side: the daily `peak_users` of several projects on one
//! chart (two products, like Slack and Teams in 2020), each with its
//! all-time records marked.

use chrono::NaiveDate;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::data::Daily;
use super::style::{self, ACTIVE, CONNECTIONS, RECORD, USERS};

const COLOURS: [RGBColor; 4] = [USERS, CONNECTIONS, ACTIVE, RGBColor(148, 103, 189)];

pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    projects: &[(String, Daily)],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let days = || projects.iter().flat_map(|(_, d)| d.days.iter());
    let (Some(first), Some(last)) = (days().map(|d| d.day).min(), days().map(|d| d.day).max())
    else {
        return style::no_data(area, title, "No figures in this range");
    };
    let x = |day: NaiveDate| (day - first).num_days() as f64;
    let top = days().map(|d| d.peak_users).max().unwrap_or(1).max(1) as f64 * 1.18;
    let mut chart = style::frame(area, title).build_cartesian_2d(-0.5..x(last) + 0.5, 0.0..top)?;
    style::dated_mesh(&mut chart, first, None)?;
    for (i, (name, daily)) in projects.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        chart
            .draw_series(LineSeries::new(
                daily.days.iter().map(|d| (x(d.day), d.peak_users as f64)),
                colour.stroke_width(2),
            ))?
            .label(format!("{name}: peak users"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
            });
        chart.draw_series(
            daily
                .days
                .iter()
                .filter(|d| d.is_record)
                .map(|d| Circle::new((x(d.day), d.peak_users as f64), 4, RECORD.filled())),
        )?;
    }
    style::legend(chart.configure_series_labels())?;
    Ok(())
}
