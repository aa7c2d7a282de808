//! The real PostHog SDK against highwater: posthog-js's browser bundle
//! (npm, fetched by `scripts/install-deps --browser`) on a page of another
//! origin, in headless Chromium, `api_host` = highwater, the project's
//! ingest key as its token. Its requests (remote config, flags, gzip
//! batches as text/plain, CORS) must all pass, and its events become one
//! user online in one session.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::Duration;

use axum::response::Html;
use std::sync::{Arc, Mutex};

use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::{Browser, LaunchOptions};

use crate::{ALPHA_INGEST, ALPHA_READ, spawn_app_with};

const VERSION: &str = "1.449.2";

fn posthog_js() -> PathBuf {
    std::env::var_os("HIGHWATER_POSTHOG_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::home_dir().unwrap_or_default().join(format!(
                ".cache/highwater/posthog-js-{VERSION}/package/dist/array.js"
            ))
        })
}

/// A page that starts posthog-js, identifies a user and captures three
/// events.
fn page(api_host: &str) -> String {
    format!(
        r#"<!doctype html><html><head><link rel="icon" href="data:,"><script src="/array.js"></script></head><body><script>
posthog.init("{ALPHA_INGEST}", {{
  api_host: "{api_host}", persistence: "memory", request_batching: true,
  opt_out_useragent_filter: true, capture_pageview: false, capture_pageleave: false,
  autocapture: false, disable_session_recording: true, disable_surveys: true,
}});
posthog.identify("user-42");
for (const name of ["opened", "typed", "sent"]) posthog.capture(name);
window.hwSession = posthog.get_session_id();
</script></body></html>"#
    )
}

/// Serves the page and the SDK on `listener` (another origin than
/// highwater's).
fn serve_page(listener: tokio::net::TcpListener, api_host: &str) {
    let sdk = std::fs::read(posthog_js()).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run scripts/install-deps --browser (or set HIGHWATER_POSTHOG_JS)",
            posthog_js().display()
        )
    });
    let html = page(api_host);
    let router = axum::Router::new()
        .route("/", axum::routing::get(move || async move { Html(html) }))
        .route(
            "/array.js",
            axum::routing::get(move || async move {
                ([("content-type", "application/javascript")], sdk)
            }),
        );
    tokio::spawn(async move { axum::serve(listener, router).await });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posthog_js_in_chromium_counts_one_user_in_one_session() {
    // The page's origin must be known before highwater starts (CORS).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let page_origin = format!("http://{}", listener.local_addr().unwrap());
    let origin = page_origin.clone();
    let app = spawn_app_with("posthog_js", crate::clickhouse_url(), move |settings| {
        settings.projects[0].allowed_origins = vec![origin];
    })
    .await;
    // The browser stamps events with the real time.
    let now_ms = chrono::Utc::now().timestamp_millis();
    app.clock.set(now_ms);
    serve_page(listener, &app.base_url);

    let url = format!("{page_origin}/");
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let logged = errors.clone();
    let browsing = tokio::task::spawn_blocking(move || -> anyhow::Result<(Browser, String)> {
        let options = LaunchOptions::default_builder()
            .path(Some(crate::browser::chromium()))
            .headless(true)
            .sandbox(false)
            .idle_browser_timeout(Duration::from_secs(120))
            .args(vec![OsStr::new("--disable-gpu")])
            .build()?;
        let browser = Browser::new(options)?;
        let tab = browser.new_tab()?;
        // Blocked by CORS, a refused request: Chromium logs it as an error.
        let seen = errors.clone();
        tab.enable_log()?;
        tab.add_event_listener(Arc::new(move |event: &Event| {
            if let Event::LogEntryAdded(e) = event
                && format!("{:?}", e.params.entry.level) == "Error"
            {
                let entry = &e.params.entry;
                seen.lock()
                    .unwrap()
                    .push(format!("{} ({:?})", entry.text, entry.url));
            }
        }))?;
        tab.navigate_to(&url)?.wait_until_navigated()?;
        let session = tab
            .evaluate("window.hwSession", false)?
            .value
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        Ok((browser, session))
    });
    let (browser, session) = browsing.await.unwrap().unwrap();
    assert!(!session.is_empty(), "the SDK has a session id");

    // $identify and the three captures, sent in the SDK's own time.
    let mut stored = Vec::new();
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        stored = app.stored().await;
        if stored.len() >= 4 {
            break;
        }
    }
    drop(browser);
    let logged = logged.lock().unwrap().clone();
    assert!(logged.is_empty(), "the browser logged errors: {logged:?}");
    assert!(
        stored.len() >= 4,
        "{} events stored: {stored:?}",
        stored.len()
    );
    for event in &stored {
        assert_eq!(event.user_id, "user-42", "{event:?}");
        assert_eq!(event.session_id, session, "{event:?}");
        assert_eq!(event.platform, "Linux", "{event:?}");
    }
    let first_second = stored
        .iter()
        .map(|e| e.ts_ms)
        .min()
        .unwrap()
        .div_euclid(1000);

    let day = chrono::DateTime::from_timestamp_millis(now_ms)
        .unwrap()
        .date_naive()
        .to_string();
    app.run_jobs("alpha", &day, &day).await;
    let (status, daily) = app
        .read(
            ALPHA_READ,
            &format!("/v1/metrics/daily?from={day}&to={day}"),
        )
        .await;
    assert_eq!(status, 200, "{daily}");
    let figures = &daily["days"][0];
    assert_eq!(figures["dau"], 1, "{figures}");
    assert_eq!(figures["peak_users"], 1, "{figures}");
    assert_eq!(figures["peak_connections"], 1, "{figures}");
    let peak_at = chrono::DateTime::from_timestamp(first_second, 0).unwrap();
    assert_eq!(
        figures["peak_users_at"],
        peak_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "the session starts with the first event"
    );
    app.stop().await.unwrap();
}
