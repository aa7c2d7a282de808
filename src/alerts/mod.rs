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
//!   `jobs.alert_check_s` by [`Alerts::watch`].
//!
//! Deliveries run in tasks of their own: a slow receiver never holds the
//! jobs back. One that never succeeds is forgotten, so the next check
//! fires it again.

pub mod claims;
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
use crate::figures::daily::above_every_earlier_day;
use crate::figures::source::FiguresSource;
use crate::store::StoreError;
use crate::store::alerts_sent::{self, SentRow};
use crate::store::figures;
use crate::wal::WalMonitor;
use claims::Claims;
use episodes::{Change, Episodes};

/// The instance id claims carry where no lease names one (tests, tools).
const LONE_INSTANCE: &str = "local";

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
    /// Whether this instance leads: only the leader checks alerts (`None`:
    /// it always does).
    leads: Option<tokio::sync::watch::Receiver<bool>>,
    /// Episodes claimed before they are sent, shared by every instance.
    claims: Claims,
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
        let client_for_claims = client.clone();
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
            leads: None,
            claims: Claims::new(client_for_claims, LONE_INSTANCE.to_owned()),
        })))
    }

    /// Checks alerts only while this instance (`instance`) leads, and
    /// claims their episodes in its name (`crate::instances`).
    pub fn with_leadership(
        alerts: Option<Arc<Self>>,
        instance: &str,
        leads: tokio::sync::watch::Receiver<bool>,
    ) -> Option<Arc<Self>> {
        alerts.map(|alerts| {
            let mut alerts = Arc::try_unwrap(alerts).expect("not shared yet");
            alerts.claims = Claims::new(alerts.client.clone(), instance.to_owned());
            alerts.leads = Some(leads);
            Arc::new(alerts)
        })
    }

    fn leads(&self) -> bool {
        self.leads.as_ref().is_none_or(|leads| *leads.borrow())
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
        if !self.leads() {
            return;
        }
        if let Err(e) = self.check_figures(project).await {
            tracing::warn!(project = %project.name, error = %e, "alerts not checked this round");
        }
    }

    async fn check_figures(self: &Arc<Self>, project: &ProjectSettings) -> Result<(), StoreError> {
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
    ) -> Result<(), StoreError> {
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

    /// Delivers a record alert if this instance wins its claim;
    /// remembers it in ClickHouse once delivered, forgets it if it cannot be
    /// (so that the next round tries again).
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
            let name = format!("{}/{}", episode.0, episode.1);
            let body = this.body(alert, &episode.0, Some(&project), details);
            let delivered = this.deliver(index, &project, &name, &body).await;
            match delivered {
                Some(true) => {
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
                // Another instance has it.
                None => {}
                Some(false) => {
                    if let Some(sent) = this.records.lock().await.get_mut(&key) {
                        sent.remove(&episode);
                    }
                }
            }
        });
    }

    /// Claims episode `name` of alert `index` for `scope` and, if this
    /// instance wins it, delivers `body`: `None` when another instance has
    /// it, else whether it was delivered (each outcome recorded with the
    /// claim).
    async fn deliver(&self, index: usize, scope: &str, name: &str, body: &Value) -> Option<bool> {
        let alert = &self.alerts[index];
        match self
            .claims
            .claim(&alert.name, scope, name, self.clock.now_ms())
            .await
        {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => {
                tracing::warn!(alert = %alert.name, error = %e, "alert not claimed (ClickHouse); the next check tries again");
                return Some(false);
            }
        }
        let delivered = webhook::deliver(&self.http[index], alert, body, || self.now_s()).await;
        let state = match &delivered {
            Ok(()) => claims::State::Sent,
            Err(e) => {
                tracing::error!(alert = %alert.name, episode = name, error = %e, "alert not delivered; the next check fires it again");
                claims::State::Failed
            }
        };
        let recorded = self
            .claims
            .record(&alert.name, scope, name, state, self.clock.now_ms())
            .await;
        if let Err(e) = recorded {
            tracing::warn!(alert = %alert.name, error = %e, "what became of an alert is not recorded");
        }
        Some(delivered.is_ok())
    }

    /// Fires `condition`'s alert if the condition starts to hold (and no
    /// instance has its episode open already); ends the episode when it
    /// stops.
    fn on_condition(self: &Arc<Self>, condition: Condition, holds: bool, details: Value) {
        let change = self
            .episodes
            .lock()
            .expect("episodes lock")
            .update(condition.clone(), holds);
        if change == Change::Unchanged {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let alert = &this.alerts[condition.0];
            let scope = condition.1.as_deref().unwrap_or("");
            let open = match this.claims.open_episode(&alert.name, scope).await {
                Ok(open) => open,
                Err(e) => {
                    tracing::warn!(alert = %alert.name, error = %e, "alert episodes unavailable (ClickHouse); the next check tries again");
                    this.episodes
                        .lock()
                        .expect("episodes lock")
                        .reopen(&condition);
                    return;
                }
            };
            let now_ms = this.clock.now_ms();
            match (change, open) {
                (Change::Started, None) => {
                    let kind = kind_name(alert.kind);
                    let body = this.body(alert, kind, condition.1.as_deref(), details);
                    let episode = now_ms.to_string();
                    if this.deliver(condition.0, scope, &episode, &body).await == Some(false) {
                        this.episodes
                            .lock()
                            .expect("episodes lock")
                            .reopen(&condition);
                    }
                }
                (Change::Ended, Some(episode)) => {
                    let closed = this
                        .claims
                        .record(&alert.name, scope, &episode, claims::State::Closed, now_ms)
                        .await;
                    if let Err(e) = closed {
                        tracing::warn!(alert = %alert.name, error = %e, "the end of an alert episode is not recorded");
                    }
                }
                // Started, but open already (another instance, or before a
                // restart, sent it); or ended with nothing open.
                _ => {}
            }
        });
    }

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
