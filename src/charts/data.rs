//! What the charts draw, independent of where it came from: built from the
//! stored figures (`daily_figures`, `concurrency_minutes`) or from fixtures.

use chrono::{Datelike, NaiveDate, TimeZone, Timelike};
use chrono_tz::Tz;
use hdrhistogram::Histogram;

use crate::domain::calendar::date_of;
use crate::figures::daily::records;
use crate::store::figures::{ConcurrencyMinuteRow, DailyFiguresRow};

#[derive(Debug, Clone, PartialEq)]
pub struct Day {
    pub day: NaiveDate,
    pub peak_users: u64,
    pub peak_connections: u64,
    pub dau: u64,
    pub wau: u64,
    pub mau: u64,
    pub is_final: bool,
    /// An all-time record (docs/design.md §2): final, above every earlier day.
    pub is_record: bool,
}

impl Day {
    pub fn stickiness(&self) -> f64 {
        if self.mau == 0 {
            0.0
        } else {
            self.dau as f64 / self.mau as f64
        }
    }
}

/// Daily figures of a range, in day order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Daily {
    pub days: Vec<Day>,
    /// The project's first day with figures, if known: its data began
    /// during that day, so it holds only part of a day's users and is no
    /// base to compare a later day with.
    pub first_day: Option<NaiveDate>,
}

impl Daily {
    /// The top of a value axis: the largest `value` of any day (at least
    /// 1), with `headroom` above it for labels and legends (1.2 = 20%).
    pub fn top(&self, value: impl Fn(&Day) -> u64, headroom: f64) -> f64 {
        self.days.iter().map(value).max().unwrap_or(0).max(1) as f64 * headroom
    }

    /// From stored rows in day order. Records are judged within the rows
    /// given: pass the history from the first day to see all-time records.
    pub fn from_rows(rows: &[DailyFiguresRow]) -> Self {
        let record_days: Vec<NaiveDate> = records(rows)
            .iter()
            .map(|r| r.day.parse().expect("records name valid days"))
            .collect();
        Self {
            first_day: rows.first().map(|r| date_of(r.day)),
            days: rows
                .iter()
                .map(|row| {
                    let day = date_of(row.day);
                    Day {
                        day,
                        peak_users: row.peak_users.into(),
                        peak_connections: row.peak_connections.into(),
                        dau: row.dau,
                        wau: row.wau,
                        mau: row.mau,
                        is_final: row.r#final == 1,
                        is_record: record_days.contains(&day),
                    }
                })
                .collect(),
        }
    }

    /// Only the days from `from` on (records stay as judged on the whole).
    pub fn since(&self, from: NaiveDate) -> Self {
        Self {
            days: self
                .days
                .iter()
                .filter(|d| d.day >= from)
                .cloned()
                .collect(),
            first_day: self.first_day,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Minute {
    /// Epoch seconds of the minute's start.
    pub at: i64,
    pub users: u64,
    pub active_users: u64,
}

impl From<&ConcurrencyMinuteRow> for Minute {
    fn from(row: &ConcurrencyMinuteRow) -> Self {
        Self {
            at: row.minute_start.into(),
            users: row.users.into(),
            active_users: row.active_users.into(),
        }
    }
}

/// One day's per-minute maxima, and the same weekday a week earlier.
#[derive(Debug, Clone, PartialEq)]
pub struct Intraday {
    pub day: NaiveDate,
    pub zone: Tz,
    pub minutes: Vec<Minute>,
    pub week_before: Vec<Minute>,
    pub is_final: bool,
}

/// Session lengths (seconds) of a range, merged from the daily histograms.
#[derive(Debug, Clone)]
pub struct SessionLengths {
    pub histogram: Histogram<u64>,
}

impl SessionLengths {
    /// Merges the days' serialized histograms; unreadable ones are skipped
    /// (logged), so one bad row cannot take a dashboard down.
    pub fn from_rows(rows: &[DailyFiguresRow]) -> Self {
        let mut histogram = Histogram::<u64>::new(5).expect("valid precision");
        let mut reader = hdrhistogram::serialization::Deserializer::new();
        for row in rows {
            match reader.deserialize::<u64, _>(&mut row.session_histogram.as_slice()) {
                Ok(day) => {
                    if let Err(e) = histogram.add(&day) {
                        tracing::warn!(day = %date_of(row.day), "session histogram not merged: {e}");
                    }
                }
                Err(e) => {
                    tracing::warn!(day = %date_of(row.day), "session histogram unreadable: {e:?}")
                }
            }
        }
        Self { histogram }
    }
}

/// Average concurrency per local weekday (Monday first) and hour.
#[derive(Debug, Clone, PartialEq)]
pub struct HourOfWeek {
    pub cells: [[Option<f64>; 24]; 7],
}

impl HourOfWeek {
    /// The mean of the per-minute maxima of `C_user` in each hour of the
    /// week, local time in `zone`.
    pub fn from_minutes(minutes: &[Minute], zone: Tz) -> Self {
        let mut sums = [[(0.0f64, 0u32); 24]; 7];
        for minute in minutes {
            let local = zone.timestamp_opt(minute.at, 0).single();
            if let Some(local) = local {
                let cell = &mut sums[local.weekday().num_days_from_monday() as usize]
                    [local.hour() as usize];
                cell.0 += minute.users as f64;
                cell.1 += 1;
            }
        }
        Self {
            cells: sums.map(|row| row.map(|(sum, n)| (n > 0).then(|| sum / n as f64))),
        }
    }
}
