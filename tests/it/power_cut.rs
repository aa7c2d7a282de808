//! Power cuts of the write-ahead log's disk under load: `serve` is killed
//! (`kill -9`) and the disk then forgets everything not made durable
//! ([`StrictFs`]), again and again. Every acknowledged event must reach
//! ClickHouse, the figures must equal the independent answers, and each
//! cut may ship again only about `checkpoint_sync_ms` worth of inserts —
//! not the whole log. (ClickHouse's own disk is not cut: replicas cover
//! that.) Skipped, saying so, where FUSE cannot be mounted.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};

use crate::crash::{
    Clients, DAY_START_MS, KillableServer, all_ids, expected_peak_and_dau, figures,
};
use crate::scratch_dir;
use crate::strict_fs::StrictFs;

const CUTS: usize = 10;
const CLIENTS: usize = 2;
const CHECKPOINT_SYNC_MS: u64 = 1_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn power_cuts_lose_nothing_acknowledged_and_ship_little_twice() {
    let dir = scratch_dir("power-cut");
    let mounted = match StrictFs::mount(&dir.join("disk")) {
        Ok(mounted) => mounted,
        Err(e) => {
            println!(
                "SKIPPED: power cuts need a FUSE filesystem, and none can be mounted here ({e})"
            );
            return;
        }
    };
    let seed: u64 = rand::random();
    println!("power-cut test: {CUTS} cuts, seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let setup = KillableServer::prepare(
        &dir,
        "it_power_cut",
        &dir.join("disk/wal"),
        // ClickHouse's disk is not cut here: what it holds stays, and the
        // tail kept for it (`keep_shipped_s`) would only add copies.
        &format!("checkpoint_sync_ms = {CHECKPOINT_SYNC_MS}\nkeep_shipped_s = 0"),
        "",
    )
    .await;
    let (db, listen) = (setup.db.clone(), setup.listen.clone());
    let mut server = setup.start().await;

    let started = Instant::now();
    let clients = Clients::start(CLIENTS, &listen);
    let mut lost_volatile = 0;
    for cut in 0..CUTS {
        tokio::time::sleep(Duration::from_millis(rng.random_range(1_000..3_000))).await;
        KillableServer::kill(&mut server).await;
        lost_volatile += mounted.fs.cut();
        println!("restarting after cut {cut}");
        server = setup.start().await;
    }
    let posting = started.elapsed();
    let (batches, stored) = clients.stop_with(&mut server, &listen, &db).await;
    let distinct: BTreeSet<String> = stored.iter().cloned().collect();
    let copies = stored.len() - distinct.len();
    let events = all_ids(batches).len();
    // Per cut: the inserts of about one checkpoint interval (plus the time
    // the restart took, whose backlog ships at once), and the batches the
    // clients sent again because the kill took their 200.
    let per_second = events as f64 / posting.as_secs_f64();
    let interval_s = CHECKPOINT_SYNC_MS as f64 / 1000.0;
    let bound = CUTS as f64 * (per_second * (interval_s + 1.0) + (CLIENTS * 10) as f64);
    println!(
        "{batches} batches ({events} events, {per_second:.0}/s) acknowledged across {CUTS} \
         power cuts ({lost_volatile} volatile bytes lost); {} rows stored, {} distinct, \
         {copies} copies (bound {bound:.0})",
        stored.len(),
        distinct.len(),
    );
    assert!(batches > CUTS * 20, "too little traffic to mean anything");
    assert_eq!(
        distinct,
        all_ids(batches),
        "acknowledged events are missing"
    );
    assert!(
        (copies as f64) <= bound,
        "{copies} copies after {CUTS} cuts: more than {bound:.0}, about what \
         checkpoint_sync_ms = {CHECKPOINT_SYNC_MS} allows"
    );

    let figures = figures(&db).await;
    let march_25 = figures
        .iter()
        .find(|d| d.day_start == (DAY_START_MS / 1000) as u32)
        .expect("figures for 2020-03-25");
    assert_eq!(
        (march_25.peak_users, march_25.dau),
        expected_peak_and_dau(batches),
        "against a sweep independent of the jobs"
    );
}
