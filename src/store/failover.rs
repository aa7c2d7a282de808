//! A forwarder in front of the servers of a replicated cluster: highwater's
//! main client (inserts, jobs, reads) talks to it, and it hands each new
//! connection to the first healthy server, in the order configured (so
//! that every instance prefers the same one). Any server will do: the
//! `Distributed` tables are on each, and what readers need is replicated
//! to each.
//!
//! A server is healthy while it answers `/ping` (checked every
//! [`PROBE_EVERY`]); one that refuses a connection (killed) is passed over
//! at once, one that accepts but hangs (stopped) within a probe. A
//! connection in use when its server dies breaks, and its request fails —
//! a read answers 503, an insert is sent again from the log — and the next
//! connection goes to a healthy server. When none is healthy, connections
//! are tried on each in turn anyway.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// How often each server's `/ping` is asked.
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// A server that does not take a connection within this is passed over.
const CONNECT_WITHIN: Duration = Duration::from_secs(1);

/// The servers' health, as `/readyz` shows it.
#[derive(Debug, Clone)]
pub struct Servers {
    servers: Arc<Vec<Server>>,
}

#[derive(Debug)]
struct Server {
    url: String,
    address: String,
    healthy: AtomicBool,
}

/// A running forwarder: its URL, and the servers behind it.
#[derive(Debug, Clone)]
pub struct Failover {
    pub url: String,
    pub servers: Servers,
}

impl Servers {
    /// Each server's URL and whether it answers.
    pub fn states(&self) -> Vec<(String, bool)> {
        self.servers
            .iter()
            .map(|s| (s.url.clone(), s.healthy.load(Ordering::Relaxed)))
            .collect()
    }
}

/// Starts the forwarder over `urls` (`http://host:port` each) on a free
/// local port, until `stop`.
pub async fn start(urls: &[String], stop: CancellationToken) -> std::io::Result<Failover> {
    let servers: Vec<Server> = urls
        .iter()
        .map(|url| Server {
            url: url.clone(),
            address: url
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_owned(),
            healthy: AtomicBool::new(true),
        })
        .collect();
    let servers = Servers {
        servers: Arc::new(servers),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(probe(servers.clone(), stop.clone()));
    tokio::spawn(forward(listener, servers.clone(), stop));
    Ok(Failover { url, servers })
}

/// Keeps every server's health up to date.
async fn probe(servers: Servers, stop: CancellationToken) {
    let http = reqwest::Client::new();
    loop {
        for server in servers.servers.iter() {
            let ping = http
                .get(format!("{}/ping", server.url))
                .timeout(PROBE_EVERY)
                .send()
                .await;
            let healthy = ping.is_ok_and(|r| r.status().is_success());
            if server.healthy.swap(healthy, Ordering::Relaxed) != healthy {
                tracing::warn!(server = %server.url, healthy, "ClickHouse server health changed");
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(PROBE_EVERY) => {}
        }
    }
}

async fn forward(listener: TcpListener, servers: Servers, stop: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((mut client, _)) = accepted else {
            continue;
        };
        let servers = servers.clone();
        tokio::spawn(async move {
            if let Some(mut server) = connect(&servers).await {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            }
        });
    }
}

/// A connection to the first healthy server that takes one; else to the
/// first of the others that does.
async fn connect(servers: &Servers) -> Option<TcpStream> {
    let healthy_first = servers
        .servers
        .iter()
        .filter(|s| s.healthy.load(Ordering::Relaxed))
        .chain(
            servers
                .servers
                .iter()
                .filter(|s| !s.healthy.load(Ordering::Relaxed)),
        );
    for server in healthy_first {
        match tokio::time::timeout(CONNECT_WITHIN, TcpStream::connect(&server.address)).await {
            Ok(Ok(stream)) => return Some(stream),
            _ => server.healthy.store(false, Ordering::Relaxed),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server that answers `/ping` (any request) with `name`.
    async fn server(name: &'static str) -> (String, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut request = [0u8; 1024];
                let _ = stream.read(&mut request).await;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{name}",
                    name.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            }
        });
        (url, task)
    }

    async fn ask(url: &str) -> String {
        reqwest::get(format!("{url}/ping"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn connections_go_to_the_first_server_that_answers() {
        let (first, first_task) = server("first").await;
        let (second, _second_task) = server("second").await;
        let stop = CancellationToken::new();
        let failover = start(&[first, second], stop.clone()).await.unwrap();
        assert_eq!(ask(&failover.url).await, "first");
        // The first dies: the next connection goes to the second at once.
        first_task.abort();
        let _ = first_task.await;
        assert_eq!(ask(&failover.url).await, "second");
        let states = failover.servers.states();
        assert_eq!(
            states.iter().map(|s| s.1).collect::<Vec<_>>(),
            [false, true]
        );
        stop.cancel();
    }
}
