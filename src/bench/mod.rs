//! Benchmark helpers: realistic events and sessions, posting them with
//! timings, process measurements.

pub(crate) mod clickhouse_work;
pub(crate) mod cpu_breakdown;
pub(crate) mod day_of_sessions;
pub(crate) mod events;
pub(crate) mod live_sampler;
pub(crate) mod post;
pub(crate) mod process;
pub mod server_process;

use clickhouse::sql::Identifier;

use crate::config::ClickHouseSettings;

/// Drops and recreates `database` (migrated) on every server of `urls`: one,
/// or the servers of the embedded cluster (shard after shard, `replicas`
/// each); returns the first's client.
pub async fn fresh_database_on(
    urls: &[String],
    replicas: usize,
    database: &str,
) -> anyhow::Result<clickhouse::Client> {
    for url in urls {
        clickhouse::Client::default()
            .with_url(url)
            .query("DROP DATABASE IF EXISTS ?")
            .bind(Identifier(database))
            .execute()
            .await?;
    }
    let settings = ClickHouseSettings {
        database: database.to_owned(),
        embedded_shards: urls.len() / replicas,
        embedded_replicas: replicas,
        ..ClickHouseSettings::default()
    };
    Ok(crate::store::connect::connect_all(&settings, urls).await?)
}

/// Drops and recreates `database` (migrated) on the server at `url`.
pub async fn fresh_database(url: &str, database: &str) -> anyhow::Result<clickhouse::Client> {
    fresh_database_on(&[url.to_owned()], 1, database).await
}
