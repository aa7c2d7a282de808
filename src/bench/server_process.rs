//! A `highwater serve` of its own for a benchmark: started as a separate
//! process (so its CPU and memory are its own), ready when `/readyz` is.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};

/// Starts `highwater serve --config CONFIG` (this same binary) and waits
/// until it answers on `listen`.
pub async fn spawn_server(
    config: &std::path::Path,
    listen: &str,
) -> anyhow::Result<tokio::process::Child> {
    spawn_server_from(&std::env::current_exe()?, config, listen, &[]).await
}

/// [`spawn_server`] with the `highwater` binary at `exe` (tests).
pub async fn spawn_server_from(
    exe: &std::path::Path,
    config: &std::path::Path,
    listen: &str,
    extra_args: &[String],
) -> anyhow::Result<tokio::process::Child> {
    let mut server = tokio::process::Command::new(exe)
        .arg("serve")
        .arg("--config")
        .arg(config)
        .args(extra_args)
        .env("RUST_LOG", "highwater=warn")
        .kill_on_drop(true)
        .spawn()
        .context("cannot start highwater serve")?;
    let http = reqwest::Client::new();
    // Ready once migrated: on a replicated cluster every server's DDL goes
    // through ZooKeeper, which a loaded machine can take half a minute for.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(r) = http.get(format!("http://{listen}/readyz")).send().await
            && r.status().is_success()
        {
            return Ok(server);
        }
        if let Some(status) = server.try_wait()? {
            anyhow::bail!("highwater serve exited: {status}");
        }
        ensure!(
            Instant::now() < deadline,
            "highwater serve did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the server's write-ahead log has shipped everything it
/// acknowledged to ClickHouse (its `/readyz` backlog is zero).
pub async fn wait_shipped(listen: &str, timeout: Duration) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + timeout;
    loop {
        let ready: serde_json::Value = http
            .get(format!("http://{listen}/readyz"))
            .send()
            .await?
            .json()
            .await?;
        if ready["log"]["backlog_bytes"] == 0 {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "the log still holds {} unshipped bytes after {timeout:?}",
            ready["log"]["backlog_bytes"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// SIGTERM, then wait for the graceful drain (at most 30 s).
pub async fn stop_server(server: &mut tokio::process::Child) {
    if let Some(pid) = server.id() {
        // SAFETY: plain syscall on our own child.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    }
    let _ = tokio::time::timeout(Duration::from_secs(30), server.wait()).await;
}

/// A free local address to listen on.
pub fn free_addr() -> anyhow::Result<String> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .to_string())
}
