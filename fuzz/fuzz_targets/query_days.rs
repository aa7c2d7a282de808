//! Any text as a day in a query string (`from`, `to`, `day` of the read
//! API and the dashboard pages): parsing never panics, and a day it accepts
//! can be moved years either way, as the pages' ranges do.
#![no_main]

use highwater::domain::calendar::{parse_day, supported_days};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(day) = parse_day(text) {
        assert!(supported_days().contains(&day));
        let years = chrono::Days::new(5 * 366);
        assert!(day.checked_sub_days(years).is_some());
        assert!(day.checked_add_days(years).is_some());
    }
});
