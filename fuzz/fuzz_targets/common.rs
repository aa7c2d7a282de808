//! What both targets parse with: a small batch limit (so the "too many
//! events" path is reached) and the tests' accept window.

use highwater::domain::validate::AcceptWindow;

pub const MAX_EVENTS: usize = 64;

pub const WINDOW: AcceptWindow = AcceptWindow {
    now_ms: 1_585_137_600_000,
    max_ahead_ms: 300_000,
    max_age_ms: Some(30 * 86_400_000),
};
