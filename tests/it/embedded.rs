//! The embedded default: a second highwater command on the same data
//! directory shares the running server instead of fighting over it, and the
//! demo, which runs on it, stops cleanly on Ctrl-C.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use highwater::bench::server_process::free_addr;
use highwater::config::Settings;
use highwater::startup::Storage;
use highwater::store::local_server::LocalClickHouse;

use crate::scratch_dir;

#[tokio::test]
async fn a_second_command_shares_the_running_embedded_server() {
    let data_dir = scratch_dir("shared-embedded");
    let owner = LocalClickHouse::start(&data_dir).await.unwrap();
    let settings = Settings {
        data_dir: data_dir.clone(),
        ..Settings::default()
    };
    let shared = Storage::open(&settings).await.unwrap();
    assert_eq!(shared.url, owner.url());
    assert!(
        !shared.owns_servers(),
        "the second command must not own the server"
    );
    shared.close().await;
    // Closing the sharer leaves the owner's server running.
    let ping = reqwest::get(format!("{}/ping", owner.url())).await.unwrap();
    assert!(ping.status().is_success());

    owner.stop().await;
    assert!(LocalClickHouse::advertised_url(&data_dir).is_none());
}

/// Ctrl-C while the demo posts its month stops the server, and the demo
/// with it: it says it was interrupted (rather than blaming the project's
/// settings for posts that could no longer connect) and stops the
/// embedded ClickHouse it started.
#[tokio::test]
async fn ctrl_c_during_the_demo_stops_it_and_says_so() {
    let data_dir = scratch_dir("demo-ctrl-c");
    let listen = free_addr().unwrap();
    let mut demo = std::process::Command::new(env!("CARGO_BIN_EXE_highwater"))
        .args(["demo", "--listen", &listen, "--data-dir"])
        .arg(&data_dir)
        .arg("--report")
        .arg(data_dir.join("report"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = demo.id() as libc::pid_t;
    let stdout = demo.stdout.take().unwrap();
    let interrupting = tokio::task::spawn_blocking(move || {
        for line in BufReader::new(stdout).lines() {
            if line.unwrap().starts_with("Replaying") {
                // SAFETY: a signal to our own child.
                unsafe { libc::kill(pid, libc::SIGINT) };
                return true;
            }
        }
        false
    });
    let waiting = tokio::task::spawn_blocking(move || demo.wait_with_output());
    let Ok(output) = tokio::time::timeout(Duration::from_secs(120), waiting).await else {
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        panic!("the demo did not stop within 120 s of starting and Ctrl-C");
    };
    let output = output.unwrap().unwrap();
    assert!(
        interrupting.await.unwrap(),
        "the demo never began to replay"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{}: {stderr}", output.status);
    assert!(
        stderr.contains("interrupted before the demo was done"),
        "{stderr}"
    );
    assert!(!stderr.contains("refused"), "{stderr}");
    assert!(LocalClickHouse::advertised_url(&data_dir).is_none());
}
