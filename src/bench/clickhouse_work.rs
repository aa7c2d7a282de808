//! Where ClickHouse's own time went in a benchmark, from its accounting
//! (servers started with `local_cluster::start_accounted`): CPU seconds
//! per kind of query from `system.query_log` (the `ProfileEvents` of each
//! finished query: user + system time, materialized views included in the
//! insert that fed them), and the parts written and merged from
//! `system.part_log`. What the servers' CPU shows beyond their queries is
//! background work: merges, replication, the logs themselves.

use clickhouse::{Client, Row};
use serde::Deserialize;

use crate::store::StoreError;
use crate::store::local_cluster::Layout;

/// Kinds of queries, told apart by their text: the first pattern that
/// matches names it (SQL `LIKE`, case as highwater writes them).
const KINDS: &[(&str, &str)] = &[
    ("INSERT INTO events %", "insert events (+ views)"),
    // On a cluster, the shard's part of a Distributed insert.
    ("INSERT INTO %events_local%", "insert events (+ views)"),
    ("INSERT%", "insert figures, leases, ..."),
    ("%received_sessions%", "read new session states (live)"),
    ("%minMerge(first_start)%", "read sessions (whole day)"),
    ("%system.%", "read system tables"),
];

/// `text` as an SQL string literal.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// One kind of query in one stage.
#[derive(Debug, Row, Deserialize)]
pub struct QueryWork {
    pub stage: String,
    pub kind: String,
    pub queries: u64,
    pub cpu_s: f64,
    pub duration_s: f64,
    pub read_rows: u64,
    pub written_rows: u64,
}

/// Parts of one table, one kind of event (new, merged), in one stage.
#[derive(Debug, Row, Deserialize)]
pub struct PartWork {
    pub stage: String,
    pub table: String,
    pub event: String,
    pub parts: u64,
    pub duration_s: f64,
    pub rows: u64,
    pub bytes: u64,
}

/// What one server did, split at `stage_end` (unix seconds): "ingest"
/// up to then, "jobs" after.
pub struct ServerWork {
    pub queries: Vec<QueryWork>,
    pub parts: Vec<PartWork>,
}

/// Reads the accounting of the server behind `client`: all its queries
/// (18.16 does not log a query's database; a benchmark's servers are its
/// own), and the parts of `database`.
pub async fn read(
    client: &Client,
    database: &str,
    stage_end: i64,
) -> Result<ServerWork, StoreError> {
    // Written every 7.5 s; flushed now so the last queries count.
    client.query("SYSTEM FLUSH LOGS").execute().await?;
    let stage = format!("if(event_time <= toDateTime({stage_end}), 'ingest', 'jobs')");
    let kind = KINDS
        .iter()
        .map(|(pattern, name)| format!("query LIKE {}, {}", quoted(pattern), quoted(name)))
        .collect::<Vec<_>>()
        .join(", ");
    let queries = match query_work(client, &stage, &kind, CPU_18_16).await {
        Ok(rows) => rows,
        Err(_) => query_work(client, &stage, &kind, CPU_CURRENT).await?,
    };
    let parts = client
        .query(&format!(
            "SELECT {stage} AS stage, table, toString(event_type) AS event,
                    count() AS parts,
                    sum(duration_ms) / 1e3 AS duration_s,
                    sum(rows) AS rows,
                    sum(size_in_bytes) AS bytes
             FROM system.part_log
             WHERE database = ? AND CAST(event_type AS Int8) IN (1, 2)
             GROUP BY stage, table, event
             ORDER BY stage DESC, table, event"
        ))
        .bind(database)
        .fetch_all::<PartWork>()
        .await?;
    Ok(ServerWork { queries, parts })
}

/// A query's CPU microseconds (user + system): 18.16 keeps `ProfileEvents`
/// as two arrays, current releases as a map.
const CPU_18_16: &str = "arraySum(arrayMap((n, v) -> \
     if(n IN ('UserTimeMicroseconds', 'SystemTimeMicroseconds'), v, 0), \
     ProfileEvents.Names, ProfileEvents.Values))";
const CPU_CURRENT: &str =
    "ProfileEvents['UserTimeMicroseconds'] + ProfileEvents['SystemTimeMicroseconds']";

/// The finished queries per stage and kind, their CPU time as `cpu`.
async fn query_work(
    client: &Client,
    stage: &str,
    kind: &str,
    cpu: &str,
) -> Result<Vec<QueryWork>, clickhouse::error::Error> {
    client
        .query(&format!(
            "SELECT {stage} AS stage, multiIf({kind}, 'other reads') AS kind,
                    count() AS queries,
                    sum({cpu}) / 1e6 AS cpu_s,
                    sum(query_duration_ms) / 1e3 AS duration_s,
                    sum(read_rows) AS read_rows,
                    sum(written_rows) AS written_rows
             FROM system.query_log
             WHERE CAST(type AS Int8) = 2 AND query NOT LIKE '%system.query_log%'
             GROUP BY stage, kind
             ORDER BY stage DESC, cpu_s DESC"
        ))
        .fetch_all::<QueryWork>()
        .await
}

/// Prints one server's work under `title`.
pub fn print(title: &str, work: &ServerWork) {
    println!("{title}: queries (system.query_log)");
    println!(
        "  {:<7} {:<32} {:>8} {:>9} {:>11} {:>14} {:>14}",
        "stage", "kind", "queries", "CPU s", "duration s", "rows read", "rows written"
    );
    for q in &work.queries {
        println!(
            "  {:<7} {:<32} {:>8} {:>9.1} {:>11.1} {:>14} {:>14}",
            q.stage, q.kind, q.queries, q.cpu_s, q.duration_s, q.read_rows, q.written_rows
        );
    }
    println!("{title}: parts (system.part_log; merge durations overlap)");
    println!(
        "  {:<7} {:<24} {:<10} {:>7} {:>11} {:>13} {:>10}",
        "stage", "table", "event", "parts", "duration s", "rows", "MB"
    );
    for p in &work.parts {
        println!(
            "  {:<7} {:<24} {:<10} {:>7} {:>11.1} {:>13} {:>10.0}",
            p.stage,
            p.table,
            p.event,
            p.parts,
            p.duration_s,
            p.rows,
            p.bytes as f64 / 1e6
        );
    }
}

/// The work of every server at `urls` (in `layout` order), titled; a
/// server whose accounting cannot be read keeps the error, and the
/// benchmark's other figures still stand.
pub async fn read_servers(
    urls: &[String],
    layout: Layout,
    database: &str,
    stage_end: i64,
) -> Vec<(String, Result<ServerWork, StoreError>)> {
    let mut works = Vec::with_capacity(urls.len());
    for (i, url) in urls.iter().enumerate() {
        let title = format!(
            "ClickHouse shard {} replica {}",
            i / layout.replicas + 1,
            i % layout.replicas + 1
        );
        let client = Client::default().with_url(url).with_validation(false);
        works.push((title, read(&client, database, stage_end).await));
    }
    works
}

/// Prints what [`read_servers`] read.
pub fn print_servers(works: &[(String, Result<ServerWork, StoreError>)]) {
    for (title, work) in works {
        match work {
            Ok(work) => print(title, work),
            Err(error) => println!("{title}: no accounting ({error})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn names_with_quotes_stay_one_sql_string() {
        assert_eq!(quoted("users' sessions"), r"'users\' sessions'");
        assert_eq!(quoted(r"a\b"), r"'a\\b'");
    }
}
