//! One realistic day of sessions for the jobs benchmark: a workday curve
//! (late-morning and early-afternoon peaks), users on one to three devices,
//! log-normal session lengths, lost `session_end`s and away periods.
//! Encoded straight to RowBinary for the fast insert path.

use std::borrow::Cow;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, LogNormal, Normal};

use crate::domain::event::{Event, EventType, PresenceStatus};
use crate::store::row_binary::encode_event;

/// Parameters of the generated day.
#[derive(Debug, Clone, Copy)]
pub struct DayShape {
    pub sessions: usize,
    /// Epoch seconds of the day's first second (UTC).
    pub day_start: i64,
    pub seed: u64,
}

/// Generates the day in chunks of `chunk_sessions` sessions; calls
/// `emit(rowbinary, sessions_in_chunk)` for each. Returns the event count.
pub fn generate(
    shape: DayShape,
    chunk_sessions: usize,
    mut emit: impl FnMut(Vec<u8>, usize),
) -> usize {
    let mut rng = SmallRng::seed_from_u64(shape.seed);
    let morning = Normal::new(11.0 * 3600.0, 2.0 * 3600.0).expect("valid");
    let afternoon = Normal::new(14.5 * 3600.0, 2.0 * 3600.0).expect("valid");
    // Median 40 minutes, long tail.
    let length = LogNormal::new((2400.0f64).ln(), 0.9).expect("valid");
    let users = (shape.sessions as f64 / 1.6) as u64;
    let mut total = 0;
    let mut buffer = Vec::new();
    let mut in_chunk = 0;
    for session in 0..shape.sessions {
        let offset: f64 = match rng.random_range(0..20) {
            0..10 => morning.sample(&mut rng),
            10..17 => afternoon.sample(&mut rng),
            _ => rng.random_range(0.0..86_400.0),
        };
        let start = shape.day_start + offset.clamp(0.0, 86_399.0) as i64;
        let duration = (length.sample(&mut rng) as i64).clamp(60, 12 * 3600);
        let user_id = format!("U{:010}", rng.random_range(0..users));
        let session_id = format!("S{session:09}");
        let mut push = |kind, ts: i64, status| {
            let event = Event {
                kind,
                user_id: Cow::Borrowed(&user_id),
                session_id: Cow::Borrowed(&session_id),
                ts_ms: ts * 1000,
                status,
                event_id: Cow::Borrowed(""),
                platform: Cow::Borrowed("web"),
                country: Cow::Borrowed("US"),
                org_id: Cow::Borrowed(""),
                app_version: Cow::Borrowed("4.29.149"),
            };
            encode_event(&mut buffer, "bench", ts * 1000, &event);
            total += 1;
        };
        push(EventType::SessionStart, start, PresenceStatus::Unset);
        if rng.random_bool(0.5) {
            push(
                EventType::Heartbeat,
                start + duration / 2,
                PresenceStatus::Unset,
            );
        }
        if rng.random_bool(0.2) {
            push(
                EventType::Presence,
                start + duration / 3,
                PresenceStatus::Away,
            );
        }
        if rng.random_bool(0.7) {
            push(
                EventType::SessionEnd,
                start + duration,
                PresenceStatus::Unset,
            );
        }
        in_chunk += 1;
        if in_chunk == chunk_sessions || session + 1 == shape.sessions {
            emit(std::mem::take(&mut buffer), in_chunk);
            in_chunk = 0;
        }
    }
    total
}
