//! The OpenAPI description (`GET /openapi.json`, checked in as
//! `openapi.json`) against the server: the checked-in file is what the
//! server serves; every operation it describes is routed; and no route is
//! registered around it (every route goes through utoipa-axum's `routes!`,
//! which describes it).

use std::path::Path;

use serde_json::Value;

use crate::{TestApp, spawn_app_with};

const CHECKED_IN: &str = include_str!("../../openapi.json");

/// A value for each path parameter of the description.
fn concrete(path: &str) -> String {
    path.replace("{token}", "any-token")
        .replace("{name}", "overview")
}

async fn status_of(app: &TestApp, method: &str, path: &str) -> u16 {
    let url = format!("{}{}", app.base_url, concrete(path));
    let request = match method {
        "get" => app.http.get(url),
        "post" => app.http.post(url),
        other => panic!("{other} {path}: a method the test does not know"),
    };
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn the_description_is_checked_in_and_every_operation_is_routed() {
    let app = spawn_app_with("openapi", crate::clickhouse_url(), |settings| {
        // So that /metrics answers on the main address (401 without it).
        settings.metrics.scrape_key = Some("scrape-key-0123456789abcdef".into());
    })
    .await;
    let response = app
        .http
        .get(format!("{}/openapi.json", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let served = response.text().await.unwrap();
    assert!(
        served.trim_end() == CHECKED_IN.trim_end(),
        "openapi.json is not what the server describes: regenerate it with \
         `cargo run --release -- openapi > openapi.json`"
    );

    let spec: Value = serde_json::from_str(&served).unwrap();
    let paths = spec["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let status = status_of(&app, method, path).await;
            // The router's own "no such route" and "wrong method".
            assert!(
                status != 404 && status != 405,
                "{method} {path}: {status}, described but not routed"
            );
            operations += 1;
        }
    }
    // The routes docs/api.md lists are among them.
    for documented in [
        "/v1/events",
        "/v1/beacon",
        "/v1/logs",
        "/batch/",
        "/e/",
        "/capture/",
        "/v1/metrics/daily",
        "/v1/metrics/concurrency",
        "/v1/metrics/segments",
        "/v1/online",
        "/v1/records",
        "/v1/growth",
        "/v1/capacity",
        "/sdk/highwater.js",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    ] {
        assert!(paths.contains_key(documented), "{documented} undescribed");
    }
    assert!(operations >= 30, "{operations} operations");
    // Every schema referred to is there.
    let mut refs = Vec::new();
    collect_refs(&spec, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{reference}: not a schema of this document"));
        assert!(
            spec["components"]["schemas"].get(name).is_some(),
            "{reference} is not defined"
        );
    }
    app.stop().await.unwrap();
}

/// Every `$ref` in `value`.
fn collect_refs(value: &Value, refs: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(to)) => refs.push(to.clone()),
                    _ => collect_refs(inner, refs),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
        _ => {}
    }
}

/// Every `.route(…)` in the API's source bypasses the description; the
/// metrics listener's own router (`api/metrics_scrape.rs`, `/metrics`
/// without a key, on another address) is the one route allowed to.
#[test]
fn no_route_is_registered_without_its_description() {
    let mut undescribed = Vec::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") || path.ends_with("api/metrics_scrape.rs")
            {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                if line.contains(".route(") || line.contains(".route_service(") {
                    undescribed.push(format!("{}:{}", path.display(), n + 1));
                }
            }
        }
    }
    assert!(
        undescribed.is_empty(),
        "routes registered around the OpenAPI description (use `routes!`): {undescribed:?}"
    );
}
