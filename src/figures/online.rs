//! Who is online at one second (docs/design.md §2 "Online now"): the
//! three counts overall and per value of a dimension, and the report the
//! API and the CLI show. Evaluated by `live::online`, or taken from the
//! live rounds' counts.

use serde::Serialize;

use crate::domain::dimension::Dimension;

/// The three counts at one second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OnlineCounts {
    pub users: u64,
    pub connections: u64,
    pub active_users: u64,
}

/// One value of a dimension and its counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OnlineValue {
    pub value: String,
    #[serde(flatten)]
    pub counts: OnlineCounts,
}

/// Online at second `at`: overall, and per value of `dimension` when one
/// was asked for (values by users, then by name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnlineNow {
    pub at: i64,
    pub counts: OnlineCounts,
    pub values: Option<(Dimension, Vec<OnlineValue>)>,
    /// From the live rounds' counts: every event received before this
    /// (server ms) is counted. None: every event stored at the evaluation.
    pub counted_until_ms: Option<i64>,
}

/// Online now as the API and the CLI show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OnlineReport {
    pub project: String,
    /// The second evaluated, RFC 3339 UTC.
    pub as_of: String,
    #[serde(flatten)]
    pub counts: OnlineCounts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimension: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<OnlineValue>>,
}

impl OnlineReport {
    pub fn new(project: &str, online: OnlineNow) -> Self {
        let (dimension, values) = match online.values {
            Some((dimension, values)) => (Some(dimension.name()), Some(values)),
            None => (None, None),
        };
        Self {
            project: project.to_owned(),
            as_of: crate::domain::calendar::rfc3339(online.at),
            counts: online.counts,
            dimension,
            values,
        }
    }
}
