//! `[[alert]]` webhooks, received by a server in the test: exactly one
//! "record" call when a day beats the record (and one "record in progress"
//! for a provisional day that does), signed with HMAC-SHA256, not repeated
//! by later rounds nor by a restart.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::post;
use highwater::alerts::Alerts;
use highwater::config::{AlertKind, AlertSettings};
use highwater::jobs::rounds::Rounds;
use highwater::jobs::schedule::Scheduler;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::{ALPHA_INGEST, TestApp, spawn_app_with};

const SECRET: &str = "webhook-secret-0123456789abcdef";

type Calls = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// The receiver's routes: `POST /hook` keeps every call in `calls`.
fn receiving(calls: &Calls) -> Router {
    let kept = calls.clone();
    Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: String| async move {
            kept.lock().unwrap().push((headers, body));
            "ok"
        }),
    )
}

/// A webhook receiver on a free port: every call, as received.
async fn receiver() -> (String, Calls) {
    let calls: Calls = Arc::default();
    let router = receiving(&calls);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, calls)
}

/// The bodies received, once `expected` arrived (deliveries run in tasks
/// of their own) and a moment passed for any extra one.
async fn bodies(calls: &Calls, expected: usize) -> Vec<Value> {
    for _ in 0..100 {
        if calls.lock().unwrap().len() >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    calls
        .lock()
        .unwrap()
        .iter()
        .map(|(headers, body)| {
            // The signature, recomputed here with the hmac crate.
            let timestamp = headers["x-highwater-timestamp"].to_str().unwrap();
            let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
            mac.update(format!("{timestamp}.{body}").as_bytes());
            let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
            assert_eq!(headers["x-highwater-signature"], expected.as_str());
            serde_json::from_str(body).unwrap()
        })
        .collect()
}

/// `users` sessions of user ids `u0…` all open from `from` to `to` (RFC
/// 3339 seconds; `from` is their session id).
async fn overlapping(app: &TestApp, users: usize, from: &str, to: &str) {
    let ms = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .unwrap()
            .timestamp_millis()
    };
    let events: Vec<Value> = (0..users)
        .flat_map(|u| {
            [("session_start", from), ("session_end", to)].map(|(kind, t)| {
                json!({"type": kind, "user_id": format!("u{u}"), "session_id": from, "ts": ms(t)})
            })
        })
        .collect();
    app.post_accepted(ALPHA_INGEST, &events).await;
    app.drained().await;
}

fn scheduler(app: &TestApp) -> Scheduler {
    let alerts = Alerts::new(&app.settings.alerts, app.db.clone(), app.clock.clone()).unwrap();
    Scheduler::new(
        app.db.clone(),
        Arc::new(app.settings.projects.clone()),
        app.clock.clone(),
        Duration::from_secs(300),
    )
    .with_log(app.log.clone())
    .with_alerts(alerts)
}

#[tokio::test]
async fn a_day_beating_the_record_sends_exactly_one_record_alert() {
    let (url, calls) = receiver().await;
    let app = spawn_app_with("alerts_record", crate::clickhouse_url(), |settings| {
        settings.alerts = vec![AlertSettings {
            name: "ops".into(),
            kind: AlertKind::Record,
            url,
            secret: SECRET.into(),
            threshold: None,
            project: Some("alpha".into()),
            timeout_ms: 2_000,
            retries: 2,
            ca_file: None,
        }];
    })
    .await;
    // History before the first check: 2 users on the 23rd. Known, not
    // announced.
    overlapping(&app, 2, "2020-03-23T10:00:00Z", "2020-03-23T11:00:00Z").await;
    app.run_jobs("alpha", "2020-03-23", "2020-03-25").await;
    let mut jobs = scheduler(&app);
    jobs.tick(0).await.unwrap();
    assert_eq!(bodies(&calls, 0).await, Vec::<Value>::new());

    // The 24th (final at the tests' noon on the 25th): 3 users.
    overlapping(&app, 3, "2020-03-24T10:00:00Z", "2020-03-24T11:00:00Z").await;
    app.run_jobs("alpha", "2020-03-24", "2020-03-24").await;
    jobs.tick(0).await.unwrap();
    jobs.tick(0).await.unwrap();
    let received = bodies(&calls, 1).await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0]["alert"], "ops");
    assert_eq!(received[0]["kind"], "record");
    assert_eq!(received[0]["project"], "alpha");
    assert_eq!(
        received[0]["details"],
        json!({"day": "2020-03-24", "peak_users": 3,
               "peak_users_at": "2020-03-24T10:00:00Z", "previous_peak_users": 2})
    );

    // Today, provisional: 4 users by 11:30 → a record in progress.
    overlapping(&app, 4, "2020-03-25T11:00:00Z", "2020-03-25T11:30:00Z").await;
    jobs.tick(0).await.unwrap();
    jobs.tick(0).await.unwrap();
    let received = bodies(&calls, 2).await;
    assert_eq!(received.len(), 2, "{received:?}");
    assert_eq!(received[1]["kind"], "record_in_progress");
    assert_eq!(received[1]["details"]["day"], "2020-03-25");
    assert_eq!(received[1]["details"]["peak_users"], 4);

    // A restart (alerts remembered in ClickHouse, not in memory): nothing
    // again.
    scheduler(&app).tick(0).await.unwrap();
    assert_eq!(bodies(&calls, 2).await.len(), 2);
    app.stop().await.unwrap();
}

/// An https webhook receiver on a free port, its certificate signed by an
/// authority of this test's own; returns its URL, the authority's PEM and
/// the calls.
async fn tls_receiver() -> (String, String, Calls) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&server_key, &Issuer::new(ca_params, &ca_key))
        .unwrap();
    let tls = tokio_rustls::rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![server.der().clone()],
            tokio_rustls::rustls::pki_types::PrivateKeyDer::Pkcs8(
                server_key.serialize_der().into(),
            ),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let calls: Calls = Arc::default();
    let router = receiving(&calls);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "https://localhost:{}/hook",
        listener.local_addr().unwrap().port()
    );
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (acceptor, router) = (acceptor.clone(), router.clone());
            tokio::spawn(async move {
                // A client that does not trust us hangs up mid-handshake.
                let Ok(stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |request| {
                    tower::ServiceExt::oneshot(router.clone(), request)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, ca.pem(), calls)
}

#[tokio::test]
async fn alerts_reach_an_https_receiver_trusted_through_its_ca_file() {
    let (url, ca_pem, calls) = tls_receiver().await;
    let ca_file = crate::scratch_dir("alerts-tls").join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let alert = |ca_file: Option<std::path::PathBuf>| AlertSettings {
        name: "ops".into(),
        kind: AlertKind::OnlineAbove,
        url: url.clone(),
        secret: SECRET.into(),
        threshold: Some(0.0),
        project: None,
        timeout_ms: 5_000,
        retries: 0,
        ca_file,
    };
    let body = json!({"alert": "ops", "kind": "online_above", "details": {"users": 3}});
    let now = || 1_585_137_600;

    // Without the authority, the receiver is not trusted: not delivered.
    let untrusted = alert(None);
    let client = highwater::alerts::webhook::client(&untrusted).unwrap();
    let refused = highwater::alerts::webhook::deliver(&client, &untrusted, &body, now).await;
    assert!(refused.is_err(), "delivered to an untrusted receiver");
    assert_eq!(calls.lock().unwrap().len(), 0);

    // With it: delivered once, signed.
    let trusted = alert(Some(ca_file));
    trusted.validate(&[]).unwrap();
    let client = highwater::alerts::webhook::client(&trusted).unwrap();
    highwater::alerts::webhook::deliver(&client, &trusted, &body, now)
        .await
        .unwrap();
    let received = bodies(&calls, 1).await;
    assert_eq!(received, vec![body]);

    // A ca_file that is no certificate is refused with the configuration.
    let bad = crate::scratch_dir("alerts-tls").join("not-a-ca.pem");
    std::fs::write(&bad, "hello").unwrap();
    let error = alert(Some(bad)).validate(&[]).unwrap_err().to_string();
    assert!(error.contains("ca_file"), "{error}");
}
