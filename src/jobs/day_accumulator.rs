//! Everything about one day that comes from its sessions, gathered one user
//! at a time: the three per-second counts, DAU, user-seconds for ACU, and
//! the session-length histogram.

use hdrhistogram::Histogram;

use super::concurrency::{SecondDeltas, merge_intervals, minute_maxima, peak};
use super::day_window::DayWindow;
use super::session::{Interval, SessionFacts, SessionRules};

/// Significant digits of the session-length histogram: lengths are exact
/// up to 262,143 s (3 days) and within 0.001% beyond.
const HISTOGRAM_DIGITS: u8 = 5;

/// A peak and the first second (epoch) it is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Peak {
    pub value: u32,
    pub at: i64,
}

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinuteMaxima {
    pub users: u32,
    pub connections: u32,
    pub active_users: u32,
}

pub struct DayAccumulator {
    window: DayWindow,
    rules: SessionRules,
    users: SecondDeltas,
    connections: SecondDeltas,
    active_users: SecondDeltas,
    dau: u64,
    user_seconds: u64,
    lengths: Histogram<u64>,
}

impl DayAccumulator {
    pub fn new(window: DayWindow, rules: SessionRules) -> Self {
        Self {
            window,
            rules,
            users: SecondDeltas::new(&window),
            connections: SecondDeltas::new(&window),
            active_users: SecondDeltas::new(&window),
            dau: 0,
            user_seconds: 0,
            lengths: session_histogram(rules),
        }
    }

    /// Adds every session of one user. Returns whether the user was active
    /// on the day (a session interval intersects it).
    pub fn add_user(&mut self, sessions: &[SessionFacts]) -> bool {
        let (day_start, day_end) = (self.window.start, self.window.end);
        let mut intervals: Vec<Interval> = Vec::with_capacity(sessions.len());
        let mut active: Vec<Interval> = Vec::new();
        for facts in sessions {
            let Some(interval) = facts.interval(self.rules) else {
                continue;
            };
            let (start, end) = interval;
            if (day_start..day_end).contains(&(end - 1)) {
                self.lengths.saturating_record((end - start) as u64);
            }
            if start >= day_end || end <= day_start {
                continue;
            }
            self.connections.add(interval);
            intervals.push(interval);
            facts.active_parts(interval, &mut active);
        }
        if intervals.is_empty() {
            return false;
        }
        self.dau += 1;
        merge_intervals(&mut intervals);
        for interval in intervals {
            self.user_seconds += self.users.add(interval);
        }
        merge_intervals(&mut active);
        for interval in active {
            self.active_users.add(interval);
        }
        true
    }

    pub fn finish(self) -> DaySessionsFigures {
        let start = self.window.start;
        let series = |deltas: &SecondDeltas| {
            let counts = deltas.counts();
            let (value, at) = peak(&counts, start);
            (Peak { value, at }, minute_maxima(&counts))
        };
        let (peak_users, user_minutes) = series(&self.users);
        let (peak_connections, connection_minutes) = series(&self.connections);
        let (peak_active_users, active_minutes) = series(&self.active_users);
        let minutes = user_minutes
            .iter()
            .zip(&connection_minutes)
            .zip(&active_minutes)
            .map(|((&users, &connections), &active_users)| MinuteMaxima {
                users,
                connections,
                active_users,
            })
            .collect();
        DaySessionsFigures {
            dau: self.dau,
            peak_users,
            peak_connections,
            peak_active_users,
            acu: self.user_seconds as f64 / self.window.len() as f64,
            session_lengths: self.lengths,
            minutes,
        }
    }
}

/// An empty histogram fit for this project's session lengths.
pub fn session_histogram(rules: SessionRules) -> Histogram<u64> {
    Histogram::new_with_bounds(1, u64::from(rules.max_length).max(2), HISTOGRAM_DIGITS)
        .expect("valid histogram bounds")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::session::NO_MIN;
    use chrono::NaiveDate;

    const RULES: SessionRules = SessionRules {
        timeout: 600,
        max_length: 7 * 86_400,
    };

    fn day() -> DayWindow {
        DayWindow::new(
            NaiveDate::from_ymd_opt(2020, 3, 25).unwrap(),
            chrono_tz::Tz::UTC,
        )
    }

    /// A session `[start, end)` given as offsets from the day's start.
    fn session(start: i64, end: i64) -> SessionFacts {
        let d0 = day().start;
        SessionFacts {
            first_start: (d0 + start) as u32,
            first_event: (d0 + start) as u32,
            first_end: (d0 + end) as u32,
            last_alive: (d0 + start) as u32,
            presence: Vec::new(),
        }
    }

    #[test]
    fn two_devices_of_one_user_count_once_as_a_user_and_twice_as_connections() {
        let mut acc = DayAccumulator::new(day(), RULES);
        assert!(acc.add_user(&[session(100, 300), session(200, 400)]));
        assert!(acc.add_user(&[session(250, 260)]));
        let f = acc.finish();
        let d0 = day().start;
        assert_eq!(f.dau, 2);
        assert_eq!(
            f.peak_users,
            Peak {
                value: 2,
                at: d0 + 250
            }
        );
        assert_eq!(
            f.peak_connections,
            Peak {
                value: 3,
                at: d0 + 250
            }
        );
        // User 1: 300 s (100..400), user 2: 10 s.
        assert!((f.acu - 310.0 / 86_400.0).abs() < 1e-12);
        assert_eq!(f.session_lengths.len(), 3);
        assert_eq!(f.minutes.len(), 1440);
        assert_eq!(
            f.minutes[4],
            MinuteMaxima {
                users: 2,
                connections: 3,
                active_users: 2
            }
        );
    }

    #[test]
    fn a_session_from_yesterday_counts_but_its_length_belongs_to_the_day_it_ends() {
        let mut acc = DayAccumulator::new(day(), RULES);
        acc.add_user(&[session(-1000, 50)]);
        acc.add_user(&[session(-1000, 0)]);
        let f = acc.finish();
        assert_eq!(f.dau, 1);
        assert_eq!(
            f.peak_users,
            Peak {
                value: 1,
                at: day().start
            }
        );
        assert_eq!(f.session_lengths.len(), 1);
        assert_eq!(f.session_lengths.max(), 1050);
    }

    #[test]
    fn an_empty_day_peaks_at_zero_at_its_start() {
        let mut acc = DayAccumulator::new(day(), RULES);
        let mut empty = session(100, 100);
        empty.first_end = NO_MIN;
        empty.last_alive = 0;
        assert!(!acc.add_user(&[empty]));
        let f = acc.finish();
        assert_eq!(
            (f.dau, f.peak_users),
            (
                0,
                Peak {
                    value: 0,
                    at: day().start
                }
            )
        );
    }
}
