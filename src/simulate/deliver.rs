//! Where simulated events go: an NDJSON file (gzip when the name ends in
//! `.gz`), or a highwater server over N concurrent connections while the
//! generator keeps going on a thread of its own.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use chrono::NaiveDate;
use flate2::write::GzEncoder;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::{Mutex, mpsc};

use super::client::{Batch, Refused, send_batch};
use super::{DaySummary, Simulation};

/// A progress line: the day being generated, events so far and the rate.
pub fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::no_length();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {human_pos} events, {per_sec}, {elapsed}")
            .expect("valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Writes the days' events to `path`; returns the summaries and bytes
/// written. A thread of its own writes (and compresses) while the
/// generator goes on: on two cores neither waits for the other.
pub fn to_file(
    simulation: &Simulation,
    days: &[NaiveDate],
    path: &Path,
    progress: &ProgressBar,
) -> anyhow::Result<(Vec<DaySummary>, u64)> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let buffered = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut writer: Box<dyn Write + Send> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(GzEncoder::new(buffered, flate2::Compression::fast()))
    } else {
        Box::new(buffered)
    };
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Batch>(8);
    let written = std::thread::scope(|scope| {
        let writing = scope.spawn(move || -> std::io::Result<u64> {
            let mut bytes = 0;
            for batch in receiver {
                writer.write_all(&batch.body)?;
                bytes += batch.body.len() as u64;
            }
            // Dropping a GzEncoder writes its trailer; flush what is under it.
            writer.flush()?;
            drop(writer);
            Ok(bytes)
        });
        let generated = simulation.run(days, super::DEFAULT_BATCH_EVENTS, progress, |batch| {
            sender.send(batch).map_err(|_| anyhow!("writing stopped"))
        });
        drop(sender);
        let bytes = writing.join().expect("the writer thread does not panic");
        (generated, bytes)
    });
    let bytes = written
        .1
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok((written.0?, bytes))
}

/// Where and how to post.
#[derive(Debug, Clone)]
pub struct PostTarget {
    /// The server's base URL or its `/v1/events` URL.
    pub url: String,
    pub ingest_key: String,
    pub connections: usize,
    pub batch_events: usize,
    /// At most this many events a second on average (batches are held back
    /// to keep to it); `None`: as fast as the server takes them.
    pub max_events_per_s: Option<f64>,
}

#[derive(Debug, Clone, Copy)]
pub struct Posted {
    pub events: u64,
    pub bytes: u64,
    pub retries: usize,
    pub elapsed: Duration,
    /// Time the generator spent generating rather than waiting for the
    /// connections to take its batches.
    pub generating: Duration,
}

/// Generates the days' events and posts them; returns once every batch was
/// accepted (or the first one that was refused stops everything).
pub async fn to_server(
    simulation: Arc<Simulation>,
    days: Vec<NaiveDate>,
    target: &PostTarget,
    progress: ProgressBar,
) -> anyhow::Result<(Vec<DaySummary>, Posted)> {
    let url = events_url(&target.url)?;
    let connections = target.connections.max(1);
    let (sender, receiver) = mpsc::channel::<Batch>(connections * 2);
    let receiver = Arc::new(Mutex::new(receiver));
    let headers = vec![
        (
            "authorization".to_owned(),
            format!("Bearer {}", target.ingest_key),
        ),
        ("content-type".to_owned(), "application/x-ndjson".to_owned()),
    ];
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()?;
    let started = Instant::now();
    let mut posters = Vec::new();
    for _ in 0..connections {
        let (http, url, headers, receiver) =
            (http.clone(), url.clone(), headers.clone(), receiver.clone());
        posters.push(tokio::spawn(async move {
            let mut posted = (0u64, 0u64, 0usize);
            loop {
                let next = receiver.lock().await.recv().await;
                let Some(batch) = next else { break };
                match send_batch(&http, &url, &headers, &batch.body).await {
                    Ok(sent) => {
                        posted.0 += batch.events as u64;
                        posted.1 += batch.body.len() as u64;
                        posted.2 += sent.retries;
                    }
                    Err(e) => {
                        // Stop the generator and the other connections.
                        receiver.lock().await.close();
                        return Err(e);
                    }
                }
            }
            anyhow::Ok(posted)
        }));
    }
    let (batch_events, pace) = (target.batch_events, target.max_events_per_s);
    let generator = tokio::task::spawn_blocking(move || {
        let mut waiting = Duration::ZERO;
        let mut handed = 0usize;
        let summaries = simulation.run(&days, batch_events, &progress, |batch| {
            let waited = Instant::now();
            if let Some(rate) = pace {
                handed += batch.events;
                let due = started + Duration::from_secs_f64(handed as f64 / rate);
                std::thread::sleep(due.saturating_duration_since(waited));
            }
            let sent = sender.blocking_send(batch);
            waiting += waited.elapsed();
            sent.map_err(|_| anyhow!("posting stopped"))
        });
        (summaries, started.elapsed().saturating_sub(waiting))
    });
    let (generated, generating) = generator.await.context("the generator panicked")?;
    let mut posted = Posted {
        events: 0,
        bytes: 0,
        retries: 0,
        elapsed: Duration::ZERO,
        generating,
    };
    let mut failure = None;
    for poster in posters {
        match poster.await.context("a poster panicked")? {
            Ok((events, bytes, retries)) => {
                posted.events += events;
                posted.bytes += bytes;
                posted.retries += retries;
            }
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    posted.elapsed = started.elapsed();
    // A refused batch explains a stopped generator, not the other way round.
    if let Some(e) = failure {
        // Only a refusal points at the project's settings; a server that
        // cannot be reached (or stopped) says so on its own.
        return Err(if e.is::<Refused>() {
            e.context(
                "the server refused the simulated events (the project needs backfill = true, \
                 and the scenario's time zone and session timeout)",
            )
        } else {
            e
        });
    }
    Ok((generated?, posted))
}

/// `http://host:port` or `http://host:port/v1/events` → the events URL.
fn events_url(url: &str) -> anyhow::Result<String> {
    let parsed =
        reqwest::Url::parse(url).with_context(|| format!("--post {url:?} is not a URL"))?;
    anyhow::ensure!(
        matches!(parsed.scheme(), "http" | "https"),
        "--post needs an http:// or https:// URL"
    );
    Ok(if parsed.path().trim_end_matches('/').is_empty() {
        format!("{}/v1/events", url.trim_end_matches('/'))
    } else {
        url.to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_events_url_is_completed_from_a_base_url() {
        assert_eq!(
            events_url("http://h:8080").unwrap(),
            "http://h:8080/v1/events"
        );
        assert_eq!(
            events_url("http://h:8080/").unwrap(),
            "http://h:8080/v1/events"
        );
        assert_eq!(
            events_url("http://h/v1/events").unwrap(),
            "http://h/v1/events"
        );
        assert!(events_url("h:8080").is_err());
        assert!(events_url("ftp://h").is_err());
    }
}
