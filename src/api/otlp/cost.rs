//! What decoding an OTLP logs body will allocate, found before it is
//! decoded, so that the memory is charged (`admission`) before it exists
//! and a body that would take more than `max_parsed_bytes` gets 413.
//!
//! Protobuf: one walk over the wire format that follows the message types
//! prost builds (`opentelemetry-proto`'s logs request): each element of a
//! repeated message field costs its struct twice over (a `Vec` grows by
//! doubling), each string or bytes field its length. A record of two bytes
//! decodes to a struct of about two hundred, so this, not the body's size,
//! is what bounds memory.
//!
//! JSON: serde buffers every `AnyValue` object whole (the crate flattens
//! its one-of), so the walk cannot follow types; every JSON value is
//! charged as the largest struct twice over, strings besides.

use std::fmt;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::bytes::Buf;
use prost::encoding::{WireType, decode_key, decode_varint};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Nesting beyond this is refused (prost's own limit is 100).
const MAX_DEPTH: usize = 100;

/// Why a body's cost is not known.
#[derive(Debug, PartialEq)]
pub enum CostError {
    /// Decoding would take more than the limit.
    OverLimit,
    /// Not a well-formed body (decoding would fail too).
    Malformed(String),
}

/// The messages of a logs request.
#[derive(Debug, Clone, Copy)]
enum Message {
    Request,
    ResourceLogs,
    Resource,
    EntityRef,
    ScopeLogs,
    Scope,
    LogRecord,
    KeyValue,
    AnyValue,
    ArrayValue,
    KeyValueList,
}

/// What one field of a message holds.
enum Field {
    /// A message inside its parent's struct (`Option<T>`, a one-of).
    Inline(Message),
    /// One element of a repeated message field (`Vec<T>`).
    Repeated(Message),
    /// A string or bytes: its length.
    Bytes,
    /// A repeated string: its length and its `String`.
    RepeatedBytes,
    /// Numbers: nothing besides the struct.
    Scalar,
}

impl Message {
    fn size(self) -> usize {
        use std::mem::size_of;
        match self {
            Self::Request => size_of::<ExportLogsServiceRequest>(),
            Self::ResourceLogs => size_of::<ResourceLogs>(),
            Self::Resource => size_of::<Resource>(),
            Self::EntityRef => size_of::<EntityRef>(),
            Self::ScopeLogs => size_of::<ScopeLogs>(),
            Self::Scope => size_of::<InstrumentationScope>(),
            Self::LogRecord => size_of::<LogRecord>(),
            Self::KeyValue => size_of::<KeyValue>(),
            Self::AnyValue => size_of::<AnyValue>(),
            Self::ArrayValue => size_of::<ArrayValue>(),
            Self::KeyValueList => size_of::<KeyValueList>(),
        }
    }

    /// Field `tag` (`opentelemetry/proto/{logs,common,resource}/v1`).
    fn field(self, tag: u32) -> Field {
        use Field::*;
        use Message as M;
        match (self, tag) {
            (M::Request, 1) => Repeated(M::ResourceLogs),
            (M::ResourceLogs, 1) => Inline(M::Resource),
            (M::ResourceLogs, 2) => Repeated(M::ScopeLogs),
            (M::Resource, 1) | (M::Scope, 3) | (M::LogRecord, 6) | (M::KeyValueList, 1) => {
                Repeated(M::KeyValue)
            }
            (M::Resource, 3) => Repeated(M::EntityRef),
            (M::EntityRef, 3 | 4) => RepeatedBytes,
            (M::ScopeLogs, 1) => Inline(M::Scope),
            (M::ScopeLogs, 2) => Repeated(M::LogRecord),
            (M::LogRecord, 5) | (M::KeyValue, 2) => Inline(M::AnyValue),
            (M::ArrayValue, 1) => Repeated(M::AnyValue),
            (M::AnyValue, 5) => Inline(M::ArrayValue),
            (M::AnyValue, 6) => Inline(M::KeyValueList),
            (M::ResourceLogs | M::ScopeLogs, 3)
            | (M::EntityRef, 1 | 2)
            | (M::Scope, 1 | 2)
            | (M::LogRecord, 3 | 9 | 10 | 12)
            | (M::KeyValue, 1)
            | (M::AnyValue, 1 | 7) => Bytes,
            _ => Scalar,
        }
    }
}

/// The bytes decoding the protobuf `body` allocates, at most `limit`.
pub fn protobuf(body: &[u8], limit: usize) -> Result<usize, CostError> {
    let mut walk = Walk { cost: 0, limit };
    walk.add(Message::Request.size())?;
    walk.message(body, Message::Request, 0)?;
    Ok(walk.cost)
}

struct Walk {
    cost: usize,
    limit: usize,
}

impl Walk {
    fn add(&mut self, bytes: usize) -> Result<(), CostError> {
        self.cost = self.cost.saturating_add(bytes);
        if self.cost > self.limit {
            return Err(CostError::OverLimit);
        }
        Ok(())
    }

    fn message(&mut self, mut buf: &[u8], kind: Message, depth: usize) -> Result<(), CostError> {
        if depth > MAX_DEPTH {
            return Err(malformed("nested too deeply"));
        }
        while buf.has_remaining() {
            let (tag, wire_type) = decode_key(&mut buf).map_err(malformed)?;
            match wire_type {
                WireType::Varint => {
                    decode_varint(&mut buf).map_err(malformed)?;
                }
                WireType::SixtyFourBit => skip(&mut buf, 8)?,
                WireType::ThirtyTwoBit => skip(&mut buf, 4)?,
                WireType::LengthDelimited => {
                    let len = decode_varint(&mut buf).map_err(malformed)?;
                    let len = usize::try_from(len).map_err(malformed)?;
                    if len > buf.remaining() {
                        return Err(malformed("a field runs past the end"));
                    }
                    let (inner, rest) = buf.split_at(len);
                    buf = rest;
                    match kind.field(tag) {
                        Field::Repeated(child) => {
                            self.add(2 * child.size())?;
                            self.message(inner, child, depth + 1)?;
                        }
                        Field::Inline(child) => self.message(inner, child, depth + 1)?,
                        Field::Bytes => self.add(len)?,
                        Field::RepeatedBytes => {
                            self.add(len + 2 * std::mem::size_of::<String>())?
                        }
                        Field::Scalar => {} // packed numbers: no allocation of note
                    }
                }
                WireType::StartGroup | WireType::EndGroup => {
                    return Err(malformed("groups are not used by OTLP"));
                }
            }
        }
        Ok(())
    }
}

fn skip(buf: &mut &[u8], n: usize) -> Result<(), CostError> {
    if buf.remaining() < n {
        return Err(malformed("a field runs past the end"));
    }
    buf.advance(n);
    Ok(())
}

fn malformed(e: impl fmt::Display) -> CostError {
    CostError::Malformed(e.to_string())
}

/// The bytes decoding the JSON `body` may allocate, at most `limit`.
pub fn json(body: &[u8], limit: usize) -> Result<usize, CostError> {
    let per_value = 2 * Message::LogRecord.size();
    let mut walk = Walk { cost: 0, limit };
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let counted = JsonCost {
        walk: &mut walk,
        per_value,
    }
    .deserialize(&mut deserializer)
    .and_then(|()| deserializer.end());
    match counted {
        Ok(()) => Ok(walk.cost),
        Err(_) if walk.cost > walk.limit => Err(CostError::OverLimit),
        Err(e) => Err(malformed(e)),
    }
}

/// Charges one JSON value (and what it holds) to the walk; stops the
/// deserializer with an error once over the limit.
struct JsonCost<'w> {
    walk: &'w mut Walk,
    per_value: usize,
}

impl JsonCost<'_> {
    fn charge<E: serde::de::Error>(&mut self, bytes: usize) -> Result<(), E> {
        self.walk
            .add(self.per_value + bytes)
            .map_err(|_| E::custom("over the limit"))
    }

    fn reborrow(&mut self) -> JsonCost<'_> {
        JsonCost {
            walk: self.walk,
            per_value: self.per_value,
        }
    }
}

impl<'de> DeserializeSeed<'de> for JsonCost<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// A scalar costs one value.
macro_rules! scalars {
    ($($method:ident($arg:ty)),* $(,)?) => {$(
        fn $method<E: serde::de::Error>(mut self, _: $arg) -> Result<(), E> {
            self.charge(0)
        }
    )*};
}

impl<'de> Visitor<'de> for JsonCost<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("OTLP JSON")
    }

    scalars!(
        visit_bool(bool),
        visit_i64(i64),
        visit_u64(u64),
        visit_f64(f64)
    );

    fn visit_unit<E: serde::de::Error>(mut self) -> Result<(), E> {
        self.charge(0)
    }

    fn visit_str<E: serde::de::Error>(mut self, v: &str) -> Result<(), E> {
        self.charge(v.len())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        self.charge::<A::Error>(0)?;
        while seq.next_element_seed(self.reborrow())?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        self.charge::<A::Error>(0)?;
        while map.next_key_seed(self.reborrow())?.is_some() {
            map.next_value_seed(self.reborrow())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    use prost::Message as _;

    fn request(records: usize, attributes: usize) -> ExportLogsServiceRequest {
        let attribute = KeyValue {
            key: "session.id".into(),
            value: Some(AnyValue {
                value: Some(Any::StringValue("s-1234".into())),
            }),
            ..Default::default()
        };
        let record = LogRecord {
            attributes: vec![attribute; attributes],
            ..Default::default()
        };
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![record; records],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn the_cost_of_a_request_bounds_what_decoding_it_holds() {
        let request = request(100, 3);
        let body = request.encode_to_vec();
        let cost = protobuf(&body, usize::MAX).unwrap();
        let held = 100 * (Message::LogRecord.size() + 3 * (Message::KeyValue.size() + 16));
        assert!(cost >= held, "{cost} < {held}");
        assert!(cost <= 4 * held, "{cost}: far more than {held}");
        let json = serde_json::to_vec(&request).unwrap();
        assert!(json::json(&json, usize::MAX).unwrap() >= held);
    }

    mod json {
        pub use super::super::json;
    }

    #[test]
    fn tiny_records_are_over_the_limit_long_before_they_are_built() {
        // 100,000 empty records: 2 bytes each on the wire.
        let body = request(100_000, 0).encode_to_vec();
        assert!(body.len() < 300_000);
        assert_eq!(protobuf(&body, 16 << 20), Err(CostError::OverLimit));
        let json = format!(
            r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{}{{}}]}}]}}]}}"#,
            "{},".repeat(100_000)
        );
        assert_eq!(
            json::json(json.as_bytes(), 16 << 20),
            Err(CostError::OverLimit)
        );
    }

    #[test]
    fn a_body_that_is_not_otlp_is_malformed() {
        assert!(matches!(
            protobuf(&[0x0a, 0x05, 0x01], usize::MAX),
            Err(CostError::Malformed(_))
        ));
        assert!(matches!(
            json::json(b"{", usize::MAX),
            Err(CostError::Malformed(_))
        ));
    }
}
