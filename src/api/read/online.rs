//! `GET /v1/online`: users, connections and active users online at the
//! server clock's current second (DESIGN §2 "Online now"), optionally per
//! value of a dimension, with how much this instance has acknowledged
//! that the answer cannot count yet (not yet in ClickHouse).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::params::parse_dimension;
use crate::api::error::ApiError;
use crate::api::state::AppState;
use crate::domain::calendar::rfc3339;
use crate::live::online::{OnlineCounts, OnlineValue};

#[derive(Debug, Deserialize)]
pub struct OnlineQuery {
    dimension: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct OnlineResponse {
    pub project: String,
    /// The second evaluated, RFC 3339 UTC.
    pub as_of: String,
    #[serde(flatten)]
    pub counts: OnlineCounts,
    /// Events this instance acknowledged that are not in ClickHouse yet
    /// (so not counted).
    pub unshipped_bytes: u64,
    /// Age of the oldest acknowledged event the answer may not count: the
    /// oldest unshipped here, or, from live counts, their cut-off.
    pub behind_s: f64,
    /// `live`: today's counts of the latest live round (jobs on, no
    /// dimension); `store`: evaluated over every stored event.
    pub source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimension: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<OnlineValue>>,
}

pub async fn online(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<OnlineQuery>,
) -> Result<Json<OnlineResponse>, ApiError> {
    let project = state.readable_project(&headers)?;
    let dimension = query
        .dimension
        .as_deref()
        .map(|d| parse_dimension(Some(d)))
        .transpose()?;
    let now_ms = state.clock.now_ms();
    let at = now_ms.div_euclid(1000);
    let online = state.online.at(&state.db, project, at, dimension).await?;
    let log = state.wal.monitor().status(now_ms);
    // Behind: what this instance holds unshipped, or what the live
    // counts have not seen yet, whichever is older.
    let unseen_s = online
        .counted_until_ms
        .map_or(0.0, |cut| (now_ms - cut).max(0) as f64 / 1000.0);
    let (dimension, values) = match online.values {
        Some((dimension, values)) => (Some(dimension.name().to_owned()), Some(values)),
        None => (None, None),
    };
    Ok(Json(OnlineResponse {
        project: project.name.clone(),
        as_of: rfc3339(at),
        counts: online.counts,
        unshipped_bytes: log.backlog_bytes,
        behind_s: log.backlog_age_s.max(unseen_s),
        source: if online.counted_until_ms.is_some() {
            "live"
        } else {
            "store"
        },
        dimension,
        values,
    }))
}
