//! ClickHouse: the client, the schema, the row types, and the local server
//! highwater runs when no cluster is configured.

pub(crate) mod alerts_sent;
pub mod connect;
pub(crate) mod failover;
pub mod figures;
mod free_ports;
pub mod local_cluster;
pub mod local_server;
pub mod local_zookeeper;
pub mod migrations;
pub(crate) mod migrator;
pub mod received_sessions;
pub(crate) mod replication_check;
pub mod row_binary;
pub mod rows;
pub mod schema;
pub(crate) mod segments;
mod server_config;
pub(crate) mod storage;

pub use connect::connect;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("ClickHouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
}
