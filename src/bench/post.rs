//! Posting pre-built request bodies over N connections, timing each request.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};

pub use crate::simulate::client::Batch;
use crate::simulate::client::send_batch;

#[derive(Debug, Clone)]
pub struct PostStats {
    pub elapsed: Duration,
    pub events: usize,
    pub bytes: usize,
    /// Request latencies in microseconds.
    pub latency_us: Histogram<u64>,
    /// 429/503 answers that were retried.
    pub retries: usize,
}

impl PostStats {
    pub fn events_per_s(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }
    pub fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64()
    }
    pub fn latency_ms(&self, quantile: f64) -> f64 {
        self.latency_us.value_at_quantile(quantile) as f64 / 1000.0
    }
}

/// Posts every batch to `url` (each with `headers`), `connections` at a
/// time, retrying as [`send_batch`] does.
pub async fn post_all(
    url: &str,
    headers: &[(&str, String)],
    batches: Arc<Vec<Batch>>,
    connections: usize,
    label: &str,
) -> anyhow::Result<PostStats> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()?;
    let next = Arc::new(AtomicUsize::new(0));
    let total_events: usize = batches.iter().map(|b| b.events).sum();
    let progress = ProgressBar::new(total_events as u64).with_message(label.to_owned());
    progress.set_style(
        ProgressStyle::with_template(
            "{msg:>10} [{bar:30}] {human_pos}/{human_len} events, {per_sec}, eta {eta}",
        )
        .expect("valid template"),
    );
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (http, next, batches, progress) = (
            http.clone(),
            next.clone(),
            batches.clone(),
            progress.clone(),
        );
        let url = url.to_owned();
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        tasks.push(tokio::spawn(async move {
            let mut latency_us = Histogram::<u64>::new(3).expect("valid histogram");
            let mut retries = 0;
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(batch) = batches.get(index) else {
                    break;
                };
                let sent = send_batch(&http, &url, &headers, &batch.body).await?;
                latency_us.record(sent.latency.as_micros() as u64).ok();
                retries += sent.retries;
                progress.inc(batch.events as u64);
            }
            anyhow::Ok((latency_us, retries))
        }));
    }
    let mut latency_us = Histogram::<u64>::new(3).expect("valid histogram");
    let mut retries = 0;
    for task in tasks {
        let (histogram, task_retries) = task.await??;
        latency_us.add(histogram)?;
        retries += task_retries;
    }
    progress.finish_and_clear();
    Ok(PostStats {
        elapsed: started.elapsed(),
        events: total_events,
        bytes: batches.iter().map(|b| b.body.len()).sum(),
        latency_us,
        retries,
    })
}
