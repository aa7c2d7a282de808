//! Opens the ClickHouse client highwater uses everywhere: checks the server
//! answers, adapts to its version, creates the database, migrates.

use clickhouse::Client;
use clickhouse::sql::Identifier;

use super::local_server::EMBEDDED_CLUSTER;
use super::schema::Topology;
use super::{StoreError, migrations};
use crate::config::{ClickHouseSettings, Compression};

/// First major version whose server knows every setting the crate's row
/// validation sends (`describe_include_subcolumns`, docs/design.md §4).
const FIRST_VALIDATING_MAJOR: u32 = 23;

/// Settings highwater sends with every query, where the server knows them
/// (an older server refuses a setting it does not know, so each is sent only
/// if `system.settings` lists it).
///
/// `max_partitions_per_insert_block`: current releases refuse an insert
/// whose rows fall into more than 100 partitions (months, here) with code
/// 252; a backfill batch can span years, and one refused insert would hold
/// up the whole log. An insert is at most `wal.ship_bytes`, which bounds the
/// parts it makes. 18.16 has no such limit.
///
/// `deduplicate_blocks_in_dependent_materialized_views`: where an insert is
/// dropped as a repeat of an earlier one (current releases), its views
/// decide for themselves, so that a view the first attempt never reached
/// gets the rows. 18.16 has no such setting (nor drops repeats there).
pub const SETTINGS_SENT: [(&str, &str); 2] = [
    ("max_partitions_per_insert_block", "0"),
    ("deduplicate_blocks_in_dependent_materialized_views", "1"),
];

/// Connects to `url` (the configured one or the embedded server's) and
/// returns a client bound to the configured database, migrated.
pub async fn connect(settings: &ClickHouseSettings, url: &str) -> Result<Client, StoreError> {
    connect_all(settings, &[url.to_owned()]).await
}

/// The schema's shape the settings ask for: a cluster when one is named
/// or more than one embedded server is wanted.
pub fn topology(settings: &ClickHouseSettings) -> Topology {
    let name = match &settings.cluster {
        Some(name) => name.clone(),
        None if settings.embedded_shards > 1 || settings.embedded_replicas > 1 => {
            EMBEDDED_CLUSTER.to_owned()
        }
        None => return Topology::SingleNode,
    };
    let database = settings.database.clone();
    match settings.is_replicated() {
        true => Topology::Replicated { name, database },
        false => Topology::Cluster { name, database },
    }
}

/// Connects to every server of `urls` (one, or every shard of a cluster),
/// creates the database and migrates it on each, and returns the client of
/// the first (see [`main_client`]).
pub async fn connect_all(
    settings: &ClickHouseSettings,
    urls: &[String],
) -> Result<Client, StoreError> {
    let shards = connect_shards(settings, urls).await?;
    Ok(main_client(settings, &shards))
}

/// One client per server of `urls`, each migrated (in `urls`' order).
pub async fn connect_shards(
    settings: &ClickHouseSettings,
    urls: &[String],
) -> Result<Vec<Client>, StoreError> {
    let topology = topology(settings);
    let mut shards = Vec::with_capacity(urls.len());
    for url in urls {
        shards.push(connect_one(settings, url, &topology).await?);
    }
    Ok(shards)
}

/// The client highwater uses everywhere: the first server's. On a cluster
/// it inserts synchronously into every shard (`insert_distributed_sync`):
/// the write-ahead log saves a position only once every shard holds the
/// rows.
pub fn main_client(settings: &ClickHouseSettings, shards: &[Client]) -> Client {
    let client = shards.first().expect("at least one URL").clone();
    match topology(settings) {
        Topology::SingleNode => client,
        Topology::Cluster { .. } => client.with_setting("insert_distributed_sync", "1"),
        // An insert returns once a quorum of replicas of each shard holds
        // it, and reads of a shard prefer its first replica: what was just
        // written is what is read. An insert whose quorum timed out has
        // written its rows but not its views' (18.16 raises before the
        // views): its retry must not be dropped as a repeat of the first,
        // or the views would never see it — copies in `events` are
        // harmless, lost sessions are not.
        Topology::Replicated { .. } => {
            let client = client
                .with_setting("insert_distributed_sync", "1")
                .with_setting("load_balancing", "in_order")
                .with_setting("insert_deduplicate", "0");
            match settings.quorum() {
                Some(quorum) => client
                    .with_setting("insert_quorum", quorum.to_string())
                    .with_setting("insert_quorum_timeout", QUORUM_TIMEOUT_MS.to_string()),
                None => client,
            }
        }
    }
}

/// How long an insert waits for its quorum of replicas before it fails
/// (the log sends it again).
const QUORUM_TIMEOUT_MS: u32 = 10_000;

/// A client of `url`'s database made without asking the server anything,
/// usable before it answers: row validation off (18.16 cannot take it; a
/// current server loses only a check), and only settings every version
/// knows (version-specific ones come with [`connect_one`]).
pub fn bare_client(settings: &ClickHouseSettings, url: &str) -> Client {
    server_client(settings, url)
        .with_validation(false)
        .with_database(&settings.database)
}

fn server_client(settings: &ClickHouseSettings, url: &str) -> Client {
    Client::default()
        .with_url(url)
        .with_compression(match settings.compression {
            Compression::None => clickhouse::Compression::None,
            Compression::Lz4 => clickhouse::Compression::Lz4,
        })
        .with_user(&settings.user)
        .with_password(&settings.password)
}

/// Connects to `url`: learns its version, creates the database, migrates;
/// returns the client configured for that version.
pub async fn connect_one(
    settings: &ClickHouseSettings,
    url: &str,
    topology: &Topology,
) -> Result<Client, StoreError> {
    let base = server_client(settings, url);
    let version = server_version(&base).await?;
    let major: u32 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    let mut base = base.with_validation(major >= FIRST_VALIDATING_MAJOR);
    for (name, value) in known_settings(&base, &SETTINGS_SENT).await? {
        base = base.with_setting(name, value);
    }
    base.query("CREATE DATABASE IF NOT EXISTS ?")
        .bind(Identifier(&settings.database))
        .execute()
        .await?;
    let client = base.with_database(&settings.database);
    let ran = migrations::migrate(&client, topology).await?;
    deduplicate_retried_inserts(&client, topology).await?;
    fsync_inserts(&client, topology).await?;
    tracing::info!(%url, %version, database = %settings.database, migrations_applied = ran, "ClickHouse ready");
    Ok(client)
}

/// Recent blocks of `events` that the server keeps to drop repeats of.
const DEDUPLICATION_WINDOW: u32 = 1000;

/// Where the server can (current releases: the MergeTree setting
/// `non_replicated_deduplication_window`), `events` drops a block it was
/// sent already — an insert retried after a timeout that had in fact
/// landed is then stored once, and its materialized views see it once.
/// (18.16 has no such setting; replicated tables deduplicate by default.)
/// Copies change no figure either way: this only saves them their rows.
async fn deduplicate_retried_inserts(
    client: &Client,
    topology: &Topology,
) -> Result<(), StoreError> {
    if matches!(topology, Topology::Replicated { .. }) {
        // Replicated tables drop a repeated block by default.
        return Ok(());
    }
    let setting = "non_replicated_deduplication_window";
    let known = client
        .query("SELECT count() FROM system.merge_tree_settings WHERE name = ?")
        .bind(setting);
    if text(known).await? == "0" {
        return Ok(());
    }
    let table = match topology.is_cluster() {
        false => "events",
        true => "events_local",
    };
    client
        .query(&format!(
            "ALTER TABLE {table} MODIFY SETTING {setting} = {DEDUPLICATION_WINDOW}"
        ))
        .execute()
        .await?;
    Ok(())
}

/// On one node, where the server can (current releases: the MergeTree
/// setting `fsync_after_insert`), `events` fsyncs every part it writes, so
/// that what the log shipped survives a power cut of ClickHouse's machine.
/// (18.16 cannot: the log keeps what it shipped for `wal.keep_shipped_s`
/// and ships it again after an unclean stop. A replicated cluster holds
/// each insert on a quorum of machines instead.)
async fn fsync_inserts(client: &Client, topology: &Topology) -> Result<(), StoreError> {
    if *topology != Topology::SingleNode {
        return Ok(());
    }
    let known = client
        .query("SELECT name FROM system.merge_tree_settings WHERE name IN ('fsync_after_insert', 'fsync_part_directory')");
    for setting in text(known).await?.lines() {
        client
            .query(&format!("ALTER TABLE events MODIFY SETTING {setting} = 1"))
            .execute()
            .await?;
    }
    Ok(())
}

/// `SELECT version()`, read as text so that it works before we know the
/// server's version (row validation may not be supported yet).
pub async fn server_version(client: &Client) -> Result<String, StoreError> {
    text(client.query("SELECT version()")).await
}

/// A query's answer as trimmed text (no row types: it works before row
/// validation is set up, on any server).
async fn text(query: clickhouse::query::Query) -> Result<String, StoreError> {
    let bytes = query.fetch_bytes("TabSeparated")?.collect().await?;
    Ok(String::from_utf8_lossy(&bytes).trim().to_owned())
}

/// The entries of `wanted` whose names the server's `system.settings` lists.
async fn known_settings<'a>(
    client: &Client,
    wanted: &[(&'a str, &'a str)],
) -> Result<Vec<(&'a str, &'a str)>, StoreError> {
    let names: Vec<&str> = wanted.iter().map(|(name, _)| *name).collect();
    let known = text(
        client
            .query("SELECT name FROM system.settings WHERE has(?, name)")
            .bind(names),
    )
    .await?;
    let known: Vec<&str> = known.lines().collect();
    Ok(wanted
        .iter()
        .filter(|(name, _)| known.contains(name))
        .copied()
        .collect())
}

/// True when the server answers a trivial query.
pub async fn ping(client: &Client) -> Result<(), StoreError> {
    client
        .query("SELECT 1")
        .fetch_bytes("TabSeparated")?
        .collect()
        .await?;
    Ok(())
}
