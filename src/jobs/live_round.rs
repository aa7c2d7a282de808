//! The short rounds between full computations: today's session figures
//! brought up to date from the users whose events arrived since the last
//! round (`LiveDay`), then stored as a new version of today's row and
//! minutes. The first round of a day (or of the process) reads the whole
//! day once.
//!
//! Changed users are found by receive time (`received_ms`), from the
//! previous round's cut-off minus [`super::schedule::WATERMARK_OVERLAP_MS`];
//! a round's cut-off is now, or the oldest batch still in this process's
//! log (those reach ClickHouse later than they were received).
//!
//! WAU and MAU are not recounted here: a round keeps those of the latest
//! full computation (raised to today's DAU if that passed them); the full
//! computation every `jobs.interval_s` recounts them, and the segments.

use compact_str::CompactString;
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use super::compute_day::{rules, store_figures};
use super::day_window::DayWindow;
use super::live_day::LiveDay;
use super::schedule::WATERMARK_OVERLAP_MS;
use super::session_interval::SessionFacts;
use super::sessions::{self, Sessions};
use super::slicing::{Slicing, slice_buckets};
use crate::config::ProjectSettings;
use crate::domain::calendar::local_day;
use crate::store::StoreError;
use crate::store::figures;

/// Per project: today's figures and the cut-off of the round that made them.
#[derive(Default)]
pub struct LiveFigures {
    days: FxHashMap<String, (LiveDay, i64)>,
}

impl LiveFigures {
    /// One round for `project` at `now_ms`, seeing every event received
    /// before `cut_ms`; returns today's peak of users.
    pub async fn round(
        &mut self,
        client: &clickhouse::Client,
        project: &ProjectSettings,
        slicing: Slicing,
        now_ms: i64,
        cut_ms: i64,
    ) -> Result<u32, StoreError> {
        let rules = rules(project);
        let today = local_day(project.time_zone, now_ms);
        let window = DayWindow::new(today, project.time_zone);
        let range = sessions::read_range(&window, rules);
        let day = match self.days.remove(&project.name) {
            Some((mut day, seen_ms)) if day.window().day == today => {
                let first_day_ms = range.0.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
                let changed = sessions::read_of_users_changed_since(
                    client,
                    &project.name,
                    range,
                    seen_ms - WATERMARK_OVERLAP_MS,
                    first_day_ms.timestamp_millis(),
                )?;
                set_users(&mut day, changed).await?;
                day
            }
            _ => {
                let mut day = LiveDay::new(window, rules);
                let slices = match slicing.fixed {
                    Some(fixed) => fixed,
                    None => {
                        slicing.slices_for(sessions::estimate(client, &project.name, range).await?)
                    }
                };
                for slice in 0..slices {
                    let buckets = slice_buckets(slice, slices);
                    let all = sessions::read(client, &project.name, range, buckets, false)?;
                    set_users(&mut day, all).await?;
                }
                day
            }
        };
        let figures = day.figures();
        let stored = figures::daily(client, &project.name, today, today).await?;
        let dau = figures.dau;
        let (wau, mau) = stored
            .last()
            .map_or((dau, dau), |row| (row.wau.max(dau), row.mau.max(dau)));
        let row = store_figures(client, project, &window, &figures, (wau, mau), now_ms).await?;
        self.days.insert(project.name.clone(), (day, cut_ms));
        Ok(row.peak_users)
    }
}

/// Gives `day` every user of `sessions` with all of that user's sessions
/// (a user's sessions all come in one read).
async fn set_users(day: &mut LiveDay, mut sessions: Sessions) -> Result<(), StoreError> {
    let mut users: FxHashMap<CompactString, SmallVec<[SessionFacts; 2]>> = FxHashMap::default();
    while let Some(session) = sessions.next().await? {
        match users.get_mut(session.user_id) {
            Some(sessions) => sessions.push(session.facts),
            None => {
                users.insert(
                    session.user_id.into(),
                    SmallVec::from_elem(session.facts, 1),
                );
            }
        }
    }
    for (user_id, sessions) in &users {
        day.set_user(user_id, sessions);
    }
    Ok(())
}
