//! The schema, as versioned migrations (applied by `migrations`), for one
//! node (`single_node`), a cluster (`cluster`) or a replicated cluster
//! (`replicated`); the tables and queries they share are in `tables`.
//!
//! Every statement must run on ClickHouse 18.16 and on current releases
//! (docs/design.md §4): plain MergeTree, `Enum8`, `String`, `Int64`; no `DateTime64`,
//! no `LowCardinality`. Every statement is safe to run twice.
//!
//! Sessions are kept per `bucket` = `cityHash64(user_id) % 64`, first in the
//! sort key after the day: a job reads a day one slice of buckets at a time
//! (a range of the primary key, so a slice reads only its own granules),
//! and a user's sessions always fall in one bucket. The DAU sets are kept
//! per bucket too, so WAU and MAU add up bucket by bucket.
//!
//! On a cluster, `events` and `sessions_by_day` are `Distributed` tables
//! over `*_local` tables on every shard, sharded by `cityHash64(user_id)`:
//! one user's events on one shard. No ZooKeeper: the DDL runs on each
//! shard. The figures tables exist on every shard; highwater writes and
//! reads them on the first one (the one its `url` names).

mod cluster;
mod replicated;
mod single_node;
mod tables;

pub use tables::SEGMENT_VALUE_AT;

/// Buckets of users: a slice of a day's computation is a range of them.
pub const BUCKETS: u32 = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topology {
    SingleNode,
    /// A cluster as named in the servers' `remote_servers`; `database` is
    /// the database the `Distributed` tables point into on every shard.
    Cluster {
        name: String,
        database: String,
    },
    /// A cluster whose tables are `Replicated*MergeTree`: the events of a
    /// shard on each of its replicas, the figures on every server.
    Replicated {
        name: String,
        database: String,
    },
}

impl Topology {
    /// Whether the events live in `*_local` tables under `Distributed` ones.
    pub fn is_cluster(&self) -> bool {
        !matches!(self, Self::SingleNode)
    }
}

pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    /// Columns added before the statements run, each only if the table
    /// lacks it (18.16 knows no `ADD COLUMN IF NOT EXISTS`).
    pub add_columns: Vec<AddColumn>,
    pub statements: Vec<String>,
}

/// `ALTER TABLE table ADD COLUMN column kind`.
pub struct AddColumn {
    pub table: &'static str,
    pub column: &'static str,
    pub kind: &'static str,
}

/// The migrations of `topology`, in order. Append only: never edit a
/// shipped entry.
pub fn migrations(topology: &Topology) -> Vec<Migration> {
    match topology {
        Topology::SingleNode => single_node::migrations(),
        Topology::Cluster { name, database } => cluster::migrations(name, database),
        Topology::Replicated { name, database } => replicated::migrations(name, database),
    }
}

/// UTC days of `received_sessions` kept: today and yesterday.
pub const RECEIVED_KEPT_DAYS: u32 = 2;

/// The table of received users that each server holds itself (the one its
/// partitions are dropped from).
pub fn received_sessions_table(topology: &Topology) -> &'static str {
    match topology.is_cluster() {
        false => "received_sessions",
        true => "received_sessions_local",
    }
}
