//! A user's sessions as `LiveDay` keeps them between rounds: packed into
//! one allocation of `u32`s, because a live day holds every user of the
//! day (21 million on the record day) and the unpacked form —
//! `(u64, SessionFacts)` with a `Vec` of presence events, in a `SmallVec` —
//! takes 56 bytes in the map's slot plus an allocation per session with
//! presence events. Packed, the slot holds a boxed slice (16 bytes) and the
//! heap 28 bytes per session plus 8 per presence event.
//!
//! Layout, per session: the session id's hash (low, high), `first_start`,
//! `first_event`, `first_end`, `last_alive`, the number of presence events,
//! then each presence event as (second, status).

use smallvec::SmallVec;

use crate::jobs::session_interval::SessionFacts;

/// A user's sessions as known, unpacked: (hash of the session id, facts).
pub type UserSessions = SmallVec<[(u64, SessionFacts); 1]>;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct PackedSessions(Box<[u32]>);

/// The words before a session's presence events.
const FIXED: usize = 7;

impl PackedSessions {
    pub fn pack(sessions: &UserSessions) -> Self {
        let words = sessions
            .iter()
            .map(|(_, f)| FIXED + 2 * f.presence.len())
            .sum();
        let mut packed = Vec::with_capacity(words);
        for (id, facts) in sessions {
            packed.extend_from_slice(&[
                *id as u32,
                (*id >> 32) as u32,
                facts.first_start,
                facts.first_event,
                facts.first_end,
                facts.last_alive,
                // A session's presence events are far fewer than 2³².
                facts.presence.len() as u32,
            ]);
            for &(second, status) in &facts.presence {
                packed.extend_from_slice(&[second, status as u8 as u32]);
            }
        }
        Self(packed.into_boxed_slice())
    }

    pub fn unpack(&self) -> UserSessions {
        let mut sessions = UserSessions::new();
        let mut rest = &self.0[..];
        while let [
            low,
            high,
            first_start,
            first_event,
            first_end,
            last_alive,
            count,
            tail @ ..,
        ] = rest
        {
            let (presence, after) = tail.split_at(2 * *count as usize);
            let facts = SessionFacts {
                first_start: *first_start,
                first_event: *first_event,
                first_end: *first_end,
                last_alive: *last_alive,
                presence: presence
                    .chunks_exact(2)
                    .map(|pair| (pair[0], pair[1] as u8 as i8))
                    .collect(),
            };
            sessions.push((u64::from(*low) | u64::from(*high) << 32, facts));
            rest = after;
        }
        sessions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpacking_gives_back_what_was_packed() {
        let session = |id: u64, presence: Vec<(u32, i8)>| {
            (
                id,
                SessionFacts {
                    first_start: 1_585_000_000,
                    first_event: 1_584_999_990,
                    first_end: u32::MAX,
                    last_alive: 1_585_003_600,
                    presence,
                },
            )
        };
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
            ]),
        ];
        for sessions in cases {
            let packed = PackedSessions::pack(&sessions);
            assert_eq!(packed.0.is_empty(), sessions.is_empty());
            assert_eq!(packed.unpack(), sessions);
        }
    }
}
