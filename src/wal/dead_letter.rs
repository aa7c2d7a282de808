//! Batches ClickHouse refused as data, kept with the reason instead of
//! being retried forever: one JSON object per line, the rows as the
//! RowBinary ClickHouse was sent (base64), so that nothing is lost and an
//! operator can inspect or re-insert them.

use std::io::Write;
use std::path::PathBuf;

use base64::Engine;
use serde_json::json;

#[derive(Debug)]
pub struct DeadLetters {
    path: PathBuf,
}

impl DeadLetters {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    /// Appends one entry, durably.
    pub fn write(
        &self,
        reason: &str,
        rows: u32,
        received_ms: i64,
        row_binary: &[u8],
    ) -> std::io::Result<()> {
        let entry = json!({
            "at": chrono::Utc::now().to_rfc3339(),
            "reason": reason,
            "rows": rows,
            "received_ms": received_ms,
            "columns": crate::store::row_binary::EVENT_COLUMNS,
            "row_binary_base64": base64::engine::general_purpose::STANDARD.encode(row_binary),
        });
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        let mut line = entry.to_string();
        line.push('\n');
        file.write_all(line.as_bytes())?;
        file.sync_data()
    }
}
