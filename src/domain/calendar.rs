//! Days: ClickHouse `Date` numbers and calendar dates, the UTC and local day
//! of an instant, RFC 3339 times as the API shows them, weekends, and the
//! longest range of days one request or job may span.

use chrono::{DateTime, Datelike, Duration, NaiveDate, SecondsFormat};
use chrono_tz::Tz;

/// Longest range of days one job run or read accepts.
pub const MAX_RANGE_DAYS: i64 = 400;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("`from` ({from}) is after `to` ({to})")]
    Reversed { from: NaiveDate, to: NaiveDate },
    #[error("the range holds {days} days; at most {MAX_RANGE_DAYS} allowed")]
    TooLong { days: i64 },
}

/// Checks a `from..=to` range of days.
pub fn check_range(from: NaiveDate, to: NaiveDate) -> Result<(), RangeError> {
    if from > to {
        return Err(RangeError::Reversed { from, to });
    }
    let days = (to - from).num_days() + 1;
    if days > MAX_RANGE_DAYS {
        return Err(RangeError::TooLong { days });
    }
    Ok(())
}

fn epoch_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid")
}

/// A calendar date as ClickHouse's `Date` (days since 1970-01-01).
pub fn day_number(day: NaiveDate) -> u16 {
    (day - epoch_day()).num_days() as u16
}

/// ClickHouse's `Date` as a calendar date.
pub fn date_of(day_number: u16) -> NaiveDate {
    epoch_day() + Duration::days(i64::from(day_number))
}

/// The UTC calendar date of an epoch second.
pub fn utc_date(epoch_s: i64) -> NaiveDate {
    DateTime::from_timestamp(epoch_s, 0)
        .expect("epoch seconds in range")
        .date_naive()
}

/// The calendar date in `zone` of an epoch millisecond.
pub fn local_day(zone: Tz, epoch_ms: i64) -> NaiveDate {
    DateTime::from_timestamp_millis(epoch_ms)
        .expect("clock in range")
        .with_timezone(&zone)
        .date_naive()
}

/// RFC 3339 UTC with second precision, e.g. `2020-03-25T14:03:07Z`.
pub fn rfc3339(epoch_s: i64) -> String {
    DateTime::from_timestamp(epoch_s, 0)
        .expect("figure times are in range")
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Saturday or Sunday.
pub fn is_weekend(day: NaiveDate) -> bool {
    day.weekday().num_days_from_monday() >= 5
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_are_checked_for_order_and_length() {
        assert_eq!(check_range(d("2020-03-01"), d("2020-03-01")), Ok(()));
        assert!(matches!(
            check_range(d("2020-03-02"), d("2020-03-01")),
            Err(RangeError::Reversed { .. })
        ));
        assert_eq!(
            check_range(d("2019-01-01"), d("2020-02-04")),
            Ok(()),
            "400 days"
        );
        assert_eq!(
            check_range(d("2019-01-01"), d("2020-02-05")),
            Err(RangeError::TooLong { days: 401 })
        );
    }

    #[test]
    fn dates_convert_both_ways_and_by_zone() {
        assert_eq!(day_number(d("2020-03-25")), 18_346);
        assert_eq!(date_of(18_346), d("2020-03-25"));
        // 03:00 UTC on the 25th is still the 24th in New York.
        let at_ms = 1_585_105_200_000;
        assert_eq!(utc_date(at_ms / 1000), d("2020-03-25"));
        assert_eq!(
            local_day(chrono_tz::America::New_York, at_ms),
            d("2020-03-24")
        );
        assert_eq!(rfc3339(1_585_145_587), "2020-03-25T14:13:07Z");
        assert!(is_weekend(d("2020-03-28")) && !is_weekend(d("2020-03-27")));
    }
}
