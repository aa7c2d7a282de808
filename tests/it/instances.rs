//! Several `serve` processes on one database act as one: one leader runs
//! the full rounds and sends the alerts (each episode once), a dashboard
//! login on one instance is valid on the others and after restarts, and
//! when the leader dies another takes over within `lease_s`. Also with
//! one `ingest` and one `jobs` instance.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use highwater::bench::server_process::{free_addr, spawn_server_from, stop_server};
use serde_json::{Value, json};

use crate::{ALPHA_INGEST, ALPHA_READ, clickhouse_url, scratch_dir};

const SECRET: &str = "webhook-secret-0123456789abcdef";
// Short, for a quick hand-over; long enough that heartbeats queued behind
// other tests' queries (the current lane's engine answers one at a time)
// do not make the leader look dead.
const LEASE_S: u64 = 6;
const SCRAPE_KEY: &str = "scrape-key-0123456789abcdef";

/// A webhook receiver: the bodies of the calls it got.
async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let calls: Arc<Mutex<Vec<Value>>> = Arc::default();
    let kept = calls.clone();
    let router = Router::new().route(
        "/hook",
        post(move |body: String| async move {
            kept.lock()
                .unwrap()
                .push(serde_json::from_str(&body).unwrap());
            "ok"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, calls)
}

/// One `serve` process of the group.
struct Instance {
    listen: String,
    config: std::path::PathBuf,
    process: Option<tokio::process::Child>,
}

/// The `[clickhouse]` section of the instances: the run's server, or its
/// replicated cluster.
fn clickhouse_section(replicated: bool, database: &str) -> String {
    match replicated {
        false => format!(
            "[clickhouse]\nurl = \"{}\"\ndatabase = \"{database}\"\n",
            clickhouse_url()
        ),
        true => {
            let shards: Vec<String> = crate::replicated_cluster_urls()
                .iter()
                .map(|shard| {
                    format!(
                        "[{}]",
                        shard
                            .iter()
                            .map(|u| format!("\"{u}\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
                .collect();
            format!(
                "[clickhouse]\ncluster = \"{}\"\nreplicated = true\nreplicas = [{}]\ndatabase = \"{database}\"\n",
                highwater::store::local_server::EMBEDDED_CLUSTER,
                shards.join(", ")
            )
        }
    }
}

impl Instance {
    /// Instance `id` with `role` on `clickhouse` (a `[clickhouse]`
    /// section); alerts go to `hook`.
    fn configure(test: &str, id: &str, role: &str, clickhouse: &str, hook: &str) -> Self {
        let dir = scratch_dir(&format!("{test}-{id}"));
        let listen = free_addr().unwrap();
        let config = dir.join("highwater.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"{listen}\"\n\
                 [server]\nrole = \"{role}\"\ninstance = \"{id}\"\nlease_s = {LEASE_S}\n\
                 {clickhouse}\
                 [wal]\ndir = \"{}\"\nship_linger_ms = 20\n\
                 [jobs]\ninterval_s = 1\nlive_interval_s = 0\nalert_check_s = 1\n\
                 [metrics]\nscrape_key = \"{SCRAPE_KEY}\"\n\
                 [[alert]]\nname = \"busy\"\nkind = \"online_above\"\nthreshold = 0\n\
                 url = \"{hook}\"\nsecret = \"{SECRET}\"\nretries = 0\n\
                 [[project]]\nname = \"alpha\"\n\
                 ingest_keys = [\"{ALPHA_INGEST}\"]\nread_keys = [\"{ALPHA_READ}\"]\n",
                dir.join("wal").display()
            ),
        )
        .unwrap();
        Self {
            listen,
            config,
            process: None,
        }
    }

    async fn start(&mut self) {
        let exe = std::path::Path::new(env!("CARGO_BIN_EXE_highwater"));
        let process = spawn_server_from(exe, &self.config, &self.listen, &[])
            .await
            .unwrap_or_else(|e| panic!("highwater serve did not start: {e:#}"));
        self.process = Some(process);
    }

    async fn stop(&mut self) {
        stop_server(self.process.as_mut().unwrap()).await;
        self.process = None;
    }

    async fn kill(&mut self) {
        let process = self.process.as_mut().unwrap();
        process.start_kill().unwrap();
        process.wait().await.unwrap();
        self.process = None;
    }

    async fn ready(&self) -> Value {
        reqwest::get(format!("http://{}/readyz", self.listen))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn leads(&self) -> bool {
        self.ready().await["instance"]["leads"] == true
    }

    /// Full rounds this instance ran (its `/metrics`).
    async fn full_rounds(&self) -> f64 {
        let text = crate::http_client()
            .build()
            .unwrap()
            .get(format!("http://{}/metrics", self.listen))
            .bearer_auth(SCRAPE_KEY)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|l| {
                l.contains("job_round_duration_seconds_count") && l.contains("round=\"full\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// Logs in with the read key; returns the session cookie.
    async fn log_in(&self) -> String {
        let response = crate::http_client()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(format!("http://{}/dashboards/login", self.listen))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("key={ALPHA_READ}&next=overview"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        let cookie = response.headers()["set-cookie"].to_str().unwrap();
        cookie.split(';').next().unwrap().to_owned()
    }

    /// The status of the overview page with `cookie`.
    async fn page(&self, cookie: &str) -> u16 {
        crate::http_client()
            .build()
            .unwrap()
            .get(format!("http://{}/dashboards/overview", self.listen))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// One user online now.
    async fn post_online_user(&self) {
        let now = chrono::Utc::now().timestamp_millis();
        let events =
            json!([{"type": "session_start", "user_id": "u1", "session_id": "s1", "ts": now}]);
        let response = crate::http_client()
            .build()
            .unwrap()
            .post(format!("http://{}/v1/events", self.listen))
            .bearer_auth(ALPHA_INGEST)
            .json(&events)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
}

/// Waits until `check` holds, for at most `within`.
async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < within, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Drops `database` on every server of the place.
async fn drop_database(replicated: bool, database: &str) {
    let urls = match replicated {
        false => vec![clickhouse_url().to_owned()],
        true => crate::replicated_cluster_urls().concat(),
    };
    for url in urls {
        clickhouse::Client::default()
            .with_url(url)
            .query("DROP DATABASE IF EXISTS ?")
            .bind(clickhouse::sql::Identifier(database))
            .execute()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_lead_once_alert_once_share_logins_and_hand_over() {
    two_instances_act_as_one(false, "it_two_instances").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_two_shards_with_replicas_two_instances_act_as_one() {
    two_instances_act_as_one(true, "it_two_instances_replicated").await;
}

async fn two_instances_act_as_one(replicated: bool, database: &str) {
    drop_database(replicated, database).await;
    let clickhouse = clickhouse_section(replicated, database);
    let test = database.trim_start_matches("it_");
    let (hook, calls) = receiver().await;
    let mut a = Instance::configure(test, "a", "all", &clickhouse, &hook);
    let mut b = Instance::configure(test, "b", "all", &clickhouse, &hook);
    a.start().await;
    b.start().await;
    // The lowest id leads; only the leader runs full rounds.
    eventually(Duration::from_secs(30), "a leads", || a.leads()).await;
    assert!(!b.leads().await);
    a.post_online_user().await;
    eventually(Duration::from_secs(30), "the alert", || async {
        !calls.lock().unwrap().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(a.full_rounds().await > 0.0);
    assert_eq!(b.full_rounds().await, 0.0, "full rounds on the follower");

    // A login on one instance is valid on the other, and after both restart.
    let cookie = a.log_in().await;
    assert_eq!(b.page(&cookie).await, 200);
    a.stop().await;
    b.stop().await;
    b.start().await;
    a.start().await;
    assert_eq!(a.page(&cookie).await, 200);
    assert_eq!(b.page(&cookie).await, 200);

    // The leader dies: the other leads within the lease, and runs the
    // rounds; the episode, still open, is not sent again.
    eventually(Duration::from_secs(30), "a leads again", || a.leads()).await;
    let killed = Instant::now();
    a.kill().await;
    // Within the lease (and a beat of b's, to notice, and a second for a
    // loaded machine).
    eventually(Duration::from_secs(LEASE_S + 3), "b takes over", || {
        b.leads()
    })
    .await;
    println!("b leads {:?} after a died", killed.elapsed());
    let rounds = b.full_rounds().await;
    eventually(Duration::from_secs(30), "b runs full rounds", || async {
        b.full_rounds().await > rounds
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let received = calls.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0]["kind"], "online_above");
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ingest_instance_and_a_jobs_instance_split_the_work() {
    let database = "it_ingest_and_jobs";
    drop_database(false, database).await;
    let clickhouse = clickhouse_section(false, database);
    let (hook, calls) = receiver().await;
    // "a" would lead if it could: an ingest instance never does.
    let mut ingest = Instance::configure("roles", "a", "ingest", &clickhouse, &hook);
    let mut jobs = Instance::configure("roles", "b", "jobs", &clickhouse, &hook);
    ingest.start().await;
    jobs.start().await;
    eventually(Duration::from_secs(30), "the jobs instance leads", || {
        jobs.leads()
    })
    .await;
    assert!(!ingest.leads().await);
    ingest.post_online_user().await;
    eventually(Duration::from_secs(30), "the alert", || async {
        !calls.lock().unwrap().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(calls.lock().unwrap().len(), 1);
    assert!(jobs.full_rounds().await > 0.0);
    assert_eq!(ingest.full_rounds().await, 0.0);
    let cookie = ingest.log_in().await;
    assert_eq!(jobs.page(&cookie).await, 200);
    ingest.stop().await;
    jobs.stop().await;
}
