//! One session's interval and presence timeline from the facts ClickHouse
//! keeps about it (docs/design.md §2, "Session interval").

/// `sessions_by_day` encodes "no such event" with these sentinels.
pub const NO_MIN: u32 = u32::MAX;

/// What is known about one session: min/max timestamps (epoch seconds) per
/// kind of event, and its presence events. Duplicated or reordered events
/// give the same facts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionFacts {
    /// Earliest `session_start`, or [`NO_MIN`].
    pub first_start: u32,
    /// Earliest event of any type.
    pub first_event: u32,
    /// Earliest `session_end`, or [`NO_MIN`].
    pub first_end: u32,
    /// Latest `session_start`/`heartbeat`/`presence`, or 0.
    pub last_alive: u32,
    /// `(ts, status)` of every presence event; status 1 = active, 2 = away.
    pub presence: Vec<(u32, i8)>,
}

/// Project parameters the interval depends on.
#[derive(Debug, Clone, Copy)]
pub struct SessionRules {
    /// `T`, seconds.
    pub timeout: u32,
    /// `L`, seconds.
    pub max_length: u32,
}

/// A session's status at one second (docs/design.md §2, `C_active`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Active,
    Away,
}

fn sort_unique(presence: &mut Vec<(u32, i8)>) {
    presence.sort_unstable();
    presence.dedup();
}

/// Half-open `[start, end)` in epoch seconds.
pub type Interval = (i64, i64);

const AWAY: i8 = 2;

impl SessionFacts {
    /// Takes in `part`, the facts of more of the session's events: then
    /// these are the facts of all of them (the aggregates ClickHouse keeps
    /// merge the same way: min, min, min, max, and the union of presence
    /// events, kept sorted without repeats so that reading the same events
    /// twice changes nothing). Returns whether anything changed.
    pub fn absorb(&mut self, part: &SessionFacts) -> bool {
        let before = (
            self.first_start,
            self.first_event,
            self.first_end,
            self.last_alive,
        );
        self.first_start = self.first_start.min(part.first_start);
        self.first_event = self.first_event.min(part.first_event);
        self.first_end = self.first_end.min(part.first_end);
        self.last_alive = self.last_alive.max(part.last_alive);
        let mut changed = before
            != (
                self.first_start,
                self.first_event,
                self.first_end,
                self.last_alive,
            );
        if !part.presence.is_empty() {
            // Without repeats, any new pair lengthens it.
            sort_unique(&mut self.presence);
            let had = self.presence.len();
            self.presence.extend_from_slice(&part.presence);
            sort_unique(&mut self.presence);
            changed |= self.presence.len() != had;
        }
        changed
    }

    /// `I(s)`; `None` when empty.
    pub fn interval(&self, rules: SessionRules) -> Option<Interval> {
        let start = i64::from(if self.first_start != NO_MIN {
            self.first_start
        } else {
            self.first_event
        });
        let end = if self.first_end != NO_MIN {
            i64::from(self.first_end)
        } else {
            i64::from(self.last_alive) + i64::from(rules.timeout)
        };
        let end = end.min(start + i64::from(rules.max_length));
        (end > start).then_some((start, end))
    }

    /// Whether the session is open at second `t` and active then.
    pub fn open_at(&self, rules: SessionRules, t: i64) -> Option<Presence> {
        let (start, end) = self.interval(rules)?;
        if !(start..end).contains(&t) {
            return None;
        }
        let mut parts = Vec::new();
        self.active_parts((t, t + 1), &mut parts);
        Some(if parts.is_empty() {
            Presence::Away
        } else {
            Presence::Active
        })
    }

    /// The parts of `interval` during which the session's status is active:
    /// the status at `t` is that of the latest presence event with ts ≤ t
    /// (active if none); in a second with both, active wins.
    pub fn active_parts(&self, (start, end): Interval, out: &mut Vec<Interval>) {
        let mut changes: Vec<(i64, bool)> = self
            .presence
            .iter()
            .map(|&(ts, status)| (i64::from(ts), status != AWAY))
            .collect();
        // Per second, keep one status: active if any event of that second is.
        changes.sort_unstable();
        changes.dedup_by(|later, earlier| {
            if later.0 == earlier.0 {
                earlier.1 |= later.1;
                true
            } else {
                false
            }
        });
        let before = changes.partition_point(|&(ts, _)| ts <= start);
        let mut active = before == 0 || changes[before - 1].1;
        let mut since = start;
        for &(ts, status) in changes[before..].iter().take_while(|&&(ts, _)| ts < end) {
            if status != active {
                if active {
                    out.push((since, ts));
                }
                active = status;
                since = ts;
            }
        }
        if active {
            out.push((since, end));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: SessionRules = SessionRules {
        timeout: 600,
        max_length: 7 * 86_400,
    };

    fn facts(first_start: u32, first_event: u32, first_end: u32, last_alive: u32) -> SessionFacts {
        SessionFacts {
            first_start,
            first_event,
            first_end,
            last_alive,
            presence: Vec::new(),
        }
    }

    #[test]
    fn absorbing_parts_gives_the_facts_of_all_their_events() {
        // Events (type, ts, status) of one session, in two parts with one
        // event in both (read twice).
        let start = (1, 100, 0);
        let presence_away = (4, 150, 2);
        let heartbeat = (3, 200, 0);
        let end = (2, 300, 0);
        let presence_active = (4, 250, 1);
        let of = |events: &[(u8, u32, i8)]| SessionFacts {
            first_start: events
                .iter()
                .filter(|e| e.0 == 1)
                .map(|e| e.1)
                .min()
                .unwrap_or(NO_MIN),
            first_event: events.iter().map(|e| e.1).min().unwrap(),
            first_end: events
                .iter()
                .filter(|e| e.0 == 2)
                .map(|e| e.1)
                .min()
                .unwrap_or(NO_MIN),
            last_alive: events
                .iter()
                .filter(|e| e.0 != 2)
                .map(|e| e.1)
                .max()
                .unwrap_or(0),
            presence: events
                .iter()
                .filter(|e| e.0 == 4)
                .map(|e| (e.1, e.2))
                .collect(),
        };
        let mut facts = of(&[heartbeat, presence_active, presence_away]);
        assert!(facts.absorb(&of(&[start, end, presence_away])));
        let mut all = of(&[start, presence_away, heartbeat, end, presence_active]);
        all.presence.sort_unstable();
        assert_eq!(facts, all);
        // The same events again change nothing.
        assert!(!facts.absorb(&of(&[heartbeat, presence_away])));
        assert_eq!(facts, all);
    }

    #[test]
    fn an_ended_session_runs_from_its_start_to_its_end() {
        assert_eq!(facts(100, 90, 500, 400).interval(RULES), Some((100, 500)));
    }

    #[test]
    fn without_an_end_the_session_times_out_after_its_last_sign_of_life() {
        assert_eq!(
            facts(100, 100, NO_MIN, 400).interval(RULES),
            Some((100, 1000))
        );
    }

    #[test]
    fn without_a_start_the_earliest_event_starts_it() {
        assert_eq!(
            facts(NO_MIN, 250, NO_MIN, 300).interval(RULES),
            Some((250, 900))
        );
    }

    #[test]
    fn an_end_before_the_start_leaves_the_session_empty() {
        assert_eq!(facts(500, 400, 400, 500).interval(RULES), None);
        assert_eq!(facts(500, 500, 500, 500).interval(RULES), None);
    }

    #[test]
    fn sessions_are_cut_at_the_maximum_length() {
        let rules = SessionRules {
            timeout: 600,
            max_length: 1000,
        };
        assert_eq!(
            facts(100, 100, NO_MIN, 5000).interval(rules),
            Some((100, 1100))
        );
        assert_eq!(
            facts(100, 100, 9000, 5000).interval(rules),
            Some((100, 1100))
        );
    }

    fn active(presence: &[(u32, i8)], interval: Interval) -> Vec<Interval> {
        let mut f = facts(0, 0, 0, 0);
        f.presence = presence.to_vec();
        let mut out = Vec::new();
        f.active_parts(interval, &mut out);
        out
    }

    #[test]
    fn without_presence_the_whole_session_is_active() {
        assert_eq!(active(&[], (100, 200)), vec![(100, 200)]);
    }

    #[test]
    fn away_periods_are_cut_out() {
        let presence = [(150, 2), (170, 1), (180, 2), (190, 2)];
        assert_eq!(active(&presence, (100, 200)), vec![(100, 150), (170, 180)]);
    }

    #[test]
    fn a_status_set_before_the_start_applies_from_the_start() {
        assert_eq!(active(&[(50, 2), (120, 1)], (100, 200)), vec![(120, 200)]);
        assert_eq!(active(&[(100, 2)], (100, 200)), Vec::<Interval>::new());
    }

    #[test]
    fn active_wins_within_one_second() {
        assert_eq!(active(&[(150, 2), (150, 1)], (100, 200)), vec![(100, 200)]);
        assert_eq!(
            active(&[(120, 2), (150, 1), (150, 2)], (100, 200)),
            vec![(100, 120), (150, 200)]
        );
    }

    #[test]
    fn presence_after_the_end_changes_nothing() {
        assert_eq!(active(&[(200, 2)], (100, 200)), vec![(100, 200)]);
    }

    #[test]
    fn open_at_follows_the_interval_and_the_latest_status() {
        let mut session = facts(100, 100, NO_MIN, 400);
        session.presence = vec![(200, 2), (300, 1), (300, 2)];
        assert_eq!(session.open_at(RULES, 99), None);
        assert_eq!(session.open_at(RULES, 100), Some(Presence::Active));
        assert_eq!(session.open_at(RULES, 250), Some(Presence::Away));
        assert_eq!(session.open_at(RULES, 300), Some(Presence::Active));
        assert_eq!(session.open_at(RULES, 999), Some(Presence::Active));
        assert_eq!(session.open_at(RULES, 1000), None);
    }
}
