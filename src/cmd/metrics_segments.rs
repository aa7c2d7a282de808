//! `highwater metrics segments --project P --from D --to D --dimension X
//! [--format json|table]`

use std::path::Path;

use crate::cli::{Format, MetricsSegmentsArgs};
use crate::config::Settings;
use crate::domain::calendar::check_range;
use crate::domain::dimension::label;
use crate::figures::segments::{SegmentsResponse, segment_days};
use crate::startup::Storage;
use crate::store::segments;

pub async fn run(config: &Path, args: MetricsSegmentsArgs) -> anyhow::Result<()> {
    let settings = Settings::load(config, true)?;
    let range = &args.range;
    let project = settings.known_project(&range.project)?;
    check_range(range.from, range.to)?;
    let storage = Storage::open(&settings).await?;
    let read = segments::read(
        &storage.client,
        &project.name,
        args.dimension,
        (range.from, range.to),
    )
    .await;
    storage.close().await;
    let (days, values) = read?;
    let response = SegmentsResponse {
        project: project.name.clone(),
        dimension: args.dimension.name().to_owned(),
        days: segment_days(&days, &values),
    };
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&response)?),
        Format::Table => print_table(&response),
    }
    Ok(())
}

fn print_table(response: &SegmentsResponse) {
    for day in &response.days {
        let diversity = day
            .diversity
            .map_or_else(|| "-".to_owned(), |d| format!("{d:.2}"));
        println!(
            "{}  {}: {} values; summed peak {}, coincident peak {}, diversity {}",
            day.day,
            response.dimension,
            day.value_count,
            day.summed_peak,
            day.coincident_peak,
            diversity
        );
        println!(
            "  {:<24} {:>10} {:<20} {:>10} {:>10} {:>9} {:>10}",
            "value", "peak users", "peak at (UTC)", "peak conns", "peak activ", "dau", "acu"
        );
        for v in &day.values {
            println!(
                "  {:<24} {:>10} {:<20} {:>10} {:>10} {:>9} {:>10.1}",
                label(&v.value),
                v.peak_users,
                v.peak_users_at,
                v.peak_connections,
                v.peak_active_users,
                v.dau,
                v.acu
            );
        }
    }
}
