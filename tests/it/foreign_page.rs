//! A web page on another origin than highwater's, opened in headless
//! Chromium: what the browser tests of the SDKs (posthog-js, highwater's
//! own snippet) share. The page is served by a small server of the test;
//! every error Chromium logs (a CORS refusal, a failed request) is kept,
//! with its URL.

use std::ffi::OsStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::response::Html;
use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::{Browser, LaunchOptions, Tab};

use crate::{ALPHA_READ, TestApp, spawn_app_with};

/// A page's server, bound before highwater starts so that the project can
/// list its origin.
pub struct ForeignPage {
    listener: tokio::net::TcpListener,
    pub origin: String,
}

impl ForeignPage {
    pub async fn bind() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        Self { listener, origin }
    }

    /// A highwater whose first project allows this page's origin, its
    /// clock at the real time (the browser stamps events with it).
    pub async fn app(&self, test: &str) -> TestApp {
        let origin = self.origin.clone();
        let app = spawn_app_with(test, crate::clickhouse_url(), move |settings| {
            settings.projects[0].allowed_origins = vec![origin];
        })
        .await;
        app.clock.set(chrono::Utc::now().timestamp_millis());
        app
    }

    /// Serves `html` at `/` and each `(path, content type, bytes)`.
    pub fn serve(self, html: String, files: Vec<(&'static str, &'static str, Vec<u8>)>) {
        let mut router =
            axum::Router::new().route("/", axum::routing::get(move || async move { Html(html) }));
        for (path, content_type, bytes) in files {
            router = router.route(
                path,
                axum::routing::get(
                    move || async move { ([("content-type", content_type)], bytes) },
                ),
            );
        }
        tokio::spawn(async move { axum::serve(self.listener, router).await });
    }
}

/// The start of a page that names no favicon (Chromium would log the page
/// server's 404 for one as an error).
pub const HEAD: &str = r#"<!doctype html><html><head><link rel="icon" href="data:,">"#;

/// Headless Chromium as every browser test runs it.
pub fn launch() -> anyhow::Result<Browser> {
    let options = LaunchOptions::default_builder()
        .path(Some(crate::browser::chromium()))
        .headless(true)
        .sandbox(false)
        .window_size(Some((1280, 1000)))
        .idle_browser_timeout(Duration::from_secs(120))
        .args(vec![
            OsStr::new("--disable-gpu"),
            OsStr::new("--disable-background-networking"),
        ])
        .build()?;
    Browser::new(options)
}

/// The day of `ms` (UTC) and its figures, after the jobs ran for it.
pub async fn figures_of_the_day(app: &TestApp, ms: i64) -> serde_json::Value {
    let day = chrono::DateTime::from_timestamp_millis(ms)
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
    daily["days"][0].clone()
}

/// `ms` floored to its second, as the API writes it.
pub fn second_of(ms: i64) -> String {
    chrono::DateTime::from_timestamp(ms.div_euclid(1000), 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Chromium with one tab open at `url`, and the errors it logs.
pub struct Visit {
    /// Kept open as long as the visit: dropping it closes Chromium.
    _browser: Browser,
    pub tab: Arc<Tab>,
    pub errors: Arc<Mutex<Vec<String>>>,
}

impl Visit {
    pub fn open(url: &str) -> anyhow::Result<Self> {
        let browser = launch()?;
        let tab = browser.new_tab()?;
        let errors = Arc::new(Mutex::new(Vec::new()));
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
        tab.navigate_to(url)?.wait_until_navigated()?;
        Ok(Self {
            _browser: browser,
            tab,
            errors,
        })
    }

    /// A string the page's script left in `window[name]`.
    pub fn string(&self, name: &str) -> anyhow::Result<String> {
        Ok(self
            .tab
            .evaluate(&format!("window.{name}"), false)?
            .value
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default())
    }

    pub fn errors(&self) -> Vec<String> {
        self.errors.lock().unwrap().clone()
    }
}
