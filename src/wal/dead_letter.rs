//! Batches ClickHouse refused as data, kept with the reason instead of
//! being retried forever: one JSON object per line, the rows as the
//! RowBinary ClickHouse was sent (base64), so that nothing is lost and an
//! operator can inspect or re-insert them.
//!
//! The file being written is `dead-letter.ndjson`; past `rotate_bytes` it is
//! renamed `dead-letter.N.ndjson` (N counting up) and a new one begun, so
//! that an operator can take finished files away. Nothing here deletes a
//! dead letter: their bytes count against the log's disk budget instead,
//! and ingest refuses (503) before they could fill the disk.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::json;

use super::files::sync_dir;

const CURRENT: &str = "dead-letter.ndjson";

#[derive(Debug)]
pub struct DeadLetters {
    dir: PathBuf,
    rotate_bytes: u64,
}

impl DeadLetters {
    pub fn new(dir: &Path, rotate_bytes: u64) -> Self {
        Self {
            dir: dir.to_owned(),
            rotate_bytes,
        }
    }

    /// Bytes of every dead-letter file in the directory.
    pub fn disk_bytes(dir: &Path) -> std::io::Result<u64> {
        let mut total = 0;
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let metadata = entry.metadata()?;
            if metadata.is_file() && is_dead_letter_file(&entry.file_name().to_string_lossy()) {
                total += metadata.len();
            }
        }
        Ok(total)
    }

    /// Appends one entry durably (the file fsynced, and the directory when
    /// the file is new); returns the bytes written. Only then may the
    /// shipper move past the rows.
    pub fn write(
        &self,
        reason: &str,
        rows: u32,
        received_ms: i64,
        row_binary: &[u8],
    ) -> std::io::Result<u64> {
        let entry = json!({
            "at": chrono::Utc::now().to_rfc3339(),
            "reason": reason,
            "rows": rows,
            "received_ms": received_ms,
            "columns": crate::store::row_binary::EVENT_COLUMNS,
            "row_binary_base64": base64::engine::general_purpose::STANDARD.encode(row_binary),
        });
        let path = self.dir.join(CURRENT);
        let existing = std::fs::metadata(&path).map(|m| m.len()).ok();
        if existing.is_some_and(|len| len >= self.rotate_bytes) {
            self.rotate(&path)?;
        }
        let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
        let mut line = entry.to_string();
        line.push('\n');
        file.write_all(line.as_bytes())?;
        file.sync_data()?;
        if std::fs::metadata(&path)?.len() == line.len() as u64 {
            // A new file: its name must survive a power loss too.
            sync_dir(&self.dir)?;
        }
        Ok(line.len() as u64)
    }

    /// Renames the current file to the next free `dead-letter.N.ndjson`.
    fn rotate(&self, current: &Path) -> std::io::Result<()> {
        let next = (1..)
            .map(|n| self.dir.join(format!("dead-letter.{n}.ndjson")))
            .find(|p| !p.exists())
            .expect("a free name");
        std::fs::rename(current, &next)?;
        sync_dir(&self.dir)
    }
}

fn is_dead_letter_file(name: &str) -> bool {
    name.starts_with("dead-letter.") && name.ends_with(".ndjson")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_append_then_rotate_and_every_file_counts() {
        let dir = tempfile::tempdir().unwrap();
        let letters = DeadLetters::new(dir.path(), 300);
        let mut written = 0;
        for i in 0..4 {
            written += letters
                .write(&format!("reason {i}"), 1, 0, &[1, 2, 3])
                .unwrap();
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert!(names.len() >= 2, "rotated: {names:?}");
        assert!(
            names.contains(&CURRENT.to_owned())
                && names.contains(&"dead-letter.1.ndjson".to_owned())
        );
        assert_eq!(DeadLetters::disk_bytes(dir.path()).unwrap(), written);
        let all: String = names
            .iter()
            .map(|n| std::fs::read_to_string(dir.path().join(n)).unwrap())
            .collect();
        assert_eq!(all.lines().count(), 4, "nothing dropped");
    }

    #[test]
    fn a_write_that_cannot_be_made_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(CURRENT)).unwrap();
        let letters = DeadLetters::new(dir.path(), 1 << 20);
        assert!(letters.write("x", 1, 0, &[1]).is_err());
    }
}
