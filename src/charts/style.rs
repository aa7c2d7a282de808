//! Colours, type sizes and the pieces every chart shares.

use plotters::chart::SeriesLabelStyle;
use plotters::coord::{CoordTranslate, Shift};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::fonts::FAMILY;

pub const USERS: RGBColor = RGBColor(31, 119, 180);
pub const CONNECTIONS: RGBColor = RGBColor(255, 127, 14);
pub const ACTIVE: RGBColor = RGBColor(44, 160, 44);
pub const RECORD: RGBColor = RGBColor(214, 39, 40);
pub const EARLIER: RGBColor = RGBColor(150, 150, 150);
pub const PROVISIONAL_BAND: RGBColor = RGBColor(236, 236, 236);
pub const GRID: RGBColor = RGBColor(225, 225, 225);

pub fn title_font<'a>() -> TextStyle<'a> {
    (FAMILY, 20)
        .into_font()
        .style(FontStyle::Bold)
        .color(&BLACK)
}

pub fn label_font<'a>() -> TextStyle<'a> {
    (FAMILY, 13).into_font().color(&BLACK)
}

pub fn note_font<'a>() -> TextStyle<'a> {
    (FAMILY, 12).into_font().color(&RGBColor(90, 90, 90))
}

/// A chart's frame when there is nothing to draw: its title and a clear
/// message instead of empty axes.
pub fn no_data<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    message: &str,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    area.fill(&WHITE)?;
    let (width, height) = area.dim_in_pixel();
    area.draw(&Text::new(title.to_owned(), (12, 10), title_font()))?;
    let centre = Pos::new(HPos::Center, VPos::Center);
    area.draw(&Text::new(
        message.to_owned(),
        (width as i32 / 2, height as i32 / 2),
        (FAMILY, 18).into_font().color(&EARLIER).pos(centre),
    ))?;
    Ok(())
}

/// Every chart's legend: top left, on a light box.
pub fn legend<'a, 'b, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    mut labels: SeriesLabelStyle<'a, 'b, DB, CT>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    labels
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(note_font())
        .background_style(WHITE.mix(0.85))
        .border_style(GRID)
        .draw()
}
