//! Per-second deltas of one segment value (a country, an organisation, …):
//! its users, connections and active users.
//!
//! A day has a few platforms and countries but can have hundreds of
//! thousands of organisations, most with a handful of users: dense arrays
//! per value (86,400 counters each) would not fit. So a value keeps one
//! list of coded changes (second, series, start or end: 4 bytes each) until
//! that list would be larger than the dense array, and only then becomes
//! dense. Dense, the three counts of a second sit side by side: one
//! interval usually starts all three at the same second, so one cache line
//! takes the three writes (the values' arrays together are far larger than
//! the caches). The peaks come from a sweep over the sorted list (or a
//! prefix sum); the per-second counts, needed only for the values that are
//! kept, from a prefix sum.

use super::session_interval::Interval;
use crate::domain::day_window::DayWindow;

/// Which count of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    Users = 0,
    Connections = 1,
    Active = 2,
}

/// A peak and the first second (epoch) it is reached.
pub type SeriesPeak = (u32, i64);

#[derive(Debug, Clone)]
pub enum SegmentDeltas {
    /// `offset << 3 | series << 1 | is_end`, offsets from the day's start.
    Sparse(Vec<u32>),
    /// Per second of the day (and one past it): the three deltas.
    Dense(Vec<[i32; 3]>),
}

impl Default for SegmentDeltas {
    fn default() -> Self {
        SegmentDeltas::Sparse(Vec::new())
    }
}

impl SegmentDeltas {
    /// Counts `[start, end)` in `series` for the seconds it shares with
    /// `window`. Returns how many seconds that is.
    pub fn add(&mut self, window: &DayWindow, series: Series, interval: Interval) -> u64 {
        self.add_coded(window, series as u32, interval)
    }

    /// [`Self::add`] for `series` 0–2, or [`ALL`].
    fn add_coded(&mut self, window: &DayWindow, series: u32, (start, end): Interval) -> u64 {
        let len = window.len() as i64;
        let from = (start - window.start).clamp(0, len);
        let to = (end - window.start).clamp(0, len);
        if from >= to {
            return 0;
        }
        match self {
            SegmentDeltas::Dense(deltas) => {
                apply(&mut deltas[from as usize], series, 1);
                apply(&mut deltas[to as usize], series, -1);
            }
            SegmentDeltas::Sparse(changes) => {
                let code = |offset: i64, is_end: u32| (offset as u32) << 3 | series << 1 | is_end;
                changes.push(code(from, 0));
                changes.push(code(to, 1));
                // 4 bytes a change against 12 bytes a second.
                if changes.len() > 3 * (window.len() + 1) {
                    *self = SegmentDeltas::Dense(dense(window, changes));
                }
            }
        }
        (to - from) as u64
    }

    /// Counts `[start, end)` in all three series at once (a user with one
    /// session and no presence events: one change instead of three).
    /// Returns the seconds counted in each.
    pub fn add_all(&mut self, window: &DayWindow, interval: Interval) -> u64 {
        self.add_coded(window, ALL, interval)
    }

    /// Each series' peak and the first second (epoch) it is reached; the
    /// day's start for a series that counted nothing.
    pub fn peaks(&mut self, window: &DayWindow) -> [SeriesPeak; 3] {
        let mut best = [(0u32, window.start); 3];
        let mut count = [0i64; 3];
        let mut consider = |offset: usize, count: &[i64; 3]| {
            for series in 0..3 {
                if count[series] > i64::from(best[series].0) {
                    best[series] = (count[series] as u32, window.start + offset as i64);
                }
            }
        };
        match self {
            SegmentDeltas::Dense(deltas) => {
                for (offset, delta) in deltas[..window.len()].iter().enumerate() {
                    for series in 0..3 {
                        count[series] += i64::from(delta[series]);
                    }
                    consider(offset, &count);
                }
            }
            SegmentDeltas::Sparse(changes) => {
                changes.sort_unstable();
                let mut i = 0;
                while i < changes.len() {
                    let offset = changes[i] >> 3;
                    // Every change of this second, then the counts.
                    while i < changes.len() && changes[i] >> 3 == offset {
                        let delta = if changes[i] & 1 == 1 { -1 } else { 1 };
                        apply(&mut count, (changes[i] >> 1) & 3, delta);
                        i += 1;
                    }
                    if (offset as usize) < window.len() {
                        consider(offset as usize, &count);
                    }
                }
            }
        }
        best
    }

    /// Each series' count at every second of the day.
    pub fn counts(&self, window: &DayWindow) -> [Vec<u32>; 3] {
        let owned;
        let deltas = match self {
            SegmentDeltas::Dense(deltas) => deltas,
            SegmentDeltas::Sparse(changes) => {
                owned = dense(window, changes);
                &owned
            }
        };
        let mut counts: [Vec<u32>; 3] = Default::default();
        let mut running = [0i64; 3];
        for delta in &deltas[..window.len()] {
            for series in 0..3 {
                running[series] += i64::from(delta[series]);
                counts[series].push(running[series] as u32);
            }
        }
        counts
    }
}

/// The dense deltas of a list of changes.
fn dense(window: &DayWindow, changes: &[u32]) -> Vec<[i32; 3]> {
    let mut deltas = vec![[0i32; 3]; window.len() + 1];
    for &change in changes {
        let delta = if change & 1 == 1 { -1 } else { 1 };
        apply(
            &mut deltas[(change >> 3) as usize],
            (change >> 1) & 3,
            delta,
        );
    }
    deltas
}

/// The series code meaning all three.
const ALL: u32 = 3;

/// Adds `delta` to one series of `counts`, or to all three.
fn apply<T: std::ops::AddAssign + Copy>(counts: &mut [T; 3], series: u32, delta: T) {
    if series == ALL {
        counts.iter_mut().for_each(|c| *c += delta);
    } else {
        counts[series as usize] += delta;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use rand::rngs::SmallRng;
    use rand::{RngExt, SeedableRng};

    fn window() -> DayWindow {
        DayWindow::new(
            NaiveDate::from_ymd_opt(2020, 3, 25).unwrap(),
            chrono_tz::Tz::UTC,
        )
    }

    const SERIES: [Series; 3] = [Series::Users, Series::Connections, Series::Active];

    /// Sparse and dense (past the switch) agree with counting by hand.
    #[test]
    fn peaks_and_counts_match_a_count_of_every_second() {
        let w = window();
        let mut rng = SmallRng::seed_from_u64(7);
        for intervals in [3, 40, 200_000] {
            let mut deltas = SegmentDeltas::default();
            let mut by_hand = vec![vec![0u32; w.len()]; 3];
            let mut seconds = 0;
            for _ in 0..intervals {
                // 3: all three series at once.
                let series = rng.random_range(0..4);
                let start = w.start + rng.random_range(-3_600..86_400);
                let end = start + rng.random_range(0..7_200);
                let counted = match series {
                    3 => deltas.add_all(&w, (start, end)) * 3,
                    _ => deltas.add(&w, SERIES[series], (start, end)),
                };
                seconds += counted;
                for t in start.max(w.start)..end.min(w.end) {
                    for (s, counts) in by_hand.iter_mut().enumerate() {
                        if series == 3 || series == s {
                            counts[(t - w.start) as usize] += 1;
                        }
                    }
                }
            }
            assert_eq!(
                matches!(deltas, SegmentDeltas::Dense(_)),
                intervals == 200_000
            );
            let all: u64 = by_hand.iter().flatten().map(|&c| u64::from(c)).sum();
            assert_eq!(seconds, all);
            assert_eq!(deltas.counts(&w).to_vec(), by_hand);
            // The first second of each series' maximum, found by hand.
            let expected: Vec<SeriesPeak> = by_hand
                .iter()
                .map(|counts| {
                    let top = counts.iter().copied().max().unwrap_or(0);
                    let at = counts.iter().position(|&c| c == top).unwrap_or(0);
                    (top, w.start + at as i64)
                })
                .collect();
            assert_eq!(deltas.peaks(&w).to_vec(), expected, "{intervals}");
        }
    }

    #[test]
    fn touching_intervals_do_not_overlap_and_nothing_peaks_at_the_start() {
        let w = window();
        let mut deltas = SegmentDeltas::default();
        assert_eq!(deltas.peaks(&w), [(0, w.start); 3]);
        deltas.add(&w, Series::Users, (w.start + 10, w.start + 20));
        deltas.add(&w, Series::Users, (w.start + 20, w.start + 30));
        deltas.add(&w, Series::Users, (w.end, w.end + 30));
        assert_eq!(deltas.peaks(&w)[0], (1, w.start + 10));
        deltas.add(&w, Series::Users, (w.start + 19, w.start + 21));
        deltas.add(&w, Series::Active, (w.start + 5, w.start + 6));
        assert_eq!(
            deltas.peaks(&w),
            [(2, w.start + 19), (0, w.start), (1, w.start + 5)]
        );
    }
}
