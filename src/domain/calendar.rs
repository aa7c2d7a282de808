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

/// The days highwater takes in requests: those ClickHouse's `Date` holds
/// (1970-01-01 to 2149-06-06), far from the ends of chrono's range, so a
/// few years either side of any of them is a date too.
pub fn supported_days() -> std::ops::RangeInclusive<NaiveDate> {
    epoch_day()..=date_of(u16::MAX)
}

/// A `YYYY-MM-DD` day within [`supported_days`].
pub fn parse_day(text: &str) -> Result<NaiveDate, String> {
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("{text:?} is not a date like 2020-03-25"))?;
    let supported = supported_days();
    if !supported.contains(&day) {
        return Err(format!(
            "{day} is outside the days highwater keeps ({} to {})",
            supported.start(),
            supported.end()
        ));
    }
    Ok(day)
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
    fn days_outside_what_clickhouse_keeps_are_refused() {
        assert_eq!(parse_day("2020-03-25"), Ok(d("2020-03-25")));
        for text in [
            "-262143-01-01",
            "+262142-12-31",
            "1969-12-31",
            "2149-06-07",
            "9999-12-31",
        ] {
            assert!(parse_day(text).unwrap_err().contains("outside"), "{text}");
        }
        assert!(parse_day("2020-02-30").unwrap_err().contains("not a date"));
    }

    proptest::proptest! {
        /// Whatever a query string holds, parsing it never panics, and a
        /// day it accepts can be moved a few years either way (the pages'
        /// ranges and comparisons do) without leaving chrono's range.
        #[test]
        fn any_text_parses_or_is_refused_without_panicking(
            text in "\\PC{0,24}|[+-]?[0-9]{1,7}-[0-9]{1,2}-[0-9]{1,2}"
        ) {
            if let Ok(day) = parse_day(&text) {
                proptest::prop_assert!(supported_days().contains(&day));
                let years = chrono::Days::new(5 * 366);
                proptest::prop_assert!(day.checked_sub_days(years).is_some());
                proptest::prop_assert!(day.checked_add_days(years).is_some());
            }
        }
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
