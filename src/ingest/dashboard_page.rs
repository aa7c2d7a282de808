//! `GET /dashboards/{name}`: the live dashboard. A read key, entered once on
//! `/dashboards/login`, is kept in an HttpOnly cookie; several keys (one per
//! project) make the project picker. Ingest keys cannot read.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDate;
use serde::Deserialize;

use super::AppState;
use super::auth::KeyRole;
use crate::dashboards::load::{Chosen, load};
use crate::dashboards::page::{self, PageContext};
use crate::dashboards::spec::Dashboard;
use crate::jobs::runner::check_range;

const COOKIE: &str = "hw_read_keys";
/// Keys a browser may hold at once.
const MAX_KEYS: usize = 16;

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    project: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<PageQuery>,
    jar: CookieJar,
) -> Response {
    if !is_dashboard_name(&name) {
        return text_page(StatusCode::NOT_FOUND, "No such dashboard.");
    }
    let readable = readable_projects(&state, &jar);
    if readable.is_empty() {
        let message = "Enter a read key to see this dashboard.";
        return (StatusCode::UNAUTHORIZED, Html(page::login(&name, message))).into_response();
    }
    let names: Vec<String> = readable
        .iter()
        .map(|i| state.projects[*i].name.clone())
        .collect();
    let project = match &query.project {
        None => &state.projects[readable[0]],
        Some(wanted) => match readable
            .iter()
            .find(|i| state.projects[**i].name == *wanted)
        {
            Some(i) => &state.projects[*i],
            None => {
                let message = format!("This browser holds no read key for project {wanted:?}.");
                return (StatusCode::FORBIDDEN, Html(page::login(&name, &message))).into_response();
            }
        },
    };
    let dashboard = match Dashboard::named(&state.dashboards_dir, &name) {
        Ok(Some(dashboard)) => dashboard,
        Ok(None) => return text_page(StatusCode::NOT_FOUND, &format!("No dashboard {name:?}.")),
        Err(e) => return text_page(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:#}")),
    };
    let chosen = match chosen_days(&query) {
        Ok(chosen) => chosen,
        Err(message) => return text_page(StatusCode::BAD_REQUEST, &message),
    };
    let panels = match load(&state.db, project, &dashboard, chosen, &names).await {
        Ok(panels) => panels,
        Err(e) => {
            tracing::warn!("dashboard {name}: {e:#}");
            return text_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The figures cannot be read right now.",
            );
        }
    };
    let (from, to) = match (chosen, panels.first()) {
        (Some(c), _) => (c.from, c.to),
        (None, Some(p)) => (p.from, p.to),
        (None, None) => (
            chrono::Utc::now().date_naive(),
            chrono::Utc::now().date_naive(),
        ),
    };
    let context = PageContext {
        name: &name,
        title: &dashboard.title,
        projects: &names,
        project: &project.name,
        from,
        to,
    };
    match page::dashboard(&context, &panels) {
        Ok(html) => ([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(e) => text_page(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:#}")),
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

pub async fn login_page(Query(query): Query<LoginQuery>) -> Response {
    let next = query
        .next
        .filter(|n| is_dashboard_name(n))
        .unwrap_or_else(|| "overview".into());
    Html(page::login(&next, "Enter a read key.")).into_response()
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    key: String,
    next: String,
}

pub async fn login(
    State(state): State<AppState>,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = if is_dashboard_name(&form.next) {
        form.next
    } else {
        "overview".into()
    };
    let Some((project, KeyRole::Read)) = state.keys.lookup(form.key.as_bytes()) else {
        let message = "That is not a read key of any project.";
        return (StatusCode::UNAUTHORIZED, Html(page::login(&next, message))).into_response();
    };
    let mut keys: Vec<String> = stored_keys(&jar)
        .into_iter()
        .filter(|k| *k != form.key)
        .collect();
    keys.insert(0, form.key);
    keys.truncate(MAX_KEYS);
    let value: Vec<String> = keys.iter().map(|k| URL_SAFE_NO_PAD.encode(k)).collect();
    let cookie = Cookie::build((COOKIE, value.join(".")))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/dashboards")
        .max_age(cookie::time::Duration::days(30));
    let project = &state.projects[project].name;
    let target = format!("/dashboards/{next}?project={}", urlencoding(project));
    (jar.add(cookie), Redirect::to(&target)).into_response()
}

/// Projects whose read key the browser holds, in the order entered.
fn readable_projects(state: &AppState, jar: &CookieJar) -> Vec<usize> {
    let mut projects = Vec::new();
    for key in stored_keys(jar) {
        if let Some((project, KeyRole::Read)) = state.keys.lookup(key.as_bytes())
            && !projects.contains(&project)
        {
            projects.push(project);
        }
    }
    projects
}

fn stored_keys(jar: &CookieJar) -> Vec<String> {
    jar.get(COOKIE)
        .map(|c| {
            c.value()
                .split('.')
                .filter_map(|k| String::from_utf8(URL_SAFE_NO_PAD.decode(k).ok()?).ok())
                .collect()
        })
        .unwrap_or_default()
}

fn chosen_days(query: &PageQuery) -> Result<Option<Chosen>, String> {
    let parse = |text: &str| {
        text.parse::<NaiveDate>()
            .map_err(|_| format!("{text:?} is not a date (YYYY-MM-DD)"))
    };
    match (query.from.as_deref(), query.to.as_deref()) {
        (None | Some(""), None | Some("")) => Ok(None),
        (Some(from), Some(to)) if !from.is_empty() && !to.is_empty() => {
            let (from, to) = (parse(from)?, parse(to)?);
            check_range(from, to).map_err(|e| e.to_string())?;
            Ok(Some(Chosen { from, to }))
        }
        _ => Err("Give both from and to, or neither.".into()),
    }
}

fn is_dashboard_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn text_page(status: StatusCode, message: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\"><title>highwater</title></head>\
         <body><p>{}</p></body></html>",
        crate::dashboards::report::escape(message)
    );
    (status, Html(html)).into_response()
}

/// Project names are plain; escape what a URL query cannot hold.
fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
