//! Prometheus metrics, kept with the official `prometheus-client` crate
//! and exposed at `GET /metrics` (`api/metrics_scrape.rs`): ingest traffic by status,
//! read latencies, online now per project, the write-ahead log
//! (`wal_collector.rs`, read at scrape time) and the scheduled jobs.

pub(crate) mod wal_collector;

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use rustc_hash::FxHashMap;

use crate::figures::online::OnlineCounts;
use crate::wal::WalMonitor;
use wal_collector::WalCollector;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabel {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProjectLabel {
    pub project: String,
}

/// A round of the jobs: `full` (every figure of today, the provisional and
/// the re-opened days) or `live` (today's session figures, between them).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RoundLabel {
    pub project: String,
    pub round: &'static str,
}

type SecondsGauge = Gauge<f64, AtomicU64>;

/// Every metric highwater keeps; one per process, shared.
#[derive(Debug)]
pub struct Monitoring {
    registry: Registry,
    ingest_requests: Family<StatusLabel, Counter>,
    ingest_bytes: Family<StatusLabel, Counter>,
    ingest_events: Family<ProjectLabel, Counter>,
    read_seconds: Family<RouteLabel, Histogram>,
    online: [Family<ProjectLabel, Gauge>; 3],
    job_seconds: Family<RoundLabel, Histogram>,
    job_failures: Family<RoundLabel, Counter>,
    staleness: Family<ProjectLabel, SecondsGauge>,
    /// Per project: the server time up to which the latest finished round
    /// of the jobs saw the events.
    computed_up_to_ms: Mutex<FxHashMap<String, i64>>,
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

fn job_histogram() -> Histogram {
    // 0.1 s to about an hour.
    Histogram::new(exponential_buckets(0.1, 2.0, 16))
}

impl Monitoring {
    pub fn new(log: WalMonitor, clock: std::sync::Arc<dyn crate::clock::Clock>) -> Self {
        let mut registry = Registry::with_prefix("highwater");
        let ingest_requests = Family::<StatusLabel, Counter>::default();
        registry.register(
            "ingest_requests",
            "POST /v1/events requests, by HTTP status",
            ingest_requests.clone(),
        );
        let ingest_bytes = Family::<StatusLabel, Counter>::default();
        registry.register_with_unit(
            "ingest_body",
            "Request body bytes read by POST /v1/events, by HTTP status",
            Unit::Bytes,
            ingest_bytes.clone(),
        );
        let ingest_events = Family::<ProjectLabel, Counter>::default();
        registry.register(
            "ingest_events",
            "Events acknowledged (200), by project",
            ingest_events.clone(),
        );
        let read_seconds =
            Family::<RouteLabel, Histogram>::new_with_constructor(latency_histogram as fn() -> _);
        registry.register_with_unit(
            "read_duration",
            "Time to answer a read (API or dashboard page), by route",
            Unit::Seconds,
            read_seconds.clone(),
        );
        let online: [Family<ProjectLabel, Gauge>; 3] = Default::default();
        for (family, (name, help)) in online.iter().zip([
            (
                "online_users",
                "Users online now (C_user at the scrape's second)",
            ),
            ("online_connections", "Sessions open now (C_conn)"),
            (
                "online_active_users",
                "Users online and active now (C_active)",
            ),
        ]) {
            registry.register(name, help, family.clone());
        }
        let job_seconds =
            Family::<RoundLabel, Histogram>::new_with_constructor(job_histogram as fn() -> _);
        registry.register_with_unit(
            "job_round_duration",
            "Time of one round of the jobs: full (today, provisional and re-opened days) or live (today's session figures)",
            Unit::Seconds,
            job_seconds.clone(),
        );
        let job_failures = Family::<RoundLabel, Counter>::default();
        registry.register(
            "job_round_failures",
            "Scheduled rounds that failed (retried at the next)",
            job_failures.clone(),
        );
        let staleness = Family::<ProjectLabel, SecondsGauge>::default();
        registry.register_with_unit(
            "figures_staleness",
            "Age of the events cut-off of today's figures (the newest of the finished rounds, full or live)",
            Unit::Seconds,
            staleness.clone(),
        );
        registry.register_collector(Box::new(WalCollector { log, clock }));
        Self {
            registry,
            ingest_requests,
            ingest_bytes,
            ingest_events,
            read_seconds,
            online,
            job_seconds,
            job_failures,
            staleness,
            computed_up_to_ms: Mutex::default(),
        }
    }

    /// One `POST /v1/events`: its status and the body bytes it read.
    pub fn ingest_request(&self, status: u16, body_bytes: u64) {
        let label = StatusLabel { status };
        self.ingest_requests.get_or_create(&label).inc();
        self.ingest_bytes.get_or_create(&label).inc_by(body_bytes);
    }

    pub fn events_acknowledged(&self, project: &str, events: u64) {
        self.ingest_events
            .get_or_create(&project_label(project))
            .inc_by(events);
    }

    pub fn read_answered(&self, route: &str, seconds: f64) {
        self.read_seconds
            .get_or_create(&RouteLabel {
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    /// A round of the jobs (`round`: full or live) for `project` ended
    /// after `seconds`, having counted the events received up to `cut_ms`
    /// (server time), or failed (`None`).
    pub fn job_round(&self, project: &str, round: &'static str, seconds: f64, cut_ms: Option<i64>) {
        let label = RoundLabel {
            project: project.to_owned(),
            round,
        };
        self.job_seconds.get_or_create(&label).observe(seconds);
        match cut_ms {
            // Today's stored row is that of the round that started last
            // (`jobs::compute_day::Stored`), whose cut-off is the newest:
            // a long full round ending after shorter live rounds does not
            // set the figures back, nor this gauge.
            Some(cut_ms) => {
                let mut cuts = self.computed_up_to_ms.lock().expect("monitoring lock");
                let newest = cuts.entry(project.to_owned()).or_insert(cut_ms);
                *newest = (*newest).max(cut_ms);
            }
            None => {
                self.job_failures.get_or_create(&label).inc();
            }
        }
    }

    pub fn set_online(&self, project: &str, counts: OnlineCounts) {
        let label = project_label(project);
        let values = [counts.users, counts.connections, counts.active_users];
        for (family, value) in self.online.iter().zip(values) {
            family
                .get_or_create(&label)
                .set(i64::try_from(value).unwrap_or(i64::MAX));
        }
    }

    /// The exposition, in the OpenMetrics text format, at `now_ms`.
    pub fn encode(&self, now_ms: i64) -> String {
        for (project, cut) in self
            .computed_up_to_ms
            .lock()
            .expect("monitoring lock")
            .iter()
        {
            self.staleness
                .get_or_create(&project_label(project))
                .set((now_ms - cut).max(0) as f64 / 1000.0);
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

fn project_label(project: &str) -> ProjectLabel {
    ProjectLabel {
        project: project.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::config::WalSettings;
    use crate::wal::Wal;

    fn staleness_of(text: &str) -> &str {
        text.lines()
            .find_map(|l| l.strip_prefix("highwater_figures_staleness_seconds{project=\"p\"} "))
            .expect("the project's staleness")
    }

    #[tokio::test]
    async fn a_long_round_ending_last_does_not_set_the_staleness_back() {
        let dir = tempfile::tempdir().unwrap();
        let client = clickhouse::Client::default().with_url("http://127.0.0.1:9");
        let (wal, _tasks) = Wal::open(dir.path(), &WalSettings::default(), client).unwrap();
        let clock = std::sync::Arc::new(ManualClock::new(1_000_000));
        let monitoring = Monitoring::new(wal.monitor(), clock);
        monitoring.job_round("p", "live", 1.0, Some(990_000));
        // A full round that started before the live round ends after it.
        monitoring.job_round("p", "full", 600.0, Some(400_000));
        assert_eq!(staleness_of(&monitoring.encode(1_000_000)), "10.0");
        monitoring.job_round("p", "live", 1.0, Some(995_000));
        assert_eq!(staleness_of(&monitoring.encode(1_000_000)), "5.0");
    }
}
