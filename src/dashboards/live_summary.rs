//! What the live page shows at the top and refreshes every few seconds:
//! online now, today's peak so far (from today's provisional figures, as
//! fresh as the last round of the jobs) and the all-time record.

use serde::Serialize;

use crate::config::ProjectSettings;
use crate::domain::calendar::{date_of, local_day, rfc3339};
use crate::figures::daily::{Record, records};
use crate::figures::online::OnlineCounts;
use crate::figures::source::FiguresSource;
use crate::store::StoreError;

#[derive(Debug, Clone, Serialize)]
pub struct TodaySoFar {
    pub day: String,
    pub peak_users: u32,
    pub peak_users_at: String,
    /// When the figures were computed (RFC 3339).
    pub computed_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LiveSummary {
    pub project: String,
    pub as_of: String,
    #[serde(flatten)]
    pub online: OnlineCounts,
    /// None before the jobs computed today.
    pub today: Option<TodaySoFar>,
    /// The latest all-time record (a final day), if any.
    pub record: Option<Record>,
}

pub async fn summary(
    source: &dyn FiguresSource,
    project: &ProjectSettings,
    now_ms: i64,
) -> Result<LiveSummary, StoreError> {
    let at = now_ms.div_euclid(1000);
    let counts = source.online_at(project, at, None).await?.counts;
    let days = source.all_days(&project.name).await?;
    let today = local_day(project.time_zone, now_ms);
    let today = days
        .iter()
        .rev()
        .find(|d| date_of(d.day) == today)
        .map(|d| TodaySoFar {
            day: today.to_string(),
            peak_users: d.peak_users,
            peak_users_at: rfc3339(d.peak_users_at.into()),
            computed_at: rfc3339((d.computed_ms / 1000) as i64),
        });
    Ok(LiveSummary {
        project: project.name.clone(),
        as_of: rfc3339(at),
        online: counts,
        today,
        record: records(&days).pop(),
    })
}
