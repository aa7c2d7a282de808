//! The two ClickHouse lanes (DESIGN §4): Debian's `clickhouse-server` 18.16
//! and a current engine (26.x) through chDB behind `tests/support/chdb_http.py`.
//! `HIGHWATER_TEST_LANE` picks one (`18.16`, the default, or `current`);
//! `scripts/test` runs the suite once per lane.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use highwater::store::local_server::LocalClickHouse;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Environment variable naming the lane.
pub const LANE_ENV: &str = "HIGHWATER_TEST_LANE";
/// Environment variable naming the Python that has `chdb-core` installed.
pub const CHDB_PYTHON_ENV: &str = "HIGHWATER_CHDB_PYTHON";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Debian's `clickhouse-server` package.
    Debian1816,
    /// The current engine, in-process in chDB, behind a thin HTTP front.
    Current,
}

impl Lane {
    pub fn from_env() -> Self {
        match std::env::var(LANE_ENV).as_deref() {
            Err(_) | Ok("" | "18.16") => Self::Debian1816,
            Ok("current") => Self::Current,
            Ok(other) => panic!("{LANE_ENV}={other:?}: expected \"18.16\" or \"current\""),
        }
    }
}

/// A ClickHouse of the lane's kind that a test owns: it can stop it and
/// start it again on the same port and data.
pub enum TestClickHouse {
    Server(LocalClickHouse),
    Chdb(ChdbFront),
}

impl TestClickHouse {
    /// Starts a private server of the current lane's kind on `dir`.
    pub async fn start(dir: &Path) -> Self {
        Self::start_of(Lane::from_env(), dir).await
    }

    /// Starts a private server of `lane`'s kind on `dir`.
    pub async fn start_of(lane: Lane, dir: &Path) -> Self {
        match lane {
            Lane::Debian1816 => Self::Server(
                LocalClickHouse::start(dir)
                    .await
                    .unwrap_or_else(|e| panic!("cannot start ClickHouse: {e}")),
            ),
            Lane::Current => Self::Chdb(ChdbFront::start(dir, 0).await),
        }
    }

    pub fn url(&self) -> String {
        match self {
            Self::Server(server) => server.url(),
            Self::Chdb(front) => front.url(),
        }
    }

    /// Stops the server abruptly (SIGKILL), as a crash would.
    pub async fn kill(&mut self) {
        match self {
            Self::Server(server) => server.kill().await,
            Self::Chdb(front) => front.kill().await,
        }
    }

    /// Starts it again on the same port and data.
    pub async fn restart(&mut self) {
        match self {
            Self::Server(server) => server.restart().await.unwrap(),
            Self::Chdb(front) => *front = ChdbFront::start(&front.dir, front.port).await,
        }
    }
}

/// `tests/support/chdb_http.py` running on a data directory of its own.
pub struct ChdbFront {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl ChdbFront {
    /// Starts the front on `dir` and `port` (0: any free one) and waits
    /// until it listens.
    pub async fn start(dir: &Path, port: u16) -> Self {
        let python = chdb_python();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/chdb_http.py");
        let mut command = Command::new(&python);
        command
            .arg(&script)
            .arg("--data")
            .arg(dir.join("chdb"))
            .arg("--port")
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        // The front must not outlive the tests, even when they are killed.
        // SAFETY: prctl is async-signal-safe and touches no memory of ours.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = command.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot run {} (set {CHDB_PYTHON_ENV}, or run scripts/install-deps --chdb): {e}",
                python.display()
            )
        });
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
            .await
            .expect("the chDB front did not start within 120 s")
            .unwrap()
            .unwrap_or_else(|| panic!("the chDB front exited at start-up (its stderr is above)"));
        let port = first
            .strip_prefix("listening on ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from the chDB front: {first:?}"));
        Self {
            child,
            port,
            dir: dir.to_owned(),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// `$HIGHWATER_CHDB_PYTHON`, else the venv `scripts/install-deps --chdb` makes.
fn chdb_python() -> PathBuf {
    if let Some(python) = std::env::var_os(CHDB_PYTHON_ENV) {
        return python.into();
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache/highwater/chdb-venv/bin/python")
}
