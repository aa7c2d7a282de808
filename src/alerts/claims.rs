//! An alert episode is delivered once, however many instances of highwater
//! run: before sending, an instance records its claim in ClickHouse
//! (`alert_episodes`), waits for the others' to show, and sends only if
//! its claim is the earliest. Only the leader checks alerts (the lease);
//! the claims cover the moments when two instances both believe they lead
//! (a handover), and they carry the state of episodes across instances and
//! restarts: a new leader knows which episodes are open and sent.
//!
//! Rows are events of an episode — `claimed`, `sent`, `failed`, `closed` —
//! keyed by (alert, scope, episode): the scope is the project (or `""` for
//! the whole instance), the episode a record's kind and day, or for a
//! condition the time it started to hold.

use std::time::Duration;

use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};
use serde_repr::{Deserialize_repr, Serialize_repr};

use crate::store::StoreError;

/// How long a claim waits for the claims of other instances to show
/// (replication between nodes takes well under this).
pub const SETTLE: Duration = Duration::from_millis(1_500);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize_repr, Deserialize_repr)]
#[repr(i8)]
pub enum State {
    Claimed = 1,
    Sent = 2,
    /// Not delivered: a later check may claim it again.
    Failed = 3,
    /// A condition stopped holding.
    Closed = 4,
}

#[derive(Debug, Clone, Row, Serialize, Deserialize)]
pub struct EpisodeRow {
    pub alert: String,
    pub scope: String,
    pub episode: String,
    pub instance: String,
    pub state: State,
    pub at_ms: i64,
}

/// One instance's view of the episodes.
#[derive(Debug, Clone)]
pub struct Claims {
    client: Client,
    instance: String,
}

impl Claims {
    pub fn new(client: Client, instance: String) -> Self {
        Self { client, instance }
    }

    /// Claims `episode`; true if this instance won it and must send it
    /// (nobody has sent it, and this claim is the earliest live one).
    pub async fn claim(
        &self,
        alert: &str,
        scope: &str,
        episode: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        if self.settled(alert, scope, episode).await? {
            return Ok(false);
        }
        self.record(alert, scope, episode, State::Claimed, now_ms)
            .await?;
        tokio::time::sleep(SETTLE).await;
        let rows = self.rows(alert, scope, Some(episode)).await?;
        Ok(winner(&rows).is_some_and(|w| w.instance == self.instance && w.at_ms == now_ms))
    }

    /// Records what became of this instance's claim (or a condition's end).
    pub async fn record(
        &self,
        alert: &str,
        scope: &str,
        episode: &str,
        state: State,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        let row = EpisodeRow {
            alert: alert.to_owned(),
            scope: scope.to_owned(),
            episode: episode.to_owned(),
            instance: self.instance.clone(),
            state,
            at_ms,
        };
        crate::store::figures::insert_rows(&self.client, "alert_episodes", &[row]).await
    }

    /// The open episode of a condition (claimed or sent, not closed or
    /// failed), if any.
    pub async fn open_episode(
        &self,
        alert: &str,
        scope: &str,
    ) -> Result<Option<String>, StoreError> {
        let rows = self.rows(alert, scope, None).await?;
        Ok(open(&rows))
    }

    /// Whether `episode` was sent, or is being sent by a live claim.
    async fn settled(&self, alert: &str, scope: &str, episode: &str) -> Result<bool, StoreError> {
        let rows = self.rows(alert, scope, Some(episode)).await?;
        Ok(rows.iter().any(|r| r.state == State::Sent) || winner(&rows).is_some())
    }

    async fn rows(
        &self,
        alert: &str,
        scope: &str,
        episode: Option<&str>,
    ) -> Result<Vec<EpisodeRow>, StoreError> {
        let query = self
            .client
            .query(
                "SELECT alert, scope, episode, instance, state, at_ms FROM alert_episodes
                 WHERE alert = ? AND scope = ? AND (? OR episode = ?)
                 ORDER BY at_ms, instance",
            )
            .bind(alert)
            .bind(scope)
            .bind(u8::from(episode.is_none()))
            .bind(episode.unwrap_or(""));
        Ok(query.fetch_all().await?)
    }
}

/// The claim that wins an episode: the earliest claim (then the lowest
/// instance id) that its instance has not given up (failed).
fn winner(rows: &[EpisodeRow]) -> Option<&EpisodeRow> {
    rows.iter()
        .filter(|r| r.state == State::Claimed)
        .filter(|claim| {
            !rows.iter().any(|r| {
                r.state == State::Failed && r.instance == claim.instance && r.at_ms >= claim.at_ms
            })
        })
        .min_by(|a, b| (a.at_ms, &a.instance).cmp(&(b.at_ms, &b.instance)))
}

/// The latest episode of a condition that is still open.
fn open(rows: &[EpisodeRow]) -> Option<String> {
    let latest = rows.iter().max_by_key(|r| (r.at_ms, r.state as i8))?;
    let episode = &latest.episode;
    let of_it: Vec<EpisodeRow> = rows
        .iter()
        .filter(|r| &r.episode == episode)
        .cloned()
        .collect();
    let ended = of_it.iter().any(|r| r.state == State::Closed);
    let live = of_it.iter().any(|r| r.state == State::Sent) || winner(&of_it).is_some();
    (live && !ended).then(|| episode.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(episode: &str, instance: &str, state: State, at_ms: i64) -> EpisodeRow {
        EpisodeRow {
            alert: "a".into(),
            scope: "p".into(),
            episode: episode.into(),
            instance: instance.into(),
            state,
            at_ms,
        }
    }

    #[test]
    fn the_earliest_live_claim_wins() {
        let rows = [
            row("e", "b", State::Claimed, 10),
            row("e", "a", State::Claimed, 10),
            row("e", "c", State::Claimed, 9),
            row("e", "c", State::Failed, 12),
        ];
        assert_eq!(winner(&rows).map(|w| w.instance.as_str()), Some("a"));
        assert!(winner(&rows[3..]).is_none());
    }

    #[test]
    fn a_condition_is_open_from_its_winning_claim_until_closed() {
        let mut rows = vec![row("100", "a", State::Claimed, 100)];
        assert_eq!(open(&rows), Some("100".into()));
        rows.push(row("100", "a", State::Sent, 101));
        assert_eq!(open(&rows), Some("100".into()));
        rows.push(row("100", "a", State::Closed, 200));
        assert_eq!(open(&rows), None);
        rows.push(row("300", "b", State::Claimed, 300));
        rows.push(row("300", "b", State::Failed, 301));
        assert_eq!(
            open(&rows),
            None,
            "a failed delivery leaves it to fire again"
        );
    }
}
