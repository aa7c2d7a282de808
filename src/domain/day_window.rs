//! A local day of a project as a range of UTC seconds: `[D0, D1)`, 23, 24 or
//! 25 hours long across DST changes (docs/design.md §2).

use chrono::{Duration, LocalResult, NaiveDate, TimeZone};
use chrono_tz::Tz;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayWindow {
    pub day: NaiveDate,
    /// First second of the day, epoch seconds.
    pub start: i64,
    /// First second of the next day.
    pub end: i64,
}

impl DayWindow {
    pub fn new(day: NaiveDate, zone: Tz) -> Self {
        Self {
            day,
            start: local_midnight(day, zone),
            end: local_midnight(day + Duration::days(1), zone),
        }
    }

    /// Seconds in the day.
    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }
}

/// The first instant of `day` in `zone`. Where midnight falls into a DST gap
/// (a few zones change at 00:00), the day starts at the first valid minute.
fn local_midnight(day: NaiveDate, zone: Tz) -> i64 {
    let mut local = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    loop {
        match zone.from_local_datetime(&local) {
            LocalResult::Single(t) => return t.timestamp(),
            LocalResult::Ambiguous(earliest, _) => return earliest.timestamp(),
            LocalResult::None => local += Duration::minutes(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn utc_days_are_86400_seconds() {
        let w = DayWindow::new(date("2020-03-25"), Tz::UTC);
        assert_eq!(w.start, 1_585_094_400);
        assert_eq!(w.len(), 86_400);
    }

    #[test]
    fn new_york_dst_days_are_23_and_25_hours() {
        let ny = chrono_tz::America::New_York;
        let spring = DayWindow::new(date("2020-03-08"), ny);
        assert_eq!(spring.len(), 23 * 3600);
        // 2020-03-08T00:00-05:00
        assert_eq!(spring.start, 1_583_643_600);
        assert_eq!(DayWindow::new(date("2020-11-01"), ny).len(), 25 * 3600);
        assert_eq!(DayWindow::new(date("2020-03-09"), ny).len(), 24 * 3600);
    }

    #[test]
    fn a_dst_gap_at_midnight_starts_the_day_at_the_first_valid_instant() {
        // Santiago skipped 2019-09-08T00:00 → 01:00.
        let santiago = chrono_tz::America::Santiago;
        let w = DayWindow::new(date("2019-09-08"), santiago);
        assert_eq!(w.len(), 23 * 3600);
    }
}
