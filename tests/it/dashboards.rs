//! Dashboards: the live page (read key in an HttpOnly cookie, project and
//! day pickers, every panel as inline SVG, reloads while provisional) and
//! the same panels rendered as files.

use highwater::dashboards::load::load;
use highwater::dashboards::report;
use highwater::dashboards::spec::Dashboard;
use highwater::live::stored_figures::StoredFigures;
use highwater::simulate::Simulation;
use reqwest::StatusCode;

use crate::simulate::{INGEST_KEY, MARCH_2020, READ_KEY, app_for, replay, scenario};

/// The day the rendered dashboards count from when a project has no figures.
fn today() -> chrono::NaiveDate {
    "2020-03-26".parse().unwrap()
}
use crate::{TestApp, scratch_dir};

/// A server holding ten simulated days of March 2020 (2020-03-16..25) at
/// scale 0.0002 (a 2,500 peak on the 25th).
pub async fn app_with_march(test: &str) -> TestApp {
    let scenario = scenario(MARCH_2020);
    let app = app_for(test, &scenario).await;
    let simulation = Simulation::new(scenario, 0.0002, 3).unwrap();
    let days = simulation
        .days(
            Some("2020-03-16".parse().unwrap()),
            Some("2020-03-25".parse().unwrap()),
        )
        .unwrap();
    replay(&app, simulation, &days).await;
    app
}

/// Logs in with `key`; returns the answer (not following the redirect).
async fn log_in(app: &TestApp, http: &reqwest::Client, key: &str) -> reqwest::Response {
    http.post(format!("{}/dashboards/login", app.base_url))
        .header("content-type", "application/x-www-form-urlencoded")
        // Test keys are letters, digits and dashes: nothing to escape.
        .body(format!("key={key}&next=overview"))
        .send()
        .await
        .unwrap()
}

async fn page(
    app: &TestApp,
    http: &reqwest::Client,
    cookie: &str,
    path: &str,
) -> (StatusCode, String) {
    let response = http
        .get(format!("{}{path}", app.base_url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_dashboard_needs_a_read_key_and_shows_every_panel() {
    let app = app_with_march("dashboard").await;
    let http = crate::http_client()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let (status, body) = page(&app, &http, "", "/dashboards/overview").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body.contains("name=\"key\"") && body.contains("Enter a read key"),
        "{body}"
    );
    assert!(!body.contains("<svg"));

    let refused = log_in(&app, &http, INGEST_KEY).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.headers().get("set-cookie").is_none());
    assert!(refused.text().await.unwrap().contains("not a read key"));

    let accepted = log_in(&app, &http, READ_KEY).await;
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        accepted.headers()["location"],
        "/dashboards/overview?project=chat"
    );
    let set_cookie = accepted.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    assert!(!set_cookie.contains(READ_KEY), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    let (status, body) = page(&app, &http, &cookie, "/dashboards/overview").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let overview = Dashboard::built_in("overview").unwrap();
    assert_eq!(body.matches("<svg").count(), overview.panels.len());
    for panel in &overview.panels {
        assert!(body.contains(&panel.title), "{} missing", panel.title);
    }
    // Ranges count back from the latest figures, and start no earlier than
    // the first: 03-15, where Tokyo's Monday morning began (UTC).
    assert!(body.contains("value=\"2020-03-15\"") && body.contains("value=\"2020-03-25\""));
    assert!(body.contains("<option value=\"chat\" selected>chat</option>"));
    assert!(body.contains("All days on the page are final"));
    assert!(!body.contains("http-equiv=\"refresh\""));

    let (status, body) = page(
        &app,
        &http,
        &cookie,
        "/dashboards/capacity?from=2020-03-20&to=2020-03-25",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("value=\"2020-03-20\""));

    // The project picker only offers projects whose read key is held.
    let (status, body) = page(&app, &http, &cookie, "/dashboards/overview?project=alpha").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("no read key for project"));
    for (path, expected) in [
        (
            "/dashboards/overview?from=2020-13-01&to=2020-03-25",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/dashboards/overview?from=2020-03-25",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/dashboards/overview?from=2020-03-25&to=2020-03-01",
            StatusCode::BAD_REQUEST,
        ),
        ("/dashboards/nope", StatusCode::NOT_FOUND),
        ("/dashboards/..%2Fsecret", StatusCode::NOT_FOUND),
    ] {
        assert_eq!(page(&app, &http, &cookie, path).await.0, expected, "{path}");
    }
    // A forged session id, or a cookie of the old kind holding a key, opens nothing.
    let (status, _) = page(&app, &http, "hw_session=Zm9yZ2Vk", "/dashboards/overview").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let old_kind = format!(
        "hw_read_keys={}",
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, READ_KEY)
    );
    let (status, _) = page(&app, &http, &old_kind, "/dashboards/overview").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A provisional day on the page: it reloads itself.
    app.clock.set(
        "2020-03-25T18:00:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
            .timestamp_millis(),
    );
    app.run_jobs("chat", "2020-03-25", "2020-03-25").await;
    let (status, body) = page(&app, &http, &cookie, "/dashboards/overview").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("http-equiv=\"refresh\""),
        "no reload with a provisional day"
    );
    assert!(body.contains("Provisional days on the page"));

    // The online strip: what the API says now, today's peak so far, the
    // record; the page's script refreshes it from live.json.
    let (_, online) = app.read(READ_KEY, "/v1/online").await;
    let (_, daily) = app
        .read(READ_KEY, "/v1/metrics/daily?from=2020-03-25&to=2020-03-25")
        .await;
    let (_, records) = app.read(READ_KEY, "/v1/records").await;
    let users = online["users"].as_u64().unwrap();
    assert!(users > 0, "the simulated evening is online: {online}");
    assert!(
        body.contains(&format!(
            "id=\"online-users\">{}</b>",
            highwater::charts::numbers::grouped(users)
        )),
        "{body}"
    );
    let (status, live) = page(&app, &http, &cookie, "/dashboards/live.json").await;
    assert_eq!(status, StatusCode::OK, "{live}");
    let live: serde_json::Value = serde_json::from_str(&live).unwrap();
    for field in ["as_of", "users", "connections", "active_users"] {
        assert_eq!(live[field], online[field], "{field}");
    }
    assert_eq!(live["today"]["day"], "2020-03-25");
    assert_eq!(live["today"]["peak_users"], daily["days"][0]["peak_users"]);
    assert_eq!(
        live["today"]["peak_users_at"],
        daily["days"][0]["peak_users_at"]
    );
    let last_record = records["records"].as_array().unwrap().last().unwrap();
    assert_eq!(live["record"]["day"], last_record["day"]);
    assert_eq!(live["record"]["peak_users"], last_record["peak_users"]);
    // Without a session: the login page, not the numbers.
    let (status, _) = page(&app, &http, "", "/dashboards/live.json").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_renders_to_png_svg_and_an_offline_index() {
    let app = app_with_march("render").await;
    let project = app.settings.project("chat").unwrap();
    for name in ["overview", "capacity", "segments"] {
        let dashboard = Dashboard::built_in(name).unwrap();
        let panels = load(
            &StoredFigures::of_store(app.db.clone()),
            project,
            &dashboard,
            None,
            &["chat".to_owned()],
            today(),
        )
        .await
        .unwrap();
        let dir = scratch_dir(&format!("render-{name}"));
        let index = report::write(&dir, &dashboard.title, "chat", &panels).unwrap();
        let html = std::fs::read_to_string(&index).unwrap();
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "fetches nothing"
        );
        for (i, panel) in dashboard.panels.iter().enumerate() {
            if panel.chart == highwater::dashboards::spec::ChartKind::Forecast {
                let highwater::charts::Chart::Forecast(chart) = &panels[i].chart else {
                    panic!("a forecast panel draws a forecast");
                };
                // 11 final days (03-15..25): fewer than the 14 a forecast
                // needs, so the panel says so instead of guessing.
                assert!(chart.forecast.is_empty() && chart.surges.is_empty());
                let svg = std::fs::read_to_string(dir.join(format!("{}.svg", panel.file_stem(i))))
                    .unwrap();
                assert!(svg.contains("needs two weeks of final days"));
            }
            let stem = panel.file_stem(i);
            assert!(
                html.contains(&format!("src=\"{stem}.svg\"")),
                "{stem} not in index"
            );
            let png = std::fs::read(dir.join(format!("{stem}.png"))).unwrap();
            assert_eq!(&png[1..4], b"PNG");
            let svg = std::fs::read_to_string(dir.join(format!("{stem}.svg"))).unwrap();
            assert!(svg.contains(&panel.title));
            // The simulated users have countries, platforms and
            // organisations: every segment panel has something to draw.
            if panel.chart.is_segments() {
                assert!(
                    !svg.contains("No segment figures")
                        && !svg.contains("No organisations")
                        && !svg.contains("No figures"),
                    "{stem} drawn empty"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_panels_show_only_projects_the_reader_may_read() {
    let app = app_with_march("compare").await;
    let project = app.settings.project("chat").unwrap();
    let dashboard = Dashboard::from_toml(
        "title = \"Side by side\"\n[[panel]]\nchart = \"compare\"\ntitle = \"Chat vs others\"\n\
         projects = [\"chat\", \"secret\"]",
    )
    .unwrap();
    let panels = load(
        &StoredFigures::of_store(app.db.clone()),
        project,
        &dashboard,
        None,
        &["chat".to_owned()],
        today(),
    )
    .await
    .unwrap();
    let highwater::charts::Chart::Compare(projects) = &panels[0].chart else {
        panic!("a compare panel draws a comparison");
    };
    let names: Vec<&str> = projects.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["chat"]);
    assert_eq!(projects[0].1.days.last().unwrap().peak_users, 2_500);
}
