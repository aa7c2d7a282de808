//! The embedded default (docs/design.md §4): a `clickhouse-server` process that
//! highwater starts, owns and stops, on a data directory of its own.
//!
//! Works with Debian's `clickhouse-server` (18.16) and with the single
//! `clickhouse` binary of current releases (`clickhouse server`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use super::server_config::{Ports, greeting, server_config, users_xml};

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
pub(super) const START_ATTEMPTS: usize = 3;
/// Where a running server writes its URL, inside its directory.
const ENDPOINT_FILE: &str = "endpoint";
/// Environment variable naming the server binary, overriding the search.
pub const BIN_ENV: &str = "HIGHWATER_CLICKHOUSE_BIN";

#[derive(Debug, thiserror::Error)]
pub enum LocalServerError {
    #[error(
        "no ClickHouse server found. Install it with `apt-get install -y clickhouse-server` \
         (Debian/Ubuntu), put a current `clickhouse` binary on PATH (or name it in {BIN_ENV}), \
         or set HIGHWATER_CLICKHOUSE_URL to use an existing server"
    )]
    NotInstalled,
    #[error("cannot prepare {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "ClickHouse ({binary}) exited during start-up ({status}). Last lines of its log:\n{log_tail}"
    )]
    Exited {
        binary: String,
        status: String,
        log_tail: String,
    },
    #[error("ClickHouse did not answer within {}s. Last lines of its log:\n{log_tail}", READY_TIMEOUT.as_secs())]
    NotReady { log_tail: String },
    // The variable is `local_zookeeper::JAR_ENV` (a test there checks it).
    #[error(
        "an embedded cluster with replicas needs ZooKeeper: install Debian's with \
         `apt-get install -y zookeeper` (and Java), or name its jar in HIGHWATER_ZOOKEEPER_JAR"
    )]
    ZooKeeperNotInstalled,
}

/// How to launch the server: the binary and the arguments before `--config-file`.
#[derive(Debug, Clone)]
pub struct ServerBinary {
    pub path: PathBuf,
    pub subcommand: Option<&'static str>,
}

impl ServerBinary {
    /// `$HIGHWATER_CLICKHOUSE_BIN`, else `clickhouse-server`, else `clickhouse`,
    /// looked up on PATH and in the usual system directories.
    pub fn find() -> Result<Self, LocalServerError> {
        let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        dirs.extend(["/usr/sbin", "/usr/bin", "/usr/local/bin"].map(PathBuf::from));
        Self::find_in(std::env::var_os(BIN_ENV).map(PathBuf::from), &dirs)
    }

    /// [`ServerBinary::find`] with its inputs spelled out.
    pub fn find_in(explicit: Option<PathBuf>, dirs: &[PathBuf]) -> Result<Self, LocalServerError> {
        if let Some(path) = explicit {
            return Ok(Self::at(path));
        }
        for name in ["clickhouse-server", "clickhouse"] {
            if let Some(path) = dirs.iter().map(|d| d.join(name)).find(|p| p.is_file()) {
                return Ok(Self::at(path));
            }
        }
        Err(LocalServerError::NotInstalled)
    }

    fn at(path: PathBuf) -> Self {
        let is_server = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains("clickhouse-server"));
        Self {
            path,
            subcommand: (!is_server).then_some("server"),
        }
    }
}

/// A running local ClickHouse. Stopped by [`LocalClickHouse::stop`], or on drop.
#[derive(Debug)]
pub struct LocalClickHouse {
    child: Child,
    binary: ServerBinary,
    ports: Ports,
    dir: PathBuf,
    /// The cluster sections of its config (empty for a lone server), kept
    /// for restarts.
    cluster: String,
    /// Whether it keeps `system.query_log` and `system.part_log`.
    accounting: bool,
}

/// The cluster name of an embedded cluster, in every server's config.
pub const EMBEDDED_CLUSTER: &str = "highwater";

impl LocalClickHouse {
    /// Starts one server on `dir` with `ports` and the `cluster` sections
    /// of its config (with `accounting`, its query and part logs), and
    /// waits until it answers.
    pub(super) async fn start_once(
        binary: &ServerBinary,
        dir: &Path,
        ports: Ports,
        cluster: &str,
        accounting: bool,
    ) -> Result<Self, LocalServerError> {
        let config = dir.join("config.xml");
        write_file(&config, &server_config(dir, ports, cluster, accounting))?;
        write_file(&dir.join("users.xml"), &users_xml(accounting))?;
        // highwater owns this server, and may start it again after a kill
        // or a power cut. A replica can then hold parts its coordinator
        // never registered, or parts cut short; ClickHouse refuses to start
        // on "too many" of them unless told to restore, which detaches them
        // (nothing is deleted) and fetches the rest from the other replicas.
        // What they held is not lost: the log ships again whatever was not
        // on `insert_quorum` replicas. ClickHouse removes the flag once up.
        let flags = dir.join("data/flags");
        create_dir(&flags)?;
        write_file(&flags.join("force_restore_data"), "")?;
        let console_log = dir.join("log/console.log");
        let console =
            std::fs::File::create(&console_log).map_err(|source| LocalServerError::Io {
                path: console_log.clone(),
                source,
            })?;
        let console_err = console.try_clone().map_err(|source| LocalServerError::Io {
            path: console_log.clone(),
            source,
        })?;
        let mut command = Command::new(&binary.path);
        command.args(binary.subcommand);
        command
            .arg(format!("--config-file={}", config.display()))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(console)
            .stderr(console_err);
        // The server must not outlive highwater, even after `kill -9`.
        // SAFETY: prctl is async-signal-safe and touches no memory of ours.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = command.spawn().map_err(|source| LocalServerError::Io {
            path: binary.path.clone(),
            source,
        })?;
        let mut server = Self {
            child,
            binary: binary.clone(),
            ports,
            dir: dir.to_owned(),
            cluster: cluster.to_owned(),
            accounting,
        };
        tracing::info!(binary = %binary.path.display(), http_port = ports.http, dir = %dir.display(), "starting ClickHouse");
        server.wait_ready(binary).await?;
        // Lets other highwater commands on this data directory share it.
        write_file(&dir.join(ENDPOINT_FILE), &server.url())?;
        Ok(server)
    }

    async fn wait_ready(&mut self, binary: &ServerBinary) -> Result<(), LocalServerError> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(LocalServerError::Exited {
                    binary: binary.path.display().to_string(),
                    status: status.to_string(),
                    log_tail: self.log_tail(),
                });
            }
            if self.answers(&http).await {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(LocalServerError::NotReady {
                    log_tail: self.log_tail(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether this server (not another on its port) answers.
    async fn answers(&self, http: &reqwest::Client) -> bool {
        let response = http
            .get(format!("{}/", self.url()))
            .timeout(Duration::from_secs(1))
            .send()
            .await;
        match response {
            Ok(r) if r.status().is_success() => r
                .text()
                .await
                .is_ok_and(|body| body.trim() == greeting(&self.dir)),
            _ => false,
        }
    }

    /// The URL a running server on `data_dir` advertised, if any (it may be
    /// stale: ask `/ping`).
    pub fn advertised_url(data_dir: &Path) -> Option<String> {
        Self::advertised_url_of(data_dir, 0)
    }

    /// The URL the running server of shard `shard` advertised, if any.
    pub fn advertised_url_of(data_dir: &Path, shard: usize) -> Option<String> {
        let path = shard_dir(data_dir, shard).join(ENDPOINT_FILE);
        let text = std::fs::read_to_string(path).ok()?;
        Some(text.trim().to_owned()).filter(|u| u.starts_with("http://127.0.0.1:"))
    }

    /// The server's process id (benchmarks read its peak memory).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// `http://127.0.0.1:PORT` of the server's HTTP interface.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.http)
    }

    /// The last lines of the server's logs, for error messages.
    pub fn log_tail(&self) -> String {
        let mut tail = String::new();
        for name in ["console.log", "clickhouse-server.err.log"] {
            if let Ok(text) = std::fs::read_to_string(self.dir.join("log").join(name)) {
                let lines: Vec<&str> = text.lines().collect();
                // Enough for a stack trace and the error line above it.
                for line in &lines[lines.len().saturating_sub(30)..] {
                    tail.push_str(line);
                    tail.push('\n');
                }
            }
        }
        tail
    }

    /// SIGTERM, then SIGKILL if the server has not exited after 30 s.
    pub async fn stop(mut self) {
        let _ = std::fs::remove_file(self.dir.join(ENDPOINT_FILE));
        self.signal(libc::SIGTERM);
        if tokio::time::timeout(STOP_TIMEOUT, self.child.wait())
            .await
            .is_err()
        {
            tracing::warn!("ClickHouse ignored SIGTERM; killing it");
            let _ = self.child.kill().await;
        }
    }

    /// Kills the server at once (fault injection: an outage).
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// Starts the server again on the same directory and ports (after
    /// [`LocalClickHouse::kill`]): clients configured with its URL reconnect.
    pub async fn restart(&mut self) -> Result<(), LocalServerError> {
        self.kill().await;
        let restarted = Self::start_once(
            &self.binary,
            &self.dir,
            self.ports,
            &self.cluster,
            self.accounting,
        )
        .await?;
        // The old value's child has exited: dropping it does nothing.
        *self = restarted;
        Ok(())
    }

    /// Sends `signal` to the server process (used by fault-injection tests).
    pub fn signal(&self, signal: libc::c_int) {
        if let Some(pid) = self.child.id() {
            // SAFETY: plain syscall on a pid we own.
            unsafe { libc::kill(pid as libc::pid_t, signal) };
        }
    }
}

impl Drop for LocalClickHouse {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        let _ = std::fs::remove_file(self.dir.join(ENDPOINT_FILE));
        self.signal(libc::SIGTERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while matches!(self.child.try_wait(), Ok(None)) {
            if Instant::now() > deadline {
                let _ = self.child.start_kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Where shard `shard` of an embedded server keeps its data: the first in
/// `DATA_DIR/clickhouse` (as a lone server does), the others beside it in
/// `DATA_DIR/clickhouse-2`, `-3` ...
pub fn shard_dir(data_dir: &Path, shard: usize) -> PathBuf {
    match shard {
        0 => data_dir.join("clickhouse"),
        n => data_dir.join(format!("clickhouse-{}", n + 1)),
    }
}

pub(super) fn create_dir(path: &Path) -> Result<(), LocalServerError> {
    std::fs::create_dir_all(path).map_err(|source| LocalServerError::Io {
        path: path.to_owned(),
        source,
    })
}

pub(super) fn write_file(path: &Path, text: &str) -> Result<(), LocalServerError> {
    std::fs::write(path, text).map_err(|source| LocalServerError::Io {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_server_binary_the_error_says_how_to_install_one() {
        let empty = tempfile::tempdir().unwrap();
        let error = ServerBinary::find_in(None, &[empty.path().to_owned()]).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("apt-get install -y clickhouse-server"),
            "{message}"
        );
        assert!(message.contains("HIGHWATER_CLICKHOUSE_URL"), "{message}");
    }

    #[test]
    fn the_single_binary_of_current_releases_runs_as_clickhouse_server() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("clickhouse"), "").unwrap();
        let found = ServerBinary::find_in(None, &[dir.path().to_owned()]).unwrap();
        assert_eq!(found.subcommand, Some("server"));
        std::fs::write(dir.path().join("clickhouse-server"), "").unwrap();
        let found = ServerBinary::find_in(None, &[dir.path().to_owned()]).unwrap();
        assert_eq!(found.path, dir.path().join("clickhouse-server"));
        assert_eq!(found.subcommand, None);
    }

    #[tokio::test]
    async fn a_server_that_dies_at_start_up_is_reported_with_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("fake-clickhouse-server");
        std::fs::write(
            &script,
            "#!/bin/sh\necho 'cannot open data directory: boom' >&2\nexit 3\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let binary = ServerBinary::find_in(Some(script), &[]).unwrap();
        let error = LocalClickHouse::start_with(&binary, dir.path())
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, LocalServerError::Exited { .. }),
            "{message}"
        );
        assert!(message.contains("boom"), "{message}");
    }
}
