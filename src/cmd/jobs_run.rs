//! `highwater jobs run --project P --from D --to D`

use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::DayRangeArgs;
use crate::config::Settings;
use crate::domain::calendar::check_range;
use crate::figures::daily::DayMetrics;
use crate::jobs::runner::run_range;
use crate::jobs::slicing::Slicing;
use crate::startup::Storage;

pub async fn run(config: &Path, args: DayRangeArgs) -> anyhow::Result<()> {
    let settings = Settings::load(config, true)?;
    let project = settings.known_project(&args.project)?;
    check_range(args.from, args.to)?;
    let storage = Storage::open(&settings).await?;
    let days = (args.to - args.from).num_days() as u64 + 1;
    let progress = ProgressBar::new(days).with_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} days, eta {eta}")
            .expect("valid template"),
    );
    progress.set_message(format!("computing {}", project.name));
    let clock = crate::clock::system();
    let now = || clock.now_ms();
    let slicing = Slicing::from(&settings.jobs);
    let result = run_range(
        &storage.client,
        project,
        slicing,
        args.from,
        args.to,
        now,
        |row| {
            let day = DayMetrics::from(row);
            progress.suspend(|| {
                println!(
                    "{}  dau {:>9}  peak users {:>9} at {}  {}",
                    day.day,
                    day.dau,
                    day.peak_users,
                    day.peak_users_at,
                    if day.is_final { "final" } else { "provisional" }
                )
            });
            progress.inc(1);
        },
    )
    .await;
    progress.finish_and_clear();
    storage.close().await;
    result?;
    Ok(())
}
