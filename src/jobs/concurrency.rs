//! Exact concurrency for one day: every session adds +1 at its first second
//! and −1 after its last (clipped to the day); a prefix sum over the day's
//! ≤ 90,000 seconds gives `C(t)` at every second, its peak and the first
//! second the peak is reached.
//!
//! `C_user` and `C_active` count users, not sessions: a user's intervals are
//! merged first, so several devices count once.
//!
//! Under sharding (a Distributed `events` table sharded by `user_id`) this
//! stays exact: the session read (`GROUP BY user_id, session_id` in
//! [`super::sessions`]) merges each session's facts across shards, the
//! accumulator groups sessions by user before counting, every user adds its
//! own ±1 deltas, the deltas of all users (all shards) are summed, and only
//! then is the maximum taken — peaks are never added (docs/design.md §2).

use super::session_interval::Interval;
use crate::domain::day_window::DayWindow;

/// A peak and the first second (epoch) it is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Peak {
    pub value: u32,
    pub at: i64,
}

/// The maxima of `C_user`, `C_conn` and `C_active` within one minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinuteMaxima {
    pub users: u32,
    pub connections: u32,
    pub active_users: u32,
}

/// +1/−1 per second of one day, for one kind of count.
#[derive(Debug, Clone)]
pub struct SecondDeltas {
    start: i64,
    deltas: Vec<i32>,
}

impl SecondDeltas {
    pub fn new(window: &DayWindow) -> Self {
        Self {
            start: window.start,
            deltas: vec![0; window.len() + 1],
        }
    }

    /// Counts `[start, end)` for the seconds it shares with the day.
    /// Returns how many seconds that is.
    pub fn add(&mut self, interval: Interval) -> u64 {
        self.add_times(interval, 1)
    }

    /// Takes back what [`add`](Self::add) of `interval` counted.
    pub fn remove(&mut self, interval: Interval) -> u64 {
        self.add_times(interval, -1)
    }

    fn add_times(&mut self, (start, end): Interval, times: i32) -> u64 {
        let last = (self.deltas.len() - 1) as i64;
        let from = (start - self.start).clamp(0, last);
        let to = (end - self.start).clamp(0, last);
        if from < to {
            self.deltas[from as usize] += times;
            self.deltas[to as usize] -= times;
        }
        (to - from).max(0) as u64
    }

    /// The count at every second of the day.
    pub fn counts(&self) -> Vec<u32> {
        let mut running = 0i64;
        self.deltas[..self.deltas.len() - 1]
            .iter()
            .map(|&d| {
                running += i64::from(d);
                running as u32
            })
            .collect()
    }
}

/// The peak of a per-second series and the first second (epoch) it occurs;
/// the day's start when the peak is 0.
pub fn peak(counts: &[u32], day_start: i64) -> (u32, i64) {
    let mut best = (0, day_start);
    for (offset, &count) in counts.iter().enumerate() {
        if count > best.0 {
            best = (count, day_start + offset as i64);
        }
    }
    best
}

/// Max of each minute of the day.
pub fn minute_maxima(counts: &[u32]) -> Vec<u32> {
    counts
        .chunks(60)
        .map(|minute| minute.iter().copied().max().unwrap_or(0))
        .collect()
}

/// The peaks of `C_user`, `C_conn` and `C_active` (per-second counts of
/// the day starting at `day_start`, in that order) and their per-minute
/// maxima.
pub fn peaks_and_minutes(day_start: i64, counts: &[Vec<u32>; 3]) -> ([Peak; 3], Vec<MinuteMaxima>) {
    let peaks = counts.each_ref().map(|series| {
        let (value, at) = peak(series, day_start);
        Peak { value, at }
    });
    let [users, connections, active_users] = counts.each_ref().map(|series| minute_maxima(series));
    let minutes = (0..users.len())
        .map(|i| MinuteMaxima {
            users: users[i],
            connections: connections[i],
            active_users: active_users[i],
        })
        .collect();
    (peaks, minutes)
}

/// Merges intervals in place into disjoint, sorted ones.
pub fn merge_intervals<A: smallvec::Array<Item = Interval>>(intervals: &mut smallvec::SmallVec<A>) {
    if intervals.len() < 2 {
        return;
    }
    intervals.sort_unstable();
    let mut kept = 0;
    for i in 1..intervals.len() {
        let (start, end) = intervals[i];
        if start <= intervals[kept].1 {
            intervals[kept].1 = intervals[kept].1.max(end);
        } else {
            kept += 1;
            intervals[kept] = (start, end);
        }
    }
    intervals.truncate(kept + 1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn window() -> DayWindow {
        DayWindow::new(
            NaiveDate::from_ymd_opt(2020, 3, 25).unwrap(),
            chrono_tz::Tz::UTC,
        )
    }

    #[test]
    fn intervals_are_clipped_to_the_day() {
        let w = window();
        let mut deltas = SecondDeltas::new(&w);
        assert_eq!(deltas.add((w.start - 100, w.start + 10)), 10);
        assert_eq!(deltas.add((w.end - 5, w.end + 100)), 5);
        assert_eq!(deltas.add((w.end, w.end + 100)), 0);
        let counts = deltas.counts();
        assert_eq!(counts.len(), 86_400);
        assert_eq!(&counts[..11], &[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
        assert_eq!(counts[86_399], 1);
        assert_eq!(counts[86_395], 1);
        assert_eq!(counts[86_394], 0);
    }

    #[test]
    fn the_peak_is_the_first_second_of_the_maximum() {
        assert_eq!(peak(&[0, 2, 1, 2], 100), (2, 101));
        assert_eq!(peak(&[0, 0], 100), (0, 100));
    }

    #[test]
    fn overlapping_and_touching_intervals_merge() {
        let mut v: smallvec::SmallVec<[Interval; 2]> =
            smallvec::smallvec![(10, 20), (0, 5), (15, 30), (30, 40), (50, 60)];
        merge_intervals(&mut v);
        assert_eq!(v.as_slice(), [(0, 5), (10, 40), (50, 60)]);
    }

    #[test]
    fn minutes_take_the_maximum_of_their_seconds() {
        let mut counts = vec![0; 180];
        counts[61] = 3;
        counts[179] = 1;
        assert_eq!(minute_maxima(&counts), vec![0, 3, 1]);
    }
}
