//! The live rounds, on a loop of their own beside the full rounds of
//! `schedule` (a full round of a large day must not hold them back):
//! today's session figures brought up to date with the events that
//! arrived since the last round (`LiveDay`), stored as a new version of
//! today's row and minutes, and today's per-second counts published for
//! online now (`LiveBoard`). The first round of a day (or of the process)
//! reads the whole day once; later rounds read only the new events' session
//! states, by receive time (in `received_sessions`), from the previous
//! round's cut-off minus [`crate::jobs::rounds::WATERMARK_OVERLAP_MS`]: a
//! round costs what changed, not the day. A round's cut-off is now, or the
//! oldest batch still in this process's log (those reach ClickHouse later
//! than they were received). Another instance's log is not seen: after an
//! outage it ships events received long before the cut-off, which no later
//! round reads; so a round reads the whole day again once
//! [`WHOLE_READ_EVERY_MS`] has passed since the last whole read.
//!
//! WAU and MAU are not recounted here: a round keeps the highest of every
//! version of today's row (raised to today's DAU if that passed it). Today's
//! WAU and MAU only grow as events arrive, and the full computation every
//! `jobs.interval_s` recounts them (and the segments) — but its row is
//! stored under the version of its start, so the live rounds that started
//! after it (and saw more events) win over it, and carry its WAU and MAU
//! on through this maximum.

use std::sync::Arc;
use std::time::Duration;

use compact_str::CompactString;
use rustc_hash::FxHashMap;

use super::live_day::LiveDay;
use super::packed_sessions::UserSessions;
use crate::clock::Clock;
use crate::config::ProjectSettings;
use crate::domain::calendar::local_day;
use crate::domain::day_window::DayWindow;
use crate::jobs::compute_day::{Stored, next_version, rules, store_figures};
use crate::jobs::rounds::{Rounds, RoundsBase, WATERMARK_OVERLAP_MS, run_rounds};
use crate::jobs::runner::RunError;
use crate::jobs::sessions::{self, Sessions};
use crate::jobs::slicing::{Slicing, slice_buckets};
use crate::live::board::{LiveBoard, LiveCounts};
use crate::store::StoreError;
use crate::store::figures;
use crate::store::received_sessions::kept_from_ms;

/// The loop of live rounds, every `interval`, for every project.
pub struct LiveRounds {
    base: RoundsBase,
    board: LiveBoard,
    figures: LiveFigures,
}

impl LiveRounds {
    pub fn new(
        client: clickhouse::Client,
        projects: Arc<Vec<ProjectSettings>>,
        clock: Arc<dyn Clock>,
        interval: Duration,
        slicing: Slicing,
    ) -> Self {
        let base = RoundsBase::new(client, projects, clock, interval);
        Self {
            base: RoundsBase { slicing, ..base },
            board: LiveBoard::default(),
            figures: LiveFigures::default(),
        }
    }

    /// Where each round publishes today's per-second counts (online now).
    pub fn with_board(mut self, board: LiveBoard) -> Self {
        self.board = board;
        self
    }

    /// Rounds until `shutdown` resolves; a failed round is logged and the
    /// next one tries again.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let mut rounds = self;
        run_rounds(&mut rounds, shutdown).await;
    }

    /// Brings today's figures of project `index` up to date; returns the
    /// receive time (server ms) up to which they count events.
    pub async fn round(&mut self, index: usize) -> Result<i64, RunError> {
        let project = &self.base.projects[index];
        let now_ms = self.base.clock.now_ms();
        let cut_ms = self.base.cut_ms();
        let counts = self
            .figures
            .round(
                &self.base.client,
                project,
                self.base.slicing,
                now_ms,
                cut_ms,
            )
            .await?;
        self.board.publish(&project.name, counts);
        self.base.after_round(project).await;
        Ok(cut_ms)
    }
}

impl Rounds for LiveRounds {
    const KIND: &'static str = "live";

    fn base(&self) -> &RoundsBase {
        &self.base
    }

    fn base_mut(&mut self) -> &mut RoundsBase {
        &mut self.base
    }

    async fn round_for(&mut self, index: usize) -> Result<i64, RunError> {
        self.round(index).await
    }
}

/// How often a live round reads the whole day instead of what was received
/// since the last cut-off: the longest that events shipped late by another
/// instance's log (received before the cut-off, so never read as new) go
/// uncounted in today's live figures. A whole read of the record day costs
/// about what a full round's read does (≈ 2 % of the CPU of its ingest,
/// every 30 minutes).
pub const WHOLE_READ_EVERY_MS: i64 = 30 * 60_000;

/// One project's live day, the cut-off of the round that brought it up to
/// date, and when it was last read whole.
struct Kept {
    day: LiveDay,
    seen_ms: i64,
    read_whole_ms: i64,
}

/// Per project: today's figures as the last round left them.
#[derive(Default)]
struct LiveFigures {
    days: FxHashMap<String, Kept>,
}

impl LiveFigures {
    /// One round for `project` at `now_ms`, seeing every event received
    /// before `cut_ms`; returns today's per-second counts.
    async fn round(
        &mut self,
        client: &clickhouse::Client,
        project: &ProjectSettings,
        slicing: Slicing,
        now_ms: i64,
        cut_ms: i64,
    ) -> Result<LiveCounts, StoreError> {
        // Taken before reading: see `Stored`.
        let stored_as = Stored {
            version: next_version(now_ms),
            now_ms,
        };
        let rules = rules(project);
        let today = local_day(project.time_zone, now_ms);
        let window = DayWindow::new(today, project.time_zone);
        let range = sessions::read_range(&window, rules);
        // A day read whole again is dropped first: the two would not fit
        // side by side on the record day.
        let kept = self.days.remove(&project.name).filter(|kept| {
            kept.day.window().day == today
                // Receipts that old may have been dropped.
                && kept.seen_ms - WATERMARK_OVERLAP_MS >= kept_from_ms(now_ms)
                && now_ms - kept.read_whole_ms < WHOLE_READ_EVERY_MS
        });
        let (day, read_whole_ms) = match kept {
            Some(Kept {
                mut day,
                seen_ms,
                read_whole_ms,
            }) => {
                let new = sessions::read_received_since(
                    client,
                    &project.name,
                    range,
                    seen_ms - WATERMARK_OVERLAP_MS,
                )?;
                for (user_id, parts) in by_user(new).await? {
                    day.add_to_user(&user_id, &parts);
                }
                (day, read_whole_ms)
            }
            None => {
                let mut day = LiveDay::new(window, rules);
                let slices = slicing.slices(client, &project.name, range).await?;
                for slice in 0..slices {
                    let buckets = slice_buckets(slice, slices);
                    let all = sessions::read(client, &project.name, range, buckets, false)?;
                    for (user_id, sessions) in by_user(all).await? {
                        day.set_user(&user_id, sessions);
                    }
                }
                (day, now_ms)
            }
        };
        let counts = day.counts();
        let figures = day.figures(&counts);
        let dau = figures.dau;
        let (wau, mau) = figures::highest_rolling(client, &project.name, today).await?;
        let rolling = (wau.max(dau), mau.max(dau));
        store_figures(client, project, &window, &figures, rolling, stored_as).await?;
        let kept = Kept {
            day,
            seen_ms: cut_ms,
            read_whole_ms,
        };
        self.days.insert(project.name.clone(), kept);
        let [users, connections, active_users] = counts;
        Ok(LiveCounts {
            start: window.start,
            users,
            connections,
            active_users,
            cut_ms,
        })
    }
}

/// The sessions of `sessions` grouped by user (a user's sessions all come
/// in one read).
async fn by_user(
    mut sessions: Sessions,
) -> Result<FxHashMap<CompactString, UserSessions>, StoreError> {
    let mut users: FxHashMap<CompactString, UserSessions> = FxHashMap::default();
    while let Some(session) = sessions.next().await? {
        let known = (session.session, session.facts);
        match users.get_mut(session.user_id) {
            Some(sessions) => sessions.push(known),
            None => {
                users.insert(session.user_id.into(), UserSessions::from_elem(known, 1));
            }
        }
    }
    Ok(users)
}
