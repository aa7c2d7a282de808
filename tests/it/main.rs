//! Integration tests against a real ClickHouse that this harness starts once
//! per run (a private server on free ports); every test gets a database of
//! its own, named after it.

mod alerts;
mod backpressure;
mod bad_input;
mod browser;
mod brute_force;
mod cases;
mod cli;
mod cluster;
mod crash;
mod dashboards;
mod embedded;
mod foreign_page;
mod gate;
mod grafana;
mod hostile;
mod ingest;
mod instances;
mod lane;
mod lanes_agree;
mod large_bodies;
mod live_rounds;
mod log_replay;
mod migrations;
mod online;
mod openapi;
mod otlp;
mod outage;
mod posthog;
mod posthog_js;
mod power_cut;
mod prometheus;
mod read_api;
mod received_sessions;
mod replicas;
mod schedule;
mod security;

mod shipping;
mod shutdown;
mod simulate;
mod snippet;
mod stall;
mod strict_fs;

use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use highwater::clock::{Clock, ManualClock};
use highwater::config::{ClickHouseSettings, ProjectSettings, Settings};
use highwater::startup::Server;
use highwater::store::row_binary::EVENT_COLUMNS;
use highwater::store::rows::EventRow;
use highwater::wal::WalMonitor;
use std::time::Duration;

/// The tests' "now": 2020-03-25T12:00:00Z, so fixtures can use fixed dates.
pub const NOW_MS: i64 = 1_585_137_600_000;
pub const ALPHA_INGEST: &str = "alpha-ingest-key-0123456789";
pub const ALPHA_READ: &str = "alpha-read-key-0123456789ab";
pub const BETA_INGEST: &str = "beta-ingest-key-0123456789a";

/// A private directory under cargo's target dir for this run; the
/// directories of earlier runs are removed the first time (not those of
/// runs still going: `scripts/test` runs two at once).
pub fn scratch_dir(name: &str) -> PathBuf {
    static RUN_DIR: OnceLock<PathBuf> = OnceLock::new();
    let run_dir = RUN_DIR.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let own = format!("it-{}", std::process::id());
        for old in std::fs::read_dir(&base).into_iter().flatten().flatten() {
            let name = old.file_name().to_string_lossy().into_owned();
            let running = name
                .strip_prefix("it-")
                .is_some_and(|pid| std::path::Path::new("/proc").join(pid).exists());
            if name.starts_with("it-") && !running {
                let _ = std::fs::remove_dir_all(old.path());
            }
        }
        base.join(own)
    });
    let dir = run_dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// URL of the ClickHouse shared by this run (of the lane's kind, see
/// [`lane`]), started on first use. A thread of its own owns the process
/// for the whole run; the server is told to die with the test process.
pub fn clickhouse_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            let server = runtime.block_on(lane::TestClickHouse::start(&scratch_dir("clickhouse")));
            let version = runtime.block_on(highwater::store::connect::server_version(
                &clickhouse::Client::default().with_url(server.url()),
            ));
            // Straight to stderr (eprintln! would be captured with the
            // test's output): scripts/test quotes it in its summary.
            let _ = writeln!(
                std::io::stderr(),
                "integration tests on ClickHouse {} (lane {:?})",
                version.unwrap_or_else(|e| format!("of unknown version ({e})")),
                lane::Lane::from_env()
            );
            tx.send(server.url()).unwrap();
            // Keep the server (and this thread, its parent) alive until exit.
            loop {
                std::thread::park();
            }
        });
        rx.recv().expect("the ClickHouse thread died")
    })
}

/// The URLs of a two-shard cluster of Debian's ClickHouse shared by this
/// run, started on first use (like [`clickhouse_url`]). Cluster tests have
/// `two_shards` in their names: the current lane, whose engine runs in a
/// Python process and cannot form a cluster, leaves them out.
pub fn cluster_urls() -> &'static [String] {
    static URLS: OnceLock<Vec<String>> = OnceLock::new();
    URLS.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            let servers = runtime
                .block_on(
                    highwater::store::local_server::LocalClickHouse::start_cluster(
                        &scratch_dir("cluster"),
                        2,
                    ),
                )
                .unwrap_or_else(|e| panic!("cannot start the test cluster: {e}"));
            tx.send(servers.iter().map(|s| s.url()).collect()).unwrap();
            loop {
                std::thread::park();
            }
        });
        rx.recv().expect("the cluster thread died")
    })
}

/// The servers of a replicated cluster of Debian's ClickHouse — two shards
/// of two replicas, with Debian's ZooKeeper — shared by this run and
/// started on first use, shard after shard. Its tests have `two_shards` in
/// their names too (the current lane cannot form a cluster).
pub fn replicated_cluster_urls() -> &'static [Vec<String>] {
    static URLS: OnceLock<Vec<Vec<String>>> = OnceLock::new();
    URLS.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            let dir = scratch_dir("replicated");
            let (zookeeper, servers) = runtime.block_on(async {
                let zookeeper = highwater::store::local_zookeeper::LocalZooKeeper::start(
                    &dir.join("zookeeper"),
                )
                .await
                .unwrap_or_else(|e| panic!("cannot start ZooKeeper: {e}"));
                let binary = highwater::store::local_server::ServerBinary::find().unwrap();
                let layout = highwater::store::local_cluster::Layout {
                    shards: 2,
                    replicas: 2,
                };
                let servers = highwater::store::local_cluster::start(
                    &binary,
                    &dir,
                    layout,
                    Some(zookeeper.port()),
                )
                .await
                .unwrap_or_else(|e| panic!("cannot start the replicated cluster: {e}"));
                (zookeeper, servers)
            });
            let urls: Vec<String> = servers.iter().map(|s| s.url()).collect();
            tx.send(urls.chunks(2).map(<[String]>::to_vec).collect())
                .unwrap();
            let _keep = (zookeeper, servers);
            loop {
                std::thread::park();
            }
        });
        rx.recv().expect("the replicated cluster's thread died")
    })
}

/// Where a test's highwater keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The run's shared server.
    Node,
    /// The run's two-shard cluster ([`cluster_urls`]).
    TwoShards,
    /// The run's replicated cluster, two shards of two replicas
    /// ([`replicated_cluster_urls`]).
    TwoShardsWithReplicas,
}

impl Place {
    /// The ClickHouse URL `spawn_app_with` is given for this place.
    pub fn url(self) -> &'static str {
        match self {
            Self::Node => clickhouse_url(),
            Self::TwoShards => &cluster_urls()[0],
            Self::TwoShardsWithReplicas => &replicated_cluster_urls()[0][0],
        }
    }

    /// Points `settings` at this place.
    pub fn apply(self, settings: &mut Settings) {
        let clickhouse = &mut settings.clickhouse;
        let cluster = Some(highwater::store::local_server::EMBEDDED_CLUSTER.to_owned());
        match self {
            Self::Node => {}
            Self::TwoShards => {
                clickhouse.url = None;
                clickhouse.cluster = cluster;
                clickhouse.shard_urls = cluster_urls().to_vec();
            }
            Self::TwoShardsWithReplicas => {
                clickhouse.url = None;
                clickhouse.cluster = cluster;
                clickhouse.replicated = true;
                clickhouse.replicas = replicated_cluster_urls().to_vec();
            }
        }
    }
}

/// Settings of a test app: two projects, small limits so tests stay cheap.
pub fn test_settings(database: &str, url: &str) -> Settings {
    let mut settings = Settings {
        clickhouse: ClickHouseSettings {
            url: Some(url.to_owned()),
            database: database.to_owned(),
            ..ClickHouseSettings::default()
        },
        projects: vec![
            ProjectSettings::new("alpha", ALPHA_INGEST, ALPHA_READ),
            ProjectSettings::new("beta", BETA_INGEST, "beta-read-key-0123456789abc"),
        ],
        ..Settings::default()
    };
    settings.ingest.max_body_bytes = 256 * 1024;
    settings.ingest.max_decompressed_bytes = 1024 * 1024;
    settings.ingest.max_events_per_batch = 2_000;
    settings.wal.dir = Some(scratch_dir(database).join("wal"));
    // Long enough that a loaded machine's slow insert is rarely taken for a
    // lost one (sent again, it is stored twice on servers that do not
    // deduplicate), short enough for the tests of stalled servers.
    settings.wal.insert_timeout_ms = 15_000;
    // Outage tests should see the log drain soon after ClickHouse is back.
    settings.wal.retry_max_ms = 1_000;
    settings.wal.ship_linger_ms = 20;
    // Tests run the jobs themselves, at the times they choose.
    settings.jobs.enabled = false;
    settings.metrics.listen = Some("127.0.0.1:0".parse().unwrap());
    settings
}

/// A running highwater on a fresh database.
pub struct TestApp {
    pub base_url: String,
    /// `GET {metrics_url}/metrics`: the unauthenticated metrics address.
    pub metrics_url: String,
    /// Where live rounds publish today's counts for `/v1/online`.
    pub board: highwater::live::board::LiveBoard,
    pub db: clickhouse::Client,
    /// The server's clock; tests move it.
    pub clock: std::sync::Arc<ManualClock>,
    pub settings: Settings,
    pub http: reqwest::Client,
    /// The write-ahead log: a 200 means "in the log", so tests that read
    /// ClickHouse wait for it to drain first.
    pub log: WalMonitor,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    serving: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// Starts highwater on the shared ClickHouse with a database for `test`.
pub async fn spawn_app(test: &str) -> TestApp {
    spawn_app_on(test, clickhouse_url()).await
}

pub async fn spawn_app_on(test: &str, url: &str) -> TestApp {
    spawn_app_with(test, url, |_| {}).await
}

/// Like [`spawn_app_on`], with the settings adjusted by `adjust` first.
pub async fn spawn_app_with(test: &str, url: &str, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let database = format!("it_{test}_{}", COUNTER.fetch_add(1, Ordering::SeqCst));
    let mut settings = test_settings(&database, url);
    adjust(&mut settings);
    let urls = servers_of(&settings);
    for url in &urls {
        let admin = clickhouse::Client::default().with_url(url);
        admin
            .query("DROP DATABASE IF EXISTS ?")
            .bind(clickhouse::sql::Identifier(&database))
            .execute()
            .await
            .unwrap();
    }
    start_on(settings, &urls).await
}

/// A second highwater on `app`'s database (a log of its own, the same
/// ClickHouse), as two instances behind one load balancer are.
pub async fn spawn_second_instance(app: &TestApp) -> TestApp {
    let mut settings = app.settings.clone();
    let wal = settings
        .wal
        .dir
        .clone()
        .unwrap()
        .with_file_name("wal-second");
    settings.wal.dir = Some(wal);
    let urls = servers_of(&settings);
    start_on(settings, &urls).await
}

/// Every server of the place `settings` name: one, each shard of a
/// cluster, or each replica of each shard.
fn servers_of(settings: &Settings) -> Vec<String> {
    let clickhouse = &settings.clickhouse;
    match &clickhouse.url {
        Some(url) => vec![url.clone()],
        None if !clickhouse.replicas.is_empty() => clickhouse.replicas.concat(),
        None => clickhouse.shard_urls.clone(),
    }
}

async fn start_on(settings: Settings, urls: &[String]) -> TestApp {
    let db = highwater::store::connect::connect_all(&settings.clickhouse, urls)
        .await
        .unwrap();
    let clock = std::sync::Arc::new(ManualClock::new(NOW_MS));
    let server = Server::bind(
        &settings,
        "127.0.0.1:0".parse().unwrap(),
        db.clone(),
        clock.clone(),
    )
    .await
    .unwrap();
    let base_url = format!("http://{}", server.local_addr());
    let metrics_url = format!("http://{}", server.metrics_addr().unwrap());
    let board = server.live_board();
    let log = server.log_monitor();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    TestApp {
        base_url,
        metrics_url,
        board,
        db,
        clock,
        settings,
        http: crate::http_client().build().unwrap(),
        log,
        stop: Some(stop),
        serving: Some(serving),
    }
}

/// How long test clients keep an idle connection for reuse. A server closes
/// a keep-alive connection that sends no request for `header_timeout_ms`
/// (hyper's header timer runs from the moment the connection goes idle); a
/// client that reuses one at that very moment gets `IncompleteMessage`.
/// Idling for less than the shortest timeout any test sets (500 ms) rules
/// that race out.
const CLIENT_IDLE: Duration = Duration::from_millis(250);

/// A client builder for the servers the tests start (see [`CLIENT_IDLE`]).
pub fn http_client() -> reqwest::ClientBuilder {
    reqwest::Client::builder().pool_idle_timeout(CLIENT_IDLE)
}

impl TestApp {
    /// `POST /v1/events` with the given key, content type and body.
    pub fn post(&self, key: &str, content_type: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}/v1/events", self.base_url))
            .bearer_auth(key)
            .header("content-type", content_type)
    }

    /// `GET path`; returns the status and the JSON body (null if not JSON).
    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.send(self.http.get(format!("{}{path}", self.base_url)))
            .await
    }

    /// `GET path` with a bearer key.
    pub async fn read(&self, key: &str, path: &str) -> (u16, serde_json::Value) {
        self.send(
            self.http
                .get(format!("{}{path}", self.base_url))
                .bearer_auth(key),
        )
        .await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    /// `POST /v1/events` of `events` (a JSON array) with `key`; they must
    /// be accepted.
    pub async fn post_accepted(&self, key: &str, events: &[serde_json::Value]) {
        let response = self
            .post(key, "application/json")
            .json(events)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }

    pub async fn post_json(&self, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.post(ALPHA_INGEST, "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Waits until everything acknowledged is in ClickHouse.
    pub async fn drained(&self) {
        assert!(
            self.log.wait_drained(Duration::from_secs(120)).await,
            "the log did not drain: {:?}",
            self.log.status(self.clock.now_ms())
        );
    }

    /// Runs the jobs for `from..=to` of `project` at the app's current time.
    pub async fn run_jobs(&self, project: &str, from: &str, to: &str) {
        self.drained().await;
        let project = self.settings.project(project).unwrap();
        let clock = self.clock.clone();
        highwater::jobs::runner::run_range(
            &self.db,
            project,
            highwater::jobs::slicing::Slicing::from(&self.settings.jobs),
            from.parse().unwrap(),
            to.parse().unwrap(),
            move || clock.now_ms(),
            |_| {},
        )
        .await
        .unwrap();
    }

    /// Every stored event, in a stable order.
    pub async fn stored(&self) -> Vec<EventRow> {
        self.drained().await;
        self.db
            .query(&format!(
                "SELECT {EVENT_COLUMNS} FROM events ORDER BY project, user_id, session_id, ts_ms, event_id"
            ))
            .fetch_all()
            .await
            .unwrap()
    }

    pub async fn stored_count(&self) -> u64 {
        self.drained().await;
        self.db
            .query("SELECT count() FROM events")
            .fetch_one()
            .await
            .unwrap()
    }

    /// Graceful shutdown; returns what the server returned.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = self.stop.take().unwrap().send(());
        self.serving.take().unwrap().await.unwrap()
    }
}

/// Sends a request that must be refused: checks the status and error code,
/// that the answer is small (it does not echo the input), that nothing was
/// stored, and that the server still answers. Returns the body.
pub async fn assert_refused(
    app: &TestApp,
    request: reqwest::RequestBuilder,
    status: u16,
    code: &str,
) -> serde_json::Value {
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), status);
    let text = response.text().await.unwrap();
    assert!(
        text.len() < 16_384,
        "the answer echoes the input: {} bytes",
        text.len()
    );
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"], code, "{body}");
    assert_eq!(app.stored_count().await, 0, "a refused request stored rows");
    assert_eq!(app.get("/healthz").await.0, 200);
    body
}

/// One valid event as JSON, with `ts` = `NOW_MS - seconds_ago`.
pub fn event_json(kind: &str, user: &str, session: &str, seconds_ago: i64) -> serde_json::Value {
    serde_json::json!({
        "type": kind,
        "user_id": user,
        "session_id": session,
        "ts": NOW_MS - seconds_ago * 1000,
    })
}
