//! A log left by an earlier run is shipped at start-up: whole records reach
//! ClickHouse, a record ClickHouse refuses goes to the dead-letter file with
//! its reason (and is counted), a record torn by a crash is dropped, a
//! damaged record and what follows it are kept as a dead letter.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use highwater::domain::batch::{BodyFormat, parse_batch};
use highwater::domain::validate::AcceptWindow;
use highwater::store::row_binary::encode_event;
use highwater::wal::files::create_segment;
use highwater::wal::record::Record;
use serde_json::{Value, json};

use crate::{ALPHA_READ, NOW_MS, clickhouse_url, event_json, scratch_dir, spawn_app_with};

/// RowBinary rows of `n` heartbeats of project alpha, event ids `{tag}-{i}`.
fn rows(tag: &str, n: usize) -> Vec<u8> {
    let events: Vec<Value> = (0..n)
        .map(|i| {
            let mut e = event_json("heartbeat", "U1", tag, 1);
            e["event_id"] = json!(format!("{tag}-{i}"));
            e
        })
        .collect();
    let body = json!(events).to_string();
    let window = AcceptWindow {
        now_ms: NOW_MS,
        max_ahead_ms: 0,
        max_age_ms: None,
    };
    let parsed = parse_batch(body.as_bytes(), BodyFormat::JsonArray, &window, n).unwrap();
    let mut out = Vec::new();
    for event in &parsed {
        encode_event(&mut out, "alpha", NOW_MS, event);
    }
    out
}

fn framed(rows: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Record {
        rows,
        received_ms: NOW_MS,
        payload,
    }
    .encode_into(&mut out);
    out
}

fn write_segment(dir: &Path, id: u64, records: &[Vec<u8>]) {
    let mut file = create_segment(dir, id).unwrap();
    for record in records {
        file.write_all(record).unwrap();
    }
}

#[tokio::test]
async fn an_inherited_log_ships_dead_letters_refused_rows_and_drops_a_torn_tail() {
    let dir = scratch_dir("inherited-log").join("wal");
    std::fs::create_dir_all(&dir).unwrap();
    // A row cut short: ClickHouse cannot read it, however often it is sent.
    let good = rows("good", 3);
    let cut = &rows("cut", 1)[..20];
    write_segment(
        &dir,
        1,
        &[
            framed(3, &good),
            framed(1, cut),
            framed(2, &rows("after", 2)),
        ],
    );
    // The last record of segment 2 was being written when the process died.
    let torn = framed(4, &rows("torn", 4));
    write_segment(
        &dir,
        2,
        &[
            framed(1, &rows("second", 1)),
            torn[..torn.len() / 2].to_vec(),
        ],
    );

    // A flipped bit in segment 3: the checksum catches it, and the rest of
    // that segment, unreadable from there on, is kept as a dead letter.
    let mut damaged = framed(1, &rows("damaged", 1));
    let last = damaged.len() - 1;
    damaged[last] ^= 0x10;
    write_segment(&dir, 3, &[damaged, framed(1, &rows("behind", 1))]);

    let app = spawn_app_with("inherited_log", clickhouse_url(), |settings| {
        settings.wal.dir = Some(dir.clone());
        // Shipped segments are deleted at once here: what is checked below
        // is that they go, not how long they are kept (`keep_shipped_s`).
        settings.wal.keep_shipped_s = 0;
    })
    .await;
    app.drained().await;
    let ids: Vec<String> = app
        .db
        .query("SELECT event_id FROM events ORDER BY event_id")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(
        ids,
        [
            "after-0", "after-1", "good-0", "good-1", "good-2", "second-0"
        ]
    );

    let dead: Vec<Value> = std::fs::read_to_string(dir.join("dead-letter.ndjson"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(dead.len(), 2, "{dead:?}");
    let damage = dead[1]["reason"].as_str().unwrap();
    assert!(
        damage.contains("checksum mismatch") && damage.contains("segment 3"),
        "{damage}"
    );
    assert_eq!(dead[0]["rows"], 1);
    let reason = dead[0]["reason"].as_str().unwrap();
    assert!(reason.contains("Code: 33"), "{reason}");
    let kept = base64::engine::general_purpose::STANDARD
        .decode(dead[0]["row_binary_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(kept, cut);

    let (_, ready) = app.get("/readyz").await;
    assert_eq!(ready["log"]["dead_letter_records"], 2);
    assert_eq!(ready["log"]["shipped_rows"], 6);
    assert_eq!(ready["log"]["backlog_bytes"], 0);
    // Shipped segments are gone; only the one this run appends to is left.
    let segments = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension() == Some("wal".as_ref()))
        .count();
    assert_eq!(segments, 1);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_second_server_on_the_same_log_is_refused() {
    let first = spawn_app_with("log_lock", clickhouse_url(), |_| {}).await;
    let mut settings = first.settings.clone();
    settings.clickhouse.database = format!("{}_second", settings.clickhouse.database);
    let db = highwater::store::connect(&settings.clickhouse, clickhouse_url())
        .await
        .unwrap();
    let clock = std::sync::Arc::new(highwater::clock::ManualClock::new(NOW_MS));
    let second =
        highwater::startup::Server::bind(&settings, "127.0.0.1:0".parse().unwrap(), db, clock)
            .await;
    let message = format!("{:#}", second.err().expect("a second server started"));
    assert!(
        message.contains("another highwater is using the log"),
        "{message}"
    );
    first.stop().await.unwrap();
}

/// Event ids stored so far, sorted.
async fn stored_ids(app: &crate::TestApp) -> Vec<String> {
    app.db
        .query("SELECT DISTINCT event_id FROM events ORDER BY event_id")
        .fetch_all()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_dead_letter_that_cannot_be_written_keeps_its_rows_in_the_log() {
    let dir = scratch_dir("dead-letter-blocked").join("wal");
    std::fs::create_dir_all(&dir).unwrap();
    let cut = &rows("cut", 1)[..20];
    write_segment(
        &dir,
        1,
        &[
            framed(3, &rows("good", 3)),
            framed(1, cut),
            framed(2, &rows("after", 2)),
        ],
    );
    // Where the dead-letter file should go stands a directory: every write fails.
    let obstacle = dir.join("dead-letter.ndjson");
    std::fs::create_dir(&obstacle).unwrap();
    let app = spawn_app_with("dead_letter_blocked", clickhouse_url(), |settings| {
        settings.wal.dir = Some(dir.clone());
    })
    .await;
    let started = std::time::Instant::now();
    let ready = loop {
        let (_, ready) = app.read(ALPHA_READ, "/readyz").await;
        if ready["log"]["clickhouse_error"]
            .as_str()
            .is_some_and(|e| e.contains("dead-letter"))
        {
            break ready;
        }
        assert!(started.elapsed().as_secs() < 30, "{ready}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    // The refused row is neither in ClickHouse nor on disk: the log keeps it.
    assert!(
        ready["log"]["backlog_bytes"].as_u64().unwrap() > 0,
        "{ready}"
    );
    assert_eq!(ready["log"]["dead_letter_records"], 0);
    assert!(
        !stored_ids(&app)
            .await
            .iter()
            .any(|id| id.starts_with("after"))
    );

    std::fs::remove_dir(&obstacle).unwrap();
    app.drained().await;
    assert_eq!(
        stored_ids(&app).await,
        ["after-0", "after-1", "good-0", "good-1", "good-2"]
    );
    let dead = std::fs::read_to_string(&obstacle).unwrap();
    assert_eq!(dead.lines().count(), 1);
    assert!(dead.contains("Code: 33"), "{dead}");
    let (_, ready) = app.get("/readyz").await;
    assert_eq!(ready["log"]["dead_letter_records"], 1);
    assert_eq!(ready["log"]["dead_letter_bytes"], dead.len());
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_damaged_checkpoint_ships_the_log_again_instead_of_refusing_to_start() {
    let dir = scratch_dir("damaged-checkpoint").join("wal");
    std::fs::create_dir_all(&dir).unwrap();
    write_segment(&dir, 1, &[framed(3, &rows("kept", 3))]);
    // A power loss left the checkpoint half written.
    std::fs::write(dir.join("shipped"), b"1 ").unwrap();
    let app = spawn_app_with("damaged_checkpoint", clickhouse_url(), |settings| {
        settings.wal.dir = Some(dir.clone());
    })
    .await;
    app.drained().await;
    assert_eq!(stored_ids(&app).await, ["kept-0", "kept-1", "kept-2"]);
    app.stop().await.unwrap();
}
