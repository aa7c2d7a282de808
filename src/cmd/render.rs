//! `highwater render --project P --dashboard FILE --out DIR`

use std::path::Path;

use crate::cli::RenderArgs;
use crate::clock;
use crate::config::Settings;
use crate::dashboards::load::{Chosen, load};
use crate::dashboards::report;
use crate::dashboards::spec::Dashboard;
use crate::domain::calendar::{check_range, utc_date};
use crate::live::stored_figures::StoredFigures;
use crate::startup::Storage;

pub async fn run(config: &Path, args: RenderArgs) -> anyhow::Result<()> {
    let settings = Settings::load(config, true)?;
    let project = settings.known_project(&args.project)?;
    let dashboard = Dashboard::load(&args.dashboard)?;
    let chosen = match (args.from, args.to) {
        (Some(from), Some(to)) => {
            check_range(from, to)?;
            Some(Chosen { from, to })
        }
        _ => None,
    };
    let storage = Storage::open(&settings).await?;
    // The command line reads every configured project.
    let readable: Vec<String> = settings.projects.iter().map(|p| p.name.clone()).collect();
    let today = utc_date(clock::system().now_ms() / 1000);
    let panels = load(
        &StoredFigures::of_store(storage.client.clone()),
        project,
        &dashboard,
        chosen,
        &readable,
        today,
    )
    .await;
    storage.close().await;
    let index = report::write(&args.out, &dashboard.title, &project.name, &panels?)?;
    println!("{}", index.display());
    Ok(())
}
