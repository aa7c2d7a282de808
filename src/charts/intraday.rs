//! Intraday: the per-minute maxima of `C_user` and `C_active` over one day
//! in the project's time zone, the day's peak marked, and the same weekday
//! a week earlier in grey for comparison.

use chrono::TimeZone;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::data::{Intraday, Minute};
use super::numbers::short;
use super::style::{self, ACTIVE, EARLIER, RECORD, USERS};
use crate::domain::day_window::DayWindow;

pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    intraday: &Intraday,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    if intraday.minutes.is_empty() {
        return style::no_data(area, title, &format!("No figures for {}", intraday.day));
    }
    let window = DayWindow::new(intraday.day, intraday.zone);
    let earlier = DayWindow::new(intraday.day - chrono::Duration::days(7), intraday.zone);
    let hours = window.len() as f64 / 3600.0;
    let top = intraday
        .minutes
        .iter()
        .chain(&intraday.week_before)
        .map(|m| m.users)
        .max()
        .unwrap_or(0)
        .max(1) as f64
        * 1.18;
    let zone = intraday.zone;
    let caption = if intraday.is_final {
        format!("{title} — {}", intraday.day)
    } else {
        format!("{title} — {} (provisional)", intraday.day)
    };
    let mut chart = style::frame(area, &caption).build_cartesian_2d(0.0..hours, 0.0..top)?;
    style::clock_mesh(&mut chart, zone, window.start)?;
    let line = |minutes: &[Minute], start: i64, value: fn(&Minute) -> u64| {
        minutes
            .iter()
            .map(move |m| ((m.at - start) as f64 / 3600.0, value(m) as f64))
            .collect::<Vec<_>>()
    };
    if !intraday.week_before.is_empty() {
        chart
            .draw_series(LineSeries::new(
                line(&intraday.week_before, earlier.start, |m| m.users),
                EARLIER.stroke_width(1),
            ))?
            .label(format!("users, {} (a week earlier)", earlier.day))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], EARLIER));
    }
    chart
        .draw_series(LineSeries::new(
            line(&intraday.minutes, window.start, |m| m.active_users),
            ACTIVE.stroke_width(1),
        ))?
        .label("active users")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], ACTIVE));
    chart
        .draw_series(LineSeries::new(
            line(&intraday.minutes, window.start, |m| m.users),
            USERS.stroke_width(2),
        ))?
        .label("users online")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], USERS.stroke_width(2)));
    let peak = intraday
        .minutes
        .iter()
        .max_by_key(|m| (m.users, std::cmp::Reverse(m.at)))
        .expect("not empty");
    let at = (peak.at - window.start) as f64 / 3600.0;
    let when = zone
        .timestamp_opt(peak.at, 0)
        .single()
        .map(|t| t.format("%H:%M").to_string())
        .unwrap_or_default();
    chart.plotting_area().draw(
        &(EmptyElement::at((at, peak.users as f64))
            + Circle::new((0, 0), 5, RECORD.filled())
            + Text::new(
                format!("peak {} at {when}", short(peak.users as f64)),
                (0, -10),
                style::label_font()
                    .color(&RECORD)
                    .pos(Pos::new(HPos::Center, VPos::Bottom)),
            )),
    )?;
    style::legend(chart.configure_series_labels())?;
    Ok(())
}
