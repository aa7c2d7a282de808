//! A PostHog capture body → the JSON inside it, the way PostHog's capture
//! service reads one: a form (`data=…`, with `compression=…`), or the raw
//! body; compressed as the `compression` query parameter or form field
//! says (`gzip`/`gzip-js`, `lz64`/`lz-string`, `base64`), or — posthog-js
//! sends gzip as `text/plain` without `Content-Encoding` — as its first
//! bytes show (gzip's magic number; otherwise JSON, or else base64).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use bytes::Bytes;

use super::lz64::{self, Lz64Error};
use crate::api::error::ApiError;
use crate::api::ingest::admission::Admitted;
use crate::api::ingest::body::gunzip;

/// How the payload is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Not said: sniffed from the bytes.
    Unsaid,
    Gzip,
    Lz64,
    Base64,
}

impl Compression {
    /// The `compression` parameter's value (case-insensitive).
    pub fn named(name: &str) -> Result<Self, ApiError> {
        match name.trim().to_ascii_lowercase().as_str() {
            "" => Ok(Self::Unsaid),
            "gzip" | "gzip-js" => Ok(Self::Gzip),
            "lz64" | "lz-string" => Ok(Self::Lz64),
            "base64" => Ok(Self::Base64),
            other => Err(ApiError::BadPayload(format!(
                "unknown compression {other:?}; expected gzip, gzip-js, lz64 or base64"
            ))),
        }
    }
}

/// The JSON bytes of a capture body. `form` says the body is
/// `application/x-www-form-urlencoded`; `compression` is the query's.
/// Nothing decoded grows past `limit` bytes, and what decoding holds is
/// charged to `admitted` before it is built (inflating gzip: as it grows).
/// A plain JSON body comes back as it is, not copied.
pub fn decode(
    body: Bytes,
    form: bool,
    compression: Compression,
    limit: usize,
    admitted: &mut Admitted,
) -> Result<Bytes, ApiError> {
    let (payload, compression) = if form {
        // The `data` field, unescaped, is no longer than the form.
        admitted.grow(body.len())?;
        let mut data = None;
        let mut said = compression;
        for (name, value) in form_urlencoded::parse(&body) {
            match name.as_ref() {
                "data" => data = Some(value.into_owned()),
                "compression" if said == Compression::Unsaid => said = Compression::named(&value)?,
                _ => {}
            }
        }
        let data =
            data.ok_or_else(|| ApiError::BadPayload("the form has no `data` field".to_owned()))?;
        (Bytes::from(data.into_bytes()), said)
    } else {
        (body, compression)
    };
    let compression = match compression {
        Compression::Unsaid => sniff(&payload),
        said => said,
    };
    let decompressed = match compression {
        Compression::Unsaid => payload,
        Compression::Gzip => gunzip(&payload, limit, admitted)?.into(),
        Compression::Base64 => base64(&payload, limit, admitted)?.into(),
        Compression::Lz64 => {
            // A copy of the input, and an output that may reach the limit.
            admitted.grow(payload.len() + limit)?;
            lz64::decompress_from_base64(&payload, limit)
                .map(Bytes::from)
                .map_err(|e| match e {
                    Lz64Error::TooLarge => ApiError::DecompressedTooLarge { limit },
                    Lz64Error::Invalid => ApiError::BadPayload("not lz-string (lz64) data".into()),
                })?
        }
    };
    if decompressed.len() > limit {
        return Err(ApiError::DecompressedTooLarge { limit });
    }
    Ok(decompressed)
}

/// What the bytes look like: gzip, JSON (unsaid: as is) or base64.
fn sniff(payload: &[u8]) -> Compression {
    match payload.trim_ascii_start() {
        [0x1f, 0x8b, ..] => Compression::Gzip,
        [b'{' | b'[', ..] | [] => Compression::Unsaid,
        _ => Compression::Base64,
    }
}

/// Base64 (standard or URL-safe, padded or not, whitespace ignored), which
/// may itself hold gzip.
fn base64(payload: &[u8], limit: usize, admitted: &mut Admitted) -> Result<Vec<u8>, ApiError> {
    // The input without white space, and what it decodes to (3/4 of it).
    admitted.grow(payload.len() + 3 + payload.len().div_ceil(4) * 3)?;
    let mut padded: Vec<u8> = payload
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
        .collect();
    padded.resize(padded.len().div_ceil(4) * 4, b'=');
    let decoded = STANDARD
        .decode(&padded)
        .or_else(|_| URL_SAFE.decode(&padded))
        .map_err(|e| ApiError::BadPayload(format!("neither JSON, gzip nor base64: {e}")))?;
    match decoded.as_slice() {
        [0x1f, 0x8b, ..] => gunzip(&decoded, limit, admitted),
        _ => Ok(decoded),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const JSON: &str =
        r#"{"api_key":"k","batch":[{"event":"x","properties":{"distinct_id":"u"}}]}"#;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn decoded(body: &[u8], form: bool, compression: Compression) -> String {
        let decoded = decode(
            Bytes::copy_from_slice(body),
            form,
            compression,
            1 << 20,
            &mut Admitted::unlimited(),
        )
        .unwrap();
        String::from_utf8(decoded.to_vec()).unwrap()
    }

    #[test]
    fn every_encoding_gives_the_same_json() {
        let b64 = STANDARD.encode(JSON);
        let lz = lz_str::compress_to_base64(JSON);
        let form = |data: &str, compression: &str| {
            form_urlencoded::Serializer::new(String::new())
                .append_pair("data", data)
                .append_pair("compression", compression)
                .finish()
        };
        assert_eq!(decoded(JSON.as_bytes(), false, Compression::Unsaid), JSON);
        // gzip without any header, as posthog-js sends it.
        assert_eq!(
            decoded(&gzip(JSON.as_bytes()), false, Compression::Unsaid),
            JSON
        );
        assert_eq!(
            decoded(&gzip(JSON.as_bytes()), false, Compression::Gzip),
            JSON
        );
        assert_eq!(decoded(b64.as_bytes(), false, Compression::Unsaid), JSON);
        assert_eq!(decoded(b64.as_bytes(), false, Compression::Base64), JSON);
        assert_eq!(decoded(lz.as_bytes(), false, Compression::Lz64), JSON);
        assert_eq!(
            decoded(form(&lz, "lz64").as_bytes(), true, Compression::Unsaid),
            JSON
        );
        assert_eq!(
            decoded(form(&b64, "").as_bytes(), true, Compression::Unsaid),
            JSON
        );
        let b64_gzip = STANDARD.encode(gzip(JSON.as_bytes()));
        assert_eq!(
            decoded(b64_gzip.as_bytes(), false, Compression::Unsaid),
            JSON
        );
    }

    #[test]
    fn what_does_not_decode_is_refused_precisely() {
        let refused = |body: &[u8], form: bool, compression: Compression| {
            decode(
                Bytes::copy_from_slice(body),
                form,
                compression,
                1 << 20,
                &mut Admitted::unlimited(),
            )
            .unwrap_err()
            .to_string()
        };
        assert!(refused(b"***", false, Compression::Unsaid).contains("base64"));
        assert!(refused(b"x=1", true, Compression::Unsaid).contains("`data`"));
        assert!(refused(b"AAAA", false, Compression::Lz64).contains("lz-string"));
        assert!(refused(b"{}", false, Compression::Gzip).contains("gzip"));
        assert!(Compression::named("zstd").is_err());
        let big = gzip(&vec![b' '; 4096]);
        assert_eq!(
            decode(
                big.into(),
                false,
                Compression::Unsaid,
                1000,
                &mut Admitted::unlimited()
            )
            .unwrap_err()
            .to_string(),
            ApiError::DecompressedTooLarge { limit: 1000 }.to_string()
        );
    }
}
