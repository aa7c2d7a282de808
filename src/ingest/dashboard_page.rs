//! `GET /dashboards/{name}`: the live dashboard. A read key, entered once on
//! `/dashboards/login`, opens a server-side session (`super::sessions`):
//! the browser's cookie holds only the session's random id. Several keys
//! (one per project) make the project picker. Ingest keys cannot read.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{Extensions, HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use chrono::NaiveDate;
use serde::Deserialize;

use super::AppState;
use super::auth::Authorized;
use super::error::ApiError;
use super::guard::AuthFailed;
use super::sessions::SESSION_TTL;
use crate::dashboards::load::{Chosen, load};
use crate::dashboards::page::{self, PageContext};
use crate::dashboards::spec::Dashboard;
use crate::jobs::runner::check_range;

/// The session cookie: an opaque id, nothing else.
const COOKIE: &str = "hw_session";
/// Where earlier versions kept the read keys themselves; cleared at login.
const LEGACY_COOKIE: &str = "hw_read_keys";
/// Largest login form accepted (a key and a dashboard name).
pub const FORM_BODY_LIMIT: usize = 4096;

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
    let keys = match session_keys(&state, &jar) {
        Session::Open(keys) => keys,
        Session::None => {
            let message = "Enter a read key to see this dashboard.";
            return (StatusCode::UNAUTHORIZED, Html(page::login(&name, message))).into_response();
        }
        Session::Unknown => {
            let message = "Your session has ended: enter a read key again.";
            let mut response =
                (StatusCode::UNAUTHORIZED, Html(page::login(&name, message))).into_response();
            response.extensions_mut().insert(AuthFailed);
            return response;
        }
    };
    let names: Vec<String> = keys
        .iter()
        .map(|k| state.projects[k.project].name.clone())
        .collect();
    let key = match &query.project {
        None => keys[0],
        Some(wanted) => match keys
            .iter()
            .find(|k| state.projects[k.project].name == *wanted)
        {
            Some(key) => *key,
            None => {
                let message = format!("This browser holds no read key for project {wanted:?}.");
                return (StatusCode::FORBIDDEN, Html(page::login(&name, &message))).into_response();
            }
        },
    };
    // A page costs its reader like any read: one request of the key's bucket.
    if let Err(e) = state.keys.throttle(key, 1) {
        return error_page(&e);
    }
    let project = &state.projects[key.project];
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
    extensions: Extensions,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    if !state.web.same_origin(&extensions, &headers) {
        return foreign_form();
    }
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let message = format!("The form is larger than {FORM_BODY_LIMIT} bytes.");
            return text_page(StatusCode::PAYLOAD_TOO_LARGE, &message);
        }
        Err(_) => {
            let message = "The form could not be read: send a key and next.";
            return (
                StatusCode::BAD_REQUEST,
                Html(page::login("overview", message)),
            )
                .into_response();
        }
    };
    let next = if is_dashboard_name(&form.next) {
        form.next
    } else {
        "overview".into()
    };
    let Some(key) = state.keys.read_key(form.key.as_bytes()) else {
        let message = "That is not a read key of any project.";
        let mut response =
            (StatusCode::UNAUTHORIZED, Html(page::login(&next, message))).into_response();
        response.extensions_mut().insert(AuthFailed);
        return response;
    };
    let old = jar.get(COOKIE).map(|c| c.value().to_owned());
    let id = state.sessions.log_in(old.as_deref(), key);
    let cookie = Cookie::build((COOKIE, id))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.web.is_https(&extensions, &headers))
        .path("/dashboards")
        .max_age(cookie::time::Duration::seconds(SESSION_TTL.as_secs() as i64));
    let project = &state.projects[key.project].name;
    let target = format!("/dashboards/{next}?project={}", urlencoding(project));
    let jar = jar
        .remove(Cookie::build(LEGACY_COOKIE).path("/dashboards"))
        .add(cookie);
    (jar, Redirect::to(&target)).into_response()
}

/// `POST /dashboards/logout`: ends the session and forgets the cookie.
pub async fn logout(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    if !state.web.same_origin(&extensions, &headers) {
        return foreign_form();
    }
    if let Some(id) = jar.get(COOKIE) {
        state.sessions.log_out(id.value());
    }
    let jar = jar.remove(Cookie::build(COOKIE).path("/dashboards"));
    (jar, Redirect::to("/dashboards/login")).into_response()
}

/// An [`ApiError`] as a page: its status, message and headers.
pub fn error_page(error: &ApiError) -> Response {
    let mut response = text_page(error.status(), &error.to_string());
    error.mark(&mut response);
    response
}

fn foreign_form() -> Response {
    text_page(
        StatusCode::FORBIDDEN,
        "This form must be sent from highwater's own page.",
    )
}

enum Session {
    Open(Vec<Authorized>),
    /// No cookie: a first visit.
    None,
    /// A cookie naming no open session: expired, logged out, or forged.
    Unknown,
}

fn session_keys(state: &AppState, jar: &CookieJar) -> Session {
    let Some(cookie) = jar.get(COOKIE) else {
        return Session::None;
    };
    match state.sessions.keys(cookie.value()) {
        Some(keys) if !keys.is_empty() => Session::Open(keys),
        _ => Session::Unknown,
    }
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
