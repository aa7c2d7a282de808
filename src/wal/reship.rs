//! After an unclean stop — `kill -9`, a crash, or the machine losing power
//! (no stop mark, or one written before the machine last booted) — the
//! tail of what was shipped is shipped again: the records received at most
//! `keep_shipped_s` before the last one shipped. ClickHouse 18.16 may have
//! lost them with its page cache; where it had not, the copies change no
//! figure (and replicated tables and current releases drop them).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::files::{self, FIRST_OFFSET, Position};
use super::record::{HEADER_BYTES, peek_framed_len, peek_received_ms};

/// Where to ship from again, given the segments on disk (`(id, length)`,
/// in order) and the saved `cursor`: the first record received within
/// `keep_ms` of the last record before `cursor`. `cursor` itself when
/// nothing before it was shipped.
pub fn reship_from(
    dir: &Path,
    segments: &[(u64, u64)],
    cursor: Position,
    keep_ms: i64,
) -> io::Result<Position> {
    // Every record before the cursor: where it starts, when it was received.
    let mut shipped: Vec<(Position, i64)> = Vec::new();
    for &(id, len) in segments.iter().filter(|(id, _)| *id <= cursor.segment) {
        let end = if id == cursor.segment {
            cursor.offset
        } else {
            len
        };
        let file = File::open(files::segment_path(dir, id))?;
        let mut offset = FIRST_OFFSET;
        let mut header = [0u8; HEADER_BYTES];
        while offset + HEADER_BYTES as u64 <= end {
            file.read_exact_at(&mut header, offset)?;
            let (Some(framed), Some(received_ms)) =
                (peek_framed_len(&header), peek_received_ms(&header))
            else {
                break;
            };
            shipped.push((
                Position {
                    segment: id,
                    offset,
                },
                received_ms,
            ));
            offset += framed as u64;
        }
    }
    let Some(&(_, last_ms)) = shipped.last() else {
        return Ok(cursor);
    };
    Ok(shipped
        .iter()
        .find(|(_, received_ms)| *received_ms >= last_ms - keep_ms)
        .map_or(cursor, |(position, _)| *position))
}

/// This boot of the machine (Linux): a stop mark written under another
/// boot means the machine restarted since, as after a power cut.
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|id| id.trim().to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::record::Record;
    use std::io::Write;

    #[test]
    fn the_tail_is_the_records_received_within_the_window_of_the_last_shipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = files::create_segment(dir.path(), 1).unwrap();
        let mut bytes = Vec::new();
        let mut starts = Vec::new();
        for received_ms in [1_000, 2_000, 50_000, 90_000, 100_000, 200_000] {
            starts.push(FIRST_OFFSET + bytes.len() as u64);
            Record {
                rows: 1,
                received_ms,
                payload: b"row",
            }
            .encode_into(&mut bytes);
        }
        file.write_all(&bytes).unwrap();
        let len = FIRST_OFFSET + bytes.len() as u64;
        // Shipped up to the record of 100 s: ship again from 50 s on.
        let cursor = Position {
            segment: 1,
            offset: starts[5],
        };
        let from = reship_from(dir.path(), &[(1, len)], cursor, 60_000).unwrap();
        assert_eq!(
            from,
            Position {
                segment: 1,
                offset: starts[2]
            }
        );
        // Nothing shipped yet: from the cursor.
        let start = Position {
            segment: 1,
            offset: FIRST_OFFSET,
        };
        assert_eq!(
            reship_from(dir.path(), &[(1, len)], start, 60_000).unwrap(),
            start
        );
    }
}
