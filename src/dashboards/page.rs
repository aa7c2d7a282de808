//! The live dashboard as HTML: online now with today's peak so far against
//! the record, a form to pick the project and the days, and every panel as
//! inline SVG. The picker is a plain GET form and, while provisional days
//! are shown, the page reloads itself; one small script refreshes the
//! online strip every [`LIVE_REFRESH_S`] seconds (without it, the strip
//! shows the page's own moment).

use std::fmt::Write as _;

use chrono::NaiveDate;

use super::live_summary::LiveSummary;
use super::load::LoadedPanel;
use super::report::{STYLE, escape};
use crate::charts;

/// Seconds between reloads while provisional figures are on the page.
pub const REFRESH_S: u32 = 60;
/// Seconds between refreshes of the online strip.
pub const LIVE_REFRESH_S: u32 = 5;

pub struct PageContext<'a> {
    pub name: &'a str,
    pub title: &'a str,
    /// Projects the reader holds a read key for; the first is shown by default.
    pub projects: &'a [String],
    pub project: &'a str,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Online now, today and the record (None: unavailable).
    pub live: Option<&'a LiveSummary>,
    /// No days were chosen and the figures end before today: the page
    /// shows the days up to the latest with figures, and says so.
    pub ends_at_latest_figures: bool,
}

pub fn dashboard(context: &PageContext<'_>, panels: &[LoadedPanel]) -> anyhow::Result<String> {
    let provisional = panels.iter().any(|p| shows_provisional(&p.chart));
    let mut body = String::new();
    for loaded in panels {
        let panel = &loaded.panel;
        let svg = charts::svg(&loaded.chart, &panel.title, (panel.width, panel.height))?;
        writeln!(
            body,
            "<figure class=\"panel\" data-chart=\"{:?}\">{svg}<figcaption>{} · {} – {}</figcaption></figure>",
            panel.chart,
            escape(&panel.title),
            loaded.from,
            loaded.to
        )?;
    }
    let options: String = context
        .projects
        .iter()
        .map(|p| {
            let selected = if p == context.project {
                " selected"
            } else {
                ""
            };
            format!("<option value=\"{0}\"{selected}>{0}</option>", escape(p))
        })
        .collect();
    let refresh = if provisional {
        format!("<meta http-equiv=\"refresh\" content=\"{REFRESH_S}\">")
    } else {
        String::new()
    };
    let status = if provisional {
        format!("Provisional days on the page (grey): it reloads every {REFRESH_S} s.")
    } else {
        "All days on the page are final.".to_owned()
    };
    let status = if context.ends_at_latest_figures {
        format!(
            "{status} The days end on {}, the latest day with figures.",
            context.to
        )
    } else {
        status
    };
    let nav: Vec<String> = super::spec::Dashboard::built_in_names()
        .map(|other| {
            format!(
                "<a href=\"/dashboards/{other}?project={}\">{other}</a>",
                escape(context.project)
            )
        })
        .collect();
    Ok(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\">{refresh}\
         <title>{title} — {project}</title><style>{STYLE}{PAGE_STYLE}</style></head><body>\n\
         <h1>{title} <small>{project}</small></h1>\n\
         <nav>Dashboards: {nav}</nav>\n\
         <form method=\"get\" action=\"/dashboards/{name}\">\
         <label>Project <select name=\"project\">{options}</select></label> \
         <label>From <input type=\"date\" name=\"from\" value=\"{from}\"></label> \
         <label>To <input type=\"date\" name=\"to\" value=\"{to}\"></label> \
         <button type=\"submit\">Show</button> \
         <a href=\"/dashboards/login?next={name}\">add a project's read key</a></form>\n\
         <form method=\"post\" action=\"/dashboards/logout\"><button type=\"submit\">Log out</button></form>\n\
         {live}<p class=\"meta\">{status}</p>\n{body}</body></html>\n",
        live = live_strip(context),
        title = escape(context.title),
        nav = nav.join(" · "),
        project = escape(context.project),
        name = escape(context.name),
        from = context.from,
        to = context.to,
    ))
}

/// Online now, today's peak so far and the record, refreshed in place.
fn live_strip(context: &PageContext<'_>) -> String {
    let Some(live) = context.live else {
        return "<p class=\"meta\">Online now is unavailable (ClickHouse did not answer).</p>\n"
            .to_owned();
    };
    let count = |n: u64| charts::numbers::grouped(n);
    // Both forms are on the page, one hidden, so the script can switch
    // from "nobody yet" to a peak as the day's first user comes.
    let today = live.today.as_ref().map_or_else(
        || "Today: not computed yet.".to_owned(),
        |t| {
            let nobody = t.peak_users == 0;
            format!(
                "<span id=\"today-none\"{}>Nobody online yet today.</span>\
                 <span id=\"today-some\"{}>Today's peak so far: <b id=\"today-peak\">{}</b> at \
                 <span id=\"today-peak-at\">{}</span>.</span>",
                if nobody { "" } else { " hidden" },
                if nobody { " hidden" } else { "" },
                count(t.peak_users.into()),
                t.peak_users_at
            )
        },
    );
    let record = live.record.as_ref().map_or_else(
        || "No record yet.".to_owned(),
        |r| {
            format!(
                "Record: <b>{}</b> on {}.",
                count(r.peak_users.into()),
                r.day
            )
        },
    );
    format!(
        "<section id=\"online\" data-src=\"/dashboards/live.json?project={project}\">\
         Online now: <b id=\"online-users\">{users}</b> users · \
         <span id=\"online-connections\">{connections}</span> connections · \
         <span id=\"online-active\">{active}</span> active \
         <small>(at <span id=\"online-as-of\">{as_of}</span>)</small><br>{today} {record}</section>\n\
         <script>{script}</script>\n",
        script = LIVE_SCRIPT.replace("__MS__", &(LIVE_REFRESH_S * 1000).to_string()),
        project = escape(context.project),
        users = count(live.online.users),
        connections = count(live.online.connections),
        active = count(live.online.active_users),
        as_of = live.as_of,
    )
}

/// Fetches `live.json` every few seconds and puts its numbers in place;
/// marks the strip stale when that fails (a session ended, a restart).
const LIVE_SCRIPT: &str = concat!(
    "(function(){var s=document.getElementById('online');if(!s||!window.fetch)return;",
    "function put(id,v){var e=document.getElementById(id);if(e)e.textContent=v;}",
    "function n(x){return Number(x).toLocaleString('en-US');}",
    "function show(id,on){var e=document.getElementById(id);if(e)e.hidden=!on;}",
    "function tick(){fetch(s.dataset.src,{credentials:'same-origin',cache:'no-store'})",
    ".then(function(r){if(!r.ok)throw new Error(r.status);return r.json();})",
    ".then(function(d){put('online-users',n(d.users));put('online-connections',n(d.connections));",
    "put('online-active',n(d.active_users));put('online-as-of',d.as_of);",
    "if(d.today){var z=d.today.peak_users==0;show('today-none',z);show('today-some',!z);",
    "put('today-peak',n(d.today.peak_users));put('today-peak-at',d.today.peak_users_at);}",
    "s.classList.remove('stale');})",
    ".catch(function(){s.classList.add('stale');});}",
    "setInterval(tick,__MS__);})();"
);

/// The form that asks for a read key, with why it is shown.
pub fn login(next: &str, message: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\">\
         <title>highwater — read key</title><style>{STYLE}{PAGE_STYLE}</style></head><body>\n\
         <h1>highwater <small>dashboards</small></h1>\n<p class=\"meta\">{message}</p>\n\
         <form method=\"post\" action=\"/dashboards/login\">\
         <input type=\"hidden\" name=\"next\" value=\"{next}\">\
         <label>Read key <input type=\"password\" name=\"key\" autocomplete=\"off\" required></label> \
         <button type=\"submit\">Open</button></form>\n\
         <p class=\"meta\">The key stays on the server: this browser gets a session \
         (an HttpOnly cookie, 7 days, ended by “Log out”); ingest keys cannot read.</p></body></html>\n",
        message = escape(message),
        next = escape(next),
    )
}

fn shows_provisional(chart: &charts::Chart) -> bool {
    use charts::Chart::*;
    match chart {
        Peak(daily) | Actives(daily) | Growth(daily) => daily.days.iter().any(|d| !d.is_final),
        Compare(projects) => projects
            .iter()
            .any(|(_, d)| d.days.iter().any(|d| !d.is_final)),
        Intraday(day) => !day.is_final && !day.minutes.is_empty(),
        // Segment figures are recomputed with their days; the day panels
        // beside them say whether those are provisional.
        SessionLengths(_)
        | HourOfWeek(_)
        | Forecast(_)
        | SegmentPeaks(_)
        | SummedVsCoincident(_)
        | TopOrgs(_)
        | SegmentDay(_) => false,
    }
}

const PAGE_STYLE: &str = "form{margin:12px 0}label{margin-right:12px}\
input,select,button{font:inherit;padding:2px 6px}\
#online{padding:8px 12px;border-left:4px solid #2a7;background:#f4fbf7}\
#online.stale{border-color:#aaa;color:#777}";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboards::live_summary::TodaySoFar;
    use crate::figures::online::OnlineCounts;

    #[test]
    fn a_page_whose_figures_end_before_today_says_where_its_days_end() {
        let projects = ["chat".to_owned()];
        let day = NaiveDate::from_ymd_opt(2020, 3, 31).unwrap();
        let mut context = PageContext {
            name: "overview",
            title: "Overview",
            projects: &projects,
            project: "chat",
            from: day - chrono::Duration::days(29),
            to: day,
            live: None,
            ends_at_latest_figures: true,
        };
        let said = "The days end on 2020-03-31, the latest day with figures.";
        assert!(dashboard(&context, &[]).unwrap().contains(said));
        context.ends_at_latest_figures = false;
        assert!(!dashboard(&context, &[]).unwrap().contains(said));
    }

    fn strip_with_today_peak(peak_users: u32) -> String {
        let live = LiveSummary {
            project: "chat".into(),
            as_of: "2020-03-25T00:00:05Z".into(),
            online: OnlineCounts {
                users: 0,
                connections: 0,
                active_users: 0,
            },
            today: Some(TodaySoFar {
                day: "2020-03-25".into(),
                peak_users,
                peak_users_at: "2020-03-25T00:00:00Z".into(),
                computed_at: "2020-03-25T00:00:05Z".into(),
            }),
            record: None,
        };
        let projects = ["chat".to_owned()];
        let day = NaiveDate::from_ymd_opt(2020, 3, 25).unwrap();
        live_strip(&PageContext {
            name: "overview",
            title: "Overview",
            projects: &projects,
            project: "chat",
            from: day,
            to: day,
            live: Some(&live),
            ends_at_latest_figures: false,
        })
    }

    #[test]
    fn a_day_without_users_says_nobody_is_online_yet_instead_of_a_zero_peak() {
        let empty = strip_with_today_peak(0);
        assert!(
            empty.contains("<span id=\"today-none\">Nobody online yet today.")
                && empty.contains("<span id=\"today-some\" hidden>"),
            "{empty}"
        );
        let busy = strip_with_today_peak(12_500);
        assert!(
            busy.contains("<span id=\"today-none\" hidden>")
                && busy.contains(
                    "<span id=\"today-some\">Today's peak so far: <b id=\"today-peak\">12,500</b>"
                ),
            "{busy}"
        );
    }
}
