//! Encodes validated events as ClickHouse RowBinary rows of `events`, and
//! a day's DAU set as rows of `daily_active_buckets`.
//!
//! The `clickhouse` crate encodes RowBinary only inside its own `Insert`,
//! row by row, on the task that owns the insert. Encoding here instead lets
//! every request encode its own events on its own task (in parallel, with
//! no per-event allocation); the write-ahead log stores and ships those
//! bytes as they are. The format is tiny and fixed: `String` = LEB128 length + bytes,
//! `Int64` = 8 bytes little-endian, `Enum8` = 1 byte, `Array` = LEB128
//! count + elements. Tests read the rows back
//! through the crate's own decoder ([`super::rows::EventRow`]).

use crate::domain::event::Event;

/// The columns each encoded row holds, in order.
pub const EVENT_COLUMNS: &str = "project, `type`, user_id, session_id, ts_ms, status, \
     event_id, platform, country, org_id, app_version, received_ms";

/// Appends one row to `out`.
pub fn encode_event(out: &mut Vec<u8>, project: &str, received_ms: i64, event: &Event<'_>) {
    put_string(out, project);
    out.push(event.kind as i8 as u8);
    put_string(out, &event.user_id);
    put_string(out, &event.session_id);
    out.extend_from_slice(&event.ts_ms.to_le_bytes());
    out.push(event.status as i8 as u8);
    put_string(out, &event.event_id);
    put_string(out, &event.platform);
    put_string(out, &event.country);
    put_string(out, &event.org_id);
    put_string(out, &event.app_version);
    out.extend_from_slice(&received_ms.to_le_bytes());
}

/// The columns of a `daily_active_buckets` row, in order.
pub const ACTIVE_BUCKET_COLUMNS: &str = "project, day, bucket, computed_ms, users";

/// Appends the `daily_active_buckets` row of one bucket of one day (a
/// ClickHouse day number): its users in one `Array(String)`.
pub fn encode_active_bucket(
    out: &mut Vec<u8>,
    project: &str,
    (day, bucket): (u16, u8),
    computed_ms: u64,
    users: &[&str],
) {
    put_string(out, project);
    out.extend_from_slice(&day.to_le_bytes());
    out.push(bucket);
    out.extend_from_slice(&computed_ms.to_le_bytes());
    put_length(out, users.len());
    for user in users {
        put_string(out, user);
    }
}

fn put_length(out: &mut Vec<u8>, mut len: usize) {
    while len >= 0x80 {
        out.push((len as u8) | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    put_length(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_lengths_are_leb128() {
        let mut out = Vec::new();
        put_string(&mut out, "ab");
        assert_eq!(out, [2, b'a', b'b']);
        let long = "x".repeat(300);
        out.clear();
        put_string(&mut out, &long);
        // 300 = 0b10_0101100 → 0xAC 0x02
        assert_eq!(&out[..2], &[0xAC, 0x02]);
        assert_eq!(out.len(), 302);
    }
}
