//! `/dashboards/login` and `/dashboards/logout`. A read key entered in the
//! form opens a server-side session (`super::sessions`); the browser's
//! cookie holds only the session's random id. The forms must come from our
//! own origin.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Deserialize;

use super::error::PageError;
use super::is_dashboard_name;
use super::sessions::SESSION_TTL;
use crate::api::error::ApiError;
use crate::api::state::AppState;
use crate::dashboards::page;

/// The session cookie: an opaque id, nothing else.
pub const COOKIE: &str = "hw_session";
/// Where earlier versions kept the read keys themselves; cleared at login.
const LEGACY_COOKIE: &str = "hw_read_keys";
/// Largest login form accepted (a key and a dashboard name).
pub const FORM_BODY_LIMIT: usize = 4096;

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

#[utoipa::path(
    get,
    path = "/dashboards/login",
    tag = "dashboards",
    params(("next" = Option<String>, Query, description = "The dashboard to open after login")),
    responses((status = 200, description = "The login form", content_type = "text/html", body = String)),
)]
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

#[utoipa::path(
    post,
    path = "/dashboards/login",
    tag = "dashboards",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`key` (a read key) and `next` (a dashboard)"),
    responses(
        (status = 303, description = "Logged in: a session cookie, and on to the dashboard"),
        (status = 401, description = "An unknown key: the form again", content_type = "text/html", body = String),
        (status = 403, description = "A form from another origin", content_type = "text/html", body = String),
    ),
)]
pub async fn login(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, PageError> {
    if !state.web.same_origin(&extensions, &headers) {
        return Err(PageError::ForeignForm);
    }
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(PageError::FormTooLarge(FORM_BODY_LIMIT));
        }
        Err(_) => return Err(PageError::BadForm),
    };
    let next = if is_dashboard_name(&form.next) {
        form.next
    } else {
        "overview".into()
    };
    let Some(key) = state.keys.read_key(form.key.as_bytes()) else {
        return Err(PageError::NotAReadKey { next });
    };
    // A login starts a session: it costs its key a read and its address a
    // login, so that no one can fill the session table.
    state.keys.throttle(key, 1)?;
    state
        .guard
        .logged_in(state.web.client_ip(&extensions, &headers))?;
    let old = jar.get(COOKIE).map(|c| c.value().to_owned());
    let id = state
        .sessions
        .log_in(old.as_deref(), key)
        .await
        .map_err(ApiError::from)?;
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
    Ok((jar, Redirect::to(&target)).into_response())
}

/// `POST /dashboards/logout`: ends the session and forgets the cookie.
#[utoipa::path(
    post,
    path = "/dashboards/logout",
    tag = "dashboards",
    responses(
        (status = 303, description = "Logged out: to the login page"),
        (status = 403, description = "A form from another origin", content_type = "text/html", body = String),
    ),
)]
pub async fn logout(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    jar: CookieJar,
) -> Result<Response, PageError> {
    if !state.web.same_origin(&extensions, &headers) {
        return Err(PageError::ForeignForm);
    }
    if let Some(id) = jar.get(COOKIE) {
        state
            .sessions
            .log_out(id.value())
            .await
            .map_err(ApiError::from)?;
    }
    let jar = jar.remove(Cookie::build(COOKIE).path("/dashboards"));
    Ok((jar, Redirect::to("/dashboards/login")).into_response())
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
