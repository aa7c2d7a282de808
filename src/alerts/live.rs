//! The alerts that watch the present, checked every `jobs.alert_check_s`:
//! `online_above` (online now over a threshold) and `shipping_stalled`
//! (the log not shipping).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{Alerts, Condition};
use crate::config::{AlertKind, ProjectSettings};
use crate::domain::calendar::rfc3339;
use crate::figures::source::FiguresSource;
use crate::wal::WalMonitor;

impl Alerts {
    /// Checks `online_above` and `shipping_stalled` every `interval`
    /// (`jobs.alert_check_s`) until `shutdown`.
    pub async fn watch(
        self: Arc<Self>,
        projects: Arc<Vec<ProjectSettings>>,
        online: Arc<dyn FiguresSource>,
        log: WalMonitor,
        interval: Duration,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        loop {
            self.check_live(&projects, &*online, &log).await;
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(interval) => {}
            }
        }
    }

    /// One check of `online_above` and `shipping_stalled`.
    pub async fn check_live(
        self: &Arc<Self>,
        projects: &[ProjectSettings],
        online: &dyn FiguresSource,
        log: &WalMonitor,
    ) {
        if !self.leads() {
            return;
        }
        let now_ms = self.clock.now_ms();
        for project in projects {
            let alerts: Vec<(usize, f64)> = self
                .of(AlertKind::OnlineAbove, &project.name)
                .map(|(i, a)| (i, a.threshold.unwrap_or(0.0)))
                .collect();
            if alerts.is_empty() {
                continue;
            }
            let at = now_ms.div_euclid(1000);
            let users = match online.online_at(project, at, None).await {
                Ok(now) => now.counts.users,
                Err(e) => {
                    tracing::warn!(project = %project.name, error = %e, "online now unavailable for alerts");
                    continue;
                }
            };
            for (index, threshold) in alerts {
                let details = json!({"users": users, "threshold": threshold, "at": rfc3339(at)});
                let holds = users as f64 > threshold;
                let condition = Condition {
                    alert: index,
                    project: Some(project.name.clone()),
                };
                self.on_condition(condition, holds, details);
            }
        }
        let status = log.status(now_ms);
        let stalled: Vec<usize> = self
            .alerts
            .iter()
            .enumerate()
            .filter(|(_, a)| a.kind == AlertKind::ShippingStalled)
            .map(|(i, _)| i)
            .collect();
        for index in stalled {
            let details = json!({
                "backlog_bytes": status.backlog_bytes,
                "no_progress_s": status.no_progress_s,
                "clickhouse_error": status.clickhouse_error,
            });
            let condition = Condition {
                alert: index,
                project: None,
            };
            self.on_condition(condition, status.stalled, details);
        }
    }
}
