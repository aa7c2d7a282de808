//! A user-day's sessions as the NDJSON lines their clients send (docs/design.md §1):
//! `session_start`, heartbeats every `T/2`, `presence` away/active, and the
//! `session_end` unless it is lost; epoch-millisecond timestamps, an
//! `event_id`, and the user's platform, country, organisation and app
//! version. Written by hand (itoa, pre-quoted names): this is the hot loop
//! of the generator.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use smallvec::SmallVec;

use super::model::{BehaviourModel, Choice};
use super::population::{User, mix};
use super::sessions::{SimSession, UserDay};

/// Names from the scenario, quoted and escaped as JSON strings once.
#[derive(Debug, Clone)]
pub struct QuotedNames {
    pub platforms: Vec<Vec<String>>,
    pub app_versions: Vec<Vec<String>>,
}

impl QuotedNames {
    pub fn new(behaviour: &BehaviourModel) -> Self {
        let quote = |choice: &Choice| -> Vec<String> {
            choice
                .names
                .iter()
                .map(|n| serde_json::to_string(n).expect("string"))
                .collect()
        };
        Self {
            platforms: behaviour
                .kinds
                .iter()
                .map(|k| quote(&k.platforms))
                .collect(),
            app_versions: behaviour
                .kinds
                .iter()
                .map(|k| quote(&k.app_versions))
                .collect(),
        }
    }
}

/// Where a line goes: delivered in order, or held back to arrive late.
pub struct Outputs<'a> {
    pub now: &'a mut Vec<u8>,
    pub now_lines: &'a mut usize,
    pub late: &'a mut Vec<u8>,
    pub late_lines: &'a mut usize,
}

#[derive(Debug, Clone, Copy)]
pub struct DeliveryRates {
    pub duplicate: f64,
    pub late: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    SessionStart,
    Heartbeat,
    Away,
    Active,
    SessionEnd,
}

impl Kind {
    fn json(self) -> &'static str {
        match self {
            Kind::SessionStart => r#"{"type":"session_start""#,
            Kind::Heartbeat => r#"{"type":"heartbeat""#,
            Kind::Away => r#"{"type":"presence","status":"away""#,
            Kind::Active => r#"{"type":"presence","status":"active""#,
            Kind::SessionEnd => r#"{"type":"session_end""#,
        }
    }
}

pub struct UserDayLines<'a> {
    pub seed: u64,
    pub day_number: u64,
    pub date_digits: &'a str,
    pub behaviour: &'a BehaviourModel,
    pub names: &'a QuotedNames,
    pub heartbeat_ms: i64,
    pub rates: DeliveryRates,
}

impl UserDayLines<'_> {
    /// Writes the user's events of the day; returns how many lines.
    pub fn write(
        &self,
        index: u64,
        user: &User,
        country: &str,
        sessions: &UserDay,
        out: &mut Outputs<'_>,
    ) -> usize {
        let mut rng =
            Xoshiro256PlusPlus::seed_from_u64(mix(&[self.seed, self.day_number, index, 0xDE11]));
        let mut written = 0;
        let mut number = itoa::Buffer::new();
        for session in sessions {
            let kind = &self.behaviour.kinds[session.kind];
            // A user keeps their platform and version across days.
            let mut own = Xoshiro256PlusPlus::seed_from_u64(mix(&[self.seed, index, kind.salt]));
            let platform = &self.names.platforms[session.kind][kind.platforms.pick(&mut own)];
            let version = &self.names.app_versions[session.kind][kind.app_versions.pick(&mut own)];
            // Every line of the session ends the same way: build it once.
            let mut tail = Vec::with_capacity(128);
            tail.extend_from_slice(b",\"platform\":");
            tail.extend_from_slice(platform.as_bytes());
            tail.extend_from_slice(b",\"country\":\"");
            tail.extend_from_slice(country.as_bytes());
            tail.extend_from_slice(b"\",\"org_id\":\"");
            tail.extend_from_slice(user.org_id.as_bytes());
            tail.extend_from_slice(b"\",\"app_version\":");
            tail.extend_from_slice(version.as_bytes());
            tail.extend_from_slice(b"}\n");
            let mut head = Vec::with_capacity(64);
            head.extend_from_slice(b",\"user_id\":\"");
            head.extend_from_slice(user.id.as_bytes());
            head.extend_from_slice(b"\",\"session_id\":\"");
            head.extend_from_slice(self.date_digits.as_bytes());
            head.push(b'.');
            head.extend_from_slice(number.format(session.number).as_bytes());
            head.extend_from_slice(b"\",\"ts\":");

            for (ts_ms, kind) in timeline(session, self.heartbeat_ms) {
                let event_id: u64 = rng.random();
                let late = rng.random_bool(self.rates.late);
                let twice = rng.random_bool(self.rates.duplicate);
                let (target, count) = if late {
                    (&mut *out.late, &mut *out.late_lines)
                } else {
                    (&mut *out.now, &mut *out.now_lines)
                };
                let line_start = target.len();
                target.extend_from_slice(kind.json().as_bytes());
                target.extend_from_slice(&head);
                target.extend_from_slice(number.format(ts_ms).as_bytes());
                target.extend_from_slice(b",\"event_id\":\"");
                push_hex(target, event_id);
                target.push(b'"');
                target.extend_from_slice(&tail);
                *count += 1;
                written += 1;
                if twice {
                    // A retry: the same line again, later.
                    let line = target[line_start..].to_vec();
                    out.late.extend_from_slice(&line);
                    *out.late_lines += 1;
                    written += 1;
                }
            }
        }
        written
    }
}

/// The session's events in time order.
fn timeline(session: &SimSession, heartbeat_ms: i64) -> SmallVec<[(i64, Kind); 48]> {
    let mut events: SmallVec<[(i64, Kind); 48]> = SmallVec::new();
    events.push((session.start_ms, Kind::SessionStart));
    events.extend(
        session
            .heartbeats(heartbeat_ms)
            .map(|ts| (ts, Kind::Heartbeat)),
    );
    for away in &session.aways {
        events.push((away.from_ms, Kind::Away));
        if let Some(to_ms) = away.to_ms {
            events.push((to_ms, Kind::Active));
        }
    }
    if !session.lost_end {
        events.push((session.end_ms, Kind::SessionEnd));
    }
    events.sort_unstable();
    events
}

fn push_hex(out: &mut Vec<u8>, value: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for shift in (0..16).rev() {
        out.push(HEX[((value >> (shift * 4)) & 15) as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::batch::{BodyFormat, parse_batch};
    use crate::domain::validate::AcceptWindow;
    use crate::simulate::sessions::AwayPeriod;

    #[test]
    fn the_timeline_has_start_heartbeats_presence_and_end_in_order() {
        let session = SimSession {
            kind: 0,
            number: 1,
            start_ms: 1_000,
            end_ms: 700_000,
            lost_end: false,
            aways: SmallVec::from_slice(&[AwayPeriod {
                from_ms: 400_000,
                to_ms: Some(650_000),
            }]),
        };
        let kinds: Vec<_> = timeline(&session, 300_000).into_iter().collect();
        assert_eq!(
            kinds,
            [
                (1_000, Kind::SessionStart),
                (301_000, Kind::Heartbeat),
                (400_000, Kind::Away),
                (601_000, Kind::Heartbeat),
                (650_000, Kind::Active),
                (700_000, Kind::SessionEnd),
            ]
        );
    }

    #[test]
    fn lines_are_events_the_ingest_parser_accepts() {
        let mut line = Vec::new();
        for kind in [Kind::SessionStart, Kind::Away, Kind::SessionEnd] {
            line.extend_from_slice(kind.json().as_bytes());
            line.extend_from_slice(
                br#","user_id":"U1","session_id":"20200325.1","ts":1585126800123,"event_id":""#,
            );
            push_hex(&mut line, 0xABCDEF);
            line.extend_from_slice(
                br#"","platform":"macos","country":"US","org_id":"T1","app_version":"4.4.0"}"#,
            );
            line.push(b'\n');
        }
        let window = AcceptWindow {
            now_ms: 1_585_126_800_000,
            max_ahead_ms: 1_000,
            max_age_ms: Some(1_000),
        };
        let parsed = parse_batch(&line, BodyFormat::Ndjson, &window, 10).expect("valid events");
        assert_eq!(parsed.len(), 3);
    }
}
