//! The on-disk framing of the write-ahead log: a segment file is a magic
//! header followed by records, each checksummed so that a write torn by a
//! crash, or a flipped bit, is detected instead of shipped.
//!
//! Record: `payload_len u32 | crc32 u32 | rows u32 | received_ms i64 | payload`,
//! little-endian; the CRC covers everything after itself. The payload is the
//! batch's rows as RowBinary, ready to be sent to ClickHouse as they are.

/// First bytes of every segment file (the last byte is the format version).
pub const SEGMENT_MAGIC: &[u8; 8] = b"HWWAL\0\0\x01";

/// Bytes before a record's payload.
pub const HEADER_BYTES: usize = 20;

/// No batch comes near this (bodies are capped far lower); a larger length
/// field is corruption, not a reason to read gigabytes.
pub const MAX_PAYLOAD_BYTES: usize = 1 << 30;

/// One batch as it sits in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub rows: u32,
    /// The server's receive time of the batch (every row holds it too).
    pub received_ms: i64,
    pub payload: &'a [u8],
}

impl Record<'_> {
    /// Bytes the record takes in the log.
    pub fn framed_len(&self) -> usize {
        HEADER_BYTES + self.payload.len()
    }

    /// Appends the framed record to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let len = u32::try_from(self.payload.len()).expect("payload under 4 GiB");
        let start = out.len();
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&self.rows.to_le_bytes());
        out.extend_from_slice(&self.received_ms.to_le_bytes());
        out.extend_from_slice(self.payload);
        let crc = crc32fast::hash(&out[start + 8..]);
        out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    }
}

/// What the bytes at some position of a segment hold.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    Record(Record<'a>),
    /// Fewer bytes than the record needs: the end of what was written.
    Incomplete,
    /// The bytes are not a record (reason given).
    Corrupt(String),
}

fn u32_at(buf: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(buf[i..i + 4].try_into().expect("4 bytes"))
}

fn i64_at(buf: &[u8], i: usize) -> i64 {
    i64::from_le_bytes(buf[i..i + 8].try_into().expect("8 bytes"))
}

/// The bytes the record starting `buf` takes, from its header alone (not
/// checked: [`decode`] does that).
pub fn peek_framed_len(buf: &[u8]) -> Option<usize> {
    (buf.len() >= HEADER_BYTES).then(|| HEADER_BYTES + u32_at(buf, 0) as usize)
}

/// The receive time in the header starting `buf` (not checked).
pub fn peek_received_ms(buf: &[u8]) -> Option<i64> {
    (buf.len() >= HEADER_BYTES).then(|| i64_at(buf, 12))
}

/// Decodes the record at the start of `buf`.
pub fn decode(buf: &[u8]) -> Decoded<'_> {
    if buf.len() < HEADER_BYTES {
        return Decoded::Incomplete;
    }
    let len = u32_at(buf, 0) as usize;
    if len > MAX_PAYLOAD_BYTES {
        return Decoded::Corrupt(format!("record length {len} is not plausible"));
    }
    if buf.len() < HEADER_BYTES + len {
        return Decoded::Incomplete;
    }
    let body = &buf[8..HEADER_BYTES + len];
    let expected = u32_at(buf, 4);
    let actual = crc32fast::hash(body);
    if expected != actual {
        return Decoded::Corrupt(format!(
            "checksum mismatch (stored {expected:08x}, computed {actual:08x})"
        ));
    }
    Decoded::Record(Record {
        rows: u32_at(buf, 8),
        received_ms: i64_at(buf, 12),
        payload: &buf[HEADER_BYTES..HEADER_BYTES + len],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(record: Record<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        record.encode_into(&mut out);
        out
    }

    const RECORD: Record<'static> = Record {
        rows: 3,
        received_ms: 1_585_137_600_000,
        payload: b"three rows of RowBinary",
    };

    #[test]
    fn a_record_round_trips_and_knows_its_length() {
        let bytes = framed(RECORD);
        assert_eq!(bytes.len(), RECORD.framed_len());
        assert_eq!(peek_framed_len(&bytes[..HEADER_BYTES]), Some(bytes.len()));
        assert_eq!(peek_received_ms(&bytes), Some(RECORD.received_ms));
        assert_eq!(peek_framed_len(&bytes[..HEADER_BYTES - 1]), None);
        assert_eq!(decode(&bytes), Decoded::Record(RECORD));
        // Trailing bytes belong to the next record.
        let mut two = bytes.clone();
        two.extend_from_slice(&bytes);
        assert_eq!(decode(&two), Decoded::Record(RECORD));
    }

    #[test]
    fn every_truncation_is_incomplete() {
        let bytes = framed(RECORD);
        for cut in 0..bytes.len() {
            assert_eq!(decode(&bytes[..cut]), Decoded::Incomplete, "cut at {cut}");
        }
    }

    #[test]
    fn every_flipped_bit_after_the_length_is_caught() {
        let bytes = framed(RECORD);
        for byte in 4..bytes.len() {
            for bit in 0..8 {
                let mut bad = bytes.clone();
                bad[byte] ^= 1 << bit;
                assert!(
                    matches!(decode(&bad), Decoded::Corrupt(_)),
                    "bit {bit} of byte {byte}"
                );
            }
        }
    }

    #[test]
    fn an_absurd_length_is_corruption() {
        let mut bytes = framed(RECORD);
        bytes[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(decode(&bytes), Decoded::Corrupt(m) if m.contains("length")));
    }
}
