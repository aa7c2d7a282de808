//! Charts drawn with plotters onto any `DrawingArea`: the same code makes
//! PNG and SVG files and the SVG inlined in the live dashboard.
//!
//! Every chart: a title, readable numbers (`12.5M`, `850k`), the project's
//! time zone on time axes, provisional days visibly marked, and a clear
//! "no data" frame for an empty range.

pub(crate) mod actives;
pub(crate) mod compare;
pub(crate) mod data;
pub(crate) mod fonts;
pub(crate) mod forecast;
pub(crate) mod growth;
pub(crate) mod heatmap;
pub(crate) mod intraday;
pub mod numbers;
pub(crate) mod peak;
pub(crate) mod segment_data;
pub(crate) mod segment_day;
pub(crate) mod segment_peaks;
pub(crate) mod session_lengths;
pub(crate) mod style;
pub(crate) mod summed_vs_coincident;
pub(crate) mod top_orgs;

use anyhow::anyhow;
use plotters::coord::Shift;
use plotters::prelude::*;

use data::{Daily, HourOfWeek, Intraday, SessionLengths};
use segment_data::{SegmentCurves, SegmentHistory};

/// A chart with its data.
#[derive(Debug, Clone)]
pub enum Chart {
    Peak(Daily),
    Actives(Daily),
    Intraday(Intraday),
    SessionLengths(SessionLengths),
    HourOfWeek(Box<HourOfWeek>),
    Growth(Daily),
    Forecast(Box<forecast::ForecastChart>),
    /// Several projects' daily peaks, by project name.
    Compare(Vec<(String, Daily)>),
    /// The top values' daily peaks of a dimension, the rest as "other".
    SegmentPeaks(SegmentHistory),
    /// A dimension's summed vs coincident peak per day.
    SummedVsCoincident(SegmentHistory),
    /// The largest organisations and their records, as a table.
    TopOrgs(SegmentHistory),
    /// One day's curves per segment under the day's own.
    SegmentDay(SegmentCurves),
}

/// Draws `chart` titled `title` onto `area`.
pub fn draw<DB: DrawingBackend>(
    chart: &Chart,
    title: &str,
    area: &DrawingArea<DB, Shift>,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    fonts::register();
    area.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let drawn = match chart {
        Chart::Peak(daily) | Chart::Actives(daily) if daily.days.is_empty() => {
            style::no_data(area, title, "No figures in this range")
        }
        Chart::Peak(daily) => peak::draw(area, title, daily),
        Chart::Actives(daily) => actives::draw(area, title, daily),
        Chart::Intraday(intraday) => intraday::draw(area, title, intraday),
        Chart::SessionLengths(lengths) => session_lengths::draw(area, title, lengths),
        Chart::HourOfWeek(cells) => heatmap::draw(area, title, cells),
        Chart::Growth(daily) => growth::draw(area, title, daily),
        Chart::Forecast(chart) => forecast::draw(area, title, chart),
        Chart::Compare(projects) => compare::draw(area, title, projects),
        Chart::SegmentPeaks(history) => segment_peaks::draw(area, title, history),
        Chart::SummedVsCoincident(history) => summed_vs_coincident::draw(area, title, history),
        Chart::TopOrgs(history) => top_orgs::draw(area, title, history),
        Chart::SegmentDay(curves) => segment_day::draw(area, title, curves),
    };
    drawn.map_err(|e| anyhow!("drawing {title:?}: {e}"))?;
    area.present().map_err(|e| anyhow!("{e}"))
}

/// The chart as an SVG document.
pub fn svg(chart: &Chart, title: &str, size: (u32, u32)) -> anyhow::Result<String> {
    let mut out = String::new();
    {
        let area = SVGBackend::with_string(&mut out, size).into_drawing_area();
        draw(chart, title, &area)?;
    }
    Ok(out)
}

/// The chart as a PNG file's bytes.
pub fn png(chart: &Chart, title: &str, size: (u32, u32)) -> anyhow::Result<Vec<u8>> {
    let mut pixels = vec![0u8; size.0 as usize * size.1 as usize * 3];
    {
        let area = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
        draw(chart, title, &area)?;
    }
    encode_png(&pixels, size)
}

/// RGB pixels as a PNG file (small: charts are mostly flat colour).
pub fn encode_png(pixels: &[u8], size: (u32, u32)) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, size.0, size.1);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Best);
    encoder.write_header()?.write_image_data(pixels)?;
    Ok(out)
}

#[cfg(test)]
mod tests;
