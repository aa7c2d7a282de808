//! Which instance leads: a lease kept in ClickHouse.
//!
//! Every instance that may run the jobs writes a heartbeat into
//! `instances` every third of `lease_s`; the leader is the lowest instance
//! id whose heartbeat is younger than two thirds of `lease_s` (two beats
//! missed), so that the others see it gone, and take over, within
//! `lease_s` of its death. Each instance works that
//! out for itself from the same table, so they agree without talking to
//! each other; a leader that dies stops beating and is replaced within
//! `lease_s`, one that stops cleanly withdraws at once. An instance that
//! cannot write its heartbeat steps down, since the others cannot see it
//! either.
//!
//! Heartbeats are stamped with the wall clock (not a test's or a replay's
//! clock): the instances' clocks must agree to well within `lease_s`.

use std::sync::Arc;
use std::time::Duration;

use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::Role;
use crate::store::StoreError;

#[derive(Debug, Row, Serialize, Deserialize)]
struct HeartbeatRow {
    instance: String,
    role: String,
    heartbeat_ms: i64,
}

/// One instance's part in the lease.
#[derive(Debug, Clone)]
pub struct Lease {
    client: Client,
    instance: String,
    role: Role,
    lease: Duration,
    clock: Arc<dyn Clock>,
}

impl Lease {
    pub fn new(
        client: Client,
        instance: String,
        role: Role,
        lease: Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            // A heartbeat need not wait for a quorum: one lost costs
            // nothing, one late makes the leader look dead. (18.16 also
            // allows one quorum insert per table at a time: the instances'
            // beats would refuse each other.)
            client: client.with_setting("insert_quorum", "0"),
            instance,
            role,
            lease,
            clock,
        }
    }

    /// Writes this instance's heartbeat; returns whether it leads now.
    pub async fn beat(&self) -> Result<bool, StoreError> {
        self.write(self.clock.now_ms()).await?;
        Ok(self.leader().await?.as_deref() == Some(self.instance.as_str()))
    }

    /// The instance that leads: the lowest id among the live candidates.
    pub async fn leader(&self) -> Result<Option<String>, StoreError> {
        let since = self.clock.now_ms() - (self.lease - self.every()).as_millis() as i64;
        let leader: Vec<String> = self
            .client
            .query(
                "SELECT instance FROM (
                     SELECT instance, argMax(role, heartbeat_ms) AS last_role,
                            max(heartbeat_ms) AS last_beat
                     FROM instances GROUP BY instance)
                 WHERE last_beat >= ? AND last_role != ?
                 ORDER BY instance LIMIT 1",
            )
            .bind(since)
            .bind(Role::Ingest.name())
            .fetch_all()
            .await?;
        Ok(leader.into_iter().next())
    }

    /// How often the heartbeat goes.
    fn every(&self) -> Duration {
        (self.lease / 3).max(Duration::from_millis(100))
    }

    /// Withdraws at once (a clean stop): the next in line leads at its
    /// next heartbeat.
    pub async fn withdraw(&self) {
        if let Err(e) = self.write(0).await {
            tracing::warn!(error = %e, "could not withdraw from the lease; another instance leads once it expires");
        }
    }

    async fn write(&self, heartbeat_ms: i64) -> Result<(), StoreError> {
        crate::store::figures::insert_rows(
            &self.client,
            "instances",
            &[HeartbeatRow {
                instance: self.instance.clone(),
                role: self.role.name().to_owned(),
                heartbeat_ms,
            }],
        )
        .await
    }

    /// Beats until `stop`, telling `leads` whether this instance leads;
    /// withdraws at the end. Candidates only (an `ingest` instance never
    /// leads, and only announces itself).
    pub async fn run(self, leads: watch::Sender<bool>, stop: CancellationToken) {
        let every = self.every();
        let mut last_beat = tokio::time::Instant::now();
        // A new instance leads only from its second heartbeat on: by then
        // it has seen the heartbeats of the others, and they its own.
        let mut beats = 0u32;
        loop {
            match self.beat().await {
                Ok(leading) => {
                    beats += 1;
                    let leading = leading && beats >= 2;
                    last_beat = tokio::time::Instant::now();
                    let was = leads.send_replace(leading);
                    if was != leading {
                        tracing::info!(instance = %self.instance, leading, "leadership changed");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "heartbeat not written");
                    if last_beat.elapsed() >= self.lease && leads.send_replace(false) {
                        tracing::warn!(instance = %self.instance, "stepping down: no heartbeat written for the length of the lease");
                    }
                }
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(every) => {}
            }
        }
        leads.send_replace(false);
        self.withdraw().await;
    }
}

/// This instance's id: `configured`, else the one kept in `dir` (made up
/// at the first start: random, so two instances never share one).
pub fn instance_id(configured: Option<&str>, dir: &std::path::Path) -> std::io::Result<String> {
    if let Some(id) = configured {
        return Ok(id.to_owned());
    }
    let path = dir.join("instance");
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => Ok(id.trim().to_owned()),
        _ => {
            let id = format!("hw-{:016x}", rand::random::<u64>());
            std::fs::write(&path, format!("{id}\n"))?;
            Ok(id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_keeps_its_id_across_restarts_unless_one_is_configured() {
        let dir = tempfile::tempdir().unwrap();
        let first = instance_id(None, dir.path()).unwrap();
        assert!(first.starts_with("hw-"), "{first}");
        assert_eq!(instance_id(None, dir.path()).unwrap(), first);
        let other = tempfile::tempdir().unwrap();
        assert_ne!(instance_id(None, other.path()).unwrap(), first);
        assert_eq!(instance_id(Some("eu-1"), dir.path()).unwrap(), "eu-1");
    }
}
