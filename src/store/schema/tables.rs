//! The tables, views and queries every topology's migrations share.

use super::{AddColumn, Migration};
use crate::domain::dimension::Dimension;

/// The seconds of `ts_ms`, as every figure uses them (docs/design.md §2: floored).
pub(super) const TS_S: &str = "toUInt32(intDiv(ts_ms, 1000))";
/// A user's bucket.
pub(super) const BUCKET: &str = "toUInt8(cityHash64(user_id) % 64)";

pub(super) const EVENTS_COLUMNS: &str = "(
    project String,
    `type` Enum8('session_start' = 1, 'session_end' = 2, 'heartbeat' = 3, 'presence' = 4),
    user_id String,
    session_id String,
    ts_ms Int64,
    status Enum8('' = 0, 'active' = 1, 'away' = 2),
    event_id String,
    platform String,
    country String,
    org_id String,
    app_version String,
    received_ms Int64
)";
pub(super) const EVENTS_ENGINE: &str = "ENGINE = MergeTree
    PARTITION BY toYYYYMM(toDateTime(intDiv(ts_ms, 1000), 'UTC'))
    ORDER BY (project, user_id, session_id, ts_ms)";

/// The aggregate states [`crate::jobs::session_interval::SessionFacts`]
/// needs; min/max/groupArray make them immune to duplicates and order.
pub(super) fn session_states() -> String {
    format!(
        "minState(if(`type` = 'session_start', {TS_S}, toUInt32(4294967295))) AS first_start,
         minState({TS_S}) AS first_event,
         minState(if(`type` = 'session_end', {TS_S}, toUInt32(4294967295))) AS first_end,
         maxState(if(`type` != 'session_end', {TS_S}, toUInt32(0))) AS last_alive,
         groupArrayStateIf(({TS_S}, CAST(status AS Int8)), `type` = 'presence') AS presence"
    )
}

/// A session's value of each dimension (docs/design.md §2, "Segments"): the
/// value of its earliest event (in seconds) that has the field, the
/// smallest of that second's. Kept as the least string "second + value"
/// over the events with a value, the second as 11 fixed digits (so that
/// strings order as their seconds, then their values): `min` over strings
/// merges several times faster than over tuples, on 18.16 as on current
/// releases. No event with the field: the empty state, read as `""`.
pub(super) fn segment_states() -> String {
    Dimension::ALL
        .iter()
        .map(|d| {
            let field = d.name();
            format!(
                "minStateIf({key}, {field} != '') AS {field}_first",
                key = segment_key(field)
            )
        })
        .collect::<Vec<_>>()
        .join(",\n         ")
}

/// The ordering key of one event's value of `field`: its second plus
/// 10^10 (11 digits for any `UInt32` second), then the value.
pub(super) fn segment_key(field: &str) -> String {
    format!("concat(toString(toUInt64({TS_S}) + 10000000000), {field})")
}
/// Where the value starts in a key (1-based, as `substring` counts).
pub const SEGMENT_VALUE_AT: u32 = 12;

/// The columns [`segment_states`] fills.
pub(super) const SEGMENT_STATE_COLUMNS: [&str; 3] =
    ["platform_first", "country_first", "org_id_first"];
pub(super) const SEGMENT_STATE_KIND: &str = "AggregateFunction(min, String)";

pub(super) fn add_segment_columns(tables: &[&'static str]) -> Vec<AddColumn> {
    tables
        .iter()
        .flat_map(|&table| {
            SEGMENT_STATE_COLUMNS.iter().map(move |&column| AddColumn {
                table,
                column,
                kind: SEGMENT_STATE_KIND,
            })
        })
        .collect()
}

/// The view's query from migration 5 on: the session facts and the
/// session's segment values.
pub(super) fn sessions_with_segments_select(source: &str) -> String {
    per_session_select(
        source,
        &format!("{},\n         {}", session_states(), segment_states()),
    )
}

/// Fills the segment columns for the events stored before migration 5
/// (the other aggregate states of these rows stay empty, which merges as
/// "no event").
pub(super) fn backfill_segments(target: &str, source: &str) -> String {
    format!(
        "INSERT INTO {target} (project, day, bucket, user_id, session_id, {columns})
         {select}",
        columns = SEGMENT_STATE_COLUMNS.join(", "),
        select = per_session_select(source, &segment_states()),
    )
}

/// Per day, dimension and value: the figures of docs/design.md §2 "Segments" and
/// the per-minute maxima; `segment_days` holds each dimension's totals
/// and is written last, so its `computed_ms` names the version of the
/// values to read (a recompute may keep other values, e.g. other orgs).
pub(super) const SEGMENT_TABLES: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS segment_figures (
        project String,
        day Date,
        dimension String,
        value String,
        peak_users UInt32,
        peak_users_at UInt32,
        peak_connections UInt32,
        peak_connections_at UInt32,
        peak_active_users UInt32,
        peak_active_users_at UInt32,
        dau UInt64,
        acu Float64,
        minute_users Array(UInt32),
        minute_connections Array(UInt32),
        minute_active_users Array(UInt32),
        computed_ms UInt64
    ) ENGINE = ReplacingMergeTree(computed_ms)
    PARTITION BY toYYYYMM(day)
    ORDER BY (project, day, dimension, value)",
    "CREATE TABLE IF NOT EXISTS segment_days (
        project String,
        day Date,
        dimension String,
        value_count UInt32,
        summed_peak UInt64,
        coincident_peak UInt32,
        computed_ms UInt64
    ) ENGINE = ReplacingMergeTree(computed_ms)
    PARTITION BY toYYYYMM(day)
    ORDER BY (project, day, dimension)",
];

/// Migration 5 on either topology: segment values in the sessions table
/// `sessions` (fed by `view` from `events`), backfilled, and the segment
/// figures tables.
pub(super) fn segments_migration(
    version: u32,
    (sessions, view, events): (&'static str, &'static str, &'static str),
    also_add_to: Option<&'static str>,
) -> Migration {
    let tables: Vec<&'static str> = std::iter::once(sessions).chain(also_add_to).collect();
    let mut statements = vec![
        format!("DROP TABLE IF EXISTS {view}"),
        format!(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS {view} TO {sessions} AS {}",
            sessions_with_segments_select(events)
        ),
        backfill_segments(sessions, events),
    ];
    statements.extend(SEGMENT_TABLES.iter().map(|s| s.to_string()));
    Migration {
        version,
        name: "segments",
        add_columns: add_segment_columns(&tables),
        statements,
    }
}

pub(super) const SESSION_STATE_COLUMNS: &str = "first_start AggregateFunction(min, UInt32),
    first_event AggregateFunction(min, UInt32),
    first_end AggregateFunction(min, UInt32),
    last_alive AggregateFunction(max, UInt32),
    presence AggregateFunction(groupArray, Tuple(UInt32, Int8))";

/// One `sessions_by_day` row per (session, UTC day of its events, insert
/// block), from the events of `source`.
pub(super) fn sessions_by_day_select(source: &str) -> String {
    per_session_select(source, &session_states())
}

/// `states` per (project, UTC day, bucket, user, session) of the events of
/// `source`: the shape of every `sessions_by_day` row.
pub(super) fn per_session_select(source: &str, states: &str) -> String {
    format!(
        "SELECT project, toDate(toDateTime({TS_S}), 'UTC') AS day, {BUCKET} AS bucket,
                user_id, session_id, {states}
         FROM {source}
         GROUP BY project, day, bucket, user_id, session_id"
    )
}

pub(super) fn sessions_by_day_table(name: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {name} (
            project String, day Date, bucket UInt8, user_id String, session_id String,
            {SESSION_STATE_COLUMNS}
        ) ENGINE = AggregatingMergeTree
        PARTITION BY toYYYYMM(day)
        ORDER BY (project, day, bucket, user_id, session_id)"
    )
}

pub(super) const FIGURES_TABLES: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS daily_figures (
        project String,
        day Date,
        day_start UInt32,
        day_seconds UInt32,
        dau UInt64,
        wau UInt64,
        mau UInt64,
        peak_users UInt32,
        peak_users_at UInt32,
        peak_connections UInt32,
        peak_connections_at UInt32,
        peak_active_users UInt32,
        peak_active_users_at UInt32,
        acu Float64,
        sessions UInt64,
        session_p50_s UInt64,
        session_p90_s UInt64,
        session_p99_s UInt64,
        session_max_s UInt64,
        session_histogram String,
        final UInt8,
        computed_ms UInt64
    ) ENGINE = ReplacingMergeTree(computed_ms)
    PARTITION BY toYYYYMM(day)
    ORDER BY (project, day)",
    "CREATE TABLE IF NOT EXISTS concurrency_minutes (
        project String,
        day Date,
        minute_start UInt32,
        users UInt32,
        connections UInt32,
        active_users UInt32,
        computed_ms UInt64
    ) ENGINE = ReplacingMergeTree(computed_ms)
    PARTITION BY toYYYYMM(day)
    ORDER BY (project, day, minute_start)",
];

/// The figures tables, then `active_users`: the table of the day's users.
pub(super) fn figures_tables_and(active_users: &str) -> Vec<String> {
    FIGURES_TABLES
        .iter()
        .chain([&active_users])
        .map(|s| s.to_string())
        .collect()
}

/// The users active on each day, one row per bucket, for exact WAU/MAU: a
/// recompute writes every bucket of the day again (empty ones too) and so
/// replaces them all.
pub(super) const ACTIVE_BUCKETS_TABLE: &str = "CREATE TABLE IF NOT EXISTS daily_active_buckets (
        project String,
        day Date,
        bucket UInt8,
        computed_ms UInt64,
        users Array(String)
    ) ENGINE = ReplacingMergeTree(computed_ms)
    PARTITION BY toYYYYMM(day)
    ORDER BY (project, day, bucket)";

/// What several instances of highwater share to act as one: the lease
/// (`instances`), the alert episodes they claim (`alert_episodes`) and the
/// dashboard sessions (`dashboard_sessions`). Their rows are versions or
/// events, read with `argMax` or in full: no merge is needed to read them.
pub(super) fn instances_migration(version: u32) -> Migration {
    Migration {
        version,
        name: "instances, alert episodes, dashboard sessions",
        add_columns: Vec::new(),
        statements: vec![
            "CREATE TABLE IF NOT EXISTS instances (
                instance String, role String, heartbeat_ms Int64
            ) ENGINE = ReplacingMergeTree(heartbeat_ms)
            ORDER BY instance"
                .into(),
            "CREATE TABLE IF NOT EXISTS alert_episodes (
                alert String, scope String, episode String, instance String,
                state Enum8('claimed' = 1, 'sent' = 2, 'failed' = 3, 'closed' = 4),
                at_ms Int64
            ) ENGINE = MergeTree
            ORDER BY (alert, scope, episode, at_ms)"
                .into(),
            "CREATE TABLE IF NOT EXISTS dashboard_sessions (
                id_digest String, owner String, key_digests Array(String),
                expires_ms Int64, ended UInt8, version Int64
            ) ENGINE = ReplacingMergeTree(version)
            ORDER BY id_digest"
                .into(),
        ],
    }
}

/// The table of who had events received when: a live round finds the
/// users changed since its last cut-off in it, reading only the newest
/// rows (its sort key is the receive time), where a scan of `events`
/// would read every row of the month. One row per user and insert block
/// (the block's latest receive time). Kept for [`RECEIVED_USERS_KEPT_DAYS`]
/// UTC days (`store::received_users`).
/// [`sessions_by_day_table`] with the segment columns from the start (a
/// schema made after migration 5's).
pub(super) fn sessions_by_day_table_with_segments(name: &str) -> String {
    let segments: String = SEGMENT_STATE_COLUMNS
        .iter()
        .map(|column| format!(",\n            {column} {SEGMENT_STATE_KIND}"))
        .collect();
    format!(
        "CREATE TABLE IF NOT EXISTS {name} (
            project String, day Date, bucket UInt8, user_id String, session_id String,
            {SESSION_STATE_COLUMNS}{segments}
        ) ENGINE = AggregatingMergeTree
        PARTITION BY toYYYYMM(day)
        ORDER BY (project, day, bucket, user_id, session_id)"
    )
}

pub(super) fn received_users_migration(
    version: u32,
    (table, view, events): (&'static str, &'static str, &'static str),
    distributed: Option<String>,
) -> Migration {
    let mut statements = vec![
        format!(
            "CREATE TABLE IF NOT EXISTS {table} (project String, received_ms Int64, user_id String)
             ENGINE = MergeTree
             PARTITION BY toYYYYMMDD(toDateTime(intDiv(received_ms, 1000), 'UTC'))
             ORDER BY (project, received_ms)"
        ),
        format!(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS {view} TO {table} AS
             SELECT project, max(received_ms) AS received_ms, user_id
             FROM {events} GROUP BY project, user_id"
        ),
    ];
    statements.extend(distributed);
    Migration {
        version,
        name: "received users",
        add_columns: Vec::new(),
        statements,
    }
}

/// The alerts already sent for episodes that outlive a restart (a record
/// day), so that a restart does not send them again.
pub(super) fn alerts_migration(version: u32) -> Migration {
    Migration {
        version,
        name: "alerts sent",
        add_columns: Vec::new(),
        statements: vec![
            "CREATE TABLE IF NOT EXISTS alerts_sent (
                alert String, project String, kind String, episode String, sent_ms Int64
            ) ENGINE = ReplacingMergeTree(sent_ms)
            ORDER BY (alert, project, kind, episode)"
                .into(),
        ],
    }
}

/// The sessions' new events in receive order: what a live round reads to
/// bring today's figures up to date at the cost of what changed (the
/// newest rows, by its sort key), where `sessions_by_day` would have it
/// read every session of the days around today. One row per (session, UTC
/// day, insert block): the block's latest receive time, and the session
/// states of the block's events (as in `sessions_by_day`, without
/// segments). Kept for [`RECEIVED_KEPT_DAYS`] UTC days
/// (`store::received_sessions`); replaces `received_users` (which named
/// only the users, whose every session a round then read again).
///
/// [`RECEIVED_KEPT_DAYS`]: super::RECEIVED_KEPT_DAYS
/// The largest part a merge of `received_sessions` makes: its rows are
/// read by receive time and dropped after two days, so merging them into
/// ever larger parts (as ClickHouse otherwise does, up to 150 GB) would
/// rewrite each row many times for nothing; parts of this size keep a
/// day's parts few (about 50 at Slack's scale).
const RECEIVED_MERGE_BYTES: u64 = 64 << 20;

pub(super) fn received_sessions_migration(
    version: u32,
    (table, view, events): (&'static str, &'static str, &'static str),
    distributed: Option<String>,
    replaced: &[&str],
) -> Migration {
    let mut statements = vec![
        format!(
            "CREATE TABLE IF NOT EXISTS {table} (
                project String, received_ms Int64, day Date, bucket UInt8,
                user_id String, session_id String,
                {SESSION_STATE_COLUMNS}
             ) ENGINE = MergeTree
             PARTITION BY toYYYYMMDD(toDateTime(intDiv(received_ms, 1000), 'UTC'))
             ORDER BY (project, received_ms)
             SETTINGS max_bytes_to_merge_at_max_space_in_pool = {RECEIVED_MERGE_BYTES}"
        ),
        format!(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS {view} TO {table} AS
             SELECT project, max(received_ms) AS received_ms,
                    toDate(toDateTime({TS_S}), 'UTC') AS day, {BUCKET} AS bucket,
                    user_id, session_id, {states}
             FROM {events}
             GROUP BY project, day, bucket, user_id, session_id",
            states = session_states()
        ),
    ];
    statements.extend(distributed);
    // Views first: a view must not outlive the table it writes to.
    statements.extend(replaced.iter().map(|t| format!("DROP TABLE IF EXISTS {t}")));
    Migration {
        version,
        name: "received sessions",
        add_columns: Vec::new(),
        statements,
    }
}

/// [`received_sessions_migration`] on the shards of a cluster: the local
/// table under a `Distributed` one (`distributed`, the statement that makes
/// it), replacing `received_users`.
pub(super) fn received_sessions_on_shards(version: u32, distributed: String) -> Migration {
    received_sessions_migration(
        version,
        (
            "received_sessions_local",
            "received_sessions_local_mv",
            "events_local",
        ),
        Some(distributed),
        &[
            "received_users",
            "received_users_local_mv",
            "received_users_local",
        ],
    )
}
