//! What `bench fullscale` watches while the day is ingested and after:
//! every few seconds, the latency of `GET /v1/online` (and the users it
//! counts) and the staleness of today's figures (the server's own
//! `highwater_figures_staleness_seconds` at `/metrics`).

use std::time::{Duration, Instant};

use tokio::sync::watch;

/// Between samples (a sample's requests go one after the other).
const EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Whether ingestion was still going on.
    pub during_ingest: bool,
    pub online_seconds: f64,
    pub online_users: Option<u64>,
    pub staleness_seconds: Option<f64>,
}

/// Where to sample.
pub struct Target {
    pub api: String,
    pub metrics: String,
    pub read_key: String,
    pub project: String,
}

/// Samples until `stop` says so; `ingesting` tells the phase.
pub async fn sample(
    target: Target,
    ingesting: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) -> Vec<Sample> {
    let http = reqwest::Client::new();
    let mut samples = Vec::new();
    while !*stop.borrow() {
        let during_ingest = *ingesting.borrow();
        let started = Instant::now();
        let online: Option<serde_json::Value> = match http
            .get(format!("{}/v1/online", target.api))
            .bearer_auth(&target.read_key)
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => r.json().await.ok(),
            _ => None,
        };
        let online_seconds = started.elapsed().as_secs_f64();
        let staleness_seconds = match http.get(format!("{}/metrics", target.metrics)).send().await {
            Ok(r) => r
                .text()
                .await
                .ok()
                .and_then(|text| staleness(&text, &target.project)),
            Err(_) => None,
        };
        let sample = Sample {
            during_ingest,
            online_seconds,
            online_users: online.and_then(|o| o["users"].as_u64()),
            staleness_seconds,
        };
        // As it goes, so that a run cut short still shows what it saw.
        tracing::info!(
            during_ingest,
            online_s = online_seconds,
            users = ?sample.online_users,
            staleness_s = ?staleness_seconds,
            "live sample"
        );
        samples.push(sample);
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = stop.changed() => {}
        }
    }
    samples
}

/// The staleness gauge of `project` in an exposition.
fn staleness(exposition: &str, project: &str) -> Option<f64> {
    let prefix = format!("highwater_figures_staleness_seconds{{project=\"{project}\"}} ");
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|value| value.trim().parse().ok())
}

/// The `q` quantile (nearest rank) of `values`.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).copied()
}

/// `GET /v1/online` latency and the staleness of today's figures, during
/// ingestion and after.
pub fn print_summary(samples: &[Sample]) {
    for during in [true, false] {
        let phase: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.during_ingest == during)
            .collect();
        let latencies: Vec<f64> = phase.iter().map(|s| s.online_seconds).collect();
        let users: Vec<u64> = phase.iter().filter_map(|s| s.online_users).collect();
        let stale: Vec<f64> = phase.iter().filter_map(|s| s.staleness_seconds).collect();
        let show = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
        println!(
            "{}: GET /v1/online p50 {} s, p99 {} s over {} samples ({} answered; users online {}); \
             today's figures staleness p50 {} s, max {} s",
            if during {
                "while ingesting"
            } else {
                "after ingest"
            },
            show(quantile(&latencies, 0.5)),
            show(quantile(&latencies, 0.99)),
            latencies.len(),
            users.len(),
            match (users.iter().min(), users.iter().max()) {
                (Some(lo), Some(hi)) => format!("{lo}..{hi}"),
                _ => "-".to_owned(),
            },
            show(quantile(&stale, 0.5)),
            show(quantile(&stale, 1.0)),
        );
    }
    let during: Vec<f64> = samples
        .iter()
        .filter(|s| s.during_ingest)
        .filter_map(|s| s.staleness_seconds)
        .collect();
    let worst = quantile(&during, 1.0);
    println!(
        "goal: today's figures at most 60 s stale while ingesting: {}",
        match worst {
            Some(w) if w <= 60.0 => "met",
            Some(_) => "not met",
            None => "not measured",
        }
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_staleness_of_the_project_is_found_in_the_exposition() {
        let text = "# TYPE highwater_figures_staleness_seconds gauge\n\
                    highwater_figures_staleness_seconds{project=\"other\"} 99.0\n\
                    highwater_figures_staleness_seconds{project=\"chat\"} 12.5\n# EOF\n";
        assert_eq!(staleness(text, "chat"), Some(12.5));
        assert_eq!(staleness(text, "none"), None);
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let values = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(quantile(&values, 0.5), Some(3.0));
        assert_eq!(quantile(&values, 0.99), Some(5.0));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
