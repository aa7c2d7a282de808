//! One realistic day of sessions for the jobs benchmark: a workday curve
//! (late-morning and early-afternoon peaks), users on one to three devices,
//! log-normal session lengths, lost `session_end`s and away periods; each
//! session on one of six platforms, each user in a country and an
//! organisation (both heavy-tailed: a few large, many small).
//! Encoded straight to RowBinary for the fast insert path.

use std::borrow::Cow;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, LogNormal, Normal, Zipf};

use crate::domain::event::{Event, EventType, PresenceStatus};
use crate::store::row_binary::encode_event;

const PLATFORMS: [&str; 6] = ["macos", "windows", "linux", "ios", "android", "web"];
const COUNTRIES: [&str; 40] = [
    "US", "IN", "GB", "DE", "JP", "BR", "FR", "CA", "AU", "NL", "ES", "IT", "SE", "MX", "PL", "KR",
    "SG", "IE", "CH", "IL", "AR", "BE", "DK", "NO", "FI", "AT", "NZ", "ZA", "CO", "CL", "PT", "CZ",
    "RO", "TR", "PH", "ID", "MY", "TH", "VN", "UA",
];

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
    // Organisations of 30 users on average; the largest holds a few
    // percent of all users.
    let orgs = Zipf::new((users / 30).max(1) as f64, 1.07).expect("valid");
    let countries = Zipf::new(COUNTRIES.len() as f64, 1.2).expect("valid");
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
        let user = rng.random_range(0..users);
        let user_id = format!("U{user:010}");
        let session_id = format!("S{session:09}");
        // Drawn apart from `rng`, so that the sessions' times (and the
        // figures) stay those of earlier runs of the bench.
        let platform = PLATFORMS[(mix(shape.seed, session as u64) % 6) as usize];
        // A user's country and organisation never change.
        let mut own = SmallRng::seed_from_u64(mix(shape.seed, user));
        let country = COUNTRIES[countries.sample(&mut own) as usize - 1];
        let org_id = format!("T{:07}", orgs.sample(&mut own) as u64);
        let mut push = |kind, ts: i64, status| {
            let event = Event {
                kind,
                user_id: Cow::Borrowed(&user_id),
                session_id: Cow::Borrowed(&session_id),
                ts_ms: ts * 1000,
                status,
                event_id: Cow::Borrowed(""),
                platform: Cow::Borrowed(platform),
                country: Cow::Borrowed(country),
                org_id: Cow::Borrowed(&org_id),
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

/// A well-spread 64-bit value of `(seed, n)`.
fn mix(seed: u64, n: u64) -> u64 {
    let mut x = seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^ (x >> 29)
}
