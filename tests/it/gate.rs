//! A gate in front of ClickHouse: a TCP forwarder that, while closed, holds
//! back what highwater sends (or, with [`Gate::hold_answers`], what
//! ClickHouse answers). Tests use it to keep a query in flight for as long
//! as they need, without relying on how fast anything runs.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};

pub struct Gate {
    pub url: String,
    open: watch::Sender<bool>,
    answers_open: watch::Sender<bool>,
    /// Notified when bytes wait at the closed gate.
    held: Arc<Notify>,
}

impl Gate {
    /// Starts an open gate forwarding to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> Self {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (open, is_open) = watch::channel(true);
        let (answers_open, answers_are_open) = watch::channel(true);
        let held = Arc::new(Notify::new());
        let notify = held.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(&upstream).await.unwrap();
                let (is_open, answers_are_open) = (is_open.clone(), answers_are_open.clone());
                tokio::spawn(forward(
                    client,
                    server,
                    is_open,
                    answers_are_open,
                    notify.clone(),
                ));
            }
        });
        Self {
            url,
            open,
            answers_open,
            held,
        }
    }

    /// Lets requests through but holds ClickHouse's answers back (until
    /// [`Gate::release_answers`]): the work is done, the client never hears.
    pub fn hold_answers(&self) {
        self.answers_open.send_replace(false);
    }

    pub fn release_answers(&self) {
        self.answers_open.send_replace(true);
    }

    pub fn close(&self) {
        self.open.send_replace(false);
    }

    pub fn open(&self) {
        self.open.send_replace(true);
    }

    /// Waits until something is held at the (closed) gate.
    pub async fn holding(&self) {
        self.held.notified().await;
    }
}

async fn forward(
    client: TcpStream,
    server: TcpStream,
    mut is_open: watch::Receiver<bool>,
    mut answers_open: watch::Receiver<bool>,
    held: Arc<Notify>,
) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let answers = tokio::spawn(async move {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = match server_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if answers_open.wait_for(|open| *open).await.is_err()
                || client_write.write_all(&buffer[..n]).await.is_err()
            {
                break;
            }
        }
    });
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = match client_read.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if !*is_open.borrow() {
            held.notify_one();
            if is_open.wait_for(|open| *open).await.is_err() {
                break;
            }
        }
        if server_write.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    let _ = server_write.shutdown().await;
    let _ = answers.await;
}
