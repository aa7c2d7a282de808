//! Reading a request body within limits: content type, encoding, size on the
//! wire and after decompression (a gzip bomb stops at the cap, mid-stream).

use std::io::Read;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use bytes::Bytes;
use http_body_util::BodyExt;

use super::admission::Admitted;
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

/// How slowly a body may arrive: after `grace`, at least `min_bytes_per_s`
/// on average (a client that stalls is cut off long before `timeout`), and
/// all of it within `timeout`.
#[derive(Debug, Clone, Copy)]
pub struct BodyPace {
    pub grace: Duration,
    pub min_bytes_per_s: u64,
    pub timeout: Duration,
}

impl BodyPace {
    /// When the body must have gone past `received` bytes: the deadline
    /// moves on with every byte, so only the slow are cut off.
    fn deadline(&self, started: Instant, received: usize) -> (Instant, bool) {
        let paced = self.grace
            + Duration::from_secs_f64(received as f64 / self.min_bytes_per_s.max(1) as f64);
        if paced < self.timeout {
            (started + paced, true)
        } else {
            (started + self.timeout, false)
        }
    }
}

/// Reads the whole body, refusing more than `limit` bytes (early, from
/// `Content-Length`, when the client declares it) and bodies slower than
/// `pace`. Its memory is charged to `admitted` as it grows — never from
/// what the client announces.
pub async fn read_charged(
    headers: &HeaderMap,
    mut body: Body,
    limit: usize,
    pace: BodyPace,
    admitted: &mut Admitted,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::BodyTooLarge { limit });
    }
    let started = Instant::now();
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let (deadline, paced) = pace.deadline(started, buf.len());
        let frame = match tokio::time::timeout_at(deadline.into(), body.frame()).await {
            Err(_) if paced => {
                return Err(ApiError::BodyTooSlow {
                    min_bytes_per_s: pace.min_bytes_per_s,
                });
            }
            Err(_) => return Err(ApiError::BodyTimeout(pace.timeout.as_millis() as u64)),
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(ApiError::BodyRead(e.to_string())),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        let needed = buf.len() + data.len();
        if needed > limit {
            return Err(ApiError::BodyTooLarge { limit });
        }
        if needed > buf.capacity() {
            let grown = needed.max(2 * buf.capacity()).min(limit);
            admitted.body_grew(grown - buf.capacity())?;
            buf.reserve_exact(grown - buf.len());
        }
        buf.extend_from_slice(&data);
    }
    Ok(buf.into())
}

/// Decompresses gzip (several members allowed), stopping past `limit`
/// bytes; the output's memory is charged to `admitted` as it grows.
pub fn gunzip(
    compressed: &[u8],
    limit: usize,
    admitted: &mut Admitted,
) -> Result<Vec<u8>, ApiError> {
    gunzip_from(compressed, limit, &mut |total| admitted.grow_to(total))
}

/// [`gunzip`] from any reader, `charge` told each new size of the output
/// buffer: inflation stops one byte past `limit`, so a bomb costs `limit`
/// bytes of memory and the little input that yields them.
fn gunzip_from(
    compressed: impl Read,
    limit: usize,
    charge: &mut dyn FnMut(usize) -> Result<(), ApiError>,
) -> Result<Vec<u8>, ApiError> {
    const STEP: usize = 64 * 1024;
    let mut inflate = flate2::read::MultiGzDecoder::new(compressed).take(limit as u64 + 1);
    let mut out: Vec<u8> = Vec::new();
    let mut step = [0u8; STEP];
    loop {
        let n = inflate
            .read(&mut step)
            .map_err(|e| ApiError::BadGzip(e.to_string()))?;
        if n == 0 {
            break;
        }
        if out.len() + n > limit {
            return Err(ApiError::DecompressedTooLarge { limit });
        }
        if out.len() + n > out.capacity() {
            let grown = (out.len() + n).max(2 * out.capacity()).min(limit);
            charge(grown)?;
            out.reserve_exact(grown - out.len());
        }
        out.extend_from_slice(&step[..n]);
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

    fn free(_: usize) -> Result<(), ApiError> {
        Ok(())
    }

    #[test]
    fn gzip_round_trips_and_stops_at_the_cap() {
        let data = vec![b'x'; 10_000];
        assert_eq!(
            gunzip_from(&gzip(&data)[..], 10_000, &mut free).unwrap(),
            data
        );
        assert!(matches!(
            gunzip_from(&gzip(&data)[..], 9_999, &mut free),
            Err(ApiError::DecompressedTooLarge { limit: 9_999 })
        ));
        assert!(matches!(
            gunzip_from(&b"not gzip at all"[..], 100, &mut free),
            Err(ApiError::BadGzip(_))
        ));
    }

    /// A body that sends `chunks` of `size` bytes, `every` apart.
    fn trickle(chunks: usize, size: usize, every: Duration) -> Body {
        let chunks = futures::stream::unfold(0, move |sent| async move {
            if sent == chunks {
                return None;
            }
            tokio::time::sleep(every).await;
            Some((
                Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; size])),
                sent + 1,
            ))
        });
        Body::from_stream(chunks)
    }

    fn pace() -> BodyPace {
        BodyPace {
            grace: Duration::from_millis(200),
            min_bytes_per_s: 10_000,
            timeout: Duration::from_secs(10),
        }
    }

    #[tokio::test]
    async fn a_body_is_charged_as_it_arrives_and_a_stalled_one_is_cut_off() {
        let mut admitted = Admitted::unlimited();
        let body = trickle(10, 100, Duration::from_millis(1));
        let read = read_charged(&HeaderMap::new(), body, 1 << 20, pace(), &mut admitted).await;
        assert_eq!(read.unwrap().len(), 1000);
        // Charged what it holds, not more than twice over.
        assert!(
            (1000..=2000).contains(&admitted.charged()),
            "{}",
            admitted.charged()
        );

        // 100 bytes, then nothing: cut off soon after the grace period
        // (200 ms + 100 bytes at 10 kB/s), not at the 10 s timeout.
        let started = Instant::now();
        let stalled = trickle(2, 100, Duration::from_secs(5));
        let mut admitted = Admitted::unlimited();
        let read = read_charged(&HeaderMap::new(), stalled, 1 << 20, pace(), &mut admitted).await;
        assert!(matches!(
            read,
            Err(ApiError::BodyTooSlow {
                min_bytes_per_s: 10_000
            })
        ));
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_body_past_the_limit_is_refused_as_it_arrives() {
        let body = trickle(10, 100, Duration::ZERO);
        let read = read_charged(
            &HeaderMap::new(),
            body,
            950,
            pace(),
            &mut Admitted::unlimited(),
        )
        .await;
        assert!(matches!(read, Err(ApiError::BodyTooLarge { limit: 950 })));
    }

    #[test]
    fn inflating_is_charged_as_it_grows_and_stops_when_refused() {
        let data = vec![b'x'; 1 << 20];
        let mut charged = Vec::new();
        let mut charge = |total: usize| {
            charged.push(total);
            if total > 300_000 {
                Err(ApiError::Busy)
            } else {
                Ok(())
            }
        };
        let refused = gunzip_from(&gzip(&data)[..], 1 << 20, &mut charge);
        assert!(matches!(refused, Err(ApiError::Busy)));
        assert!(charged.windows(2).all(|w| w[0] < w[1]), "{charged:?}");
        assert!(*charged.last().unwrap() <= 2 * 300_000, "{charged:?}");
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
        let refused = gunzip_from(Counting(&bomb, &read), 1 << 20, &mut free);
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
