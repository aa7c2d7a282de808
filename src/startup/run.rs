//! `Server::run`: the services of one instance beside its HTTP server, and
//! the order in which they stop.

use std::future::Future;

use tokio::sync::oneshot;

use super::Server;
use super::services::Services;
use crate::api::app;
use crate::api::metrics_scrape::open_router;
use crate::jobs::schedule::Scheduler;
use crate::live::live_round::LiveRounds;
use crate::store::received_sessions;

impl Server {
    /// Serves until `shutdown` completes; then, within `wal.shutdown_drain_s`
    /// in all, lets requests in progress finish and ships what the log
    /// holds. Whatever is left then (ClickHouse down, a straggling request)
    /// stays in the log for the next start: the exit never waits longer.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        // Once the HTTP server has stopped, these stop in this order:
        // 1. the rounds, the alerts' watch and the upkeep of receipts,
        //    abandoned where they stand (rounds are idempotent, a check is
        //    made again at the next start);
        // 2. the lease, which withdraws so that another instance leads at
        //    once (within the deadline);
        // 3. the metrics address (its router holds a log handle);
        // 4. the log, which ships what it can until the deadline.
        let background = Services::default();
        let lease = Services::default();
        let metrics = Services::default();

        if let Some(listener) = self.metrics_listener {
            let router = open_router(self.state.clone());
            metrics.spawn(async move {
                let _ = axum::serve(listener, router).await;
            });
        }
        if let Some(alerts) = self.alerts {
            let state = &self.state;
            background.spawn(alerts.watch(
                state.projects.clone(),
                state.figures.clone(),
                state.wal.monitor(),
                self.alert_check,
                std::future::pending(),
            ));
        }
        if let Some((held, leads)) = self.lease {
            lease.spawn_with_stop(|stop| held.run(leads, stop));
        }
        if !self.shards.is_empty() {
            background.spawn(received_sessions::keep_tidy(
                self.shards,
                self.received_sessions,
                self.state.clock.clone(),
                std::future::pending(),
            ));
        }
        if let Some(scheduler) = self.jobs {
            background.spawn(rounds(
                scheduler,
                self.live,
                self.jobs_held,
                background.clone(),
            ));
        }

        let (began, shutdown_began) = oneshot::channel();
        let shutdown = async move {
            shutdown.await;
            let _ = began.send(tokio::time::Instant::now());
        };
        crate::api::http_server::serve(
            self.listener,
            app(self.state),
            self.header_timeout,
            shutdown,
            self.shutdown_drain,
        )
        .await;
        let deadline = shutdown_began
            .await
            .unwrap_or_else(|_| tokio::time::Instant::now())
            + self.shutdown_drain;

        background.stop().await;
        lease.stop_by(deadline).await;
        metrics.stop().await;
        self.wal_tasks.finish(deadline).await;
        Ok(())
    }
}

/// Once the jobs are no longer held (`Server::hold_jobs`), the full rounds,
/// and the live rounds beside them on a task of their own in `services`
/// (a long full round must not hold them back). Jobs held and never
/// released never start.
async fn rounds(
    scheduler: Scheduler,
    live: Option<LiveRounds>,
    held: Option<oneshot::Receiver<()>>,
    services: Services,
) {
    if let Some(held) = held
        && held.await.is_err()
    {
        return;
    }
    if let Some(live) = live {
        services.spawn(live.run(std::future::pending()));
    }
    scheduler.run(std::future::pending()).await;
}
