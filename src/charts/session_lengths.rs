//! Session lengths: how many sessions fall in each of a set of
//! log-spaced buckets (seconds to days), from the merged HdrHistogram, with
//! the median, p90 and p99 written above.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::data::SessionLengths;
use super::numbers::{duration, short};
use super::style::{self, USERS};

/// Bucket upper bounds in seconds, and their labels.
const BUCKETS: [(u64, &str); 13] = [
    (10, "<10s"),
    (30, "<30s"),
    (60, "<1m"),
    (300, "<5m"),
    (900, "<15m"),
    (1_800, "<30m"),
    (3_600, "<1h"),
    (7_200, "<2h"),
    (14_400, "<4h"),
    (28_800, "<8h"),
    (43_200, "<12h"),
    (86_400, "<1d"),
    (u64::MAX, "1d+"),
];

/// Sessions per bucket.
pub fn bucket_counts(lengths: &SessionLengths) -> [u64; BUCKETS.len()] {
    let mut counts = [0; BUCKETS.len()];
    for value in lengths.histogram.iter_recorded() {
        let seconds = value.value_iterated_to();
        let bucket = BUCKETS
            .iter()
            .position(|(upper, _)| seconds < *upper)
            .unwrap_or(0);
        counts[bucket] += value.count_at_value();
    }
    counts
}

pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    lengths: &SessionLengths,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let histogram = &lengths.histogram;
    if histogram.is_empty() {
        return style::no_data(area, title, "No sessions ended in this range");
    }
    let counts = bucket_counts(lengths);
    let top = *counts.iter().max().unwrap_or(&1) as f64 * 1.15;
    let caption = format!(
        "{title} — median {}, p90 {}, p99 {} ({} sessions)",
        duration(histogram.value_at_quantile(0.5) as f64),
        duration(histogram.value_at_quantile(0.9) as f64),
        duration(histogram.value_at_quantile(0.99) as f64),
        short(histogram.len() as f64)
    );
    let mut chart = style::frame(area, &caption)
        .build_cartesian_2d(-0.5..BUCKETS.len() as f64 - 0.5, 0.0..top)?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(style::GRID)
        .x_labels(BUCKETS.len())
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() > 0.01 || i < 0.0 {
                return String::new();
            }
            BUCKETS
                .get(i as usize)
                .map(|b| b.1.to_owned())
                .unwrap_or_default()
        })
        .x_desc("session length (buckets grow roughly ×2–×5: a log scale)")
        .y_label_formatter(&|y| short(*y))
        .label_style(style::label_font())
        .draw()?;
    chart.draw_series(counts.iter().enumerate().map(|(i, count)| {
        let x = i as f64;
        Rectangle::new([(x - 0.4, 0.0), (x + 0.4, *count as f64)], USERS.filled())
    }))?;
    Ok(())
}
