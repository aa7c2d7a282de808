//! The `alerts_sent` table: alerts whose episode outlives a restart (a
//! record day), once delivered.

use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};

use super::StoreError;

#[derive(Debug, Row, Serialize, Deserialize)]
pub struct SentRow {
    pub alert: String,
    pub project: String,
    pub kind: String,
    pub episode: String,
    pub sent_ms: i64,
}

/// `(kind, episode)` of every alert `alert` sent for `project`.
pub async fn sent(
    client: &Client,
    alert: &str,
    project: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    Ok(client
        .query("SELECT DISTINCT kind, episode FROM alerts_sent WHERE alert = ? AND project = ?")
        .bind(alert)
        .bind(project)
        .fetch_all()
        .await?)
}

pub async fn mark(client: &Client, rows: &[SentRow]) -> Result<(), StoreError> {
    super::figures::insert_rows(client, "alerts_sent", rows).await
}
