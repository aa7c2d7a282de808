//! Everything about one day that comes from its sessions, gathered one user
//! at a time: the three per-second counts, DAU, user-seconds for ACU, and
//! the session-length histogram. Sessions come one slice of users at a
//! time (`super::slicing`); at the end of a slice its users are counted and
//! forgotten, so memory holds one slice's users, never the day's.

use compact_str::CompactString;
use hdrhistogram::Histogram;
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

pub use super::concurrency::{MinuteMaxima, Peak};
use super::concurrency::{SecondDeltas, merge_intervals, peaks_and_minutes};
use super::segment_accumulator::{DimensionFigures, Keep, SegmentAccumulator, SegmentedSession};
use super::session_interval::{Interval, SessionFacts, SessionRules};
use crate::domain::day_window::DayWindow;

/// Significant digits of the session-length histogram: lengths are exact
/// up to 262,143 s (3 days) and within 0.001% beyond.
const HISTOGRAM_DIGITS: u8 = 5;

/// The session-derived figures of one day.
#[derive(Debug, Clone)]
pub struct DaySessionsFigures {
    pub dau: u64,
    pub peak_users: Peak,
    pub peak_connections: Peak,
    pub peak_active_users: Peak,
    pub acu: f64,
    pub session_lengths: Histogram<u64>,
    /// Max per minute of `C_user`, `C_conn`, `C_active`.
    pub minutes: Vec<MinuteMaxima>,
    /// Per dimension, when the accumulator gathered segments.
    pub segments: Option<Vec<DimensionFigures>>,
}

pub struct DayAccumulator {
    window: DayWindow,
    rules: SessionRules,
    connections: SecondDeltas,
    users_online: SecondDeltas,
    active_online: SecondDeltas,
    user_seconds: u64,
    dau: u64,
    lengths: Histogram<u64>,
    /// The users of the current slice with a session touching the day, and
    /// those sessions. Ids of up to 24 bytes and two sessions per user live
    /// inline: no allocation per user on a slice of millions.
    users: FxHashMap<CompactString, UserDay>,
    /// The same figures per platform, country and organisation, when asked.
    segments: Option<SegmentAccumulator>,
}

/// What one user did during the day, before merging.
#[derive(Debug, Default)]
struct UserDay {
    bucket: u8,
    sessions: SmallVec<[SegmentedSession; 2]>,
}

pub type Intervals = SmallVec<[Interval; 2]>;

impl UserDay {
    fn merged(&self) -> (Intervals, Intervals) {
        merged(&self.sessions)
    }
}

/// A user's merged intervals online and active, from their sessions that
/// touch the day (without presence events a user is active whenever
/// online).
pub fn merged(sessions: &[SegmentedSession]) -> (Intervals, Intervals) {
    let mut online: Intervals = sessions.iter().map(|s| s.interval).collect();
    merge_intervals(&mut online);
    let active = if sessions.iter().any(|s| s.active.is_some()) {
        let mut active: Intervals = sessions
            .iter()
            .flat_map(|s| s.active_parts().iter().copied())
            .collect();
        merge_intervals(&mut active);
        active
    } else {
        online.clone()
    };
    (online, active)
}

/// What one session means for a day: its length if its last second falls
/// within the day (the session-length histogram), and the session itself
/// if it touches the day (without segment values).
pub fn session_in_day(
    window: &DayWindow,
    rules: SessionRules,
    facts: &SessionFacts,
) -> (Option<u64>, Option<SegmentedSession>) {
    let Some(interval) = facts.interval(rules) else {
        return (None, None);
    };
    let (start, end) = interval;
    let length = (window.start..window.end)
        .contains(&(end - 1))
        .then_some((end - start) as u64);
    if start >= window.end || end <= window.start {
        return (length, None);
    }
    let active = (!facts.presence.is_empty()).then(|| {
        let mut parts = Vec::new();
        facts.active_parts(interval, &mut parts);
        parts.into_boxed_slice()
    });
    let session = SegmentedSession {
        interval,
        ids: [0; 3],
        active,
    };
    (length, Some(session))
}

/// No segment values (tests of figures without segments).
#[cfg(test)]
pub const NO_SEGMENTS: [&str; 3] = ["", "", ""];

impl DayAccumulator {
    pub fn new(window: DayWindow, rules: SessionRules) -> Self {
        Self {
            window,
            rules,
            connections: SecondDeltas::new(&window),
            users_online: SecondDeltas::new(&window),
            active_online: SecondDeltas::new(&window),
            user_seconds: 0,
            dau: 0,
            lengths: session_histogram(rules),
            users: FxHashMap::default(),
            segments: None,
        }
    }

    /// Also gathers the figures per segment, keeping the organisations
    /// `keep` names.
    pub fn with_segments(mut self, keep: Keep) -> Self {
        self.segments = Some(SegmentAccumulator::new(self.window, keep));
        self
    }

    /// Adds one session of `user_id` (of `bucket`), whose values of the
    /// dimensions are `values` (platform, country, org_id); sessions arrive
    /// in any order within a slice, and a user's sessions all in one slice.
    pub fn add_session(
        &mut self,
        user_id: &str,
        bucket: u8,
        facts: &SessionFacts,
        values: [&str; 3],
    ) {
        let (length, session) = session_in_day(&self.window, self.rules, facts);
        if let Some(length) = length {
            self.lengths.saturating_record(length);
        }
        let Some(mut session) = session else {
            return;
        };
        self.connections.add(session.interval);
        if let Some(segments) = &mut self.segments {
            session.ids = segments.ids(values);
        }
        let user = match self.users.get_mut(user_id) {
            Some(user) => user,
            None => self
                .users
                .entry(CompactString::from(user_id))
                .or_insert(UserDay {
                    bucket,
                    ..UserDay::default()
                }),
        };
        user.sessions.push(session);
    }

    /// Counts the current slice's users into the day and forgets them;
    /// returns them (the slice's part of the DAU set) with their buckets.
    ///
    /// The segments count the same users on a second thread (the machine's
    /// other core is idle here: ClickHouse has sent the slice).
    pub fn end_slice(&mut self) -> Vec<(u8, CompactString)> {
        let users = std::mem::take(&mut self.users);
        let segments = &mut self.segments;
        std::thread::scope(|scope| {
            if let Some(segments) = segments {
                scope.spawn(|| {
                    for day in users.values() {
                        let (online, active) = day.merged();
                        segments.add_user(&day.sessions, &online, &active);
                    }
                });
            }
            for day in users.values() {
                let (online, active) = day.merged();
                for &interval in &online {
                    self.user_seconds += self.users_online.add(interval);
                }
                for &interval in &active {
                    self.active_online.add(interval);
                }
            }
        });
        let active_set: Vec<(u8, CompactString)> = users
            .into_iter()
            .map(|(user_id, day)| (day.bucket, user_id))
            .collect();
        self.dau += active_set.len() as u64;
        active_set
    }

    /// The day's figures, once every slice has ended.
    pub fn finish(self) -> DaySessionsFigures {
        debug_assert!(self.users.is_empty(), "a slice was not ended");
        let counts = [
            self.users_online.counts(),
            self.connections.counts(),
            self.active_online.counts(),
        ];
        let ([peak_users, peak_connections, peak_active_users], minutes) =
            peaks_and_minutes(self.window.start, &counts);
        DaySessionsFigures {
            dau: self.dau,
            peak_users,
            peak_connections,
            peak_active_users,
            acu: self.user_seconds as f64 / self.window.len() as f64,
            session_lengths: self.lengths,
            minutes,
            segments: self.segments.map(SegmentAccumulator::finish),
        }
    }
}

/// An empty histogram fit for this project's session lengths.
pub fn session_histogram(rules: SessionRules) -> Histogram<u64> {
    Histogram::new_with_bounds(1, u64::from(rules.max_length).max(2), HISTOGRAM_DIGITS)
        .expect("valid histogram bounds")
}

#[cfg(test)]
mod tests;
