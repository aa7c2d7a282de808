//! One day's users online per segment: each top value's per-minute maxima
//! of `C_user`, with the day's own curve (the coincident total) on top.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::segment_data::SegmentCurves;
use super::style::{self, PALETTE, USERS};

pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    curves: &SegmentCurves,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    if curves.total.is_empty() {
        return style::no_data(area, title, &format!("No figures for {}", curves.day));
    }
    let hours = curves.total.len() as f64 / 60.0;
    let top = curves.total.iter().copied().max().unwrap_or(1).max(1) as f64 * 1.25;
    let (zone, start) = (curves.zone, curves.day_start);
    let caption = style::segment_caption(
        title,
        &curves.day.to_string(),
        &curves.dimension.to_string(),
    );
    let mut chart = style::frame(area, &caption).build_cartesian_2d(0.0..hours, 0.0..top)?;
    style::clock_mesh(&mut chart, zone, start)?;
    let line = |minutes: &[u64]| -> Vec<(f64, f64)> {
        minutes
            .iter()
            .enumerate()
            .map(|(m, &users)| (m as f64 / 60.0, users as f64))
            .collect()
    };
    for (i, (value, minutes)) in curves.values.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(line(minutes), colour.stroke_width(1)))?
            .label(value.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour));
    }
    chart
        .draw_series(LineSeries::new(line(&curves.total), USERS.stroke_width(3)))?
        .label("all users (coincident)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], USERS.stroke_width(3)));
    style::legend(chart.configure_series_labels())?;
    Ok(())
}
