//! `highwater metrics daily --project P --from D --to D [--format json|table]`

use std::path::Path;

use crate::cli::{Format, MetricsDailyArgs};
use crate::config::Settings;
use crate::domain::calendar::check_range;
use crate::figures::daily::{DailyResponse, DayMetrics};
use crate::startup::Storage;
use crate::store::figures;

pub async fn run(config: &Path, args: MetricsDailyArgs) -> anyhow::Result<()> {
    let settings = Settings::load(config, true)?;
    let range = &args.range;
    let project = settings.known_project(&range.project)?;
    check_range(range.from, range.to)?;
    let storage = Storage::open(&settings).await?;
    let rows = figures::daily(&storage.client, &project.name, range.from, range.to).await;
    storage.close().await;
    let response = DailyResponse {
        project: project.name.clone(),
        days: rows?.iter().map(DayMetrics::from).collect(),
    };
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&response)?),
        Format::Table => print_table(&response),
    }
    Ok(())
}

pub(super) fn print_table(response: &DailyResponse) {
    println!(
        "{:<10} {:>9} {:>9} {:>9} {:>6} {:>10} {:<20} {:>10} {:>10} {:>9} {:>7} {:>7} {:>7}  state",
        "day",
        "dau",
        "wau",
        "mau",
        "stick",
        "peak users",
        "peak at (UTC)",
        "peak conns",
        "peak activ",
        "acu",
        "p50 s",
        "p90 s",
        "p99 s"
    );
    for d in &response.days {
        println!(
            "{:<10} {:>9} {:>9} {:>9} {:>6.3} {:>10} {:<20} {:>10} {:>10} {:>9.1} {:>7} {:>7} {:>7}  {}",
            d.day,
            d.dau,
            d.wau,
            d.mau,
            d.stickiness,
            d.peak_users,
            d.peak_users_at,
            d.peak_connections,
            d.peak_active_users,
            d.acu,
            d.session_p50_s,
            d.session_p90_s,
            d.session_p99_s,
            if d.is_final { "final" } else { "provisional" }
        );
    }
}
