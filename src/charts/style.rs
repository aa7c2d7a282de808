//! Colours, type sizes and the pieces every chart shares.

use std::ops::Range;

use plotters::chart::SeriesLabelStyle;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::{CoordTranslate, Shift};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;

use super::data::Daily;
use super::fonts::FAMILY;
use super::numbers::short;

pub const USERS: RGBColor = RGBColor(31, 119, 180);
pub const CONNECTIONS: RGBColor = RGBColor(255, 127, 14);
pub const ACTIVE: RGBColor = RGBColor(44, 160, 44);
pub const RECORD: RGBColor = RGBColor(214, 39, 40);
pub const EARLIER: RGBColor = RGBColor(150, 150, 150);
pub const PROVISIONAL_BAND: RGBColor = RGBColor(236, 236, 236);
pub const GRID: RGBColor = RGBColor(225, 225, 225);
/// Series of several values (segments), apart from the users' blue.
pub const PALETTE: [RGBColor; 6] = [
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];

pub fn title_font<'a>() -> TextStyle<'a> {
    (FAMILY, 20)
        .into_font()
        .style(FontStyle::Bold)
        .color(&BLACK)
}

pub fn label_font<'a>() -> TextStyle<'a> {
    (FAMILY, 13).into_font().color(&BLACK)
}

/// Column heads of tables.
pub fn bold_label_font<'a>() -> TextStyle<'a> {
    (FAMILY, 13)
        .into_font()
        .style(FontStyle::Bold)
        .color(&BLACK)
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

/// A segment chart's caption: `title`, then `detail` (a day, or nothing),
/// then "by DIMENSION" unless the title already says it ("Peak users by
/// country" is not followed by "— by country").
pub fn segment_caption(title: &str, detail: &str, dimension: &str) -> String {
    let by = format!("by {dimension}");
    let said = title.to_lowercase().contains(&by);
    match (detail.is_empty(), said) {
        (true, true) => title.to_owned(),
        (true, false) => format!("{title} — {by}"),
        (false, true) => format!("{title} — {detail}"),
        (false, false) => format!("{title} — {detail} {by}"),
    }
}

/// Title, margins and label areas: the frame every chart shares.
pub fn frame<'a, 'b, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    title: &'b str,
) -> ChartBuilder<'a, 'b, DB> {
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(title, title_font())
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60);
    builder
}

/// The x range of a chart over `days` days: one slot per day, centred on
/// its index.
pub fn day_slots(days: usize) -> Range<f64> {
    -0.5..days as f64 - 0.5
}

/// A chart over days, on [`day_slots`].
pub type DayChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The mesh of a chart over days: a light grid, at most ten day labels
/// (`Mar 25`), and `format_y` on the value axis, described by `y_desc`.
pub fn day_mesh<DB: DrawingBackend>(
    chart: &mut DayChart<'_, DB>,
    daily: &Daily,
    format_y: &dyn Fn(&f64) -> String,
    y_desc: &str,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .x_labels(daily.days.len().min(10))
        .x_label_formatter(&|x| day_label(daily, *x))
        .y_label_formatter(format_y)
        .y_desc(y_desc)
        .label_style(label_font())
        .draw()
}

/// The mesh of a chart whose x is days since `first` (one unit a day):
/// a light grid, at most ten `Mar 25` labels, short numbers on the value
/// axis, described by `y_desc` if given.
pub fn dated_mesh<DB: DrawingBackend>(
    chart: &mut DayChart<'_, DB>,
    first: NaiveDate,
    y_desc: Option<&str>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let label = |v: &f64| {
        (first + chrono::Duration::days(v.round() as i64))
            .format("%b %-d")
            .to_string()
    };
    let mut mesh = chart.configure_mesh();
    mesh.light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .x_labels(10)
        .x_label_formatter(&label)
        .y_label_formatter(&|v| short(*v))
        .label_style(label_font());
    if let Some(desc) = y_desc {
        mesh.y_desc(desc);
    }
    mesh.draw()
}

/// The mesh of a chart over one day whose x is hours since `day_start`
/// (epoch seconds): `HH:MM` labels on the local clock of `zone`.
pub fn clock_mesh<DB: DrawingBackend>(
    chart: &mut DayChart<'_, DB>,
    zone: Tz,
    day_start: i64,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .x_labels(13)
        .x_label_formatter(&|x| {
            zone.timestamp_opt(day_start + (*x * 3600.0) as i64, 0)
                .single()
                .map(|t| t.format("%H:%M").to_string())
                .unwrap_or_default()
        })
        .x_desc(format!("local time ({})", zone.name()))
        .y_label_formatter(&|y| short(*y))
        .label_style(label_font())
        .draw()
}

/// `Mar 25` under a day's slot; nothing between slots.
pub fn day_label(daily: &Daily, x: f64) -> String {
    let index = x.round();
    if (x - index).abs() > 0.01 || index < 0.0 {
        return String::new();
    }
    daily
        .days
        .get(index as usize)
        .map(|d| d.day.format("%b %-d").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod caption_tests {
    use super::segment_caption;

    #[test]
    fn a_title_that_names_its_dimension_is_not_followed_by_it_again() {
        assert_eq!(
            segment_caption("Peak users by country", "", "country"),
            "Peak users by country"
        );
        assert_eq!(
            segment_caption("Largest organisations", "", "org_id"),
            "Largest organisations — by org_id"
        );
        assert_eq!(
            segment_caption("Users online by country", "2020-03-31", "country"),
            "Users online by country — 2020-03-31"
        );
        assert_eq!(
            segment_caption("Online", "2020-03-31", "platform"),
            "Online — 2020-03-31 by platform"
        );
    }
}
