//! Segment peaks over time: each day's `peak_users` of the top values of a
//! dimension (by their highest peak in the range), and the rest together as
//! "other" (the summed peak less the values shown).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::segment_data::SegmentHistory;
use super::style::{self, EARLIER, PALETTE};

/// Values drawn on their own; the rest is "other".
pub const TOP_VALUES: usize = 5;

pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    history: &SegmentHistory,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (Some(first), Some(last)) = (history.days.first(), history.days.last()) else {
        return style::no_data(area, title, "No segment figures in this range");
    };
    let (first, last) = (first.day, last.day);
    let x = |day: chrono::NaiveDate| (day - first).num_days() as f64;
    let top = history.top_values(TOP_VALUES);
    let other = |d: &super::segment_data::SegmentDay| {
        let shown: u64 = top.iter().map(|v| d.peak(v)).sum();
        d.summed.saturating_sub(shown)
    };
    let highest = history
        .days
        .iter()
        .flat_map(|d| d.values.iter().map(|(_, p)| *p).chain([other(d)]))
        .max()
        .unwrap_or(1)
        .max(1) as f64
        * 1.25;
    let caption = style::segment_caption(title, "", &history.dimension.to_string());
    let mut chart =
        style::frame(area, &caption).build_cartesian_2d(-0.5..x(last) + 0.5, 0.0..highest)?;
    style::dated_mesh(&mut chart, first, Some("peak users"))?;
    for (i, value) in top.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(
                history
                    .days
                    .iter()
                    .map(|d| (x(d.day), d.peak(value) as f64)),
                colour.stroke_width(2),
            ))?
            .label(value.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
            });
    }
    if history.days.iter().any(|d| other(d) > 0) {
        chart
            .draw_series(LineSeries::new(
                history.days.iter().map(|d| (x(d.day), other(d) as f64)),
                EARLIER.stroke_width(2),
            ))?
            .label("other (their peaks summed)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], EARLIER.stroke_width(2)));
    }
    style::legend(chart.configure_series_labels())?;
    Ok(())
}
