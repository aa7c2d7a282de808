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

pub(crate) mod claims;
pub(crate) mod episodes;
mod live;
mod records;
pub mod webhook;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::config::{AlertKind, AlertSettings};
use crate::domain::calendar::rfc3339;
use claims::Claims;
use episodes::{Change, Episodes};

/// The instance id claims carry where no lease names one (tests, tools).
const LONE_INSTANCE: &str = "local";

/// The `alerts_sent` row that says an alert's existing records were
/// taken as known.
const BASELINE: (&str, &str) = ("baseline", "");

/// An alert's condition for one project: episodes open and close per
/// condition.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Condition {
    /// The alert's index in the settings.
    alert: usize,
    /// `None`: the whole instance (`shipping_stalled`).
    project: Option<String>,
}
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
            let alert = &this.alerts[condition.alert];
            let scope = condition.project.as_deref().unwrap_or("");
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
                    let body = this.body(alert, kind, condition.project.as_deref(), details);
                    let episode = now_ms.to_string();
                    if this.deliver(condition.alert, scope, &episode, &body).await == Some(false) {
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
