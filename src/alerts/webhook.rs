//! Delivering one alert: a POST of its JSON body, signed, retried with
//! backoff until the receiver takes it (2xx) or refuses it for good (a 4xx
//! other than 408 and 429), each attempt within a timeout.
//!
//! Signature: `X-Highwater-Signature: sha256=<hex>`, the HMAC-SHA256 with
//! the alert's secret of `<X-Highwater-Timestamp>.<body>` — the receiver
//! recomputes it and rejects old timestamps (replays).

use std::time::Duration;

use anyhow::Context;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::AlertSettings;

/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The HTTP client of one alert: TLS by rustls, trusting the platform's
/// certificate authorities and Mozilla's (webpki), and the alert's own
/// `ca_file` (a private receiver's authority) if it names one.
pub fn client(alert: &AlertSettings) -> anyhow::Result<reqwest::Client> {
    let mozilla = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .filter_map(|der| reqwest::Certificate::from_der(der).ok());
    let mut builder = reqwest::Client::builder().tls_certs_merge(mozilla);
    if let Some(path) = &alert.ca_file {
        builder = builder.tls_certs_merge(
            AlertSettings::ca_certificates(path)
                .with_context(|| format!("alert {:?}: ca_file {}", alert.name, path.display()))?,
        );
    }
    builder
        .build()
        .with_context(|| format!("alert {:?}: cannot build its HTTP client", alert.name))
}

/// `sha256=<hex>` of `timestamp.body` under `secret`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Why an alert was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("the receiver refused it: HTTP {0}")]
    Refused(u16),
    #[error("no attempt succeeded; the last: {0}")]
    GaveUp(String),
}

/// Sends `body` to the alert's URL; `now_s` stamps each attempt.
pub async fn deliver(
    http: &reqwest::Client,
    alert: &AlertSettings,
    body: &serde_json::Value,
    now_s: impl Fn() -> i64,
) -> Result<(), DeliveryError> {
    let body = serde_json::to_vec(body).expect("JSON values serialize");
    let mut last = String::new();
    for attempt in 0..=alert.retries {
        if attempt > 0 {
            let wait = Duration::from_secs(1 << (attempt - 1).min(6)).min(MAX_BACKOFF);
            tokio::time::sleep(wait).await;
        }
        let timestamp = now_s();
        let sent = http
            .post(&alert.url)
            .timeout(Duration::from_millis(alert.timeout_ms))
            .header("content-type", "application/json")
            .header("x-highwater-timestamp", timestamp.to_string())
            .header(
                "x-highwater-signature",
                signature(&alert.secret, timestamp, &body),
            )
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => return Ok(()),
            Ok(response) => {
                let status = response.status().as_u16();
                if (400..500).contains(&status) && status != 408 && status != 429 {
                    return Err(DeliveryError::Refused(status));
                }
                last = format!("HTTP {status}");
            }
            Err(e) => last = e.to_string(),
        }
        tracing::warn!(alert = %alert.name, attempt, error = %last, "alert not delivered yet");
    }
    Err(DeliveryError::GaveUp(last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hmac_of_timestamp_dot_body() {
        // Worked out with Python's hmac module:
        // hmac.new(b"key", b"1.{}", hashlib.sha256).hexdigest()
        assert_eq!(
            signature("key", 1, b"{}"),
            "sha256=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224"
        );
    }
}
