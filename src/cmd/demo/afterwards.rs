//! After the replay: how to use the running demo, and how to come back to
//! its data later. The demo writes to a database of its own
//! (`highwater_demo`), so a plain `highwater serve` on the same data
//! directory would show empty dashboards; `DATA_DIR/demo.toml` is a
//! configuration for exactly the demo's data, project and keys.

use std::path::PathBuf;

use anyhow::Context;

use super::Demo;
use crate::config::Settings;

/// Writes `DATA_DIR/demo.toml`; returns its path.
pub fn write_config(settings: &Settings) -> anyhow::Result<PathBuf> {
    let data_dir = settings
        .data_dir
        .canonicalize()
        .with_context(|| format!("cannot find {}", settings.data_dir.display()))?;
    let project = &settings.projects[0];
    let quoted = |keys: &[String]| {
        keys.iter()
            .map(|k| format!("\"{k}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let text = format!(
        "# Written by `highwater demo`: `highwater serve --config {config}` serves the\n\
         # demo's data again (database {database} in {data_dir}).\n\
         listen = \"{listen}\"\n\
         data_dir = \"{data_dir}\"\n\
         [clickhouse]\ndatabase = \"{database}\"\nembedded_shards = {shards}\nembedded_replicas = {replicas}\n\
         [jobs]\ninterval_s = {interval}\n\
         [[project]]\nname = \"{name}\"\ntime_zone = \"{zone}\"\nsession_timeout_s = {timeout}\n\
         backfill = true\ningest_keys = [{ingest}]\nread_keys = [{read}]\n",
        config = data_dir.join("demo.toml").display(),
        database = settings.clickhouse.database,
        shards = settings.clickhouse.embedded_shards,
        replicas = settings.clickhouse.embedded_replicas,
        data_dir = data_dir.display(),
        listen = settings.listen,
        interval = settings.jobs.interval_s,
        name = project.name,
        zone = project.time_zone,
        timeout = project.session_timeout_s,
        ingest = quoted(&project.ingest_keys),
        read = quoted(&project.read_keys),
    );
    let path = data_dir.join("demo.toml");
    // It holds the demo's keys: readable by its owner only.
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(path)
}

/// Where the demo serves, its keys, and `curl` lines to try.
pub fn print_how_to_use(
    demo: &Demo,
    base_url: &str,
    clickhouse_url: &str,
    config: &std::path::Path,
) {
    let (ingest_key, read_key) = (&demo.ingest_key, &demo.read_key);
    let scenario = &demo.simulation.scenario;
    let days = scenario.all_days();
    let (first, last) = (days[0], days[days.len() - 1]);
    println!("\nhighwater is serving at {base_url} (ClickHouse at {clickhouse_url})");
    println!("  project:    {}", demo.project.name);
    println!("  ingest key: {ingest_key}");
    println!("  read key:   {read_key}");
    println!(
        "Dashboards (enter the read key once): {base_url}/dashboards/overview  {base_url}/dashboards/capacity"
    );
    println!(
        "Read the figures:\n  curl -H 'Authorization: Bearer {read_key}' '{base_url}/v1/metrics/daily?from={first}&to={last}'"
    );
    println!("  curl -H 'Authorization: Bearer {read_key}' '{base_url}/v1/records'");
    println!(
        "  curl -H 'Authorization: Bearer {read_key}' '{base_url}/v1/metrics/concurrency?day=2020-03-25&step=600'"
    );
    let story_day = scenario
        .peaks
        .anchors
        .iter()
        .rev()
        .find(|a| a.note.is_some())
        .map_or(last, |a| a.day);
    println!(
        "Post an event (one more user from 15:00 UTC on {story_day}, for T):\n  curl -H 'Authorization: Bearer {ingest_key}' -H 'Content-Type: application/json' \\\n    -d '[{{\"type\":\"session_start\",\"user_id\":\"U-you\",\"session_id\":\"S1\",\"ts\":\"{story_day}T15:00:00Z\"}}]' {base_url}/v1/events"
    );
    println!(
        "Events posted now are in the figures within a minute (scheduled jobs every {} s). Press Ctrl-C to stop.",
        demo.settings.jobs.interval_s
    );
    print_how_to_come_back(demo, config);
}

/// The command that serves the demo's data again, with its keys.
pub fn print_how_to_come_back(demo: &Demo, config: &std::path::Path) {
    println!(
        "The demo's data stays in its own database ({}): to serve it again later, with these keys,\n  highwater serve --config {}",
        demo.settings.clickhouse.database,
        config.display()
    );
}
