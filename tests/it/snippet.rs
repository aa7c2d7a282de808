//! highwater's own browser snippet (`GET /sdk/highwater.js`) in headless
//! Chromium, on a page of another origin: a page that opens, is hidden, is
//! shown and goes away sends exactly session_start, heartbeats, presence
//! away, presence active and session_end (the last by `sendBeacon`, to
//! `/v1/beacon` with the key in the URL) — and they make the figures worked
//! out from their times. Also the beacon route's refusals.

use std::time::Duration;

use highwater::domain::event::{EventType, PresenceStatus};
use highwater::store::rows::EventRow;

use crate::foreign_page::{ForeignPage, HEAD, Visit, figures_of_the_day, second_of};
use crate::{ALPHA_INGEST, ALPHA_READ, assert_refused, event_json, spawn_app};

/// The page: the snippet from highwater, a heartbeat every 300 ms.
fn page(api_host: &str) -> String {
    format!(
        r#"{HEAD}<script src="{api_host}/sdk/highwater.js"></script></head><body><script>
window.hw = highwater.start({{url: "{api_host}", key: "{ALPHA_INGEST}", userId: "u-web",
                              heartbeatMs: 300, fields: {{platform: "web"}}}});
window.hwSession = window.hw.sessionId;
</script></body></html>"#
    )
}

/// Makes the page look hidden (or shown) to its scripts, as a switch of
/// tabs does.
fn set_visibility(visit: &Visit, state: &str) {
    visit
        .tab
        .evaluate(
            &format!(
                "Object.defineProperty(document, 'visibilityState', \
                 {{value: '{state}', configurable: true}}); \
                 document.dispatchEvent(new Event('visibilitychange'))"
            ),
            false,
        )
        .unwrap();
}

fn of_kind(stored: &[EventRow], kind: EventType) -> Vec<&EventRow> {
    stored.iter().filter(|e| e.kind == kind).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_snippet_reports_a_page_that_opens_hides_shows_and_closes() {
    let page_server = ForeignPage::bind().await;
    let app = page_server.app("snippet").await;
    let url = format!("{}/", page_server.origin);
    page_server.serve(page(&app.base_url), Vec::new());
    let (visit, session) = tokio::task::spawn_blocking(move || {
        let visit = Visit::open(&url)?;
        let session = visit.string("hwSession")?;
        std::thread::sleep(Duration::from_millis(1200));
        set_visibility(&visit, "hidden");
        std::thread::sleep(Duration::from_millis(1000));
        set_visibility(&visit, "visible");
        std::thread::sleep(Duration::from_millis(1000));
        // Closing the page fires pagehide (not into the back/forward
        // cache): the end goes by sendBeacon.
        visit.tab.close(true)?;
        anyhow::Ok((visit, session))
    })
    .await
    .unwrap()
    .unwrap();
    let mut stored = Vec::new();
    for _ in 0..40 {
        stored = app.stored().await;
        if !of_kind(&stored, EventType::SessionEnd).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let errors = visit.errors();
    drop(visit);
    assert!(errors.is_empty(), "the browser logged errors: {errors:?}");

    assert!(
        stored
            .iter()
            .all(|e| e.user_id == "u-web" && e.platform == "web")
    );
    let sessions: std::collections::BTreeSet<&str> =
        stored.iter().map(|e| e.session_id.as_str()).collect();
    assert_eq!(
        sessions.into_iter().collect::<Vec<_>>(),
        [session.as_str()],
        "the snippet's one session"
    );
    let start = of_kind(&stored, EventType::SessionStart);
    let end = of_kind(&stored, EventType::SessionEnd);
    let presence = of_kind(&stored, EventType::Presence);
    let heartbeats = of_kind(&stored, EventType::Heartbeat);
    assert_eq!((start.len(), end.len()), (1, 1), "{stored:?}");
    let statuses: Vec<PresenceStatus> = presence.iter().map(|e| e.status).collect();
    assert_eq!(statuses, [PresenceStatus::Away, PresenceStatus::Active]);
    // One every 300 ms from start to end: timers are never early (so no
    // more than that), and may be late (so at least a few).
    let (start_ms, end_ms) = (start[0].ts_ms, end[0].ts_ms);
    let most = ((end_ms - start_ms) / 300) as usize;
    assert!(
        (2..=most).contains(&heartbeats.len()),
        "{} heartbeats in {} ms",
        heartbeats.len(),
        end_ms - start_ms
    );
    let (start_ms, end_ms) = (start[0].ts_ms, end[0].ts_ms);
    assert!(
        stored
            .iter()
            .all(|e| (start_ms..=end_ms).contains(&e.ts_ms))
    );

    // One user online from the start's second to the end's; active but for
    // the time away.
    let figures = figures_of_the_day(&app, start_ms).await;
    assert_eq!(figures["dau"], 1, "{figures}");
    assert_eq!(figures["peak_users"], 1, "{figures}");
    assert_eq!(figures["peak_users_at"], second_of(start_ms), "{figures}");
    assert_eq!(figures["peak_active_users"], 1, "{figures}");
    let seconds = end_ms.div_euclid(1000) - start_ms.div_euclid(1000);
    let acu = figures["acu"].as_f64().unwrap();
    assert!(
        (acu * 86_400.0 - seconds as f64).abs() < 0.5,
        "ACU {acu} for a session of {seconds} s"
    );
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_comes_back_from_the_back_forward_cache_is_still_online() {
    let page_server = ForeignPage::bind().await;
    let app = page_server.app("snippet_bfcache").await;
    let url = format!("{}/", page_server.origin);
    let other = format!("{}/other", page_server.origin);
    let restored = format!(
        "{}<script>addEventListener('pageshow', e => {{ if (e.persisted) window.restored = 'yes' }});</script>",
        page(&app.base_url)
    );
    page_server.serve(
        restored,
        vec![(
            "/other",
            "text/html",
            format!("{HEAD}</head><body>elsewhere</body></html>").into_bytes(),
        )],
    );
    let (visit, session, restored) = tokio::task::spawn_blocking(move || {
        let visit = Visit::open(&url)?;
        let session = visit.string("hwSession")?;
        std::thread::sleep(Duration::from_millis(700));
        visit.tab.navigate_to(&other)?.wait_until_navigated()?;
        std::thread::sleep(Duration::from_millis(700));
        visit.tab.evaluate("history.back()", false)?;
        std::thread::sleep(Duration::from_millis(1000));
        let restored = visit.string("restored")?;
        anyhow::Ok((visit, session, restored))
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        restored, "yes",
        "Chromium did not restore the page from its back/forward cache"
    );
    let mut stored = Vec::new();
    for _ in 0..40 {
        stored = app.stored().await;
        if of_kind(&stored, EventType::Presence)
            .iter()
            .any(|e| e.status == PresenceStatus::Active)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // (The page stays open until the end: closing it would send its own
    // away and end.)
    let errors = visit.errors();
    assert!(errors.is_empty(), "the browser logged errors: {errors:?}");
    // One session throughout: away while cached, active again, never ended.
    assert!(stored.iter().all(|e| e.session_id == session), "{stored:?}");
    assert!(
        of_kind(&stored, EventType::SessionEnd).is_empty(),
        "{stored:?}"
    );
    let statuses: Vec<PresenceStatus> = of_kind(&stored, EventType::Presence)
        .iter()
        .map(|e| e.status)
        .collect();
    assert_eq!(
        statuses.first(),
        Some(&PresenceStatus::Away),
        "{statuses:?}"
    );
    assert_eq!(
        statuses.last(),
        Some(&PresenceStatus::Active),
        "{statuses:?}"
    );
    // And so the user is online now, and active.
    app.clock.set(chrono::Utc::now().timestamp_millis());
    let (status, online) = app.read(ALPHA_READ, "/v1/online").await;
    assert_eq!(status, 200, "{online}");
    assert_eq!(
        (online["users"].as_u64(), online["active_users"].as_u64()),
        (Some(1), Some(1)),
        "{online}"
    );
    drop(visit);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_beacon_route_takes_its_key_in_the_url_and_refuses_like_v1_events() {
    let app = spawn_app("beacon").await;
    let body = serde_json::json!([event_json("heartbeat", "u", "s", 5)]).to_string();
    let beacon = |query: &str, content_type: &str, body: String| {
        app.http
            .post(format!("{}/v1/beacon{query}", app.base_url))
            .header("content-type", content_type)
            .body(body)
    };
    assert_refused(
        &app,
        beacon("", "text/plain", body.clone()),
        401,
        "missing_key",
    )
    .await;
    assert_refused(
        &app,
        beacon("?key=not-a-key", "text/plain", body.clone()),
        401,
        "unknown_key",
    )
    .await;
    assert_refused(
        &app,
        beacon(&format!("?key={ALPHA_READ}"), "text/plain", body.clone()),
        403,
        "wrong_key_role",
    )
    .await;
    assert_refused(
        &app,
        beacon(&format!("?key={ALPHA_INGEST}"), "text/plain", "[{}]".into()),
        400,
        "invalid_events",
    )
    .await;
    // What sendBeacon sends: text/plain;charset=UTF-8, a JSON array.
    let response = beacon(
        &format!("?key={ALPHA_INGEST}"),
        "text/plain;charset=UTF-8",
        body,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(app.stored_count().await, 1);
    // The snippet itself.
    let response = app
        .http
        .get(format!("{}/sdk/highwater.js", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/javascript")
    );
    assert!(response.text().await.unwrap().contains("sendBeacon"));
    app.stop().await.unwrap();
}
