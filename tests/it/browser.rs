//! The live dashboard in a real browser: headless Chromium (Debian's
//! `chromium`, installed by `scripts/install-deps --browser`; another binary
//! via HIGHWATER_CHROMIUM) opens the login form, types the read key,
//! follows the redirect and renders every panel. No console errors, every
//! panel drawn with a size, and a screenshot under the test output.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::protocol::cdp::types::Event;

use crate::dashboards::app_with_march;
use crate::scratch_dir;
use crate::simulate::{INGEST_KEY, READ_KEY};
use highwater::clock::Clock;

pub fn chromium() -> PathBuf {
    std::env::var_os("HIGHWATER_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

struct Visit {
    /// Width and height of each panel's SVG, in CSS pixels.
    panels: Vec<(f64, f64)>,
    /// The online strip's users before and after `meanwhile` ran, and
    /// whether the page stayed the same page (no reload) in between.
    online: (String, String, bool),
    errors: Vec<String>,
    screenshot: PathBuf,
}

fn visit(base_url: &str, out: &Path, meanwhile: impl FnOnce()) -> anyhow::Result<Visit> {
    let browser = crate::foreign_page::launch()?;
    let tab = browser.new_tab()?;
    let errors = Arc::new(Mutex::new(Vec::new()));
    let seen = errors.clone();
    tab.enable_log()?;
    tab.enable_runtime()?;
    tab.add_event_listener(Arc::new(move |event: &Event| {
        let error = match event {
            Event::LogEntryAdded(e) if format!("{:?}", e.params.entry.level) == "Error" => {
                Some(format!("log: {}", e.params.entry.text))
            }
            Event::RuntimeExceptionThrown(e) => Some(format!("exception: {:?}", e.params)),
            Event::RuntimeConsoleAPICalled(e) if format!("{:?}", e.params.Type) == "Error" => {
                Some(format!("console.error: {:?}", e.params.args))
            }
            _ => None,
        };
        if let Some(error) = error {
            seen.lock().unwrap().push(error);
        }
    }))?;
    tab.navigate_to(&format!("{base_url}/dashboards/login?next=overview"))?
        .wait_until_navigated()?;
    tab.wait_for_element("input[name=key]")?.click()?;
    tab.type_str(READ_KEY)?.press_key("Enter")?;
    tab.wait_for_element_with_custom_timeout("figure.panel svg", Duration::from_secs(60))?;
    let sizes = tab
        .evaluate(
            "JSON.stringify(Array.from(document.querySelectorAll('figure.panel svg'))\
             .map(svg => { const r = svg.getBoundingClientRect(); return [r.width, r.height]; }))",
            false,
        )?
        .value
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let panels: Vec<(f64, f64)> = serde_json::from_str(&sizes)?;
    let png = tab.capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true)?;
    let screenshot = out.join("dashboard.png");
    std::fs::write(&screenshot, png)?;
    let online_users = || -> anyhow::Result<String> {
        Ok(tab
            .evaluate("document.getElementById('online-users').textContent", false)?
            .value
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default())
    };
    let before = online_users()?;
    tab.evaluate("window.hwSamePage = 42", false)?;
    meanwhile();
    let mut after = before.clone();
    for _ in 0..40 {
        std::thread::sleep(Duration::from_millis(500));
        after = online_users()?;
        if after != before {
            break;
        }
    }
    let same_page = tab.evaluate("window.hwSamePage === 42", false)?.value
        == Some(serde_json::Value::Bool(true));
    let errors = errors.lock().unwrap().clone();
    Ok(Visit {
        panels,
        online: (before, after, same_page),
        errors,
        screenshot,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_renders_in_headless_chromium_without_errors() {
    assert!(
        chromium().exists(),
        "{} not found: run scripts/install-deps --browser (or set HIGHWATER_CHROMIUM)",
        chromium().display()
    );
    let app = app_with_march("browser").await;
    let base_url = app.base_url.clone();
    let out = scratch_dir("browser");
    // While the page is open: three users come online.
    let runtime = tokio::runtime::Handle::current();
    let (ingest, now_ms) = (app.post(INGEST_KEY, "application/json"), app.clock.now_ms());
    let come_online = move || {
        let events: Vec<serde_json::Value> = (0..3)
            .map(|u| {
                serde_json::json!({"type": "session_start", "user_id": format!("newcomer-{u}"),
                    "session_id": "s", "ts": now_ms - 10_000})
            })
            .collect();
        let status =
            runtime.block_on(async { ingest.json(&events).send().await.unwrap().status() });
        assert_eq!(status, 200);
    };
    let visit = tokio::task::spawn_blocking(move || visit(&base_url, &out, come_online))
        .await
        .unwrap()
        .unwrap();
    let overview = highwater::dashboards::spec::Dashboard::built_in("overview").unwrap();
    assert_eq!(
        visit.panels.len(),
        overview.panels.len(),
        "{:?}",
        visit.panels
    );
    for (width, height) in &visit.panels {
        assert!(
            *width > 100.0 && *height > 100.0,
            "a panel of {width}×{height}"
        );
    }
    assert!(
        visit.errors.is_empty(),
        "console errors: {:?}",
        visit.errors
    );
    // The strip counted them within seconds, without reloading the page.
    let (before, after, same_page) = &visit.online;
    let count = |text: &str| text.replace(',', "").parse::<u64>().unwrap();
    assert_eq!(count(after), count(before) + 3, "{before} → {after}");
    assert!(same_page, "the page reloaded");
    let screenshot = std::fs::read(&visit.screenshot).unwrap();
    assert_eq!(&screenshot[1..4], b"PNG");
    println!("screenshot: {}", visit.screenshot.display());
}
