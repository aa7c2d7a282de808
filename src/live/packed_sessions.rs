//! A user's sessions as `LiveDay` keeps them between rounds: packed into
//! one allocation of bytes, because a live day holds every user of the day
//! (21 million on the record day, with three sessions each and more
//! presence events than sessions) and the unpacked form —
//! `(u64, SessionFacts)` with a `Vec` of presence events, in a `SmallVec` —
//! takes 56 bytes in the map's slot plus an allocation per session with
//! presence events. Packed, the slot holds a boxed slice (16 bytes), and
//! the heap about 17 bytes per session and 2–3 per presence event: times
//! are stored as varints of their distance to a nearby time, which is a
//! few bytes where the seconds since 1970 take four.
//!
//! Layout, per session: the session id's hash (8 bytes); which of
//! `first_start`, `first_end` and `last_alive` are known (a byte of flags);
//! `first_event` from the previous session's (from 0 for the first), then
//! the known ones of the three from `first_event`; the number of presence
//! events; each presence event as its second from the one before (the
//! first from `first_event`) times four plus its status (0–2; 3 says that
//! an unusual status follows as a byte). Varints are zigzag-encoded, so
//! any order of events packs.

use integer_encoding::VarInt;
use smallvec::SmallVec;

use crate::jobs::session_interval::{NO_MIN, SessionFacts};

/// A user's sessions as known, unpacked: (hash of the session id, facts).
pub type UserSessions = SmallVec<[(u64, SessionFacts); 1]>;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct PackedSessions(Box<[u8]>);

/// Flags of the times that are known (others hold their "none" value).
const HAS_START: u8 = 1;
const HAS_END: u8 = 2;
const HAS_ALIVE: u8 = 4;
/// `last_alive` when no event kept the session alive.
const NO_ALIVE: u32 = 0;
/// The status code that says a byte with the status follows.
const ESCAPE: i64 = 3;

impl PackedSessions {
    pub fn pack(sessions: &UserSessions) -> Self {
        let mut out = Vec::with_capacity(
            sessions
                .iter()
                .map(|(_, f)| 16 + 3 * f.presence.len())
                .sum(),
        );
        let mut base = 0u32;
        for (id, facts) in sessions {
            out.extend_from_slice(&id.to_le_bytes());
            let known = [
                (HAS_START, facts.first_start != NO_MIN, facts.first_start),
                (HAS_END, facts.first_end != NO_MIN, facts.first_end),
                (HAS_ALIVE, facts.last_alive != NO_ALIVE, facts.last_alive),
            ];
            out.push(known.iter().filter(|k| k.1).fold(0, |flags, k| flags | k.0));
            put(&mut out, distance(facts.first_event, base));
            for (_, is_known, time) in known {
                if is_known {
                    put(&mut out, distance(time, facts.first_event));
                }
            }
            put(&mut out, facts.presence.len() as u64);
            let mut previous = facts.first_event;
            for &(second, status) in &facts.presence {
                let code = if (0..ESCAPE).contains(&i64::from(status)) {
                    i64::from(status)
                } else {
                    ESCAPE
                };
                put(&mut out, distance(second, previous) * 4 + code);
                if code == ESCAPE {
                    out.push(status as u8);
                }
                previous = second;
            }
            base = facts.first_event;
        }
        Self(out.into_boxed_slice())
    }

    pub fn unpack(&self) -> UserSessions {
        let mut sessions = UserSessions::new();
        let mut rest = &self.0[..];
        let mut base = 0u32;
        while let Some((id, after)) = rest.split_first_chunk::<8>() {
            rest = after;
            let id = u64::from_le_bytes(*id);
            let flags = take_byte(&mut rest);
            let first_event = at(base, take(&mut rest));
            let mut time_if = |flag: u8, none: u32| {
                if flags & flag != 0 {
                    at(first_event, take(&mut rest))
                } else {
                    none
                }
            };
            let first_start = time_if(HAS_START, NO_MIN);
            let first_end = time_if(HAS_END, NO_MIN);
            let last_alive = time_if(HAS_ALIVE, NO_ALIVE);
            let count: u64 = take(&mut rest);
            let mut presence = Vec::with_capacity(count as usize);
            let mut previous = first_event;
            for _ in 0..count {
                let coded: i64 = take(&mut rest);
                let second = at(previous, coded.div_euclid(4));
                let status = match coded.rem_euclid(4) {
                    ESCAPE => take_byte(&mut rest) as i8,
                    code => code as i8,
                };
                presence.push((second, status));
                previous = second;
            }
            sessions.push((
                id,
                SessionFacts {
                    first_start,
                    first_event,
                    first_end,
                    last_alive,
                    presence,
                },
            ));
            base = first_event;
        }
        sessions
    }
}

/// `time - from`, signed.
fn distance(time: u32, from: u32) -> i64 {
    i64::from(time) - i64::from(from)
}

/// The time `distance` after `from`.
fn at(from: u32, distance: i64) -> u32 {
    (i64::from(from) + distance) as u32
}

fn put(out: &mut Vec<u8>, value: impl VarInt) {
    let mut bytes = [0u8; 10];
    let used = value.encode_var(&mut bytes);
    out.extend_from_slice(&bytes[..used]);
}

/// The next varint; the bytes were written by `pack`, so they are whole.
fn take<V: VarInt>(rest: &mut &[u8]) -> V {
    let (value, used) = V::decode_var(rest).expect("packed by PackedSessions::pack");
    *rest = &rest[used..];
    value
}

fn take_byte(rest: &mut &[u8]) -> u8 {
    let (byte, after) = rest.split_first().expect("packed by PackedSessions::pack");
    *rest = after;
    *byte
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn session(id: u64, presence: Vec<(u32, i8)>) -> (u64, SessionFacts) {
        (
            id,
            SessionFacts {
                first_start: 1_585_000_000,
                first_event: 1_584_999_990,
                first_end: NO_MIN,
                last_alive: 1_585_003_600,
                presence,
            },
        )
    }

    fn roundtrip(sessions: &UserSessions) {
        let packed = PackedSessions::pack(sessions);
        assert_eq!(packed.0.is_empty(), sessions.is_empty());
        assert_eq!(&packed.unpack(), sessions);
    }

    #[test]
    fn unpacking_gives_back_what_was_packed() {
        let ended = (
            3,
            SessionFacts {
                first_start: NO_MIN,
                first_event: 1_585_010_000,
                first_end: 1_585_010_500,
                last_alive: NO_ALIVE,
                presence: vec![],
            },
        );
        let cases: Vec<UserSessions> = vec![
            UserSessions::new(),
            UserSessions::from_vec(vec![session(u64::MAX, vec![])]),
            UserSessions::from_vec(vec![
                session(
                    0x1234_5678_9abc_def0,
                    vec![(1_585_000_100, 2), (1_585_000_200, 1)],
                ),
                session(7, vec![]),
                session(1 << 40, vec![(1_585_000_300, 2)]),
                ended,
            ]),
            // Out of order, an empty status and unusual ones, times far
            // apart and at the ends of the range.
            UserSessions::from_vec(vec![session(
                9,
                vec![
                    (1_585_000_900, 0),
                    (1_585_000_100, 1),
                    (5, -1),
                    (u32::MAX, 127),
                ],
            )]),
        ];
        for sessions in &cases {
            roundtrip(sessions);
        }
    }

    #[test]
    fn a_session_takes_about_a_third_of_its_unpacked_bytes() {
        // One session with a start and ten presence events a minute apart:
        // 7 + 2 × 10 words unpacked, 108 bytes.
        let presence = (1..=10)
            .map(|i| (1_584_999_990 + 60 * i, 1 + (i % 2) as i8))
            .collect();
        let packed = PackedSessions::pack(&UserSessions::from_vec(vec![session(1, presence)]));
        assert!(packed.0.len() <= 40, "{} bytes", packed.0.len());
    }

    fn any_facts() -> impl Strategy<Value = (u64, SessionFacts)> {
        let time = prop_oneof![Just(0u32), Just(NO_MIN), 1_500_000_000u32..1_700_000_000];
        (
            any::<u64>(),
            (time.clone(), time.clone(), time.clone(), time),
            prop::collection::vec((any::<u32>(), any::<i8>()), 0..6),
        )
            .prop_map(
                |(id, (first_start, first_event, first_end, last_alive), presence)| {
                    (
                        id,
                        SessionFacts {
                            first_start,
                            first_event,
                            first_end,
                            last_alive,
                            presence,
                        },
                    )
                },
            )
    }

    proptest! {
        #[test]
        fn any_sessions_unpack_to_what_was_packed(
            sessions in prop::collection::vec(any_facts(), 0..5)
        ) {
            roundtrip(&UserSessions::from_vec(sessions));
        }
    }
}
