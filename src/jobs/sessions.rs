//! Reads the sessions that may touch a day, grouped by user, from
//! `session_days` (kept up to date at insert time by a materialized view).

use chrono::{DateTime, NaiveDate};
use clickhouse::query::RowCursor;
use clickhouse::{Client, Row};
use serde::Deserialize;

use super::day_window::DayWindow;
use super::session::{SessionFacts, SessionRules};
use crate::store::StoreError;

/// Extra UTC days read beyond `L` on each side of the day.
const MARGIN_S: i64 = 86_400;

/// (first_start, first_event, first_end, last_alive, presence) of one session.
type SessionTuple = (u32, u32, u32, u32, Vec<(u32, i8)>);

#[derive(Debug, Row, Deserialize)]
struct UserSessionsRow {
    user_id: String,
    sessions: Vec<SessionTuple>,
}

/// The UTC days whose events can shape the sessions of `window`: a session
/// that touches the day starts after `D0 − L`, so its start is inside;
/// events further than `L` + 1 day from the day (a session id reused after a
/// long silence) are not read.
pub fn read_range(window: &DayWindow, rules: SessionRules) -> (NaiveDate, NaiveDate) {
    let utc_day = |t: i64| {
        DateTime::from_timestamp(t, 0)
            .expect("in range")
            .date_naive()
    };
    let reach = i64::from(rules.max_length) + MARGIN_S;
    (utc_day(window.start - reach), utc_day(window.end + reach))
}

/// Users with sessions in a range of days, one at a time.
pub struct UserSessions {
    cursor: RowCursor<UserSessionsRow>,
}

/// Starts reading the sessions of `project` in `from..=to` (UTC days).
pub fn read(
    client: &Client,
    project: &str,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<UserSessions, StoreError> {
    let cursor = client
        .query(
            "SELECT user_id,
                    groupArray((s_first_start, s_first_event, s_first_end, s_last_alive, s_presence)) AS sessions
             FROM (
                SELECT user_id, session_id,
                       minMerge(first_start) AS s_first_start,
                       minMerge(first_event) AS s_first_event,
                       minMerge(first_end) AS s_first_end,
                       maxMerge(last_alive) AS s_last_alive,
                       groupArrayMerge(presence) AS s_presence
                FROM session_days
                WHERE project = ? AND day >= toDate(?) AND day <= toDate(?)
                GROUP BY user_id, session_id
             )
             GROUP BY user_id",
        )
        .bind(project)
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch::<UserSessionsRow>()?;
    Ok(UserSessions { cursor })
}

impl UserSessions {
    /// The next user and their sessions.
    pub async fn next(&mut self) -> Result<Option<(String, Vec<SessionFacts>)>, StoreError> {
        let Some(row) = self.cursor.next().await? else {
            return Ok(None);
        };
        let sessions = row
            .sessions
            .into_iter()
            .map(
                |(first_start, first_event, first_end, last_alive, presence)| SessionFacts {
                    first_start,
                    first_event,
                    first_end,
                    last_alive,
                    presence,
                },
            )
            .collect();
        Ok(Some((row.user_id, sessions)))
    }
}

/// The UTC days in `from..=to` that hold any session data of `project`.
pub async fn days_with_data(
    client: &Client,
    project: &str,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<std::collections::BTreeSet<NaiveDate>, StoreError> {
    let days: Vec<u16> = client
        .query(
            "SELECT DISTINCT day FROM session_days
             WHERE project = ? AND day >= toDate(?) AND day <= toDate(?)",
        )
        .bind(project)
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all()
        .await?;
    Ok(days
        .into_iter()
        .map(crate::store::figures::date_of)
        .collect())
}
