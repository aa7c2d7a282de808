//! A group of tasks that runs beside the HTTP server and stops as one:
//! a [`CancellationToken`] says stop, a [`TaskTracker`] says when all
//! have. `Server::run` holds one group per step of the shutdown, so that
//! the order of stopping is the order of its calls.

use std::future::Future;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Clone, Default)]
pub struct Services {
    stop: CancellationToken,
    tracker: TaskTracker,
}

impl Services {
    /// Runs `work` until it ends or the group stops; then it is dropped
    /// where it stands (for work that may be abandoned at any point).
    pub fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        let stop = self.stop.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                () = stop.cancelled() => {}
                () = work => {}
            }
        });
    }

    /// Runs `work(stop)`, which must end by itself soon after `stop` is
    /// cancelled (for work that has something to do on the way out).
    pub fn spawn_with_stop<F>(&self, work: impl FnOnce(CancellationToken) -> F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tracker.spawn(work(self.stop.clone()));
    }

    /// Stops the group and waits for all of its tasks to end.
    pub async fn stop(&self) {
        self.stop.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }

    /// [`Services::stop`], waiting at most until `deadline` (what has not
    /// ended then is left to end with the runtime).
    pub async fn stop_by(&self, deadline: Instant) {
        let _ = tokio::time::timeout_at(deadline, self.stop()).await;
    }
}
