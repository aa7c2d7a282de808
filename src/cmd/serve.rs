//! `highwater serve`

use std::path::Path;

use anyhow::bail;

use crate::cli::ServeArgs;
use crate::clock;
use crate::config::Settings;
use crate::startup::{Server, Storage, shutdown_signal};

pub async fn run(config: &Path, args: ServeArgs) -> anyhow::Result<()> {
    let mut settings = Settings::load(config, true)?;
    if let Some(listen) = args.listen {
        settings.listen = listen;
    }
    if let Some(role) = args.role {
        settings.server.role = role;
    }
    if settings.projects.is_empty() {
        bail!(
            "{} lists no [[project]]: nothing could be ingested",
            config.display()
        );
    }
    let clock: std::sync::Arc<dyn clock::Clock> = match args.clock_start {
        Some(start) => {
            tracing::warn!(%start, "the server clock starts in the past (--clock-start)");
            std::sync::Arc::new(clock::ShiftedClock::starting_at(start.timestamp_millis()))
        }
        None => clock::system(),
    };
    // Serving starts whether ClickHouse answers or not: the log takes the
    // events until it does.
    let storage = Storage::open_for_serving(&settings).await?;
    let server = Server::bind_with(
        &settings,
        settings.listen,
        storage.client.clone(),
        storage.ready.clone(),
        clock,
    )
    .await?
    .with_shards(storage.servers.clone())
    .with_clickhouse_servers(storage.failover.as_ref().map(|f| f.servers.clone()));
    tracing::info!(addr = %server.local_addr(), clickhouse = %storage.url, "highwater is serving");
    let result = server.run(shutdown_signal()).await;
    storage.close().await;
    result
}
