//! Reads the sessions that may touch a day from `sessions_by_day` (kept up
//! to date at insert time by a materialized view), one slice of user
//! buckets at a time (see `slicing`).

use std::ops::Range;

use chrono::NaiveDate;
use clickhouse::query::RowCursor;
use clickhouse::{Client, Row};
use serde::Deserialize;

use super::session_interval::{SessionFacts, SessionRules};
use crate::domain::calendar::{date_of, utc_date};
use crate::domain::day_window::DayWindow;
use crate::store::StoreError;
use crate::store::schema::{BUCKETS, SEGMENT_VALUE_AT};

/// Extra UTC days read beyond `L` on each side of the day.
const MARGIN_S: i64 = 86_400;

/// Borrows `user_id` from the response buffer: no allocation per session.
/// The columns are aliased `s_*` because 18.16 refuses an aggregate aliased
/// to the name of the column it reads (`minMerge(first_start) AS
/// first_start`); the names must still match for current servers' row
/// validation.
#[derive(Debug, Row, Deserialize)]
struct SessionRow<'a> {
    user_id: &'a str,
    #[serde(rename = "s_bucket")]
    bucket: u8,
    #[serde(rename = "s_session")]
    session: u64,
    #[serde(rename = "s_first_start")]
    first_start: u32,
    #[serde(rename = "s_first_event")]
    first_event: u32,
    #[serde(rename = "s_first_end")]
    first_end: u32,
    #[serde(rename = "s_last_alive")]
    last_alive: u32,
    #[serde(rename = "s_presence")]
    presence: Vec<(u32, i8)>,
    #[serde(rename = "s_platform")]
    platform: &'a str,
    #[serde(rename = "s_country")]
    country: &'a str,
    #[serde(rename = "s_org_id")]
    org_id: &'a str,
}

/// The UTC days whose events can shape the sessions of `window`: a session
/// that touches the day starts after `D0 − L`, so its start is inside;
/// events further than `L` + 1 day from the day (a session id reused after a
/// long silence) are not read.
pub fn read_range(window: &DayWindow, rules: SessionRules) -> (NaiveDate, NaiveDate) {
    let reach = i64::from(rules.max_length) + MARGIN_S;
    (utc_date(window.start - reach), utc_date(window.end + reach))
}

/// Sessions in a range of days, one at a time, in no particular order.
/// (Grouping them by user is left to the caller: ClickHouse 18.16 spends
/// more on a second GROUP BY, or an ORDER BY, than a hash map in Rust does.)
pub struct Sessions {
    cursor: RowCursor<SessionRow<'static>>,
}

/// Starts reading the sessions of `project` in `from..=to` (UTC days) whose
/// users fall in `buckets` (a range of the table's primary key: a slice
/// reads only its own granules), with their segment values if
/// `with_segments`. On a cluster each shard groups its own
/// sessions (`distributed_group_by_no_merge`: a user's sessions all live on
/// one shard), so no server ever holds more than its part of one slice.
pub fn read(
    client: &Client,
    project: &str,
    range: (NaiveDate, NaiveDate),
    buckets: Range<u8>,
    with_segments: bool,
) -> Result<Sessions, StoreError> {
    read_narrowed(
        client,
        project,
        range,
        buckets,
        with_segments,
        Narrowing::NONE,
    )
}

/// The session states of the events of `project` received
/// (`received_ms`) at or after `since_ms`, per session, from
/// `received_sessions` (which holds the last [`RECEIVED_KEPT_DAYS`] UTC
/// days): for each session with such events, what those events alone say
/// (a part of the session, to be merged into what was known of it), only
/// from the days of `range`. Reads the newest rows only (the table's sort
/// key). On a cluster each shard groups its own (a user's events live on
/// one shard).
///
/// [`RECEIVED_KEPT_DAYS`]: crate::store::schema::RECEIVED_KEPT_DAYS
pub fn read_received_since(
    client: &Client,
    project: &str,
    range: (NaiveDate, NaiveDate),
    since_ms: i64,
) -> Result<Sessions, StoreError> {
    let since = format!("received_ms >= {since_ms}");
    let narrowing = Narrowing {
        table: "received_sessions",
        condition: &since,
        having: "1",
    };
    read_narrowed(client, project, range, 0..BUCKETS as u8, false, narrowing)
}

/// The sessions of `project` in `range` (UTC days) and `buckets` that may be open at
/// second `at`: those not ended by then and with a sign of life within `T`
/// before it, or ending after it. A superset: the caller still applies
/// the whole definition (start, maximum length, presence) to each.
pub fn read_maybe_open_at(
    client: &Client,
    project: &str,
    (range, buckets): ((NaiveDate, NaiveDate), Range<u8>),
    at: i64,
    rules: SessionRules,
    with_segments: bool,
) -> Result<Sessions, StoreError> {
    let having = format!(
        "(s_first_end = {no_end} AND toInt64(s_last_alive) + {timeout} > {at})
         OR (s_first_end != {no_end} AND toInt64(s_first_end) > {at})",
        no_end = super::session_interval::NO_MIN,
        timeout = rules.timeout,
    );
    let narrowing = Narrowing {
        having: &having,
        ..Narrowing::NONE
    };
    read_narrowed(client, project, range, buckets, with_segments, narrowing)
}

/// Where a read reads (`sessions_by_day`, or `received_sessions`: the same
/// states per session and day) and what it keeps beyond its days and
/// buckets: rows meeting `condition` (SQL on the table's columns), then
/// sessions meeting `having` (on the merged `s_*` columns).
#[derive(Clone, Copy)]
struct Narrowing<'a> {
    table: &'a str,
    condition: &'a str,
    having: &'a str,
}

impl Narrowing<'_> {
    const NONE: Narrowing<'static> = Narrowing {
        table: "sessions_by_day",
        condition: "1",
        having: "1",
    };
}

fn read_narrowed(
    client: &Client,
    project: &str,
    (from, to): (NaiveDate, NaiveDate),
    buckets: Range<u8>,
    with_segments: bool,
    narrowing: Narrowing<'_>,
) -> Result<Sessions, StoreError> {
    // A session's value: what follows the second in the least key.
    let segments = if with_segments {
        format!(
            "substring(minMerge(platform_first), {at}) AS s_platform,
             substring(minMerge(country_first), {at}) AS s_country,
             substring(minMerge(org_id_first), {at}) AS s_org_id",
            at = SEGMENT_VALUE_AT
        )
    } else {
        "'' AS s_platform, '' AS s_country, '' AS s_org_id".to_owned()
    };
    let cursor = client
        .query(&format!(
            "SELECT user_id,
                    bucket AS s_bucket,
                    cityHash64(session_id) AS s_session,
                    minMerge(first_start) AS s_first_start,
                    minMerge(first_event) AS s_first_event,
                    minMerge(first_end) AS s_first_end,
                    maxMerge(last_alive) AS s_last_alive,
                    groupArrayMerge(presence) AS s_presence,
                    {segments}
             FROM {table}
             WHERE project = ? AND day >= toDate(?) AND day <= toDate(?)
               AND bucket >= ? AND bucket < ? AND {condition}
             GROUP BY bucket, user_id, session_id
             HAVING {having}",
            table = narrowing.table,
            condition = narrowing.condition,
            having = narrowing.having,
        ))
        .bind(project)
        .bind(from.to_string())
        .bind(to.to_string())
        .bind(buckets.start)
        .bind(buckets.end)
        .with_setting("distributed_group_by_no_merge", "1")
        .fetch::<SessionRow<'_>>()?;
    Ok(Sessions { cursor })
}

/// One session as read: its user, bucket, session (a hash of its id),
/// facts and segment values (platform, country, org_id), borrowed until
/// the next read.
pub struct SessionRead<'a> {
    pub user_id: &'a str,
    pub bucket: u8,
    pub session: u64,
    pub facts: SessionFacts,
    pub values: [&'a str; 3],
}

impl Sessions {
    /// The next session.
    pub async fn next(&mut self) -> Result<Option<SessionRead<'_>>, StoreError> {
        let Some(row) = self.cursor.next().await? else {
            return Ok(None);
        };
        let facts = SessionFacts {
            first_start: row.first_start,
            first_event: row.first_event,
            first_end: row.first_end,
            last_alive: row.last_alive,
            presence: row.presence,
        };
        Ok(Some(SessionRead {
            user_id: row.user_id,
            bucket: row.bucket,
            session: row.session,
            facts,
            values: [row.platform, row.country, row.org_id],
        }))
    }
}

/// About how many sessions `project` has in `from..=to` (UTC days), to
/// size the slices of a day's computation (`uniq`: a few percent off, in a
/// few KB of memory).
pub async fn estimate(
    client: &Client,
    project: &str,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<u64, StoreError> {
    let bytes = client
        .query(
            "SELECT uniq(user_id, session_id) FROM sessions_by_day
             WHERE project = ? AND day >= toDate(?) AND day <= toDate(?)",
        )
        .bind(project)
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_bytes("TabSeparated")?
        .collect()
        .await?;
    Ok(String::from_utf8_lossy(&bytes).trim().parse().unwrap_or(0))
}

/// The UTC days in `from..=to` that hold any session data of `project`.
pub async fn days_with_data(
    client: &Client,
    project: &str,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<std::collections::BTreeSet<NaiveDate>, StoreError> {
    let days: Vec<u16> = client
        .query(
            "SELECT DISTINCT day FROM sessions_by_day
             WHERE project = ? AND day >= toDate(?) AND day <= toDate(?)",
        )
        .bind(project)
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all()
        .await?;
    Ok(days.into_iter().map(date_of).collect())
}
