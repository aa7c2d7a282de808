//! Several instances of highwater behind one load balancer act as one.
//!
//! - Every instance takes events into its own write-ahead log and answers
//!   reads and pages (role `all` or `ingest`), keeping today's figures
//!   fresh with live rounds of its own.
//! - One leader among those that may lead (role `all` or `jobs`) runs the
//!   full rounds and checks the alerts: [`lease`].
//! - An alert episode is claimed in ClickHouse before it is sent, so it
//!   is sent once whichever and however many instances run
//!   (`crate::alerts::claims`).
//! - Dashboard sessions live in ClickHouse, so a login on one instance is
//!   valid on every other (`crate::api::pages::sessions`).

pub(crate) mod lease;

use tokio::sync::watch;

use crate::config::Role;

/// This instance as `/readyz` shows it: its id, its role, whether it leads.
#[derive(Debug, Clone)]
pub struct InstanceView {
    pub id: String,
    pub role: Role,
    pub leads: watch::Receiver<bool>,
}

impl InstanceView {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "role": self.role.name(),
            "leads": *self.leads.borrow(),
        })
    }
}
