//! SIGTERM stops `highwater serve` within `wal.shutdown_drain_s`, even while
//! ClickHouse is down and the log holds a backlog the shipper keeps
//! retrying; the backlog ships at the next start.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use highwater::bench::server_process::{free_addr, spawn_server_from, wait_shipped};
use highwater::config::ClickHouseSettings;
use serde_json::{Value, json};

use crate::lane::TestClickHouse;
use crate::{ALPHA_INGEST, ALPHA_READ, NOW_MS, scratch_dir};

/// The drain this test configures: short, so the test is quick; the bound
/// is the same whatever the value.
const DRAIN_S: u64 = 3;
/// Slack for the process to exit once its drain is over.
const EXIT_SLACK: Duration = Duration::from_secs(2);

fn write_config(path: &Path, listen: &str, url: &str, database: &str, wal: &Path) {
    std::fs::write(
        path,
        format!(
            "listen = \"{listen}\"\n\
             [clickhouse]\nurl = \"{url}\"\ndatabase = \"{database}\"\n\
             [wal]\ndir = \"{}\"\nretry_max_ms = 500\nship_linger_ms = 20\nshutdown_drain_s = {DRAIN_S}\n\
             [jobs]\nenabled = true\ninterval_s = 1\n\
             [[project]]\nname = \"alpha\"\nbackfill = true\n\
             ingest_keys = [\"{ALPHA_INGEST}\"]\nread_keys = [\"{ALPHA_READ}\"]\n",
            wal.display()
        ),
    )
    .unwrap();
}

async fn sigterm_and_time_the_exit(server: &mut tokio::process::Child) -> Duration {
    let pid = server.id().expect("running") as libc::pid_t;
    let sent = Instant::now();
    // SAFETY: plain syscall on our own child.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let waited = tokio::time::timeout(Duration::from_secs(60), server.wait()).await;
    let status = waited
        .expect("serve still running 60 s after SIGTERM")
        .unwrap();
    assert!(status.success(), "serve exited with {status}");
    sent.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_serve_within_the_drain_time_while_clickhouse_is_down() {
    let dir = scratch_dir("sigterm");
    let mut clickhouse = TestClickHouse::start(&dir).await;
    let url = clickhouse.url();
    let database = "it_sigterm";
    let listen = free_addr().unwrap();
    let config = dir.join("highwater.toml");
    write_config(&config, &listen, &url, database, &dir.join("wal"));
    let exe = Path::new(env!("CARGO_BIN_EXE_highwater"));
    let mut server = spawn_server_from(exe, &config, &listen, &[]).await.unwrap();

    clickhouse.kill().await;
    let events: Vec<Value> = (0..20)
        .map(|i| {
            json!({"type": "heartbeat", "user_id": format!("U{i}"), "session_id": "S",
                   "ts": NOW_MS, "event_id": format!("e{i}")})
        })
        .collect();
    let http = crate::http_client().build().unwrap();
    let response = http
        .post(format!("http://{listen}/v1/events"))
        .bearer_auth(ALPHA_INGEST)
        .json(&events)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "acknowledged into the log");
    // Let the shipper fail and retry a few times, and a job round fail.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ready: Value = http
        .get(format!("http://{listen}/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        ready["log"]["backlog_bytes"].as_u64().unwrap() > 0,
        "{ready}"
    );

    let took = sigterm_and_time_the_exit(&mut server).await;
    println!("serve exited {took:?} after SIGTERM (drain {DRAIN_S} s, ClickHouse down)");
    assert!(
        took <= Duration::from_secs(DRAIN_S) + EXIT_SLACK,
        "serve took {took:?} to stop; the drain is {DRAIN_S} s"
    );

    // The next start ships what the log kept.
    clickhouse.restart().await;
    let mut server = spawn_server_from(exe, &config, &listen, &[]).await.unwrap();
    wait_shipped(&listen, Duration::from_secs(30))
        .await
        .unwrap();
    let settings = ClickHouseSettings {
        url: Some(url.clone()),
        database: database.to_owned(),
        ..ClickHouseSettings::default()
    };
    let db = highwater::store::connect(&settings, &url).await.unwrap();
    let stored: BTreeSet<String> = db
        .query("SELECT DISTINCT event_id FROM events")
        .fetch_all()
        .await
        .unwrap()
        .into_iter()
        .collect();
    let sent: BTreeSet<String> = (0..20).map(|i| format!("e{i}")).collect();
    assert_eq!(stored, sent);
    // With nothing to wait for, the stop is prompt too.
    assert!(
        sigterm_and_time_the_exit(&mut server).await <= Duration::from_secs(DRAIN_S) + EXIT_SLACK
    );
}
