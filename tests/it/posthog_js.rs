//! The real PostHog SDK against highwater: posthog-js's browser bundle
//! (npm, fetched by `scripts/install-deps --browser`) on a page of another
//! origin, in headless Chromium, `api_host` = highwater, the project's
//! ingest key as its token. Its requests (remote config, flags, gzip
//! batches as text/plain, CORS) must all pass, and its events become one
//! user online in one session.

use std::path::PathBuf;
use std::time::Duration;

use crate::ALPHA_INGEST;
use crate::foreign_page::{ForeignPage, HEAD, Visit, figures_of_the_day, second_of};

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
        r#"{HEAD}<script src="/array.js"></script></head><body><script>
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posthog_js_in_chromium_counts_one_user_in_one_session() {
    let page_server = ForeignPage::bind().await;
    let app = page_server.app("posthog_js").await;
    let sdk = std::fs::read(posthog_js()).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run scripts/install-deps --browser (or set HIGHWATER_POSTHOG_JS)",
            posthog_js().display()
        )
    });
    let url = format!("{}/", page_server.origin);
    page_server.serve(
        page(&app.base_url),
        vec![("/array.js", "application/javascript", sdk)],
    );
    let visit = tokio::task::spawn_blocking(move || Visit::open(&url))
        .await
        .unwrap()
        .unwrap();
    let session = visit.string("hwSession").unwrap();
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
    let errors = visit.errors();
    drop(visit);
    assert!(errors.is_empty(), "the browser logged errors: {errors:?}");
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
    let first_ms = stored.iter().map(|e| e.ts_ms).min().unwrap();
    let figures = figures_of_the_day(&app, first_ms).await;
    assert_eq!(figures["dau"], 1, "{figures}");
    assert_eq!(figures["peak_users"], 1, "{figures}");
    assert_eq!(figures["peak_connections"], 1, "{figures}");
    assert_eq!(
        figures["peak_users_at"],
        second_of(first_ms),
        "the session starts with the first event"
    );
    app.stop().await.unwrap();
}
