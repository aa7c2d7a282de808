//! `GET /dashboards/{name}`: the live dashboard of one project, for a
//! browser holding a session (see `login`). Several read keys (one per
//! project) make the project picker; each page costs one request of the
//! shown project's read bucket, like an API read.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::error::PageError;
use super::is_dashboard_name;
use super::login::COOKIE;
use crate::api::access::keys::Authorized;
use crate::api::error::ApiError;
use crate::api::state::AppState;
use crate::dashboards::live_summary::summary;
use crate::dashboards::load::{Chosen, LoadError, load};
use crate::dashboards::page::{self, PageContext};
use crate::dashboards::spec::Dashboard;
use crate::domain::calendar::{check_range, utc_date};

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    project: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

#[utoipa::path(
    get,
    path = "/dashboards/{name}",
    tag = "dashboards",
    params(
        ("name" = String, Path, description = "A dashboard of `dashboards_dir` (`overview`, `capacity`, `segments`)"),
        ("project" = Option<String>, Query, description = "The project (default: the session's first)"),
        ("from" = Option<String>, Query, description = "First day, YYYY-MM-DD"),
        ("to" = Option<String>, Query, description = "Last day, YYYY-MM-DD"),
    ),
    responses(
        (status = 200, description = "The dashboard page", content_type = "text/html", body = String),
        (status = 303, description = "No session: to the login page"),
        (status = 404, description = "No such dashboard", content_type = "text/html", body = String),
    ),
)]
pub async fn show(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<PageQuery>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    if !is_dashboard_name(&name) {
        return Err(PageError::NotFound("No such dashboard.".into()));
    }
    let (key, names) = session_key(&state, &jar, &name, query.project.as_deref()).await?;
    let project = &state.projects[key.project];
    let dashboard = Dashboard::named(&state.dashboards_dir, &name)
        // A file that does not parse says why (the reader is logged in).
        .map_err(|e| PageError::BadRequest(format!("{e:#}")))?
        .ok_or_else(|| PageError::NotFound(format!("No dashboard {name:?}.")))?;
    let chosen = chosen_days(&query).map_err(PageError::BadRequest)?;
    let today = utc_date(state.clock.now_ms() / 1000);
    let panels = load(&*state.figures, project, &dashboard, chosen, &names, today)
        .await
        .map_err(|e| match e {
            LoadError::Store(e) => PageError::Unavailable(e.into()),
            // The dashboard file is at fault, and says how.
            bad => PageError::BadRequest(bad.to_string()),
        })?;
    let (from, to) = match (chosen, panels.first()) {
        (Some(c), _) => (c.from, c.to),
        (None, Some(p)) => (p.from, p.to),
        (None, None) => (today, today),
    };
    // The strip at the top; the page still shows without it.
    let live = summary(&*state.figures, project, state.clock.now_ms())
        .await
        .inspect_err(|e| tracing::warn!(error = %e, "online now unavailable for the page"))
        .ok();
    let context = PageContext {
        name: &name,
        title: &dashboard.title,
        projects: &names,
        project: &project.name,
        from,
        to,
        live: live.as_ref(),
        ends_at_latest_figures: chosen.is_none() && !panels.is_empty() && to < today,
    };
    let html = page::dashboard(&context, &panels).map_err(PageError::Internal)?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response())
}

/// The read keys of the browser's session, most recent first.
#[derive(Debug, Deserialize)]
pub struct LiveQuery {
    project: Option<String>,
}

/// `GET /dashboards/live.json?project=P`: what the page's script refreshes
/// (online now, today's peak so far, the record), for the same session.
#[utoipa::path(
    get,
    path = "/dashboards/live.json",
    tag = "dashboards",
    params(("project" = Option<String>, Query, description = "The project (default: the session's first)")),
    responses(
        (status = 200, description = "Online now, today's peak so far and the record, for the page's script", body = serde_json::Value),
        (status = 303, description = "No session: to the login page"),
    ),
)]
pub async fn live(
    State(state): State<AppState>,
    Query(query): Query<LiveQuery>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let (key, _) = session_key(&state, &jar, "overview", query.project.as_deref()).await?;
    let project = &state.projects[key.project];
    let live = summary(&*state.figures, project, state.clock.now_ms())
        .await
        .map_err(|e| PageError::Unavailable(e.into()))?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(live)).into_response())
}

/// The session's read key for `project` (default: its first), charged one
/// request, and the names of every project the session may read.
async fn session_key(
    state: &AppState,
    jar: &CookieJar,
    next: &str,
    project: Option<&str>,
) -> Result<(Authorized, Vec<String>), PageError> {
    let keys = session_keys(state, jar, next).await?;
    let names: Vec<String> = keys
        .iter()
        .map(|k| state.projects[k.project].name.clone())
        .collect();
    let key = match project {
        None => keys[0],
        Some(wanted) => *keys
            .iter()
            .find(|k| state.projects[k.project].name == wanted)
            .ok_or_else(|| PageError::NoKeyFor {
                next: next.to_owned(),
                project: wanted.to_owned(),
            })?,
    };
    state.keys.throttle(key, 1)?;
    Ok((key, names))
}

async fn session_keys(
    state: &AppState,
    jar: &CookieJar,
    next: &str,
) -> Result<Vec<Authorized>, PageError> {
    let Some(cookie) = jar.get(COOKIE) else {
        return Err(PageError::LogIn {
            next: next.to_owned(),
            message: "Enter a read key to see this dashboard.".into(),
        });
    };
    match state
        .sessions
        .keys(cookie.value())
        .await
        .map_err(ApiError::from)?
    {
        Some(keys) if !keys.is_empty() => Ok(keys),
        _ => Err(PageError::SessionUnknown {
            next: next.to_owned(),
        }),
    }
}

fn chosen_days(query: &PageQuery) -> Result<Option<Chosen>, String> {
    let parse = crate::domain::calendar::parse_day;
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
