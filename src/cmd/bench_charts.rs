//! `highwater bench charts`: the peak-concurrency chart for a year of daily
//! figures (records, provisional band, labels, legend), as PNG and as SVG,
//! beside the floor: plotters drawing a bare line of the same points at the
//! same size. Alternating runs; medians.

use std::time::{Duration, Instant};

use anyhow::ensure;
use chrono::NaiveDate;
use plotters::prelude::*;

use crate::bench::process::median;
use crate::charts::data::{Daily, Day};
use crate::charts::{self, Chart};
use crate::cli::BenchChartsArgs;

const SIZE: (u32, u32) = (1000, 420);

pub fn run(args: BenchChartsArgs) -> anyhow::Result<()> {
    ensure!(
        args.days >= 1 && args.runs >= 1,
        "--days and --runs must be positive"
    );
    let daily = a_year(args.days);
    let chart = Chart::Peak(daily.clone());
    let (mut png, mut svg, mut bare) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..args.runs {
        png.push(timed(|| {
            charts::png(&chart, "Peak concurrency", SIZE).map(drop)
        })?);
        svg.push(timed(|| {
            charts::svg(&chart, "Peak concurrency", SIZE).map(drop)
        })?);
        bare.push(timed(|| bare_line_png(&daily))?);
    }
    let records = daily.days.iter().filter(|d| d.is_record).count();
    println!(
        "\nhighwater bench charts: peak concurrency, {} days ({records} records), {}x{} px, {} runs (medians)",
        args.days, SIZE.0, SIZE.1, args.runs
    );
    let (png, svg, bare) = (median(png), median(svg), median(bare));
    for (label, d) in [
        ("highwater peak chart -> PNG", png),
        ("highwater peak chart -> SVG", svg),
        ("bare plotters line -> PNG", bare),
    ] {
        println!("{label:<30} {:>8.1} ms", d.as_secs_f64() * 1e3);
    }
    println!(
        "PNG vs bare line: {:.2}x; target <= 200 ms per chart: {}",
        png.as_secs_f64() / bare.as_secs_f64(),
        if png.max(svg) <= Duration::from_millis(200) {
            "met"
        } else {
            "not met"
        }
    );
    Ok(())
}

fn timed(f: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<Duration> {
    let started = Instant::now();
    f()?;
    Ok(started.elapsed())
}

/// A growing product: weekly rhythm, a surge in the last quarter.
fn a_year(days: usize) -> Daily {
    let first = NaiveDate::from_ymd_opt(2019, 4, 1).expect("valid");
    let mut best = 0;
    Daily {
        days: (0..days)
            .map(|i| {
                let weekend = matches!(i % 7, 5 | 6);
                let trend = 8e6 * (1.0 + i as f64 / days as f64 * 0.5);
                let peak = (if weekend { trend * 0.2 } else { trend }) as u64;
                let is_record = peak > best;
                best = best.max(peak);
                Day {
                    day: first + chrono::Duration::days(i as i64),
                    peak_users: peak,
                    peak_connections: peak * 104 / 100,
                    dau: peak * 18 / 10,
                    wau: peak * 2,
                    mau: peak * 21 / 10,
                    is_final: i + 2 < days,
                    is_record,
                }
            })
            .collect(),
        first_day: None,
    }
}

fn bare_line_png(daily: &Daily) -> anyhow::Result<()> {
    charts::fonts::register();
    let mut pixels = vec![0u8; SIZE.0 as usize * SIZE.1 as usize * 3];
    {
        let area = BitMapBackend::with_buffer(&mut pixels, SIZE).into_drawing_area();
        area.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
        let top = daily.days.iter().map(|d| d.peak_users).max().unwrap_or(1) as f64;
        let mut chart = ChartBuilder::on(&area)
            .build_cartesian_2d(0.0..daily.days.len() as f64, 0.0..top)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .draw_series(LineSeries::new(
                daily
                    .days
                    .iter()
                    .enumerate()
                    .map(|(i, d)| (i as f64, d.peak_users as f64)),
                BLUE,
            ))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        area.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    charts::encode_png(&pixels, SIZE).map(drop)
}
