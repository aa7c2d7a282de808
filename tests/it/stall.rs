//! Clients that hold connections open cannot stall ingest: bodies are
//! charged as they arrive (never from `Content-Length`), senders slower
//! than the minimum pace are cut off, and bodies without a key (PostHog's)
//! hold at most a share per client address. Against a `serve` process of
//! its own, whose memory is measured.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use highwater::bench::server_process::stop_server;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

use crate::crash::{KillableServer, batch};
use crate::{ALPHA_INGEST, scratch_dir};

/// Opens a connection from `from` to `server`.
async fn connect_from(from: IpAddr, server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(server).await
}

/// Keeps `connections` open from each of `addresses`, each announcing an
/// 8 MiB body after `head` and then sending `body_bytes` of it (and
/// nothing more); reopens those the server closes, until `stop`. Returns
/// how many connections were opened in all.
async fn stall(
    server: SocketAddr,
    addresses: Vec<IpAddr>,
    connections: usize,
    head: String,
    body_bytes: usize,
    stop: Arc<AtomicBool>,
) -> usize {
    let opened = Arc::new(AtomicUsize::new(0));
    let mut holders = Vec::new();
    for from in addresses {
        for _ in 0..connections {
            let (head, stop, opened) = (head.clone(), stop.clone(), opened.clone());
            holders.push(tokio::spawn(async move {
                let chunk = vec![b'['; body_bytes];
                while !stop.load(Ordering::SeqCst) {
                    let Ok(mut stream) = connect_from(from, server).await else {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    };
                    opened.fetch_add(1, Ordering::SeqCst);
                    let sent = stream.write_all(head.as_bytes()).await.is_ok()
                        && stream.write_all(&chunk).await.is_ok();
                    // Hold it until the server gives up on it.
                    let mut byte = [0u8; 1];
                    while sent && !stop.load(Ordering::SeqCst) {
                        let peek = stream.peek(&mut byte);
                        if tokio::time::timeout(Duration::from_millis(100), peek)
                            .await
                            .is_ok()
                        {
                            break;
                        }
                    }
                }
            }));
        }
    }
    for holder in holders {
        holder.await.unwrap();
    }
    opened.load(Ordering::SeqCst)
}

fn head(path: &str, key_header: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\n{key_header}Content-Type: application/json\r\n\
         Content-Length: 8388608\r\n\r\n"
    )
}

/// Peak resident memory of process `pid`, in bytes (`VmHWM`).
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn held_connections_without_a_key_cannot_stall_ingest() {
    let dir = scratch_dir("stall");
    let setup = KillableServer::prepare(
        &dir,
        "it_stall",
        &dir.join("wal"),
        "",
        // Short, so that the test sees bodies cut off by the timeout too.
        "body_timeout_ms = 4000",
    )
    .await;
    let mut server = setup.start().await;
    let pid = server.id().unwrap();
    let listen: SocketAddr = setup.listen.parse().unwrap();
    let keyed_from: IpAddr = [127, 0, 0, 200].into();

    // Each phase: the stallers hold on for 4 s while a keyed client from
    // another address posts a batch every 50 ms; every one must get 200.
    let one = vec![IpAddr::from([127, 0, 0, 2])];
    let many: Vec<IpAddr> = (1..=32).map(|i| IpAddr::from([127, 0, 1, i])).collect();
    let bearer = format!("Authorization: Bearer {ALPHA_INGEST}\r\n");
    let phases = [
        (
            "64 PostHog bodies announced, none sent, from one address",
            one.clone(),
            64,
            head("/batch", ""),
            0,
        ),
        (
            "64 PostHog bodies announced, none sent, from 32 addresses",
            many.clone(),
            2,
            head("/batch", ""),
            0,
        ),
        (
            "64 keyed bodies announced, none sent, from one address",
            one.clone(),
            64,
            head("/v1/events", &bearer),
            0,
        ),
        (
            "16 PostHog bodies of 4 MiB sent but never finished, from one address",
            one.clone(),
            16,
            head("/batch", ""),
            4 << 20,
        ),
        (
            "64 PostHog bodies of 1 MiB sent but never finished, from 32 addresses",
            many.clone(),
            2,
            head("/batch", ""),
            1 << 20,
        ),
    ];
    let http = crate::http_client()
        .local_address(keyed_from)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut next_batch = 0;
    for (phase, addresses, connections, head, body_bytes) in phases {
        let stop = Arc::new(AtomicBool::new(false));
        let stallers = tokio::spawn(stall(
            listen,
            addresses,
            connections,
            head,
            body_bytes,
            stop.clone(),
        ));
        // Let them connect first.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let started = Instant::now();
        let mut posted = 0;
        while started.elapsed() < Duration::from_secs(4) {
            let response = http
                .post(format!("http://{listen}/v1/events"))
                .bearer_auth(ALPHA_INGEST)
                .header("content-type", "application/json")
                .body(batch(next_batch).to_string())
                .send()
                .await
                .unwrap();
            let status = response.status();
            assert_eq!(status, 200, "{phase}: {}", response.text().await.unwrap());
            next_batch += 1;
            posted += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop.store(true, Ordering::SeqCst);
        let opened = stallers.await.unwrap();
        println!(
            "{phase}: {opened} connections opened; {posted} keyed batches, every one 200; peak RSS so far {} MiB",
            peak_rss(pid) >> 20
        );
        assert!(opened >= 64, "{phase}: only {opened} connections");
    }
    let peak = peak_rss(pid);
    println!("peak RSS of the server: {} MiB", peak >> 20);
    assert!(peak < 400 << 20, "peak RSS {} MiB", peak >> 20);
    stop_server(&mut server).await;
}
