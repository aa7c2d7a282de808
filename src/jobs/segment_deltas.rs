//! Per-second deltas of one segment value (a country, an organisation, …).
//!
//! A day has a few platforms and countries but can have hundreds of
//! thousands of organisations, most with a handful of users: a dense array
//! per value (86,400 counters) would not fit. So a value keeps the seconds
//! its intervals start and end (4 bytes each) until that list would be
//! larger than the dense array, and only then becomes dense. Its peak comes
//! from a sweep over the sorted seconds; its per-second counts (needed only
//! for the values that are kept) from a prefix sum.

use super::concurrency::{SecondDeltas, peak};
use super::day_window::DayWindow;
use super::session_interval::Interval;

#[derive(Debug, Clone)]
pub enum SegmentDeltas {
    /// Offsets from the day's start where one interval starts / ends.
    Sparse {
        starts: Vec<u32>,
        ends: Vec<u32>,
    },
    Dense(SecondDeltas),
}

impl SegmentDeltas {
    pub fn new() -> Self {
        SegmentDeltas::Sparse {
            starts: Vec::new(),
            ends: Vec::new(),
        }
    }

    /// Counts `[start, end)` for the seconds it shares with `window`.
    /// Returns how many seconds that is.
    pub fn add(&mut self, window: &DayWindow, (start, end): Interval) -> u64 {
        let len = window.len() as i64;
        let from = (start - window.start).clamp(0, len);
        let to = (end - window.start).clamp(0, len);
        if from >= to {
            return 0;
        }
        match self {
            SegmentDeltas::Dense(dense) => {
                dense.add((start, end));
            }
            SegmentDeltas::Sparse { starts, ends } => {
                starts.push(from as u32);
                ends.push(to as u32);
                // Two 4-byte entries per interval against 4 bytes a second.
                if starts.len() * 2 > window.len() {
                    let mut dense = SecondDeltas::new(window);
                    for (&from, &to) in starts.iter().zip(ends.iter()) {
                        dense.add((window.start + i64::from(from), window.start + i64::from(to)));
                    }
                    *self = SegmentDeltas::Dense(dense);
                }
            }
        }
        (to - from) as u64
    }

    /// The peak and the first second (epoch) it is reached; the day's start
    /// when nothing was counted.
    pub fn peak(&mut self, window: &DayWindow) -> (u32, i64) {
        match self {
            SegmentDeltas::Dense(dense) => peak(&dense.counts(), window.start),
            SegmentDeltas::Sparse { starts, ends } => {
                starts.sort_unstable();
                ends.sort_unstable();
                let mut best = (0u32, window.start);
                let (mut count, mut e) = (0u32, 0);
                let mut s = 0;
                while s < starts.len() {
                    let second = starts[s];
                    // Ends at or before this second close first (half-open).
                    while e < ends.len() && ends[e] <= second {
                        count -= 1;
                        e += 1;
                    }
                    while s < starts.len() && starts[s] == second {
                        count += 1;
                        s += 1;
                    }
                    if count > best.0 {
                        best = (count, window.start + i64::from(second));
                    }
                }
                best
            }
        }
    }

    /// The count at every second of the day.
    pub fn counts(&self, window: &DayWindow) -> Vec<u32> {
        match self {
            SegmentDeltas::Dense(dense) => dense.counts(),
            SegmentDeltas::Sparse { starts, ends } => {
                let mut dense = SecondDeltas::new(window);
                for (&from, &to) in starts.iter().zip(ends.iter()) {
                    dense.add((window.start + i64::from(from), window.start + i64::from(to)));
                }
                dense.counts()
            }
        }
    }
}

impl Default for SegmentDeltas {
    fn default() -> Self {
        Self::new()
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

    /// Sparse and dense (past the switch) agree with counting by hand.
    #[test]
    fn peaks_and_counts_match_a_count_of_every_second() {
        let w = window();
        let mut rng = SmallRng::seed_from_u64(7);
        for intervals in [3, 40, 50_000] {
            let mut deltas = SegmentDeltas::new();
            let mut by_hand = vec![0u32; w.len()];
            let mut seconds = 0;
            for _ in 0..intervals {
                let start = w.start + rng.random_range(-3_600..86_400);
                let end = start + rng.random_range(0..7_200);
                seconds += deltas.add(&w, (start, end));
                for t in start.max(w.start)..end.min(w.end) {
                    by_hand[(t - w.start) as usize] += 1;
                }
            }
            assert_eq!(
                matches!(deltas, SegmentDeltas::Dense(_)),
                intervals == 50_000
            );
            assert_eq!(seconds, by_hand.iter().map(|&c| u64::from(c)).sum::<u64>());
            assert_eq!(deltas.counts(&w), by_hand);
            assert_eq!(deltas.peak(&w), peak(&by_hand, w.start), "{intervals}");
        }
    }

    #[test]
    fn touching_intervals_do_not_overlap_and_nothing_peaks_at_the_start() {
        let w = window();
        let mut deltas = SegmentDeltas::new();
        assert_eq!(deltas.peak(&w), (0, w.start));
        deltas.add(&w, (w.start + 10, w.start + 20));
        deltas.add(&w, (w.start + 20, w.start + 30));
        deltas.add(&w, (w.end, w.end + 30));
        assert_eq!(deltas.peak(&w), (1, w.start + 10));
        deltas.add(&w, (w.start + 19, w.start + 21));
        assert_eq!(deltas.peak(&w), (2, w.start + 19));
    }
}
