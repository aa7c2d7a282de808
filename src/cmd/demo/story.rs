//! What the demo prints about the replay: the daily table with records and
//! the scenario's story days, the growth and capacity summaries, the record
//! day by country and organisation, and whether the measured peaks are the
//! ones the simulator built in.

use chrono::NaiveDate;

use crate::capacity::horizon::Horizon;
use crate::capacity::report::{capacity_report, growth_report};
use crate::charts::numbers::short;
use crate::domain::calendar::{date_of, is_weekend, rfc3339};
use crate::domain::dimension::{Dimension, label};
use crate::figures::daily::records;
use crate::simulate::{DaySummary, Simulation};
use crate::store::figures::DailyFiguresRow;
use crate::store::segments;

/// The daily table, records marked, and the scenario's story days.
pub fn print_daily_table(simulation: &Simulation, rows: &[DailyFiguresRow]) {
    let record_days: Vec<String> = records(rows).into_iter().map(|r| r.day).collect();
    let scale = simulation.scale;
    println!(
        "\n{:<14} {:>7} {:>7} {:>7} {:>10} {:>13} {:>10} {:>8}  {:<8} as at scale 1.0",
        "day", "DAU", "WAU", "MAU", "peak_users", "at (UTC)", "peak conns", "ACU", "record"
    );
    for row in rows {
        let day = date_of(row.day);
        let at = chrono::DateTime::from_timestamp(row.peak_users_at.into(), 0)
            .map(|t| t.format("%H:%M:%S").to_string())
            .unwrap_or_default();
        let is_record = record_days.contains(&day.to_string());
        let note = story_note(simulation, day)
            .map(|n| format!("  ← {n}"))
            .unwrap_or_default();
        println!(
            "{:<14} {:>7} {:>7} {:>7} {:>10} {:>13} {:>10} {:>8.0}  {:<8} {:>6} {note}",
            day.format("%Y-%m-%d %a"),
            row.dau,
            row.wau,
            row.mau,
            row.peak_users,
            at,
            row.peak_connections,
            row.acu,
            if is_record { "★ record" } else { "" },
            short(row.peak_users as f64 / scale),
        );
    }
    let story: Vec<(NaiveDate, u32)> = rows
        .iter()
        .filter(|r| story_note(simulation, date_of(r.day)).is_some())
        .map(|r| (date_of(r.day), r.peak_users))
        .collect();
    if let Some((_, first_peak)) = story.first() {
        let base = simulation.scenario.target_peak(story[0].0) / 1e6;
        let ratio: Vec<String> = story
            .iter()
            .map(|(_, p)| format!("{:.2}", base * *p as f64 / *first_peak as f64))
            .collect();
        let marks: Vec<String> = story
            .iter()
            .map(|(day, _)| {
                let record = record_days.contains(&day.to_string());
                format!("{day}{}", if record { " ★" } else { "" })
            })
            .collect();
        println!(
            "\nThe story days {}: peaks in the ratio {}.",
            marks.join(", "),
            ratio.join(" : ")
        );
    }
    println!(
        "★ = all-time record (a final day whose peak_users beats every earlier day). DAU/peak on weekdays: {}.",
        weekday_dau_ratio(rows)
    );
}

fn story_note(simulation: &Simulation, day: NaiveDate) -> Option<&str> {
    let anchors = &simulation.scenario.peaks.anchors;
    anchors
        .iter()
        .find(|a| a.day == day)
        .and_then(|a| a.note.as_deref())
}

fn weekday_dau_ratio(rows: &[DailyFiguresRow]) -> String {
    let ratios: Vec<f64> = rows
        .iter()
        .filter(|r| !is_weekend(date_of(r.day)) && r.peak_users > 0)
        .map(|r| r.dau as f64 / r.peak_users as f64)
        .collect();
    if ratios.is_empty() {
        return "n/a".into();
    }
    format!("{:.2}", ratios.iter().sum::<f64>() / ratios.len() as f64)
}

/// The simulator knows the peak its events must give; say if they differ.
pub fn check_against_simulation(rows: &[DailyFiguresRow], simulated: &[DaySummary]) {
    let differing: Vec<String> = simulated
        .iter()
        .filter_map(|s| {
            let row = rows.iter().find(|r| date_of(r.day) == s.day)?;
            (row.peak_users as u64 != s.peak).then(|| {
                format!(
                    "{}: simulated {}, measured {}",
                    s.day, s.peak, row.peak_users
                )
            })
        })
        .collect();
    if differing.is_empty() {
        println!("Every day's measured peak equals the peak the simulator built into its events.");
    } else {
        println!(
            "Measured peaks that differ from the simulator's (the next day's earliest users \
             overlap this day's peak): {}",
            differing.join("; ")
        );
    }
}

/// The growth and capacity reports of the replay, for a fleet sized for
/// 18M users at scale 1.0 and planned at 80%.
pub async fn print_growth_and_capacity(
    client: &clickhouse::Client,
    project: &crate::config::ProjectSettings,
    scale: f64,
) -> anyhow::Result<()> {
    let rows = crate::store::figures::all_days(client, &project.name).await?;
    println!();
    if let Ok(growth) = growth_report(&project.name, &rows) {
        crate::cmd::capacity::print_growth_summary(&growth);
    }
    let mut planned = project.clone();
    planned.capacity_users = Some(((18e6 * scale).round() as u64).max(1));
    match capacity_report(&planned, &rows, Horizon::default()) {
        Ok(report) => crate::cmd::capacity::print_capacity_summary(&report),
        Err(why) => println!("No capacity report: {why}"),
    }
    Ok(())
}

/// The story's record day (March 2020: the 25th, 12.5M) by segment: the
/// five countries with the highest peaks, the summed vs coincident peak
/// (what adding up regional fleets would overstate), and the five largest
/// organisations' peaks. Without story days: the day with the highest peak.
pub async fn print_segments_of_record_day(
    client: &clickhouse::Client,
    simulation: &Simulation,
    project: &crate::config::ProjectSettings,
    rows: &[DailyFiguresRow],
) -> anyhow::Result<()> {
    let story_day = simulation
        .scenario
        .peaks
        .anchors
        .iter()
        .filter(|a| a.note.is_some())
        .max_by(|a, b| a.users.total_cmp(&b.users))
        .map(|a| a.day);
    let busiest = rows
        .iter()
        .max_by_key(|r| (r.peak_users, std::cmp::Reverse(r.day)))
        .map(|r| date_of(r.day));
    let Some(day) = story_day.or(busiest) else {
        return Ok(());
    };
    for (dimension, what) in [
        (Dimension::Country, "countries"),
        (Dimension::Org, "organisations"),
    ] {
        let (totals, values) = segments::read(client, &project.name, dimension, (day, day)).await?;
        let Some(totals) = totals.first() else {
            continue;
        };
        println!(
            "\n{day} by {dimension}: {} {what}; the five largest peaks:",
            totals.value_count
        );
        for value in values.iter().take(5) {
            println!(
                "  {:<12} {:>11} at {}",
                label(&value.value),
                value.peak_users,
                rfc3339(value.peak_users_at.into())
            );
        }
        if dimension == Dimension::Country {
            println!(
                "  Summed country peaks {} vs the coincident peak {}: diversity {:.2} \
                 (fleets sized per country would add up to {:.0}% more than the global peak)",
                totals.summed_peak,
                totals.coincident_peak,
                totals.summed_peak as f64 / f64::from(totals.coincident_peak.max(1)),
                (totals.summed_peak as f64 / f64::from(totals.coincident_peak.max(1)) - 1.0)
                    * 100.0
            );
        }
    }
    Ok(())
}
