//! Any bytes as an NDJSON body: the splitter never panics, and whenever it
//! accepts a batch, the same lines sent as a JSON array give the very same
//! events (the two formats are one contract).
#![no_main]

use highwater::domain::batch::{BodyFormat, parse_batch};
use libfuzzer_sys::fuzz_target;

mod common;
use common::{MAX_EVENTS, WINDOW};

fuzz_target!(|body: &[u8]| {
    let Ok(events) = parse_batch(body, BodyFormat::Ndjson, &WINDOW, MAX_EVENTS) else {
        return;
    };
    let lines: Vec<&[u8]> = body
        .split(|&b| b == b'\n')
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .collect();
    assert_eq!(lines.len(), events.len());
    let mut array = b"[".to_vec();
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            array.push(b',');
        }
        array.extend_from_slice(line);
    }
    array.push(b']');
    let same = parse_batch(&array, BodyFormat::JsonArray, &WINDOW, MAX_EVENTS)
        .expect("valid NDJSON lines make a valid JSON array");
    assert_eq!(events, same);
});
