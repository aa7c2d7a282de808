//! Any bytes as a JSON-array body: the parser never panics, never returns
//! more events than allowed, and every event it accepts lies in the window
//! and encodes to a row.
#![no_main]

use highwater::domain::batch::{BodyFormat, parse_batch};
use highwater::store::row_binary::encode_event;
use libfuzzer_sys::fuzz_target;

mod common;
use common::{MAX_EVENTS, WINDOW};

fuzz_target!(|body: &[u8]| {
    if let Ok(events) = parse_batch(body, BodyFormat::JsonArray, &WINDOW, MAX_EVENTS) {
        assert!(!events.is_empty() && events.len() <= MAX_EVENTS);
        let mut row = Vec::new();
        for event in &events {
            assert!(event.ts_ms >= 0 && event.ts_ms <= WINDOW.now_ms + WINDOW.max_ahead_ms);
            assert!(!event.user_id.is_empty() && event.user_id.len() <= 256);
            assert!(!event.session_id.is_empty() && event.session_id.len() <= 256);
            encode_event(&mut row, "fuzz", WINDOW.now_ms, event);
        }
        assert!(!row.is_empty());
    }
});
