//! A chunk of the log: whole records read from one segment, ready to go
//! to ClickHouse as one insert (their RowBinary payloads are sent as views
//! into the chunk, never copied).

use std::fs::File;
use std::os::unix::fs::FileExt;

use super::record::{Decoded, HEADER_BYTES, decode, peek_framed_len};

/// Where one record lies in its segment.
#[derive(Clone, Copy)]
pub struct Span {
    pub start: u64,
    pub end: u64,
    pub rows: u32,
    pub received_ms: i64,
}

/// Records read from one segment, ready to insert.
pub struct Chunk {
    pub records: Vec<Span>,
    pub bytes: bytes::Bytes,
    /// Where the bytes start in the segment.
    pub start: u64,
}

impl Chunk {
    /// Where the RowBinary rows of `span` lie in `bytes`.
    pub fn payload(&self, span: &Span) -> std::ops::Range<usize> {
        (span.start - self.start) as usize + HEADER_BYTES..(span.end - self.start) as usize
    }

    /// Reads whole records of a segment `segment_len` bytes long from
    /// `offset`, up to `ship_bytes` (at least one record, however large).
    /// Stops before a torn or damaged record: none is then a sign of one.
    pub fn read(
        file: &File,
        segment_len: u64,
        offset: u64,
        ship_bytes: u64,
    ) -> std::io::Result<Self> {
        let available = segment_len - offset;
        let mut want = available.min(ship_bytes.max(HEADER_BYTES as u64));
        loop {
            let mut bytes = vec![0; want as usize];
            file.read_exact_at(&mut bytes, offset)?;
            let mut records = Vec::new();
            let mut at = 0usize;
            loop {
                match decode(&bytes[at..]) {
                    Decoded::Record(record) => {
                        let end = at + record.framed_len();
                        records.push(Span {
                            start: offset + at as u64,
                            end: offset + end as u64,
                            rows: record.rows,
                            received_ms: record.received_ms,
                        });
                        at = end;
                    }
                    Decoded::Incomplete if records.is_empty() && want < available => {
                        // One record larger than a chunk: read all of it.
                        let framed = peek_framed_len(&bytes).expect("a whole header was read");
                        want = (framed as u64).min(available);
                        break;
                    }
                    Decoded::Incomplete | Decoded::Corrupt(_) => {
                        bytes.truncate(at);
                        return Ok(Chunk {
                            records,
                            bytes: bytes.into(),
                            start: offset,
                        });
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::record::Record;
    use std::io::Write;

    fn framed(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        Record {
            rows: 1,
            received_ms: 7,
            payload,
        }
        .encode_into(&mut out);
        out
    }

    #[test]
    fn chunks_hold_whole_records_up_to_the_size_and_stop_at_a_torn_one() {
        let (small, large) = (framed(&[1; 10]), framed(&[2; 500]));
        let torn = framed(&[3; 10]);
        let mut file = tempfile::tempfile().unwrap();
        for part in [&small[..], &large[..], &torn[..torn.len() - 3]] {
            file.write_all(part).unwrap();
        }
        let len = (small.len() + large.len() + torn.len() - 3) as u64;
        // A chunk of 100 bytes holds the small record only...
        let chunk = Chunk::read(&file, len, 0, 100).unwrap();
        assert_eq!(chunk.records.len(), 1);
        assert_eq!(&chunk.bytes[chunk.payload(&chunk.records[0])], &[1; 10]);
        // ...a record larger than a chunk is read whole...
        let at = small.len() as u64;
        let chunk = Chunk::read(&file, len, at, 100).unwrap();
        assert_eq!(chunk.records.len(), 1);
        assert_eq!(chunk.bytes[chunk.payload(&chunk.records[0])].len(), 500);
        // ...and a torn record gives nothing.
        let at = (small.len() + large.len()) as u64;
        assert!(Chunk::read(&file, len, at, 100).unwrap().records.is_empty());
    }
}
