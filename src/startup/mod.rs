//! Builds the running application from `Settings`: storage (a configured
//! ClickHouse, or the embedded one), the log, the state every handler
//! shares, the rounds, the alerts and the lease this instance's role calls
//! for, the listeners ([`Server::bind`]). `run.rs` runs them and stops them
//! in order; `services.rs` is how a group of tasks stops as one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::alerts::Alerts;
use crate::api::AppState;
use crate::api::state::StateParts;
use crate::clock::Clock;
use crate::config::Settings;
use crate::instances::InstanceView;
use crate::instances::lease::{Lease, instance_id};
use crate::jobs::rounds::Rounds;
use crate::jobs::schedule::Scheduler;
use crate::jobs::slicing::Slicing;
use crate::live::board::LiveBoard;
use crate::live::live_round::LiveRounds;
use crate::live::online_cache::OnlineCache;
use crate::live::stored_figures::StoredFigures;
use crate::monitoring::Monitoring;
use crate::store::connect::topology;
use crate::store::schema::received_sessions_table;
use crate::wal::{Wal, WalMonitor, WalTasks};

pub use crate::store::storage::Storage;

mod run;
mod services;

/// A bound, ready-to-run HTTP server.
pub struct Server {
    listener: TcpListener,
    /// `[metrics] listen`, if set.
    metrics_listener: Option<TcpListener>,
    state: AppState,
    wal_tasks: WalTasks,
    jobs: Option<Scheduler>,
    live: Option<LiveRounds>,
    /// This instance's part in the lease (when it may lead and has jobs or
    /// alerts to run), and where it says whether it leads.
    lease: Option<(Lease, tokio::sync::watch::Sender<bool>)>,
    board: LiveBoard,
    alerts: Option<Arc<Alerts>>,
    /// While set, the scheduled jobs wait for this before their first round.
    jobs_held: Option<tokio::sync::oneshot::Receiver<()>>,
    /// Every server's client, once given: old receipts are dropped there.
    shards: Vec<clickhouse::Client>,
    /// The table they are dropped from on each server.
    received_sessions: &'static str,
    header_timeout: Duration,
    shutdown_drain: Duration,
    alert_check: Duration,
}

impl Server {
    /// Binds a server on a ClickHouse that answers and is migrated.
    pub async fn bind(
        settings: &Settings,
        addr: SocketAddr,
        client: clickhouse::Client,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let ready = tokio::sync::watch::channel(Some(client.clone())).1;
        Self::bind_with(settings, addr, client, ready, clock).await
    }

    /// Binds a server whose ClickHouse may not answer yet: `client` serves
    /// reads and jobs (which fail until it answers), and shipping waits for
    /// `ready` to hold the migrated client.
    pub async fn bind_with(
        settings: &Settings,
        addr: SocketAddr,
        client: clickhouse::Client,
        ready: tokio::sync::watch::Receiver<Option<clickhouse::Client>>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let metrics_listener = match settings.metrics.listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr} (metrics.listen)"))?,
            ),
            None => None,
        };
        let (wal, wal_tasks) =
            Wal::open_shipping_when(&settings.wal_dir(), &settings.wal, ready.clone())?;
        let monitoring = Arc::new(Monitoring::new(wal.monitor(), clock.clone()));
        let projects = Arc::new(settings.projects.clone());
        let role = settings.server.role;
        let instance = instance_id(settings.server.instance.as_deref(), &settings.wal_dir())
            .context("cannot keep this instance's id in the log's directory")?;
        // Only the leader runs the full rounds and the alerts.
        let (leads_tx, leads) = tokio::sync::watch::channel(false);
        let alerts = match role.may_lead() {
            true => Alerts::with_leadership(
                Alerts::new(&settings.alerts, client.clone(), clock.clone())?,
                &instance,
                leads.clone(),
            ),
            false => None,
        };
        // ClickHouse pauses a query while one of a higher priority (a lower
        // number) runs: a live round's short read goes before the full
        // round's long one, which would otherwise hold today's figures back
        // by the length of its reads. (Inserts carry no priority.)
        let priority = |level: &str| client.clone().with_setting("priority", level);
        let jobs = (settings.jobs.enabled && role.may_lead()).then(|| {
            let interval = Duration::from_secs(settings.jobs.interval_s.max(1));
            Scheduler::new(priority("2"), projects.clone(), clock.clone(), interval)
                .with_log(wal.monitor())
                .with_slicing(Slicing::from(&settings.jobs))
                .with_monitoring(monitoring.clone())
                .with_alerts(alerts.clone())
                .with_leadership(leads.clone())
        });
        let lease = (jobs.is_some() || alerts.is_some()).then(|| {
            let lease = Duration::from_secs(settings.server.lease_s);
            (
                Lease::new(
                    client.clone(),
                    instance.clone(),
                    role,
                    lease,
                    crate::clock::system(),
                ),
                leads_tx,
            )
        });
        let board = LiveBoard::default();
        let serves_clients = role.serves_clients();
        let live = (serves_clients && settings.jobs.enabled && settings.jobs.live_interval_s > 0)
            .then(|| {
                let interval = Duration::from_secs(settings.jobs.live_interval_s);
                LiveRounds::new(
                    priority("1"),
                    projects.clone(),
                    clock.clone(),
                    interval,
                    Slicing::from(&settings.jobs),
                )
                .with_log(wal.monitor())
                .with_monitoring(monitoring.clone())
                .with_alerts(alerts.clone())
                .with_board(board.clone())
            });
        // Online now from the live rounds' counts; without live rounds the
        // board stays empty and the store is read.
        let online = OnlineCache::new(board.clone(), Slicing::from(&settings.jobs));
        let state = AppState::new(
            settings,
            StateParts {
                wal,
                figures: Arc::new(StoredFigures::new(
                    read_client(client.clone(), settings.read.timeout_ms),
                    online,
                )),
                sessions_client: client,
                clock,
                monitoring,
                instance: InstanceView {
                    id: instance,
                    role,
                    leads: leads.clone(),
                },
                migrated: ready,
            },
        )?;
        Ok(Self {
            listener,
            metrics_listener,
            alerts,
            state,
            wal_tasks,
            jobs,
            live,
            lease,
            board,
            jobs_held: None,
            shards: Vec::new(),
            received_sessions: received_sessions_table(&topology(&settings.clickhouse)),
            header_timeout: Duration::from_millis(settings.ingest.header_timeout_ms),
            shutdown_drain: Duration::from_secs(settings.wal.shutdown_drain_s),
            alert_check: Duration::from_secs(settings.jobs.alert_check_s.max(1)),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    /// Today's counts the live rounds publish and `/v1/online` reads (a
    /// test's own live rounds may publish here).
    pub fn live_board(&self) -> LiveBoard {
        self.board.clone()
    }

    /// Where `/metrics` is served without a key, if anywhere.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .map(|l| l.local_addr().expect("bound listener has an address"))
    }

    /// Holds the scheduled jobs back until the returned sender fires (for a
    /// bulk load that computes its own figures first: rounds meanwhile
    /// would recompute every day it touches). Dropped unfired, the jobs
    /// never start.
    pub fn hold_jobs(&mut self) -> tokio::sync::oneshot::Sender<()> {
        let (release, held) = tokio::sync::oneshot::channel();
        self.jobs_held = Some(held);
        release
    }

    /// Keeps `received_sessions` to its days on every server of `shards` (one
    /// client per server) while serving.
    pub fn with_shards(mut self, shards: Vec<clickhouse::Client>) -> Self {
        self.shards = shards;
        self
    }

    /// Names the servers of a replicated cluster in `/readyz`.
    pub fn with_clickhouse_servers(
        mut self,
        servers: Option<crate::store::failover::Servers>,
    ) -> Self {
        self.state.clickhouse_servers = servers;
        self
    }

    /// The write-ahead log's status (backlog, dead letters).
    pub fn log_monitor(&self) -> WalMonitor {
        self.state.wal.monitor()
    }
}

/// The client the read paths use: ClickHouse itself stops a read query that
/// runs past the read timeout (`max_execution_time`, whole seconds, known to
/// every version), so an abandoned read does not keep the server busy.
pub fn read_client(client: clickhouse::Client, read_timeout_ms: u64) -> clickhouse::Client {
    let seconds = read_timeout_ms.div_ceil(1000).max(1);
    client.with_setting("max_execution_time", seconds.to_string())
}

/// Completes on Ctrl-C or SIGTERM. Both are caught from this call on, not
/// from the first poll: a signal that arrives in between (a command still
/// starting) would otherwise kill the process at once, and the embedded
/// ClickHouse with it (it dies with highwater) instead of a clean stop.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let interrupt = signal(SignalKind::interrupt());
    let terminate = signal(SignalKind::terminate());
    async move {
        let received = |stream: std::io::Result<tokio::signal::unix::Signal>| async move {
            match stream {
                Ok(mut stream) => {
                    stream.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! { () = received(interrupt) => {}, () = received(terminate) => {} }
        tracing::info!("shutting down: finishing requests in progress");
    }
}
