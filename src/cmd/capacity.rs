//! `highwater growth --project P` and `highwater capacity --project P`:
//! the same reports as `GET /v1/growth` and `GET /v1/capacity`.

use std::path::Path;

use crate::capacity::report::{CapacityReport, GrowthReport, capacity_report, growth_report};
use crate::charts::numbers::short;
use crate::cli::{CapacityArgs, Format, ReportArgs};
use crate::config::Settings;
use crate::startup::Storage;
use crate::store::figures::{self, DailyFiguresRow};

async fn stored_days(
    config: &Path,
    project: &str,
) -> anyhow::Result<(Settings, Vec<DailyFiguresRow>)> {
    let settings = Settings::load(config, true)?;
    settings.known_project(project)?;
    let storage = Storage::open(&settings).await?;
    let rows = figures::all_days(&storage.client, project).await;
    storage.close().await;
    Ok((settings, rows?))
}

pub async fn growth(config: &Path, args: ReportArgs) -> anyhow::Result<()> {
    let (_, rows) = stored_days(config, &args.project).await?;
    let report = growth_report(&args.project, &rows)?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Table => print_growth(&report),
    }
    Ok(())
}

pub async fn capacity(config: &Path, args: CapacityArgs) -> anyhow::Result<()> {
    let (settings, rows) = stored_days(config, &args.report.project).await?;
    let project = settings.known_project(&args.report.project)?;
    let report = capacity_report(project, &rows, args.horizon)?;
    match args.report.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Table => print_capacity(&report),
    }
    Ok(())
}

fn percent(change: Option<f64>) -> String {
    change.map_or("n/a".into(), |c| format!("{:+.1}%", c * 100.0))
}

fn print_growth(report: &GrowthReport) {
    print_growth_summary(report);
    println!("\nRecords (day, peak_users, days since the previous record):");
    for r in &report.records {
        println!(
            "  {}  {:>10}  {}",
            r.day,
            r.peak_users,
            r.days_since_previous
                .map_or("first".into(), |d| format!("+{d} days"))
        );
    }
}

/// The rates, without the record list.
pub(super) fn print_growth_summary(report: &GrowthReport) {
    let g = &report.growth;
    println!("Growth of {} as of {} (final days)", report.project, g.day);
    println!("{:<12} {:>10} {:>10}", "", "WoW", "MoM");
    for (label, wow, mom) in [
        (
            "peak_users",
            g.week_over_week.peak_users,
            g.month_over_month.peak_users,
        ),
        ("dau", g.week_over_week.dau, g.month_over_month.dau),
        ("mau", g.week_over_week.mau, g.month_over_month.mau),
    ] {
        println!("{label:<12} {:>10} {:>10}", percent(wow), percent(mom));
    }
    println!(
        "daily peak, last 7 days vs the 7 before: {}; days to double at that rate: {}",
        percent(g.weekly_peak_growth),
        g.days_to_double
            .map_or("not growing".into(), |d| format!("{d:.0}"))
    );
}

fn print_capacity(report: &CapacityReport) {
    print_capacity_summary(report);
    println!(
        "\n{:<10} {:>10} {:>10} {:>10}",
        "day", "forecast", "lower", "upper"
    );
    for d in &report.forecast {
        println!(
            "{:<10} {:>10} {:>10} {:>10}",
            d.day,
            short(d.peak_users),
            short(d.lower),
            short(d.upper)
        );
    }
}

/// Headroom, crossings and backtest errors, without the forecast table.
pub(super) fn print_capacity_summary(report: &CapacityReport) {
    println!(
        "Capacity of {} as of {}: peak_users {} (peak / average concurrency {})",
        report.project,
        report.as_of,
        report.peak_users,
        report
            .peak_to_average
            .map_or("n/a".into(), |r| format!("{r:.2}"))
    );
    println!(
        "Forecast: {:?}; backtest MAPE (7 days ahead, rolling origins): Holt-Winters {}, seasonal naive {}",
        report.method,
        report
            .holt_winters_mape
            .map_or("n/a".into(), |m| format!("{m:.1}%")),
        report
            .seasonal_naive_mape
            .map_or("n/a".into(), |m| format!("{m:.1}%"))
    );
    match &report.headroom {
        None => println!(
            "No capacity_users configured for {}: no headroom.",
            report.project
        ),
        Some(h) => {
            println!(
                "Capacity {} × {:.0}% = usable {}; the last 7 days peaked at {}: headroom {} ({:.0}%)",
                short(h.capacity as f64),
                h.target_utilisation * 100.0,
                short(h.usable),
                short(h.recent_peak),
                short(h.headroom),
                h.headroom_share * 100.0
            );
            let date = |d: Option<chrono::NaiveDate>| {
                d.map_or("not within the horizon".into(), |d| d.to_string())
            };
            println!(
                "Upper forecast bound reaches usable capacity: {}",
                date(h.upper_crosses_on)
            );
            println!(
                "Forecast itself reaches it:                   {}",
                date(h.forecast_crosses_on)
            );
            for s in &h.surges {
                println!("What if {}: {}", s.label, date(s.crosses_on));
            }
        }
    }
}
