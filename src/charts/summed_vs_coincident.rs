//! Summed vs coincident peak per day: what fleets sized per segment would
//! hold together (Σ of every value's own peak) against what was online at
//! once (the day's peak), and their ratio, the diversity factor.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::numbers::short;
use super::segment_data::SegmentHistory;
use super::style::{self, CONNECTIONS, USERS};

pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    history: &SegmentHistory,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (Some(first), Some(last)) = (history.days.first(), history.days.last()) else {
        return style::no_data(area, title, "No segment figures in this range");
    };
    let (first_day, last_day) = (first.day, last.day);
    let x = |day: chrono::NaiveDate| (day - first_day).num_days() as f64;
    let highest = history
        .days
        .iter()
        .map(|d| d.summed)
        .max()
        .unwrap_or(1)
        .max(1) as f64
        * 1.25;
    let caption = style::segment_caption(title, "", &history.dimension.to_string());
    let mut chart =
        style::frame(area, &caption).build_cartesian_2d(-0.5..x(last_day) + 0.5, 0.0..highest)?;
    style::dated_mesh(&mut chart, first_day, Some("peak users"))?;
    chart
        .draw_series(LineSeries::new(
            history.days.iter().map(|d| (x(d.day), d.summed as f64)),
            CONNECTIONS.stroke_width(2),
        ))?
        .label(format!(
            "summed: Σ of each {}'s own peak",
            history.dimension
        ))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], CONNECTIONS.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(
            history.days.iter().map(|d| (x(d.day), d.coincident as f64)),
            USERS.stroke_width(3),
        ))?
        .label("coincident: peak of the day")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], USERS.stroke_width(3)));
    style::legend(chart.configure_series_labels())?;
    if last.coincident > 0 {
        let note = format!(
            "{}: diversity {:.2} ({} summed vs {} at once)",
            last.day.format("%b %-d"),
            last.summed as f64 / last.coincident as f64,
            short(last.summed as f64),
            short(last.coincident as f64)
        );
        let (width, _) = area.dim_in_pixel();
        area.draw(&Text::new(
            note,
            (width as i32 - 20, 40),
            style::note_font().pos(Pos::new(HPos::Right, VPos::Top)),
        ))?;
    }
    Ok(())
}
