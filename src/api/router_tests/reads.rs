//! The read API over a known store: parameters parsed with precise 400s,
//! rows filtered to the key's project and the days asked for, the store's
//! failures as 503.

use axum::http::StatusCode;

use super::*;
use crate::store::figures::{ConcurrencyMinuteRow, DailyFiguresRow};
use crate::store::segments::{SegmentDayRow, SegmentFiguresRow};

/// 2020-03-24, -25, -26 as day numbers.
const MARCH_24: u16 = 18_345;
const MARCH_25: u16 = 18_346;
const MARCH_26: u16 = 18_347;

fn day(project: &str, day: u16, peak_users: u32, is_final: bool) -> DailyFiguresRow {
    DailyFiguresRow {
        project: project.into(),
        day,
        day_start: u32::from(day) * 86_400,
        day_seconds: 86_400,
        dau: u64::from(peak_users) * 2,
        peak_users,
        peak_users_at: u32::from(day) * 86_400 + 3_600,
        r#final: u8::from(is_final),
        ..Default::default()
    }
}

/// Three days of alpha (peaks 5, 8, 6; the last not final) and one of beta.
fn three_days() -> InMemoryFigures {
    InMemoryFigures {
        days: vec![
            day("alpha", MARCH_24, 5, true),
            day("alpha", MARCH_25, 8, true),
            day("alpha", MARCH_26, 6, false),
            day("beta", MARCH_25, 100, true),
        ],
        ..Default::default()
    }
}

/// `GET path` with alpha's read key: status and JSON body.
async fn read(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let response = app.get(path, ALPHA_READ).await;
    (response.status(), json_body(response).await)
}

#[tokio::test]
async fn daily_returns_the_days_asked_for_oldest_first() {
    let app = TestApp::with(|_| {}, three_days());
    let (status, json) = read(&app, "/v1/metrics/daily?from=2020-03-25&to=2020-03-26").await;
    assert_eq!(status, StatusCode::OK);
    let days: Vec<(&str, u64)> = json["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["day"].as_str().unwrap(),
                d["peak_users"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(days, [("2020-03-25", 8), ("2020-03-26", 6)]);
    assert_eq!(json["days"][0]["peak_users_at"], "2020-03-25T01:00:00Z");
}

#[tokio::test]
async fn daily_needs_both_ends_of_its_range() {
    let app = TestApp::new();
    let (status, json) = read(&app, "/v1/metrics/daily?to=2020-03-26").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["error"], "bad_query");
    assert!(
        json["message"].as_str().unwrap().contains("`from`"),
        "{json}"
    );
}

#[tokio::test]
async fn a_malformed_day_is_a_400_naming_the_parameter() {
    let app = TestApp::new();
    let (status, json) = read(&app, "/v1/metrics/daily?from=2020-13-01&to=2020-03-26").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        json["message"].as_str().unwrap().contains("`from`"),
        "{json}"
    );
}

#[tokio::test]
async fn a_range_ending_before_it_starts_or_too_long_is_refused() {
    let app = TestApp::new();
    for path in [
        "/v1/metrics/daily?from=2020-03-26&to=2020-03-25",
        "/v1/metrics/daily?from=2019-01-01&to=2020-03-25",
    ] {
        let (status, json) = read(&app, path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(json["error"], "bad_query", "{path}");
    }
}

#[tokio::test]
async fn records_are_the_final_days_above_every_earlier_one() {
    let app = TestApp::with(|_| {}, three_days());
    let (status, json) = read(&app, "/v1/records").await;
    assert_eq!(status, StatusCode::OK);
    let records: Vec<(&str, u64, u64)> = json["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["day"].as_str().unwrap(),
                r["peak_users"].as_u64().unwrap(),
                r["previous_peak_users"].as_u64().unwrap(),
            )
        })
        .collect();
    // 6 on the 26th is neither final nor a record; beta's 100 is not alpha's.
    assert_eq!(records, [("2020-03-24", 5, 0), ("2020-03-25", 8, 5)]);
}

#[tokio::test]
async fn concurrency_folds_minutes_into_steps_of_their_maximum() {
    let minute = |minute: u32, users: u32| ConcurrencyMinuteRow {
        project: "alpha".into(),
        day: MARCH_25,
        minute_start: u32::from(MARCH_25) * 86_400 + minute * 60,
        users,
        connections: users + 1,
        active_users: users / 2,
        computed_ms: 0,
    };
    let figures = InMemoryFigures {
        minutes: vec![minute(0, 3), minute(1, 7), minute(2, 4), minute(3, 2)],
        ..Default::default()
    };
    let app = TestApp::with(|_| {}, figures);
    let (status, json) = read(&app, "/v1/metrics/concurrency?day=2020-03-25&step=120").await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["step"], 120);
    let users: Vec<u64> = json["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["users"].as_u64().unwrap())
        .collect();
    assert_eq!(users, [7, 4]);
    assert_eq!(json["series"][0]["at"], "2020-03-25T00:00:00Z");
}

#[tokio::test]
async fn a_step_that_is_not_whole_minutes_is_refused() {
    let app = TestApp::new();
    for step in ["90", "0", "86460", "ten"] {
        let (status, json) = read(
            &app,
            &format!("/v1/metrics/concurrency?day=2020-03-25&step={step}"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{step}");
        assert!(
            json["message"].as_str().unwrap().contains("`step`"),
            "{json}"
        );
    }
}

#[tokio::test]
async fn segments_need_a_known_dimension() {
    let app = TestApp::new();
    let (status, json) = read(&app, "/v1/metrics/segments?from=2020-03-25&to=2020-03-25").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        json["message"].as_str().unwrap().contains("`dimension`"),
        "{json}"
    );
    let (status, _) = read(
        &app,
        "/v1/metrics/segments?dimension=city&from=2020-03-25&to=2020-03-25",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn segments_show_the_values_of_the_dimension_asked_for() {
    let value = |dimension: &str, value: &str, peak_users: u32| SegmentFiguresRow {
        project: "alpha".into(),
        day: MARCH_25,
        dimension: dimension.into(),
        value: value.into(),
        peak_users,
        ..Default::default()
    };
    let totals = |dimension: &str| SegmentDayRow {
        project: "alpha".into(),
        day: MARCH_25,
        dimension: dimension.into(),
        value_count: 2,
        summed_peak: 9,
        coincident_peak: 8,
        computed_ms: 0,
    };
    let figures = InMemoryFigures {
        segment_days: vec![totals("platform"), totals("country")],
        segment_values: vec![
            value("platform", "desktop", 6),
            value("platform", "mobile", 3),
            value("country", "DE", 5),
        ],
        ..Default::default()
    };
    let app = TestApp::with(|_| {}, figures);
    let (status, json) = read(
        &app,
        "/v1/metrics/segments?dimension=platform&from=2020-03-25&to=2020-03-25",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["dimension"], "platform");
    let values: Vec<&str> = json["days"][0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["desktop", "mobile"]);
}

#[tokio::test]
async fn online_now_is_asked_at_the_servers_second() {
    let figures = InMemoryFigures {
        online: crate::figures::online::OnlineCounts {
            users: 12,
            connections: 15,
            active_users: 4,
        },
        ..Default::default()
    };
    let app = TestApp::with(|_| {}, figures);
    let (status, json) = read(&app, "/v1/online?dimension=country").await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(
        (json["users"].as_u64(), json["connections"].as_u64()),
        (Some(12), Some(15))
    );
    assert_eq!(json["as_of"], "2020-03-25T12:00:00Z");
    let asked = app.figures.online_asked.lock().unwrap().clone();
    assert_eq!(
        asked,
        [(
            "alpha".to_owned(),
            NOW_MS / 1000,
            Some(crate::domain::dimension::Dimension::Country)
        )]
    );
}

#[tokio::test]
async fn a_store_that_is_away_makes_reads_503_with_retry_after() {
    let figures = InMemoryFigures {
        unavailable: true,
        ..Default::default()
    };
    let app = TestApp::with(|_| {}, figures);
    for path in [
        "/v1/records",
        "/v1/metrics/daily?from=2020-03-25&to=2020-03-25",
        "/v1/online",
    ] {
        let response = app.get(path, ALPHA_READ).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(
            response.headers().contains_key(header::RETRY_AFTER),
            "{path}"
        );
        let json = json_body(response).await;
        assert_eq!(json["error"], "storage_unavailable", "{path}");
        // What failed inside stays in the log, not in the answer.
        assert!(
            !json["message"].as_str().unwrap().contains("in-memory"),
            "{json}"
        );
    }
}

#[tokio::test]
async fn capacity_without_history_says_what_is_missing() {
    let app = TestApp::with(|_| {}, three_days());
    let (status, json) = read(&app, "/v1/capacity").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{json}");
    assert_eq!(json["error"], "not_enough_history");
}
