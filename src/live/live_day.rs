//! Today's session figures kept up to date between full computations: the
//! per-second counts of the day and, per user, the user's sessions (their
//! facts), so that when new events of a user arrive, what the user added
//! to the counts (`Contribution`) is taken back and what the user adds now
//! is added — the figures then equal a full computation over the same
//! sessions, at the cost of the changed users only, and the new events are
//! all that is read (`received_sessions`).
//!
//! The per-user part is computed by the same functions as the full
//! computation's (`session_in_day`, `merged`), so the two cannot disagree.
//! Kept per user: the id as a 128-bit hash and the facts of each session
//! that may touch the day, by a 64-bit hash of the session id, packed
//! (`PackedSessions`: about 70 bytes with the map for a user with one
//! session, 8 more per presence event).

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

use super::packed_sessions::{PackedSessions, UserSessions};

/// What one user adds to the day, packed into one allocation: three counts (online,
/// active and connection intervals), the intervals as offsets from the
/// day's start — clipped to the day, as `SecondDeltas` clips them, so
/// nothing counted changes —, then the lengths of the user's sessions whose
/// last second is in the day.
#[derive(Debug, PartialEq)]
struct Contribution(Box<[u32]>);

/// The counts before the intervals.
const HEADER: usize = 3;

impl Contribution {
    fn of<'a>(
        window: &DayWindow,
        rules: SessionRules,
        sessions: impl IntoIterator<Item = &'a SessionFacts>,
    ) -> Self {
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
    users: FxHashMap<u128, PackedSessions>,
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

    /// Replaces `user_id`'s sessions with `sessions` (all of the user's
    /// sessions that can touch the day, as a full read finds them).
    pub fn set_user(&mut self, user_id: &str, sessions: UserSessions) {
        let key = xxh3_128(user_id.as_bytes());
        let old = self.users.remove(&key).unwrap_or_default().unpack();
        let old = Contribution::of(&self.window, self.rules, old.iter().map(|(_, f)| f));
        let new = Contribution::of(&self.window, self.rules, sessions.iter().map(|(_, f)| f));
        if !sessions.is_empty() {
            self.users.insert(key, PackedSessions::pack(&sessions));
        }
        self.replace(&old, &new);
    }

    /// Adds to `user_id`'s sessions what `parts` say (the facts of new
    /// events of sessions known or new; see [`SessionFacts::absorb`]).
    pub fn add_to_user(&mut self, user_id: &str, parts: &[(u64, SessionFacts)]) {
        let (window, rules) = (self.window, self.rules);
        let packed = self.users.entry(xxh3_128(user_id.as_bytes())).or_default();
        let mut sessions = packed.unpack();
        let old = Contribution::of(&window, rules, sessions.iter().map(|(_, f)| f));
        let mut changed = false;
        for (id, part) in parts {
            match sessions.iter_mut().find(|(known, _)| known == id) {
                Some((_, facts)) => changed |= facts.absorb(part),
                None => {
                    sessions.push((*id, part.clone()));
                    changed = true;
                }
            }
        }
        if changed {
            *packed = PackedSessions::pack(&sessions);
            let new = Contribution::of(&window, rules, sessions.iter().map(|(_, f)| f));
            self.replace(&old, &new);
        }
    }

    fn replace(&mut self, old: &Contribution, new: &Contribution) {
        if old != new {
            self.count(old, false);
            self.count(new, true);
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
                let known = sessions
                    .iter()
                    .enumerate()
                    .map(|(i, facts)| (i as u64, facts.clone()))
                    .collect();
                live.set_user(&user, known);
            }
            same(&live.figures(&live.counts()), &full(w, &users));
        }
    }

    /// One event: (user, session, kind, second, status); kinds as in
    /// `events`: 1 start, 2 end, 3 heartbeat, 4 presence.
    type Event = (u8, u64, u8, u32, i8);

    /// The facts of `events` of one session, straight from the definitions
    /// (as `sessions_by_day`'s states say them).
    fn facts_of(events: &[&Event]) -> SessionFacts {
        let seconds = |kind: Option<u8>| {
            events
                .iter()
                .filter(move |e| kind.is_none_or(|k| e.2 == k))
                .map(|e| e.3)
        };
        SessionFacts {
            first_start: seconds(Some(1)).min().unwrap_or(NO_MIN),
            first_event: seconds(None).min().unwrap(),
            first_end: seconds(Some(2)).min().unwrap_or(NO_MIN),
            last_alive: events
                .iter()
                .filter(|e| e.2 != 2)
                .map(|e| e.3)
                .max()
                .unwrap_or(0),
            presence: events
                .iter()
                .filter(|e| e.2 == 4)
                .map(|e| (e.3, e.4))
                .collect(),
        }
    }

    /// Per user and session, the facts of `events`.
    fn grouped(events: &[Event]) -> BTreeMap<u8, BTreeMap<u64, SessionFacts>> {
        let mut by_session: BTreeMap<(u8, u64), Vec<&Event>> = BTreeMap::new();
        for e in events {
            by_session.entry((e.0, e.1)).or_default().push(e);
        }
        let mut users: BTreeMap<u8, BTreeMap<u64, SessionFacts>> = BTreeMap::new();
        for ((user, session), events) in by_session {
            users
                .entry(user)
                .or_default()
                .insert(session, facts_of(&events));
        }
        users
    }

    #[test]
    fn new_events_added_round_by_round_end_where_a_full_computation_is() {
        let w = window();
        for seed in 0..20 {
            let mut rng = SmallRng::seed_from_u64(seed);
            let events: Vec<Event> = (0..400)
                .map(|_| {
                    let (user, session) = (rng.random_range(0..12u8), rng.random_range(0..3u64));
                    let at = rng.random_range(w.start - 7200..w.end + 600) as u32;
                    let kind = rng.random_range(1..=4u8);
                    (user, session, kind, at, rng.random_range(1..=2i8))
                })
                .collect();
            // A first full read of what arrived before the first cut, then
            // rounds of what arrived since, each also reading again the
            // last few events of the round before (the overlap).
            let first = rng.random_range(0..events.len());
            let mut live = LiveDay::new(w, RULES);
            for (user, sessions) in grouped(&events[..first]) {
                live.set_user(&user.to_string(), sessions.into_iter().collect());
            }
            let mut from = first;
            while from < events.len() {
                let to = (from + rng.random_range(1..60)).min(events.len());
                let again = from.saturating_sub(rng.random_range(0..5));
                for (user, parts) in grouped(&events[again..to]) {
                    let parts: Vec<_> = parts.into_iter().collect();
                    live.add_to_user(&user.to_string(), &parts);
                }
                from = to;
            }
            let users = grouped(&events)
                .into_iter()
                .map(|(user, sessions)| (user.to_string(), sessions.into_values().collect()))
                .collect();
            same(&live.figures(&live.counts()), &full(w, &users));
        }
    }
}
