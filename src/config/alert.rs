//! An `[[alert]]` of `highwater.toml`: what it watches, where it is sent,
//! and the checks made at start (threshold, timeout, `ca_file`).

use std::path::PathBuf;

use serde::Deserialize;

/// What an `[[alert]]` watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A new all-time record: while the day is provisional ("record in
    /// progress") and once it is final.
    Record,
    /// Users online now above `threshold`.
    OnlineAbove,
    /// The headroom of `capacity_users` (1 − today's peak so far /
    /// capacity) below `threshold` (a share, 0 to 1).
    HeadroomBelow,
    /// Shipping to ClickHouse stalled (`wal.stall_after_s`).
    ShippingStalled,
}

/// One webhook: a POST of a JSON body signed with HMAC-SHA256 each time
/// its condition starts to hold (once per episode).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSettings {
    /// Names the alert in its body and in logs.
    pub name: String,
    pub kind: AlertKind,
    pub url: String,
    /// The HMAC key of the `X-Highwater-Signature` header (at least 24
    /// characters).
    pub secret: String,
    /// Users for `online_above`, a share for `headroom_below`.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Only this project (default: every project).
    #[serde(default)]
    pub project: Option<String>,
    /// Per attempt.
    #[serde(default = "alert_timeout_ms")]
    pub timeout_ms: u64,
    /// Attempts after the first (1 s, 2 s, 4 s… apart, at most 60 s).
    #[serde(default = "alert_retries")]
    pub retries: u32,
    /// PEM certificate(s) of the authority of a private `https://`
    /// receiver, trusted besides the platform's and Mozilla's.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

fn alert_timeout_ms() -> u64 {
    5_000
}
fn alert_retries() -> u32 {
    5
}

impl AlertSettings {
    pub fn validate(&self, projects: &[super::ProjectSettings]) -> anyhow::Result<()> {
        let name = &self.name;
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            anyhow::bail!("alert {name:?}: url must start with http:// or https://");
        }
        if let Some(why) = super::keys::refusal(&self.secret) {
            anyhow::bail!("alert {name:?}: secret: {why}");
        }
        if let Some(project) = &self.project
            && !projects.iter().any(|p| &p.name == project)
        {
            anyhow::bail!("alert {name:?}: no project {project:?}");
        }
        match (self.kind, self.threshold) {
            (AlertKind::OnlineAbove, Some(t)) if t >= 0.0 => {}
            (AlertKind::OnlineAbove, _) => {
                anyhow::bail!("alert {name:?}: online_above needs a threshold (users, ≥ 0)")
            }
            (AlertKind::HeadroomBelow, Some(t)) if (0.0..=1.0).contains(&t) => {}
            (AlertKind::HeadroomBelow, _) => anyhow::bail!(
                "alert {name:?}: headroom_below needs a threshold between 0 and 1 (a share)"
            ),
            (_, Some(_)) => anyhow::bail!("alert {name:?}: threshold means nothing here"),
            (_, None) => {}
        }
        if self.timeout_ms == 0 {
            anyhow::bail!("alert {name:?}: timeout_ms must be positive");
        }
        if let Some(path) = &self.ca_file {
            Self::ca_certificates(path).map_err(|e| {
                anyhow::anyhow!("alert {name:?}: ca_file {}: {e:#}", path.display())
            })?;
        }
        Ok(())
    }

    /// The certificates of a `ca_file` (PEM): checked at start, used by
    /// the alert's HTTP client.
    pub fn ca_certificates(path: &std::path::Path) -> anyhow::Result<Vec<reqwest::Certificate>> {
        use anyhow::Context;
        let pem = std::fs::read(path).context("cannot read it")?;
        let certificates =
            reqwest::Certificate::from_pem_bundle(&pem).context("not PEM certificates")?;
        anyhow::ensure!(!certificates.is_empty(), "it holds no certificate");
        Ok(certificates)
    }
}
