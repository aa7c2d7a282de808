//! The Grafana dashboard (`dashboards/grafana/highwater.json`): every
//! panel's SQL and the project variable's query, with the dashboard's
//! variables and the ClickHouse data source's macros expanded as Grafana
//! and the plugin expand them, run over three days whose figures were
//! worked out by hand. Current lane only (`scripts/test` skips it on
//! 18.16): the plugin does not support servers that old and its macros
//! expand to functions 18.16 lacks (`notes/grafana-clickhouse.md`).

use serde_json::{Value, json};

use crate::lane::Lane;
use crate::{ALPHA_INGEST, TestApp, spawn_app};

const DASHBOARD: &str = include_str!("../../dashboards/grafana/highwater.json");

/// What a panel's query is sent with: the variables, the time range and
/// the interval Grafana picked.
struct Expansion<'a> {
    project: &'a str,
    dimension: &'a str,
    from_s: i64,
    to_s: i64,
    interval_s: u32,
}

/// `sql` as the data source sends it. Fails on anything left with a `$`:
/// a macro or variable this test does not know is one it cannot vouch for.
fn expand(sql: &str, e: &Expansion) -> String {
    let sql = sql
        .replace("${project}", e.project)
        .replace("${dimension}", e.dimension);
    let sql = expand_macro(&sql, "$__timeFilter", |column| {
        format!(
            "{column} >= toDateTime({}) AND {column} <= toDateTime({})",
            e.from_s, e.to_s
        )
    });
    let sql = expand_macro(&sql, "$__timeInterval", |column| {
        format!(
            "toStartOfInterval(toDateTime({column}), INTERVAL {} second)",
            e.interval_s
        )
    });
    assert!(!sql.contains('$'), "unexpanded: {sql}");
    sql
}

/// Replaces every `name(argument)` in `sql` by `with(argument)`.
fn expand_macro(sql: &str, name: &str, with: impl Fn(&str) -> String) -> String {
    let call = format!("{name}(");
    let mut expanded = String::new();
    let mut rest = sql;
    while let Some(at) = rest.find(&call) {
        expanded.push_str(&rest[..at]);
        let argument = &rest[at + call.len()..];
        let close = argument.find(')').expect("a macro's closing parenthesis");
        expanded.push_str(&with(argument[..close].trim()));
        rest = &argument[close + 1..];
    }
    expanded.push_str(rest);
    expanded
}

/// The rows `sql` returns, as JSON objects (numbers as numbers, times as
/// Unix seconds in strings).
async fn rows(app: &TestApp, sql: &str) -> Vec<Value> {
    let client = app
        .db
        .clone()
        .with_setting("output_format_json_quote_64bit_integers", "0")
        .with_setting("date_time_output_format", "unix_timestamp");
    let mut cursor = client.query(sql).fetch_bytes("JSONEachRow").unwrap();
    let bytes = cursor
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{sql}"));
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn panel_sql(dashboard: &Value, title_start: &str) -> String {
    let panels = dashboard["panels"].as_array().unwrap();
    let panel = panels
        .iter()
        .find(|p| p["title"].as_str().unwrap().starts_with(title_start))
        .unwrap_or_else(|| panic!("no panel {title_start:?}"));
    assert_eq!(
        panel["datasource"]["type"], "grafana-clickhouse-datasource",
        "{title_start}"
    );
    panel["targets"][0]["rawSql"].as_str().unwrap().to_owned()
}

fn second(t: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(t).unwrap().timestamp()
}

/// Sessions as (user, session, platform, start, end), RFC 3339.
async fn post_sessions(app: &TestApp, sessions: &[(&str, &str, &str, &str, &str)]) {
    let events: Vec<Value> = sessions
        .iter()
        .flat_map(|&(user, session, platform, start, end)| {
            [("session_start", start), ("session_end", end)].map(|(kind, t)| {
                json!({"type": kind, "user_id": user, "session_id": session,
                       "ts": second(t) * 1000, "platform": platform})
            })
        })
        .collect();
    app.post_accepted(ALPHA_INGEST, &events).await;
}

#[tokio::test]
async fn grafana_dashboard_queries_give_the_days_figures() {
    assert_eq!(
        Lane::from_env(),
        Lane::Current,
        "the dashboard's SQL needs a current engine: scripts/test --lane current grafana"
    );
    let app = spawn_app("grafana").await;
    post_sessions(
        &app,
        &[
            // 2020-03-20: two users at once from 10:10:00 (peak 2).
            (
                "u1",
                "a",
                "web",
                "2020-03-20T10:00:00Z",
                "2020-03-20T10:30:00Z",
            ),
            (
                "u2",
                "b",
                "ios",
                "2020-03-20T10:10:00Z",
                "2020-03-20T10:20:00Z",
            ),
            // 2020-03-21: one user (peak 1, below the record).
            (
                "u1",
                "c",
                "web",
                "2020-03-21T12:00:00Z",
                "2020-03-21T12:05:00Z",
            ),
            // 2020-03-22: three users at once from 09:10:00 (a new record),
            // u1 on two devices from 09:12 to 09:14 (4 connections).
            (
                "u1",
                "d",
                "web",
                "2020-03-22T09:00:00Z",
                "2020-03-22T09:30:00Z",
            ),
            (
                "u2",
                "e",
                "ios",
                "2020-03-22T09:05:00Z",
                "2020-03-22T09:25:00Z",
            ),
            (
                "u3",
                "f",
                "web",
                "2020-03-22T09:10:00Z",
                "2020-03-22T09:20:00Z",
            ),
            (
                "u1",
                "g",
                "ios",
                "2020-03-22T09:12:00Z",
                "2020-03-22T09:14:00Z",
            ),
        ],
    )
    .await;
    // The tests' clock (2020-03-25 12:00) is past D1 + T + lateness of
    // each day: all three are final.
    app.run_jobs("alpha", "2020-03-20", "2020-03-22").await;

    let dashboard: Value = serde_json::from_str(DASHBOARD).unwrap();
    let variable = &dashboard["templating"]["list"][0];
    assert_eq!(variable["name"], "project");
    let projects = rows(&app, variable["query"].as_str().unwrap()).await;
    assert_eq!(projects, [json!({"project": "alpha"})]);

    let days = Expansion {
        project: "alpha",
        dimension: "platform",
        from_s: second("2020-03-20T00:00:00Z"),
        to_s: second("2020-03-22T23:59:59Z"),
        interval_s: 86_400,
    };
    // Times as the rows show them.
    let unix = |t: &str| second(t).to_string();
    let day = |d: &str| unix(&format!("{d}T00:00:00Z"));
    let run = |title: &str, e: &Expansion| {
        let sql = expand(&panel_sql(&dashboard, title), e);
        let app = &app;
        async move { rows(app, &sql).await }
    };

    assert_eq!(run("All-time record", &days).await, [json!({"record": 3})]);
    assert_eq!(
        run("Record days", &days).await,
        [
            json!({"day": "2020-03-22", "peak users": 3,
                   "at (UTC)": unix("2020-03-22T09:10:00Z"), "previous record": 2}),
            json!({"day": "2020-03-20", "peak users": 2,
                   "at (UTC)": unix("2020-03-20T10:10:00Z"), "previous record": 0}),
        ]
    );
    assert_eq!(
        run("Peak concurrent users a day", &days).await,
        [
            json!({"time": day("2020-03-20"), "peak users": 2, "all-time record": 2}),
            json!({"time": day("2020-03-21"), "peak users": 1, "all-time record": 2}),
            json!({"time": day("2020-03-22"), "peak users": 3, "all-time record": 3}),
        ]
    );
    assert_eq!(
        run("Daily, weekly and monthly", &days).await,
        [
            json!({"time": day("2020-03-20"), "DAU": 2, "WAU": 2, "MAU": 2}),
            json!({"time": day("2020-03-21"), "DAU": 1, "WAU": 2, "MAU": 2}),
            json!({"time": day("2020-03-22"), "DAU": 3, "WAU": 3, "MAU": 3}),
        ]
    );
    assert_eq!(
        run("Peak concurrent users by", &days).await,
        [
            json!({"time": day("2020-03-20"), "value": "ios", "peak_users": 1}),
            json!({"time": day("2020-03-20"), "value": "web", "peak_users": 1}),
            json!({"time": day("2020-03-21"), "value": "web", "peak_users": 1}),
            json!({"time": day("2020-03-22"), "value": "ios", "peak_users": 2}),
            json!({"time": day("2020-03-22"), "value": "web", "peak_users": 2}),
        ]
    );
    // A range that starts on the third day leaves the others out.
    let third = Expansion {
        from_s: second("2020-03-22T00:00:00Z"),
        ..days
    };
    assert_eq!(run("Peak concurrent users a day", &third).await.len(), 1);

    // The day's curve in 10-minute intervals: the highest minute of each,
    // not an average (09:00–09:10 holds one user, then two).
    let curve = Expansion {
        from_s: second("2020-03-22T09:00:00Z"),
        to_s: second("2020-03-22T09:29:59Z"),
        interval_s: 600,
        ..days
    };
    let at = |t: &str| unix(&format!("2020-03-22T{t}:00Z"));
    assert_eq!(
        run("Concurrent users today", &curve).await,
        [
            json!({"time": at("09:00"), "users": 2, "connections": 2, "active users": 2}),
            json!({"time": at("09:10"), "users": 3, "connections": 4, "active users": 3}),
            json!({"time": at("09:20"), "users": 2, "connections": 2, "active users": 2}),
        ]
    );
    app.stop().await.unwrap();
}
