//! Reading a request body within limits: content type, encoding, size on the
//! wire and after decompression (a gzip bomb stops at the cap, mid-stream).

use std::io::Read;

use axum::body::Body;
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::api::error::ApiError;
use crate::domain::batch::BodyFormat;

/// `Content-Type` as sent (for error messages), and its media type in
/// lower case without parameters such as `charset`.
pub fn media_type(headers: &HeaderMap) -> (String, String) {
    let value = headers
        .get(CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let media_type = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    (value, media_type)
}

/// The body format named by `Content-Type`.
pub fn body_format(headers: &HeaderMap) -> Result<BodyFormat, ApiError> {
    let (value, media_type) = media_type(headers);
    match media_type.as_str() {
        "application/json" => Ok(BodyFormat::JsonArray),
        "application/x-ndjson" | "application/ndjson" => Ok(BodyFormat::Ndjson),
        _ => Err(ApiError::UnsupportedContentType(value)),
    }
}

/// Whether the body is gzip-compressed.
pub fn is_gzip(headers: &HeaderMap) -> Result<bool, ApiError> {
    match headers.get(CONTENT_ENCODING) {
        None => Ok(false),
        Some(v) => match v.to_str().map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            Ok("gzip" | "x-gzip") => Ok(true),
            Ok("identity" | "") => Ok(false),
            _ => Err(ApiError::UnsupportedEncoding(
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )),
        },
    }
}

/// Reads the whole body, refusing more than `limit` bytes (early, from
/// `Content-Length`, when the client declares it).
pub async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::BodyTooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::BodyTooLarge { limit })
        }
        Err(e) => Err(ApiError::BodyRead(e.to_string())),
    }
}

/// Decompresses gzip (several members allowed), stopping past `limit` bytes.
pub fn gunzip(compressed: &[u8], limit: usize) -> Result<Vec<u8>, ApiError> {
    let capacity = compressed.len().saturating_mul(4).min(limit);
    gunzip_from(compressed, capacity, limit)
}

/// [`gunzip`] from any reader: inflation stops one byte past `limit`, so a
/// bomb costs `limit` bytes of memory and the little input that yields them.
fn gunzip_from(compressed: impl Read, capacity: usize, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::with_capacity(capacity);
    flate2::read::MultiGzDecoder::new(compressed)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| ApiError::BadGzip(e.to_string()))?;
    if out.len() > limit {
        return Err(ApiError::DecompressedTooLarge { limit });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn gzip_round_trips_and_stops_at_the_cap() {
        let data = vec![b'x'; 10_000];
        assert_eq!(gunzip(&gzip(&data), 10_000).unwrap(), data);
        assert!(matches!(
            gunzip(&gzip(&data), 9_999),
            Err(ApiError::DecompressedTooLarge { limit: 9_999 })
        ));
        assert!(matches!(
            gunzip(b"not gzip at all", 100),
            Err(ApiError::BadGzip(_))
        ));
    }

    #[test]
    fn a_bomb_is_inflated_no_further_than_the_cap() {
        // 512 MiB of zeros in about 512 KB (eight gzip members of 64 MiB).
        // Inflating reads its input through a counter: stopping at the
        // 1 MiB cap reads only a sliver of it.
        let bomb = gzip(&vec![0u8; 64 << 20]).repeat(8);
        let read = std::cell::Cell::new(0usize);
        struct Counting<'a>(&'a [u8], &'a std::cell::Cell<usize>);
        impl Read for Counting<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.read(buf)?;
                self.1.set(self.1.get() + n);
                Ok(n)
            }
        }
        let refused = gunzip_from(Counting(&bomb, &read), 0, 1 << 20);
        assert!(matches!(
            refused,
            Err(ApiError::DecompressedTooLarge { limit: 1_048_576 })
        ));
        assert!(
            read.get() < bomb.len() / 8,
            "read {} of {}",
            read.get(),
            bomb.len()
        );
    }

    #[test]
    fn content_types_map_to_formats() {
        let mut h = HeaderMap::new();
        assert!(body_format(&h).is_err());
        h.insert(
            CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        assert_eq!(body_format(&h).unwrap(), BodyFormat::JsonArray);
        h.insert(CONTENT_TYPE, "application/x-ndjson".parse().unwrap());
        assert_eq!(body_format(&h).unwrap(), BodyFormat::Ndjson);
        h.insert(CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(
            matches!(body_format(&h), Err(ApiError::UnsupportedContentType(t)) if t == "text/plain")
        );
    }

    #[test]
    fn only_gzip_and_identity_encodings_are_accepted() {
        let mut h = HeaderMap::new();
        assert!(!is_gzip(&h).unwrap());
        h.insert(CONTENT_ENCODING, "gzip".parse().unwrap());
        assert!(is_gzip(&h).unwrap());
        h.insert(CONTENT_ENCODING, "br".parse().unwrap());
        assert!(is_gzip(&h).is_err());
    }
}
