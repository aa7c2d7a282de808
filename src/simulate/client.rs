//! Sending event batches to a highwater server as a well-behaved client
//! does: 429 and 503 are retried after their `Retry-After`, refused or
//! broken connections a few times with growing pauses; anything else is an
//! error that names the server's answer.

use std::time::{Duration, Instant};

use anyhow::bail;
use bytes::Bytes;

/// One request body and how many events it holds.
#[derive(Debug, Clone)]
pub struct Batch {
    pub body: Bytes,
    pub events: usize,
}

/// How a batch got through.
#[derive(Debug, Clone, Copy)]
pub struct Sent {
    /// Of the attempt that succeeded.
    pub latency: Duration,
    /// 429/503 answers and failed connections that were retried.
    pub retries: usize,
}

/// Longest wait between attempts, whatever `Retry-After` says.
const MAX_WAIT: Duration = Duration::from_secs(10);
/// Connection failures in a row before giving up.
const MAX_CONNECTION_FAILURES: u32 = 8;

/// The server answered with a refusal that retrying will not change (not
/// 429 or 503): the batch itself, its key or the project is at fault.
#[derive(Debug, thiserror::Error)]
#[error("{url} answered {status}: {text}")]
pub struct Refused {
    url: String,
    status: reqwest::StatusCode,
    text: String,
}

/// Posts `body` to `url` with `headers` until the server accepts it.
pub async fn send_batch(
    http: &reqwest::Client,
    url: &str,
    headers: &[(String, String)],
    body: &Bytes,
) -> anyhow::Result<Sent> {
    let mut retries = 0;
    let mut connection_failures = 0;
    loop {
        let mut request = http.post(url).body(body.clone());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let sent = Instant::now();
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) if connection_failures < MAX_CONNECTION_FAILURES => {
                connection_failures += 1;
                retries += 1;
                tracing::debug!("{url}: {e}; retrying");
                tokio::time::sleep(backoff(connection_failures)).await;
                continue;
            }
            Err(e) => bail!("cannot reach {url}: {e}"),
        };
        connection_failures = 0;
        let status = response.status();
        if status.is_success() {
            let latency = sent.elapsed();
            response.bytes().await?;
            return Ok(Sent { latency, retries });
        }
        if status == 429 || status == 503 {
            let wait = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                .map_or(Duration::from_millis(500), Duration::from_secs)
                .min(MAX_WAIT);
            retries += 1;
            tokio::time::sleep(wait).await;
            continue;
        }
        let text = response.text().await.unwrap_or_default();
        return Err(Refused {
            url: url.to_owned(),
            status,
            text,
        }
        .into());
    }
}

/// 0.25 s, 0.5 s, 1 s, ... up to `MAX_WAIT`.
fn backoff(failures: u32) -> Duration {
    (Duration::from_millis(125) * 2u32.pow(failures.min(7))).min(MAX_WAIT)
}
