//! Forecast: the daily peak so far, the forecast with its 95% band, the
//! usable capacity as a line, and the day the band's top crosses it.

use chrono::NaiveDate;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::numbers::short;
use super::style::{self, CONNECTIONS, EARLIER, RECORD, USERS};

/// `Default`: nothing to draw (the "no data" frame).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ForecastChart {
    /// Actual daily peaks, in day order.
    pub actual: Vec<(NaiveDate, f64)>,
    /// Forecast days: value, lower, upper.
    pub forecast: Vec<(NaiveDate, f64, f64, f64)>,
    /// Capacity × target utilisation, if configured.
    pub usable: Option<f64>,
    pub crossing: Option<NaiveDate>,
    /// Backtest error of the method used, for the caption.
    pub mape: Option<f64>,
    /// What-if surges: a label and the peak they would give, day by day.
    pub surges: Vec<(String, Vec<(NaiveDate, f64)>)>,
}

pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    chart: &ForecastChart,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (Some(first), Some(last)) = (chart.actual.first(), chart.forecast.last()) else {
        return style::no_data(area, title, "A forecast needs two weeks of final days");
    };
    let x = |day: NaiveDate| (day - first.0).num_days() as f64;
    let top = chart
        .actual
        .iter()
        .map(|a| a.1)
        .chain(chart.forecast.iter().map(|f| f.3))
        .chain(chart.usable)
        .chain(
            chart
                .surges
                .iter()
                .flat_map(|(_, p)| p.iter().map(|(_, v)| *v)),
        )
        .fold(1.0, f64::max)
        * 1.15;
    let caption = match chart.mape {
        Some(mape) => format!("{title} (backtest error {mape:.1}%)"),
        None => title.to_owned(),
    };
    let start = first.0;
    let mut plot =
        style::frame(area, &caption).build_cartesian_2d(-0.5..x(last.0) + 0.5, 0.0..top)?;
    plot.configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(style::GRID)
        .x_labels(10)
        .x_label_formatter(&|v| {
            (start + chrono::Duration::days(v.round() as i64))
                .format("%b %-d")
                .to_string()
        })
        .y_label_formatter(&|v| short(*v))
        .label_style(style::label_font())
        .draw()?;
    let mut band: Vec<(f64, f64)> = chart.forecast.iter().map(|f| (x(f.0), f.3)).collect();
    band.extend(chart.forecast.iter().rev().map(|f| (x(f.0), f.2.max(0.0))));
    plot.draw_series([Polygon::new(band, USERS.mix(0.18).filled())])?
        .label("forecast, 95% band")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], USERS.mix(0.18).filled()));
    plot.draw_series(LineSeries::new(
        chart.forecast.iter().map(|f| (x(f.0), f.1)),
        USERS.stroke_width(1),
    ))?;
    plot.draw_series(LineSeries::new(
        chart.actual.iter().map(|a| (x(a.0), a.1)),
        USERS.stroke_width(2),
    ))?
    .label("peak users")
    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], USERS.stroke_width(2)));
    for (label, points) in &chart.surges {
        let colour = EARLIER;
        plot.draw_series(LineSeries::new(
            points.iter().map(|(day, v)| (x(*day), *v)),
            colour.stroke_width(1),
        ))?
        .label(format!("what if {label}"))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour));
    }
    if let Some(usable) = chart.usable {
        plot.draw_series(LineSeries::new(
            [(-0.5, usable), (x(last.0) + 0.5, usable)],
            CONNECTIONS.stroke_width(2),
        ))?
        .label(format!("usable capacity {}", short(usable)))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], CONNECTIONS.stroke_width(2)));
    }
    if let (Some(day), Some(usable)) = (chart.crossing, chart.usable) {
        plot.plotting_area().draw(
            &(EmptyElement::at((x(day), usable))
                + Circle::new((0, 0), 5, RECORD.filled())
                + Text::new(
                    format!("reaches capacity {}", day.format("%b %-d")),
                    (0, -10),
                    style::label_font()
                        .color(&RECORD)
                        .pos(Pos::new(HPos::Right, VPos::Bottom)),
                )),
        )?;
    }
    style::legend(plot.configure_series_labels())?;
    Ok(())
}
