//! The largest organisations as a table: each kept organisation's peak on
//! the latest day, its highest peak in the range (its record) and when.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::numbers::grouped;
use super::segment_data::SegmentHistory;
use super::style;

/// Rows shown at most (as many as fit).
const ROWS: usize = 15;

pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    history: &SegmentHistory,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let Some(latest) = history.days.last() else {
        return style::no_data(area, title, "No organisations in this range");
    };
    let (width, height) = area.dim_in_pixel();
    let body = area.titled(title, style::title_font())?;
    let row_height = 22;
    let fit = ((height as i32 - 80) / row_height).max(1) as usize;
    let columns = [
        (20, HPos::Left),
        (width as i32 * 45 / 100, HPos::Right),
        (width as i32 * 70 / 100, HPos::Right),
        (width as i32 - 20, HPos::Right),
    ];
    let row = |y: i32,
               cells: [String; 4],
               bold: bool|
     -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        for ((x, anchor), text) in columns.iter().zip(cells) {
            let font = if bold {
                style::bold_label_font()
            } else {
                style::label_font()
            };
            body.draw(&Text::new(
                text,
                (*x, y),
                font.pos(Pos::new(*anchor, VPos::Top)),
            ))?;
        }
        Ok(())
    };
    row(
        10,
        [
            "organisation".into(),
            format!("peak {}", latest.day.format("%b %-d")),
            "record peak".into(),
            "record day".into(),
        ],
        true,
    )?;
    for (i, org) in history.top_values(ROWS.min(fit)).iter().enumerate() {
        let (record_day, record) = history
            .days
            .iter()
            .map(|d| (d.day, d.peak(org)))
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
            .unwrap_or((latest.day, 0));
        row(
            10 + row_height * (i as i32 + 1),
            [
                org.clone(),
                grouped(latest.peak(org)),
                grouped(record),
                record_day.format("%b %-d").to_string(),
            ],
            false,
        )?;
    }
    Ok(())
}
