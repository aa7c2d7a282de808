//! Today's session figures kept up to date between full computations: the
//! per-second counts of the day and, per user, what that user added to them
//! (`Contribution`), so that when a user's sessions change the old part is
//! taken back and the new one added — the figures then equal a full
//! computation over the same sessions, at the cost of the changed users
//! only.
//!
//! The per-user part is computed by the same functions as the full
//! computation's (`session_in_day`, `merged`), so the two cannot disagree.
//! Kept per user: ids as 128-bit hashes and a few intervals packed in one
//! allocation (about 100 bytes with the map).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use rustc_hash::FxHashMap;
use smallvec::SmallVec;
use xxhash_rust::xxh3::xxh3_128;

use crate::domain::day_window::DayWindow;
use crate::jobs::concurrency::{SecondDeltas, peaks_and_minutes};
use crate::jobs::day_accumulator::{
    DaySessionsFigures, Intervals, merged, session_histogram, session_in_day,
};
use crate::jobs::session_interval::{Interval, SessionFacts, SessionRules};

/// What one user adds to the day, packed into one allocation (a day of
/// Slack's size keeps some 20 million of them): three counts (online,
/// active and connection intervals), the intervals as offsets from the
/// day's start — clipped to the day, as `SecondDeltas` clips them, so
/// nothing counted changes —, then the lengths of the user's sessions whose
/// last second is in the day.
#[derive(Debug, PartialEq)]
struct Contribution(Box<[u32]>);

/// The counts before the intervals.
const HEADER: usize = 3;

impl Contribution {
    fn of(window: &DayWindow, rules: SessionRules, sessions: &[SessionFacts]) -> Self {
        let mut lengths: SmallVec<[u64; 1]> = SmallVec::new();
        let mut connections: Intervals = SmallVec::new();
        let mut in_day = Vec::new();
        for facts in sessions {
            let (length, session) = session_in_day(window, rules, facts);
            lengths.extend(length);
            if let Some(session) = session {
                connections.push(session.interval);
                in_day.push(session);
            }
        }
        let (online, active) = merged(&in_day);
        let clip = |t: i64| (t - window.start).clamp(0, window.len() as i64) as u32;
        let offsets = |intervals: &Intervals| -> SmallVec<[u32; 8]> {
            intervals
                .iter()
                .map(|&(start, end)| (clip(start), clip(end)))
                .filter(|(start, end)| start < end)
                .flat_map(|(start, end)| [start, end])
                .collect()
        };
        let parts = [offsets(&online), offsets(&active), offsets(&connections)];
        let mut packed = Vec::with_capacity(
            HEADER + parts.iter().map(|p| p.len()).sum::<usize>() + lengths.len(),
        );
        packed.extend(parts.iter().map(|p| (p.len() / 2) as u32));
        for part in &parts {
            packed.extend_from_slice(part);
        }
        // Lengths are at most the session rules' maximum: seconds in a u32.
        packed.extend(
            lengths
                .iter()
                .map(|&l| u32::try_from(l).unwrap_or(u32::MAX)),
        );
        Self(packed.into_boxed_slice())
    }

    /// Part `index` (0 online, 1 active, 2 connections) as intervals.
    fn intervals(&self, index: usize, window: &DayWindow) -> impl Iterator<Item = Interval> {
        let from = HEADER + 2 * self.0[..index].iter().sum::<u32>() as usize;
        let count = self.0[index] as usize;
        self.0[from..from + 2 * count]
            .chunks_exact(2)
            .map(move |pair| {
                (
                    window.start + i64::from(pair[0]),
                    window.start + i64::from(pair[1]),
                )
            })
    }

    fn lengths(&self) -> impl Iterator<Item = u64> {
        let intervals: usize = self.0[..HEADER].iter().sum::<u32>() as usize;
        self.0[HEADER + 2 * intervals..]
            .iter()
            .map(|&l| u64::from(l))
    }

    fn touches_day(&self) -> bool {
        self.0[0] > 0
    }

    fn is_empty(&self) -> bool {
        self.0[2] == 0 && self.lengths().next().is_none()
    }
}

pub struct LiveDay {
    window: DayWindow,
    rules: SessionRules,
    connections: SecondDeltas,
    users_online: SecondDeltas,
    active_online: SecondDeltas,
    user_seconds: u64,
    /// Session length → how many sessions: unlike a histogram, it can
    /// forget a length.
    lengths: BTreeMap<u64, u64>,
    /// Users with a session touching the day (`online` not empty).
    dau: u64,
    users: FxHashMap<u128, Contribution>,
}

impl LiveDay {
    pub fn new(window: DayWindow, rules: SessionRules) -> Self {
        Self {
            window,
            rules,
            connections: SecondDeltas::new(&window),
            users_online: SecondDeltas::new(&window),
            active_online: SecondDeltas::new(&window),
            user_seconds: 0,
            lengths: BTreeMap::new(),
            dau: 0,
            users: FxHashMap::default(),
        }
    }

    pub fn window(&self) -> &DayWindow {
        &self.window
    }

    /// Replaces what `user_id` adds to the day with what `sessions` (all of
    /// the user's sessions that can touch it) add.
    pub fn set_user(&mut self, user_id: &str, sessions: &[SessionFacts]) {
        let key = xxh3_128(user_id.as_bytes());
        let new = Contribution::of(&self.window, self.rules, sessions);
        let old = self.users.remove(&key);
        if old.as_ref() == Some(&new) {
            self.users.insert(key, new);
            return;
        }
        if let Some(old) = &old {
            self.count(old, false);
        }
        if !new.is_empty() {
            self.count(&new, true);
            self.users.insert(key, new);
        }
    }

    fn count(&mut self, part: &Contribution, add: bool) {
        let apply = |deltas: &mut SecondDeltas, interval: Interval| {
            if add {
                deltas.add(interval)
            } else {
                deltas.remove(interval)
            }
        };
        let window = self.window;
        let mut seconds = 0;
        for interval in part.intervals(0, &window) {
            seconds += apply(&mut self.users_online, interval);
        }
        for interval in part.intervals(1, &window) {
            apply(&mut self.active_online, interval);
        }
        for interval in part.intervals(2, &window) {
            apply(&mut self.connections, interval);
        }
        let touches = u64::from(part.touches_day());
        if add {
            self.user_seconds += seconds;
            self.dau += touches;
        } else {
            self.user_seconds -= seconds;
            self.dau -= touches;
        }
        for length in part.lengths() {
            let count = self.lengths.entry(length).or_default();
            if add {
                *count += 1;
            } else {
                *count -= 1;
                if *count == 0 {
                    self.lengths.remove(&length);
                }
            }
        }
    }

    /// `C_user`, `C_conn` and `C_active` at every second of the day.
    pub fn counts(&self) -> [Vec<u32>; 3] {
        [
            self.users_online.counts(),
            self.connections.counts(),
            self.active_online.counts(),
        ]
    }

    /// The day's session figures as they stand (no segments), from its
    /// [`counts`](Self::counts).
    pub fn figures(&self, counts: &[Vec<u32>; 3]) -> DaySessionsFigures {
        let ([peak_users, peak_connections, peak_active_users], minutes) =
            peaks_and_minutes(self.window.start, counts);
        let mut session_lengths: Histogram<u64> = session_histogram(self.rules);
        for (&length, &count) in &self.lengths {
            session_lengths.saturating_record_n(length, count);
        }
        DaySessionsFigures {
            dau: self.dau,
            peak_users,
            peak_connections,
            peak_active_users,
            acu: self.user_seconds as f64 / self.window.len() as f64,
            session_lengths,
            minutes,
            segments: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::day_accumulator::{DayAccumulator, NO_SEGMENTS};
    use crate::jobs::session_interval::NO_MIN;
    use rand::rngs::SmallRng;
    use rand::{RngExt, SeedableRng};

    const RULES: SessionRules = SessionRules {
        timeout: 300,
        max_length: 3 * 3600,
    };

    fn window() -> DayWindow {
        DayWindow::new(
            chrono::NaiveDate::from_ymd_opt(2020, 3, 25).unwrap(),
            chrono_tz::Tz::UTC,
        )
    }

    fn random_session(rng: &mut SmallRng, w: &DayWindow) -> SessionFacts {
        let start = rng.random_range(w.start - 7200..w.end + 600) as u32;
        let last = start + rng.random_range(0..5000);
        SessionFacts {
            first_start: if rng.random_bool(0.8) { start } else { NO_MIN },
            first_event: start,
            first_end: if rng.random_bool(0.4) {
                last + rng.random_range(0..100)
            } else {
                NO_MIN
            },
            last_alive: last,
            presence: (0..rng.random_range(0..3))
                .map(|_| (start + rng.random_range(0..4000), rng.random_range(1..=2)))
                .collect(),
        }
    }

    fn full(w: DayWindow, users: &BTreeMap<String, Vec<SessionFacts>>) -> DaySessionsFigures {
        let mut day = DayAccumulator::new(w, RULES);
        for (user, sessions) in users {
            for facts in sessions {
                day.add_session(user, 0, facts, NO_SEGMENTS);
            }
        }
        day.end_slice();
        day.finish()
    }

    fn same(a: &DaySessionsFigures, b: &DaySessionsFigures) {
        assert_eq!(a.dau, b.dau);
        assert_eq!(a.peak_users, b.peak_users);
        assert_eq!(a.peak_connections, b.peak_connections);
        assert_eq!(a.peak_active_users, b.peak_active_users);
        assert_eq!(a.acu, b.acu);
        assert_eq!(a.minutes, b.minutes);
        assert_eq!(a.session_lengths, b.session_lengths);
    }

    #[test]
    fn changing_users_one_at_a_time_ends_where_a_full_computation_is() {
        let w = window();
        for seed in 0..20 {
            let mut rng = SmallRng::seed_from_u64(seed);
            let mut users: BTreeMap<String, Vec<SessionFacts>> = BTreeMap::new();
            let mut live = LiveDay::new(w, RULES);
            for _ in 0..200 {
                let user = format!("u{}", rng.random_range(0..30));
                let sessions = users.entry(user.clone()).or_default();
                // A new session, a session extended or cut, or all gone.
                match rng.random_range(0..10) {
                    0 => sessions.clear(),
                    1..=4 if !sessions.is_empty() => {
                        let i = rng.random_range(0..sessions.len());
                        sessions[i] = random_session(&mut rng, &w);
                    }
                    _ => sessions.push(random_session(&mut rng, &w)),
                }
                live.set_user(&user, sessions);
            }
            same(&live.figures(&live.counts()), &full(w, &users));
        }
    }
}
