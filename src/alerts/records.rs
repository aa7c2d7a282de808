//! The alerts that follow the figures, checked after each round of the
//! jobs: `record` (a day above every earlier one, provisional or final)
//! and `headroom_below` (today's peak against the project's capacity).

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Value, json};

use super::{Alerts, BASELINE, Condition};
use crate::config::{AlertKind, ProjectSettings};
use crate::figures::daily::above_every_earlier_day;
use crate::store::StoreError;
use crate::store::alerts_sent::{self, SentRow};
use crate::store::figures;

/// A record day an alert may announce: its kind (`record` once the day
/// is final, `record_in_progress` before), the day, and what the alert says.
struct RecordEpisode {
    kind: &'static str,
    day: String,
    details: Value,
}

impl Alerts {
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
        let candidates: Vec<RecordEpisode> = above_every_earlier_day(&days)
            .map(|(record, is_final)| RecordEpisode {
                kind: if is_final {
                    "record"
                } else {
                    "record_in_progress"
                },
                day: record.day.clone(),
                details: json!(record),
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
                    Condition {
                        alert: index,
                        project: Some(name.to_owned()),
                    },
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
        candidates: &[RecordEpisode],
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
                        .map(|c| (c.kind.to_owned(), c.day.clone()))
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
        for candidate in candidates {
            let episode = (candidate.kind.to_owned(), candidate.day.clone());
            if sent.insert(episode.clone()) {
                self.send_record(key.clone(), episode, candidate.details.clone());
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
}
