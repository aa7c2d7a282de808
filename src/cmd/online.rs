//! `highwater online --project P [--dimension D] [--watch [--every S]]
//! [--format table|json]`: online now, read from ClickHouse.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use crate::cli::{Format, OnlineArgs};
use crate::config::Settings;
use crate::domain::dimension::label;
use crate::figures::online::OnlineReport;
use crate::jobs::compute_day::rules;
use crate::jobs::slicing::Slicing;
use crate::live::online::online_at;
use crate::startup::Storage;

/// Values shown per refresh in the table (JSON has them all).
const TABLE_VALUES: usize = 20;

pub async fn run(config: &Path, args: OnlineArgs) -> anyhow::Result<()> {
    let settings = Settings::load(config, true)?;
    let project = settings.known_project(&args.project)?;
    let storage = Storage::open(&settings).await?;
    let slicing = Slicing::from(&settings.jobs);
    let result = show(&storage.client, project, slicing, &args).await;
    storage.close().await;
    result
}

async fn show(
    client: &clickhouse::Client,
    project: &crate::config::ProjectSettings,
    slicing: Slicing,
    args: &OnlineArgs,
) -> anyhow::Result<()> {
    // Redraw in place only on a terminal; into a file, one block per refresh.
    let redraw = args.watch && args.format == Format::Table && std::io::stdout().is_terminal();
    // One listener for the whole run: a Ctrl-C during a query counts too.
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        let at = chrono::Utc::now().timestamp();
        let evaluation = online_at(
            client,
            &project.name,
            rules(project),
            slicing,
            at,
            args.dimension,
        );
        let report = tokio::select! {
            online = evaluation => OnlineReport::new(&project.name, online?),
            _ = &mut interrupted => return Ok(()),
        };
        let mut out = std::io::stdout().lock();
        if redraw {
            write!(out, "\x1b[2J\x1b[H")?;
        }
        match args.format {
            Format::Json => writeln!(out, "{}", serde_json::to_string(&report)?)?,
            Format::Table => write_table(&mut out, &report)?,
        }
        out.flush()?;
        drop(out);
        if !args.watch {
            return Ok(());
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(args.every)) => {}
            _ = &mut interrupted => return Ok(()),
        }
    }
}

fn write_table(out: &mut impl Write, report: &OnlineReport) -> std::io::Result<()> {
    let counts = report.counts;
    writeln!(
        out,
        "{} at {}: {} users online, {} connections, {} active",
        report.project, report.as_of, counts.users, counts.connections, counts.active_users
    )?;
    if let (Some(dimension), Some(values)) = (report.dimension, &report.values) {
        writeln!(
            out,
            "  {:<24} {:>12} {:>12} {:>12}",
            dimension, "users", "connections", "active"
        )?;
        for v in values.iter().take(TABLE_VALUES) {
            writeln!(
                out,
                "  {:<24} {:>12} {:>12} {:>12}",
                label(&v.value),
                v.counts.users,
                v.counts.connections,
                v.counts.active_users
            )?;
        }
        if values.len() > TABLE_VALUES {
            writeln!(out, "  … and {} more values", values.len() - TABLE_VALUES)?;
        }
    }
    Ok(())
}
