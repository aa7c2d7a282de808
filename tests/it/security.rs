//! The HTTP surface under attack: bodies bounded on every route, key
//! guessing slowed per client address, no key material in cookies, reads
//! bounded in cost, invalid batches charged, and keep-alive clients told
//! when a refusal ends their connection.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use highwater::bench::server_process::{free_addr, spawn_server_from, stop_server};
use highwater::live::stored_figures::StoredFigures;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::gate::Gate;
use crate::{
    ALPHA_INGEST, ALPHA_READ, TestApp, clickhouse_url, event_json, scratch_dir, spawn_app,
    spawn_app_with,
};

/// Peak resident memory of process `pid`, in bytes (`VmHWM`).
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Sends `head` and then up to `body_bytes` of body (chunked when
/// `chunked`), while reading the answer; returns the answer's head and how
/// much of the body the server let through.
async fn post_raw(listen: &str, head: &str, body_bytes: u64, chunked: bool) -> (String, u64) {
    let stream = TcpStream::connect(listen).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let answer = tokio::spawn(async move {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && read.read(&mut byte).await.is_ok_and(|n| n == 1) {
            head.push(byte[0]);
        }
        String::from_utf8_lossy(&head).into_owned()
    });
    write.write_all(head.as_bytes()).await.unwrap();
    let block = vec![b'a'; 1 << 20];
    let mut sent = 0u64;
    while sent < body_bytes {
        let frame = if chunked {
            [format!("{:x}\r\n", block.len()).as_bytes(), &block, b"\r\n"].concat()
        } else {
            block.clone()
        };
        if write.write_all(&frame).await.is_err() {
            break;
        }
        sent += block.len() as u64;
    }
    (answer.await.unwrap(), sent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gigabyte_login_body_without_a_key_is_refused_early_and_costs_no_memory() {
    const GIB: u64 = 1 << 30;
    let dir = scratch_dir("login-body");
    let listen = free_addr().unwrap();
    let config = dir.join("highwater.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"{listen}\"\n[clickhouse]\nurl = \"{}\"\ndatabase = \"it_login_body\"\n\
             [wal]\ndir = \"{}\"\n[jobs]\nenabled = false\n\
             [[project]]\nname = \"alpha\"\ningest_keys = [\"{ALPHA_INGEST}\"]\nread_keys = [\"{ALPHA_READ}\"]\n",
            clickhouse_url(),
            dir.join("wal").display()
        ),
    )
    .unwrap();
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_highwater"));
    let mut server = spawn_server_from(exe, &config, &listen, &[]).await.unwrap();
    let pid = server.id().unwrap();
    let form = "POST /dashboards/login HTTP/1.1\r\nHost: x\r\n\
                Content-Type: application/x-www-form-urlencoded\r\n";

    // A gigabyte offered chunked (no length declared), and one declared.
    let (chunked, let_through) = post_raw(
        &listen,
        &format!("{form}Transfer-Encoding: chunked\r\n\r\n"),
        GIB,
        true,
    )
    .await;
    let (declared, _) = post_raw(
        &listen,
        &format!("{form}Content-Length: {GIB}\r\n\r\n"),
        GIB,
        false,
    )
    .await;
    println!(
        "the server let {} MiB of a 1 GiB login body through",
        let_through >> 20
    );
    for head in [&chunked, &declared] {
        assert!(head.starts_with("HTTP/1.1 413"), "{head}");
        assert!(
            head.to_ascii_lowercase().contains("connection: close"),
            "{head}"
        );
    }
    let peak = peak_rss(pid);
    assert!(peak < 100 << 20, "peak RSS {} MiB", peak >> 20);
    let healthy = reqwest::get(format!("http://{listen}/healthz"))
        .await
        .unwrap();
    assert_eq!(healthy.status(), 200);
    stop_server(&mut server).await;
}

/// `GET /v1/records` with `key`, seen as coming from `address` through a
/// trusted proxy (the test server trusts loopback as one).
async fn read_from(app: &TestApp, key: &str, address: &str) -> reqwest::Response {
    app.http
        .get(format!("{}/v1/records", app.base_url))
        .bearer_auth(key)
        .header("x-forwarded-for", address)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn twenty_wrong_keys_from_one_address_end_in_429_without_comparing() {
    let app = spawn_app_with("key_guessing", clickhouse_url(), |settings| {
        settings.ingest.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let mut statuses = Vec::new();
    for guess in 0..20 {
        let key = format!("guessed-key-{guess:012}-xxxxxxxx");
        statuses.push(read_from(&app, &key, "203.0.113.7").await.status().as_u16());
    }
    // The burst (10) and the failure that empties it are compared; after
    // that the address is refused outright.
    assert_eq!(statuses[..11], [401; 11], "{statuses:?}");
    assert_eq!(statuses[11..], [429; 9], "{statuses:?}");
    // Even the right key is not looked at from that address...
    let blocked = read_from(&app, ALPHA_READ, "203.0.113.7").await;
    assert_eq!(blocked.status(), 429);
    let wait: u64 = blocked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let body: Value = blocked.json().await.unwrap();
    assert_eq!(body["error"], "too_many_failed_attempts");
    // ...nor a login form, nor an ingest key.
    let login = app
        .http
        .post(format!("{}/dashboards/login", app.base_url))
        .header("x-forwarded-for", "203.0.113.7")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("key={ALPHA_READ}&next=overview"))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 429);
    // Another address is unaffected, and successes never count.
    for _ in 0..30 {
        assert_eq!(
            read_from(&app, ALPHA_READ, "198.51.100.1").await.status(),
            200
        );
    }
    app.stop().await.unwrap();
}

fn no_redirects() -> reqwest::Client {
    crate::http_client()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn log_in(
    app: &TestApp,
    http: &reqwest::Client,
    key: &str,
    origin: Option<&str>,
) -> reqwest::Response {
    let mut request = http
        .post(format!("{}/dashboards/login", app.base_url))
        .header("content-type", "application/x-www-form-urlencoded")
        // Test keys are letters, digits and dashes: nothing to escape.
        .body(format!("key={key}&next=overview"));
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    request.send().await.unwrap()
}

async fn page(app: &TestApp, http: &reqwest::Client, cookie: &str) -> StatusCode {
    http.get(format!("{}/dashboards/overview", app.base_url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
}

/// A dashboard login of `key` from `address` (through the trusted proxy).
async fn log_in_from(app: &TestApp, key: &str, address: &str) -> StatusCode {
    no_redirects()
        .post(format!("{}/dashboards/login", app.base_url))
        .header("x-forwarded-for", address)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("key={key}&next=overview"))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn logins_cost_their_read_key_and_their_address() {
    let app = spawn_app_with("login_cost", clickhouse_url(), |settings| {
        settings.ingest.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        // One a minute refills: the test is done long before.
        (
            settings.ingest.login_burst,
            settings.ingest.logins_per_minute,
        ) = (10, 1);
        settings.projects[0].rate_limits.read_burst_requests = 3;
        settings.projects[0].rate_limits.read_requests_per_s = 1;
    })
    .await;
    // Alpha's read key: six logins at once (sent one by one, the bucket
    // could refill while a loaded ClickHouse stores each session): three
    // pass, then its bucket is empty.
    let addresses: Vec<String> = (0..6).map(|i| format!("198.51.100.{i}")).collect();
    let statuses = futures::future::join_all(
        addresses
            .iter()
            .map(|address| log_in_from(&app, ALPHA_READ, address)),
    )
    .await;
    let passed = statuses
        .iter()
        .filter(|s| **s == StatusCode::SEE_OTHER)
        .count();
    // At most one more than the burst: a token may come back meanwhile.
    assert!((3..=4).contains(&passed), "{statuses:?}");
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // One address: 10 logins (with beta's key, whose bucket is large),
    // then 429; another address is unaffected.
    let beta = "beta-read-key-0123456789abc";
    for _ in 0..10 {
        assert_eq!(
            log_in_from(&app, beta, "203.0.113.9").await,
            StatusCode::SEE_OTHER
        );
    }
    assert_eq!(
        log_in_from(&app, beta, "203.0.113.9").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        log_in_from(&app, beta, "203.0.113.10").await,
        StatusCode::SEE_OTHER
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_dashboard_cookie_holds_a_session_id_and_no_key_material() {
    let app = spawn_app("session_cookie").await;
    let http = no_redirects();
    let own_origin = app.base_url.clone();

    let accepted = log_in(&app, &http, ALPHA_READ, Some(&own_origin)).await;
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    let set_cookie = accepted.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let value = cookie
        .strip_prefix("hw_session=")
        .expect("the session cookie");
    assert_eq!(value.len(), 43, "a 256-bit random id: {cookie}");
    for material in [ALPHA_READ.to_owned(), URL_SAFE_NO_PAD.encode(ALPHA_READ)] {
        assert!(!set_cookie.contains(&material), "{set_cookie}");
    }
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));
    assert!(!set_cookie.contains("Secure"), "plain http: {set_cookie}");
    assert_eq!(page(&app, &http, &cookie).await, StatusCode::OK);

    // Logging out ends the session on the server: the old cookie opens nothing.
    let out = http
        .post(format!("{}/dashboards/logout", app.base_url))
        .header("cookie", &cookie)
        .header("origin", &own_origin)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("hw_session=;")
    );
    assert_eq!(page(&app, &http, &cookie).await, StatusCode::UNAUTHORIZED);
    let forged = format!("hw_session={}", URL_SAFE_NO_PAD.encode([7u8; 32]));
    assert_eq!(page(&app, &http, &forged).await, StatusCode::UNAUTHORIZED);

    // A form that is not the login form gets the page's own 400, not a
    // plain-text 422.
    let garbled = http
        .post(format!("{}/dashboards/login", app.base_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("foo=bar")
        .send()
        .await
        .unwrap();
    assert_eq!(garbled.status(), StatusCode::BAD_REQUEST);
    assert!(garbled.text().await.unwrap().contains("name=\"key\""));

    // A form posted from another site is refused, key or not.
    let foreign = log_in(&app, &http, ALPHA_READ, Some("https://evil.example")).await;
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert!(foreign.headers().get("set-cookie").is_none());
    app.stop().await.unwrap();

    // Behind HTTPS (public_url), the cookie is Secure and only that origin may post.
    let public = "https://stats.example.com";
    let app = spawn_app_with("session_cookie_https", clickhouse_url(), |settings| {
        settings.public_url = Some(public.to_owned());
    })
    .await;
    let accepted = log_in(&app, &http, ALPHA_READ, Some(public)).await;
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    assert!(
        accepted.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Secure")
    );
    let own = log_in(&app, &http, ALPHA_READ, Some(&app.base_url)).await;
    assert_eq!(
        own.status(),
        StatusCode::FORBIDDEN,
        "only the public origin"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn dashboard_pages_cost_their_reader_like_any_read() {
    let app = spawn_app_with("page_cost", clickhouse_url(), |settings| {
        // One for the login (it starts a session), three for pages.
        settings.projects[0].rate_limits.read_burst_requests = 4;
        settings.projects[0].rate_limits.read_requests_per_s = 1;
    })
    .await;
    let http = no_redirects();
    let accepted = log_in(&app, &http, ALPHA_READ, None).await;
    let set_cookie = accepted.headers()["set-cookie"].to_str().unwrap();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    for _ in 0..3 {
        assert_eq!(page(&app, &http, &cookie).await, StatusCode::OK);
    }
    // Six more at once: the bucket refills one a second while the pages
    // render (slower on some engines), so one of them at least finds it
    // empty — the page is charged before its work.
    let more = (0..6).map(|_| {
        http.get(format!("{}/dashboards/overview", app.base_url))
            .header("cookie", &cookie)
            .send()
    });
    let answers = futures::future::join_all(more).await;
    let limited = answers
        .into_iter()
        .map(Result::unwrap)
        .find(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .expect("a page past the burst is refused");
    assert!(limited.headers().contains_key("retry-after"));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn reads_are_bounded_in_number_and_in_time() {
    let gate = Gate::start(clickhouse_url()).await;
    let app = spawn_app_with("read_bounds", &gate.url, |settings| {
        settings.read.max_in_flight = 1;
        settings.read.timeout_ms = 2_000;
    })
    .await;
    // One read held at the gate, on its way to ClickHouse...
    gate.close();
    let held = {
        let (http, url) = (app.http.clone(), format!("{}/v1/records", app.base_url));
        tokio::spawn(async move { http.get(url).bearer_auth(ALPHA_READ).send().await.unwrap() })
    };
    gate.holding().await;
    // ...is the only one in flight: the next is refused at once.
    let (status, body) = app.read(ALPHA_READ, "/v1/growth").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("busy")),
        "{body}"
    );
    // The held read ends at the read timeout instead of waiting for ever.
    let held = tokio::time::timeout(Duration::from_secs(30), held)
        .await
        .expect("the held read never ended")
        .unwrap();
    assert_eq!(held.status(), 503);
    gate.open();
    assert_eq!(app.read(ALPHA_READ, "/v1/records").await.0, 200);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn read_queries_carry_a_clickhouse_time_limit() {
    let db = clickhouse::Client::default().with_url(clickhouse_url());
    let reads = highwater::startup::read_client(db, 2_500);
    let limit = reads
        .query("SELECT value FROM system.settings WHERE name = 'max_execution_time'")
        .fetch_bytes("TabSeparated")
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&limit).trim(), "3");
}

#[tokio::test]
async fn invalid_batches_cost_their_key_and_run_out_its_bucket() {
    let app = spawn_app_with("invalid_cost", clickhouse_url(), |settings| {
        let limits = &mut settings.projects[0].rate_limits;
        limits.ingest_burst_events = 1_000;
        limits.ingest_events_per_s = 1;
    })
    .await;
    // 200 events without a user each: invalid, worth about 200 events of work.
    let events: Vec<Value> = (0..200)
        .map(|i| {
            let mut e = event_json("heartbeat", "U", "S", i);
            e.as_object_mut().unwrap().remove("user_id");
            e
        })
        .collect();
    let body = json!(events).to_string();
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(app.post_json(body.clone()).await.status().as_u16());
    }
    assert_eq!(statuses[0], 400);
    assert!(
        statuses.contains(&429),
        "invalid batches were free: {statuses:?}"
    );
    let limited = statuses.iter().position(|s| *s == 429).unwrap();
    assert!(
        statuses[limited..].iter().all(|s| *s == 429),
        "{statuses:?}"
    );
    app.stop().await.unwrap();
}

/// One request on a kept-alive connection; reads the whole answer and
/// returns its head, lower-cased.
async fn exchange(stream: &mut TcpStream, request: &str) -> String {
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(n > 0, "closed before an answer");
        answer.extend_from_slice(&buffer[..n]);
    };
    let head = String::from_utf8_lossy(&answer[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map_or(0, |n| n.trim().parse().unwrap());
    let mut body = answer.len() - head_end;
    while body < length {
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(n > 0, "closed inside an answer");
        body += n;
    }
    head
}

#[tokio::test]
async fn a_refusal_before_the_body_is_read_says_connection_close() {
    let app = spawn_app("keep_alive").await;
    let address = app.base_url.trim_start_matches("http://").to_owned();
    let body = "x".repeat(100);
    let refusals = [
        format!("Content-Type: text/plain\r\nAuthorization: Bearer {ALPHA_INGEST}"),
        "Content-Type: application/json\r\nAuthorization: Bearer unknown-key-000000000000000"
            .to_owned(),
    ];
    for headers in refusals {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        let request = format!(
            "POST /v1/events HTTP/1.1\r\nHost: x\r\n{headers}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let head = exchange(&mut stream, &request).await;
        assert!(head.starts_with("http/1.1 4"), "{head}");
        assert!(head.contains("connection: close"), "{head}");
    }
    // Answers that read the body keep the connection for the next request.
    let mut stream = TcpStream::connect(&address).await.unwrap();
    let events = json!([event_json("heartbeat", "U", "S", 1)]).to_string();
    let good = format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Authorization: Bearer {ALPHA_INGEST}\r\nContent-Length: {}\r\n\r\n{events}",
        events.len()
    );
    for _ in 0..2 {
        let head = exchange(&mut stream, &good).await;
        assert!(
            head.starts_with("http/1.1 200") && !head.contains("connection: close"),
            "{head}"
        );
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn minute_level_panels_read_at_most_five_weeks() {
    use highwater::dashboards::load::{Chosen, MAX_MINUTE_DAYS, load};
    use highwater::dashboards::spec::Dashboard;
    let app = spawn_app("minute_cap").await;
    let dashboard = Dashboard::from_toml(
        "title = \"Year\"\n[[panel]]\nchart = \"hour_of_week\"\ntitle = \"Week\"\n\
         [[panel]]\nchart = \"peak\"\ntitle = \"Peaks\"",
    )
    .unwrap();
    let chosen = Chosen {
        from: "2019-03-01".parse().unwrap(),
        to: "2020-03-31".parse().unwrap(),
    };
    let project = app.settings.project("alpha").unwrap();
    let panels = load(
        &StoredFigures::of_store(app.db.clone()),
        project,
        &dashboard,
        Some(chosen),
        &[],
        chosen.to,
    )
    .await
    .unwrap();
    let five_weeks = chosen.to - chrono::Duration::days(MAX_MINUTE_DAYS - 1);
    assert_eq!((panels[0].from, panels[0].to), (five_weeks, chosen.to));
    // Daily panels keep the whole range.
    assert_eq!(panels[1].from, chosen.from);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn one_key_s_logins_push_out_only_its_own_oldest_sessions() {
    use highwater::api::access::keys::KeyRing;
    use highwater::api::pages::sessions::SessionStore;
    let app = spawn_app("sessions_per_key").await;
    let keys = std::sync::Arc::new(KeyRing::new(&app.settings.projects));
    let store = SessionStore::new(app.db.clone(), keys.clone(), highwater::clock::system())
        .with_sessions_per_key(3);
    let alpha = keys.read_key(ALPHA_READ.as_bytes()).unwrap();
    let beta = keys.read_key(b"beta-read-key-0123456789abc").unwrap();
    let other = store.log_in(None, beta).await.unwrap();
    let mut alphas = Vec::new();
    for _ in 0..5 {
        alphas.push(store.log_in(None, alpha).await.unwrap());
    }
    // Alpha's two oldest made room for its newest; beta's stays.
    assert_eq!(store.keys(&other).await.unwrap(), Some(vec![beta]));
    for (i, id) in alphas.iter().enumerate() {
        let alive = store.keys(id).await.unwrap().is_some();
        assert_eq!(alive, i >= 2, "session {i}");
    }
    // A login from a session carries its keys over and ends it.
    let both = store.log_in(Some(&other), alpha).await.unwrap();
    assert_eq!(store.keys(&both).await.unwrap(), Some(vec![alpha, beta]));
    assert_eq!(store.keys(&other).await.unwrap(), None);
    store.log_out(&both).await.unwrap();
    assert_eq!(store.keys(&both).await.unwrap(), None);
    app.stop().await.unwrap();
}
