//! The ZooKeeper an embedded replicated cluster needs: Debian's
//! (`apt-get install zookeeper`, Java), started in the foreground on a
//! directory of its own and a free port, stopped with highwater.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

use super::free_ports::free_ports;
use super::local_server::{LocalServerError, create_dir, write_file};

/// Environment variable naming ZooKeeper's jar, overriding Debian's path.
pub const JAR_ENV: &str = "HIGHWATER_ZOOKEEPER_JAR";
const DEBIAN_JAR: &str = "/usr/share/java/zookeeper.jar";
const READY_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct LocalZooKeeper {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl LocalZooKeeper {
    /// Starts ZooKeeper on `dir` (created if needed) and waits until it
    /// serves.
    pub async fn start(dir: &Path) -> Result<Self, LocalServerError> {
        let port = free_ports(1, dir)?[0];
        Self::start_on(dir, port).await
    }

    async fn start_on(dir: &Path, port: u16) -> Result<Self, LocalServerError> {
        let jar =
            std::env::var_os(JAR_ENV).map_or_else(|| PathBuf::from(DEBIAN_JAR), PathBuf::from);
        if !jar.exists() {
            return Err(LocalServerError::ZooKeeperNotInstalled);
        }
        let conf = dir.join("conf");
        create_dir(&conf)?;
        create_dir(&dir.join("data"))?;
        let dir = dir.canonicalize().map_err(|source| LocalServerError::Io {
            path: dir.to_owned(),
            source,
        })?;
        write_file(
            &conf.join("zoo.cfg"),
            &format!(
                "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 admin.enableServer=false\n4lw.commands.whitelist=ruok,srvr\n",
                dir.join("data").display()
            ),
        )?;
        let log = dir.join("zookeeper.log");
        let output = std::fs::File::create(&log).map_err(|source| LocalServerError::Io {
            path: log.clone(),
            source,
        })?;
        let errors = output.try_clone().map_err(|source| LocalServerError::Io {
            path: log.clone(),
            source,
        })?;
        let mut command = Command::new("java");
        command
            .arg("-cp")
            .arg(format!("{}:{}", conf.display(), jar.display()))
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(conf.join("zoo.cfg"))
            .stdin(Stdio::null())
            .stdout(output)
            .stderr(errors);
        // Must not outlive highwater, even after `kill -9`.
        // SAFETY: prctl is async-signal-safe and touches no memory of ours.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = command.spawn().map_err(|source| LocalServerError::Io {
            path: PathBuf::from("java"),
            source,
        })?;
        let mut zookeeper = Self { child, port, dir };
        zookeeper.wait_ready().await?;
        Ok(zookeeper)
    }

    async fn wait_ready(&mut self) -> Result<(), LocalServerError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(LocalServerError::Exited {
                    binary: "ZooKeeper (java)".into(),
                    status: status.to_string(),
                    log_tail: self.log_tail(),
                });
            }
            if self.answers().await {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(LocalServerError::NotReady {
                    log_tail: self.log_tail(),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// ZooKeeper serves sessions: `srvr` names its mode. (`ruok` answers
    /// `imok` already while a restarted server still loads its data and
    /// drops every session — and ClickHouse 18.16 exits when its first
    /// session is dropped.)
    async fn answers(&self) -> bool {
        let ask = async {
            let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
            stream.write_all(b"srvr").await?;
            let mut answer = Vec::new();
            stream.read_to_end(&mut answer).await?;
            std::io::Result::Ok(String::from_utf8_lossy(&answer).contains("Mode: "))
        };
        matches!(
            tokio::time::timeout(Duration::from_secs(1), ask).await,
            Ok(Ok(true))
        )
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("zookeeper.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Stops it at once (also fault injection: the coordinator away).
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// Starts it again on the same port and data.
    pub async fn restart(&mut self) -> Result<(), LocalServerError> {
        self.kill().await;
        *self = Self::start_on(&self.dir.clone(), self.port).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_missing_zookeeper_error_names_the_variable_read_here() {
        let message = super::LocalServerError::ZooKeeperNotInstalled.to_string();
        assert!(message.contains(super::JAR_ENV), "{message}");
    }
}
