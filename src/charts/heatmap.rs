//! Hour-of-week heatmap: average concurrency for each local weekday and
//! hour, white (quiet) to dark blue (busiest).

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::data::HourOfWeek;
use super::numbers::short;
use super::style::{self, EARLIER};

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    week: &HourOfWeek,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let values: Vec<f64> = week.cells.iter().flatten().flatten().copied().collect();
    if values.is_empty() {
        return style::no_data(area, title, "No figures in this range");
    }
    let max = values.iter().copied().fold(0.0, f64::max).max(1.0);
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{title} — darkest: {} users", short(max)),
            style::title_font(),
        )
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(-0.5..23.5, -0.5..6.5)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(24)
        .x_label_formatter(&|x: &f64| {
            let hour = x.round();
            if (x - hour).abs() > 0.01 || hour < 0.0 || hour % 3.0 != 0.0 {
                return String::new();
            }
            format!("{:02}h", hour as u32)
        })
        .y_labels(7)
        .y_label_formatter(&|y: &f64| {
            // Rows run top to bottom, Monday first; each is centred on its tick.
            let row = 6.0 - y.round();
            if (y - y.round()).abs() > 0.01 || !(0.0..7.0).contains(&row) {
                return String::new();
            }
            WEEKDAYS[row as usize].to_owned()
        })
        .label_style(style::label_font())
        .draw()?;
    let centre = Pos::new(HPos::Center, VPos::Center);
    for (weekday, hours) in week.cells.iter().enumerate() {
        let y = 6.0 - weekday as f64;
        for (hour, value) in hours.iter().enumerate() {
            let x = hour as f64;
            let cell = [(x - 0.47, y - 0.45), (x + 0.47, y + 0.45)];
            match value {
                Some(v) => {
                    let shade = v / max;
                    let colour = RGBColor(
                        (255.0 - 224.0 * shade) as u8,
                        (255.0 - 178.0 * shade) as u8,
                        (255.0 - 75.0 * shade) as u8,
                    );
                    chart.draw_series([Rectangle::new(cell, colour.filled())])?;
                }
                None => {
                    chart.draw_series([Rectangle::new(cell, EARLIER.mix(0.15).filled())])?;
                    chart.plotting_area().draw(&Text::new(
                        "·",
                        (x, y),
                        style::note_font().pos(centre),
                    ))?;
                }
            }
        }
    }
    Ok(())
}
