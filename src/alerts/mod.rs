//! `[[alert]]` webhooks (`webhook.rs`), each fired once per episode of its
//! condition (`episodes.rs`):
//!
//! - `record`: after each round of the jobs, a day whose peak beats every
//!   earlier day's — `record_in_progress` while it is provisional,
//!   `record` once final. One per (kind, day), remembered in ClickHouse
//!   (`alerts_sent`) once delivered, so a restart does not repeat it. The
//!   first check of an alert takes the records already there as known
//!   (a new install does not announce history).
//! - `headroom_below`: after each round, `1 − today's peak / capacity_users`
//!   below the threshold.
//! - `online_above`, `shipping_stalled`: checked every
//!   [`WATCH_INTERVAL`] by [`Alerts::watch`].
//!
//! Deliveries run in tasks of their own: a slow receiver never holds the
//! jobs back. One that never succeeds is forgotten, so the next check
//! fires it again.

pub mod episodes;
pub mod webhook;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustc_hash::FxHashMap;
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::config::{AlertKind, AlertSettings, ProjectSettings};
use crate::domain::calendar::rfc3339;
use crate::figures::above_every_earlier_day;
use crate::jobs::runner::RunError;
use crate::live::online_cache::OnlineCache;
use crate::store::alerts_sent::{self, SentRow};
use crate::store::figures;
use crate::wal::WalMonitor;
use episodes::Episodes;

/// How often `online_above` and `shipping_stalled` are checked.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(15);

/// The `alerts_sent` row that says an alert's existing records were
/// taken as known.
const BASELINE: (&str, &str) = ("baseline", "");

/// An alert's condition for one project (`None`: the whole instance).
type Condition = (usize, Option<String>);
/// The (kind, day) record alerts sent per alert and project.
type SentRecords = FxHashMap<(usize, String), HashSet<(String, String)>>;

#[derive(Debug)]
pub struct Alerts {
    alerts: Vec<AlertSettings>,
    client: clickhouse::Client,
    /// One client per alert (each may trust its own authority).
    http: Vec<reqwest::Client>,
    clock: Arc<dyn Clock>,
    episodes: Mutex<Episodes<Condition>>,
    /// Loaded from `alerts_sent` at an alert's first check.
    records: tokio::sync::Mutex<SentRecords>,
}

impl Alerts {
    /// `None` when no alert is configured.
    pub fn new(
        alerts: &[AlertSettings],
        client: clickhouse::Client,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Option<Arc<Self>>> {
        if alerts.is_empty() {
            return Ok(None);
        }
        let http = alerts
            .iter()
            .map(webhook::client)
            .collect::<anyhow::Result<_>>()?;
        Ok(Some(Arc::new(Self {
            alerts: alerts.to_vec(),
            client,
            http,
            clock,
            episodes: Mutex::default(),
            records: tokio::sync::Mutex::default(),
        })))
    }

    /// The alerts of `kind` that watch `project`, with their index.
    fn of<'a>(
        &'a self,
        kind: AlertKind,
        project: &'a str,
    ) -> impl Iterator<Item = (usize, &'a AlertSettings)> + 'a {
        self.alerts.iter().enumerate().filter(move |(_, a)| {
            a.kind == kind && a.project.as_deref().is_none_or(|p| p == project)
        })
    }

    /// Checks the alerts that follow the figures, after a round of the jobs
    /// for `project`; a failure is logged (the next round checks again).
    pub async fn after_round(self: &Arc<Self>, project: &ProjectSettings) {
        if let Err(e) = self.check_figures(project).await {
            tracing::warn!(project = %project.name, error = %e, "alerts not checked this round");
        }
    }

    async fn check_figures(self: &Arc<Self>, project: &ProjectSettings) -> Result<(), RunError> {
        let name = project.name.as_str();
        let watched = self.of(AlertKind::Record, name).next().is_some()
            || self.of(AlertKind::HeadroomBelow, name).next().is_some();
        if !watched {
            return Ok(());
        }
        let days = figures::all_days(&self.client, name).await?;
        let candidates: Vec<(String, String, Value)> = above_every_earlier_day(&days)
            .map(|(record, is_final)| {
                let kind = if is_final {
                    "record"
                } else {
                    "record_in_progress"
                };
                let day = record.day.clone();
                (kind.to_owned(), day, json!(record))
            })
            .collect();
        let records: Vec<usize> = self.of(AlertKind::Record, name).map(|(i, _)| i).collect();
        for index in records {
            self.check_records(index, name, &candidates).await?;
        }
        if let (Some(capacity), Some(today)) = (project.capacity_users, days.last()) {
            let headroom = 1.0 - f64::from(today.peak_users) / capacity as f64;
            let alerts: Vec<(usize, f64)> = self
                .of(AlertKind::HeadroomBelow, name)
                .map(|(i, a)| (i, a.threshold.unwrap_or(0.0)))
                .collect();
            for (index, threshold) in alerts {
                let details = json!({
                    "day": crate::domain::calendar::date_of(today.day).to_string(),
                    "peak_users": today.peak_users,
                    "capacity_users": capacity,
                    "headroom": headroom,
                    "threshold": threshold,
                });
                self.on_condition(
                    (index, Some(name.to_owned())),
                    headroom < threshold,
                    details,
                );
            }
        }
        Ok(())
    }

    async fn check_records(
        self: &Arc<Self>,
        index: usize,
        project: &str,
        candidates: &[(String, String, Value)],
    ) -> Result<(), RunError> {
        let alert = &self.alerts[index].name;
        let mut known = self.records.lock().await;
        let key = (index, project.to_owned());
        let sent = match known.get_mut(&key) {
            Some(sent) => sent,
            None => {
                let stored = alerts_sent::sent(&self.client, alert, project).await?;
                let mut sent: HashSet<(String, String)> = stored.into_iter().collect();
                let baseline = (BASELINE.0.to_owned(), BASELINE.1.to_owned());
                if !sent.contains(&baseline) {
                    // First check ever: what is there is history.
                    let now_ms = self.clock.now_ms();
                    let rows: Vec<SentRow> = candidates
                        .iter()
                        .map(|(kind, day, _)| (kind.clone(), day.clone()))
                        .chain([baseline])
                        .map(|(kind, episode)| SentRow {
                            alert: alert.clone(),
                            project: project.to_owned(),
                            kind,
                            episode,
                            sent_ms: now_ms,
                        })
                        .collect();
                    alerts_sent::mark(&self.client, &rows).await?;
                    sent.extend(rows.into_iter().map(|r| (r.kind, r.episode)));
                }
                known.entry(key.clone()).or_insert(sent)
            }
        };
        for (kind, day, details) in candidates {
            let episode = (kind.clone(), day.clone());
            if sent.insert(episode.clone()) {
                self.send_record(key.clone(), episode, details.clone());
            }
        }
        Ok(())
    }

    /// Delivers a record alert; remembers it in ClickHouse once delivered,
    /// forgets it if it cannot be (so that the next round tries again).
    fn send_record(
        self: &Arc<Self>,
        key: (usize, String),
        episode: (String, String),
        details: Value,
    ) {
        let this = self.clone();
        tokio::spawn(async move {
            let (index, project) = key.clone();
            let alert = &this.alerts[index];
            let body = this.body(alert, &episode.0, Some(&project), details);
            match webhook::deliver(&this.http[index], alert, &body, || this.now_s()).await {
                Ok(()) => {
                    let row = SentRow {
                        alert: alert.name.clone(),
                        project,
                        kind: episode.0.clone(),
                        episode: episode.1.clone(),
                        sent_ms: this.clock.now_ms(),
                    };
                    if let Err(e) = alerts_sent::mark(&this.client, &[row]).await {
                        tracing::warn!(alert = %alert.name, error = %e, "alert sent, but not recorded as sent: a restart may repeat it");
                    }
                }
                Err(e) => {
                    tracing::error!(alert = %alert.name, kind = %episode.0, error = %e, "alert not delivered; the next round tries again");
                    if let Some(sent) = this.records.lock().await.get_mut(&key) {
                        sent.remove(&episode);
                    }
                }
            }
        });
    }

    /// Fires `condition`'s alert if the condition starts to hold.
    fn on_condition(self: &Arc<Self>, condition: Condition, holds: bool, details: Value) {
        let starts = self
            .episodes
            .lock()
            .expect("episodes lock")
            .update(condition.clone(), holds);
        if !starts {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let alert = &this.alerts[condition.0];
            let kind = kind_name(alert.kind);
            let body = this.body(alert, kind, condition.1.as_deref(), details);
            let http = &this.http[condition.0];
            if let Err(e) = webhook::deliver(http, alert, &body, || this.now_s()).await {
                tracing::error!(alert = %alert.name, kind, error = %e, "alert not delivered; the next check fires it again");
                this.episodes
                    .lock()
                    .expect("episodes lock")
                    .reopen(&condition);
            }
        });
    }

    /// Checks `online_above` and `shipping_stalled` every
    /// [`WATCH_INTERVAL`] until `shutdown`.
    pub async fn watch(
        self: Arc<Self>,
        projects: Arc<Vec<ProjectSettings>>,
        online: OnlineCache,
        log: WalMonitor,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        loop {
            self.check_live(&projects, &online, &log).await;
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(WATCH_INTERVAL) => {}
            }
        }
    }

    /// One check of `online_above` and `shipping_stalled`.
    pub async fn check_live(
        self: &Arc<Self>,
        projects: &[ProjectSettings],
        online: &OnlineCache,
        log: &WalMonitor,
    ) {
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
            let users = match online.at(&self.client, project, at, None).await {
                Ok(now) => now.counts.users,
                Err(e) => {
                    tracing::warn!(project = %project.name, error = %e, "online now unavailable for alerts");
                    continue;
                }
            };
            for (index, threshold) in alerts {
                let details = json!({"users": users, "threshold": threshold, "at": rfc3339(at)});
                let holds = users as f64 > threshold;
                self.on_condition((index, Some(project.name.clone())), holds, details);
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
            self.on_condition((index, None), status.stalled, details);
        }
    }

    fn now_s(&self) -> i64 {
        self.clock.now_ms().div_euclid(1000)
    }

    fn body(
        &self,
        alert: &AlertSettings,
        kind: &str,
        project: Option<&str>,
        details: Value,
    ) -> Value {
        json!({
            "alert": alert.name,
            "kind": kind,
            "project": project,
            "sent_at": rfc3339(self.now_s()),
            "details": details,
        })
    }
}

fn kind_name(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::Record => "record",
        AlertKind::OnlineAbove => "online_above",
        AlertKind::HeadroomBelow => "headroom_below",
        AlertKind::ShippingStalled => "shipping_stalled",
    }
}
