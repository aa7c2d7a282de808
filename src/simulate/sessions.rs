//! One user's sessions on one day: drawn from the day's behaviour, in the
//! user's local time, from a random stream of their own (seeded by seed,
//! day and user number), so any user-day can be regenerated identically —
//! once to calibrate the population, once to write the events.

use chrono::{NaiveDate, Offset, TimeZone};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::Distribution;
use smallvec::SmallVec;

use super::model::{BehaviourModel, EndModel, KindModel};
use super::population::mix;
use super::scenario::{Outage, Scenario};

/// Sessions start no earlier than 05:00 local time and end, even with a
/// lost end extended by `T`, before 05:00 the next day: one user's sessions
/// of two different days never overlap, so days can be calibrated one by one.
const EARLIEST_START_S: f64 = 5.0 * 3600.0;
const LATEST_START_S: f64 = 26.0 * 3600.0;
const NEXT_MORNING_S: f64 = 29.0 * 3600.0;

/// An away period: `presence` away at `from_ms`, active again at `to_ms`
/// unless the session ended first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwayPeriod {
    pub from_ms: i64,
    pub to_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSession {
    /// Index into the behaviour's session kinds.
    pub kind: usize,
    /// 1, 2, ... within the user's day: the session id is `YYYYMMDD.n`.
    pub number: u32,
    pub start_ms: i64,
    /// When the connection really ended: the `session_end`, or the moment
    /// the client died when the end is lost (heartbeats stop there).
    pub end_ms: i64,
    pub lost_end: bool,
    pub aways: SmallVec<[AwayPeriod; 2]>,
}

pub type UserDay = SmallVec<[SimSession; 6]>;

/// Everything about a day that is the same for all its users.
#[derive(Debug)]
pub struct DayPlan<'a> {
    pub day: NaiveDate,
    pub seed: u64,
    pub behaviour: &'a BehaviourModel,
    /// Local midnight of the day in each region, epoch seconds (the UTC
    /// offset at local noon: sessions before a 02:00 DST change are off by
    /// the change, which no figure of the scenario depends on).
    pub region_midnight_s: Vec<i64>,
    pub heartbeat_ms: i64,
    pub timeout_s: i64,
    pub lost_end_rate: f64,
    pub outages: Vec<OutageWindow>,
}

#[derive(Debug, Clone, Copy)]
pub struct OutageWindow {
    pub down_ms: i64,
    pub up_ms: i64,
    pub spread_ms: i64,
}

impl<'a> DayPlan<'a> {
    pub fn new(
        scenario: &Scenario,
        behaviour: &'a BehaviourModel,
        day: NaiveDate,
        seed: u64,
    ) -> Self {
        let timeout_s = scenario.project.session_timeout_s as i64;
        Self {
            day,
            seed,
            behaviour,
            region_midnight_s: scenario
                .regions
                .iter()
                .map(|r| local_midnight_s(day, r.time_zone))
                .collect(),
            heartbeat_ms: timeout_s * 1000 / 2,
            timeout_s,
            lost_end_rate: scenario.delivery.lost_end_rate,
            outages: scenario.outages.iter().map(OutageWindow::new).collect(),
        }
    }

    /// The user's sessions of the day, or `None` if they stay away.
    pub fn sessions(&self, index: u64, region: usize) -> Option<UserDay> {
        let day_number = self.day.to_epoch_days() as u64;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(mix(&[self.seed, day_number, index]));
        if !rng.random_bool(self.behaviour.active_share) {
            return None;
        }
        let midnight = self.region_midnight_s[region];
        let latest_end = NEXT_MORNING_S - self.timeout_s as f64;
        let mut sessions = UserDay::new();
        for (kind_index, kind) in self.behaviour.kinds.iter().enumerate() {
            if !rng.random_bool(kind.share) {
                continue;
            }
            for _ in 0..rng.random_range(kind.count[0]..=kind.count[1]) {
                let start = kind
                    .start
                    .sample(&mut rng)
                    .clamp(EARLIEST_START_S, LATEST_START_S);
                let end = match &kind.end {
                    // Whoever starts after their usual end stays a quarter hour.
                    EndModel::Until(until) => until.sample(&mut rng).max(start + 900.0),
                    EndModel::Length(length) => start + length.sample(&mut rng),
                }
                .min(latest_end);
                for (from, to) in split_by_pause(kind, start, end, &mut rng) {
                    let from_s = midnight + from as i64;
                    let to_s = (midnight + to as i64).max(from_s + 1);
                    let session = self.session(kind_index, kind, from_s, to_s, &mut rng);
                    self.push_cut_by_outages(&mut sessions, session, &mut rng);
                }
            }
        }
        for (n, session) in sessions.iter_mut().enumerate() {
            session.number = n as u32 + 1;
        }
        Some(sessions)
    }

    fn session(
        &self,
        kind_index: usize,
        kind: &KindModel,
        from_s: i64,
        to_s: i64,
        rng: &mut Xoshiro256PlusPlus,
    ) -> SimSession {
        let start_ms = from_s * 1000 + rng.random_range(0..1000);
        let end_ms = to_s * 1000 + rng.random_range(0..1000);
        let mut aways = SmallVec::new();
        if let Some(away) = &kind.away {
            // Stochastic rounding keeps the expected count exact.
            let expected = away.per_second * (to_s - from_s) as f64;
            let count = expected as u32 + u32::from(rng.random_bool(expected.fract()));
            let mut froms: SmallVec<[i64; 4]> = (0..count)
                .map(|_| rng.random_range(start_ms..end_ms))
                .collect();
            froms.sort_unstable();
            let mut back_by = i64::MIN;
            for from_ms in froms {
                let to_ms = from_ms + (away.length.sample(rng) * 1000.0) as i64;
                if from_ms <= back_by {
                    continue; // still away from the previous period
                }
                back_by = to_ms;
                aways.push(AwayPeriod {
                    from_ms,
                    to_ms: (to_ms < end_ms).then_some(to_ms),
                });
            }
        }
        SimSession {
            kind: kind_index,
            number: 0,
            start_ms,
            end_ms,
            lost_end: rng.random_bool(self.lost_end_rate),
            aways,
        }
    }

    /// An outage drops every connection open at that moment without a
    /// `session_end`; whoever was not done reconnects once it is over.
    fn push_cut_by_outages(
        &self,
        sessions: &mut UserDay,
        mut session: SimSession,
        rng: &mut Xoshiro256PlusPlus,
    ) {
        for outage in &self.outages {
            if session.start_ms < outage.down_ms && outage.down_ms < session.end_ms {
                let resumed_ms = outage.up_ms + rng.random_range(0..=outage.spread_ms);
                let rest = (resumed_ms + 1000 < session.end_ms).then(|| SimSession {
                    start_ms: resumed_ms,
                    aways: SmallVec::new(),
                    ..session.clone()
                });
                session.end_ms = outage.down_ms;
                session.lost_end = true;
                session.aways.retain(|a| a.from_ms < outage.down_ms);
                for away in &mut session.aways {
                    away.to_ms = away.to_ms.filter(|t| *t < outage.down_ms);
                }
                sessions.push(session);
                if let Some(rest) = rest {
                    self.push_cut_by_outages(sessions, rest, rng);
                }
                return;
            }
        }
        sessions.push(session);
    }
}

/// Splits `[start, end)` around a break, when the user takes one inside it.
fn split_by_pause(
    kind: &KindModel,
    start: f64,
    end: f64,
    rng: &mut Xoshiro256PlusPlus,
) -> SmallVec<[(f64, f64); 2]> {
    if let Some(pause) = &kind.pause
        && rng.random_bool(pause.share)
    {
        let at = pause.at.sample(rng);
        let back = at + pause.length.sample(rng);
        if start + 600.0 < at && back + 600.0 < end {
            return SmallVec::from_slice(&[(start, at), (back, end)]);
        }
    }
    SmallVec::from_slice(&[(start, end)])
}

impl OutageWindow {
    fn new(outage: &Outage) -> Self {
        let down_ms = outage.at.timestamp_millis();
        Self {
            down_ms,
            up_ms: down_ms + (outage.duration_min * 60_000.0) as i64,
            spread_ms: (outage.reconnect_within_min * 60_000.0) as i64,
        }
    }
}

impl SimSession {
    /// Heartbeat times: every `T/2` after the start while connected.
    pub fn heartbeats(&self, heartbeat_ms: i64) -> impl Iterator<Item = i64> + '_ {
        (1..)
            .map(move |k| self.start_ms + k * heartbeat_ms)
            .take_while(|ts| *ts < self.end_ms)
    }

    /// `I(s)` of docs/design.md §2 in epoch seconds, `[start, end_eff)`, from the
    /// events this session sends: the `session_end`, or — when it is lost —
    /// the last sign of life plus `T`.
    pub fn interval(&self, heartbeat_ms: i64, timeout_s: i64) -> (i64, i64) {
        let start = self.start_ms.div_euclid(1000);
        if !self.lost_end {
            return (start, self.end_ms.div_euclid(1000));
        }
        let last_heartbeat = self
            .heartbeats(heartbeat_ms)
            .last()
            .unwrap_or(self.start_ms);
        let last_presence = self
            .aways
            .iter()
            .map(|a| a.to_ms.unwrap_or(a.from_ms))
            .max()
            .unwrap_or(self.start_ms);
        let last_life = last_heartbeat.max(last_presence);
        (start, last_life.div_euclid(1000) + timeout_s)
    }
}

/// The union of a user's session intervals, sorted: `C_user` counts a user
/// once however many devices are connected.
pub fn user_intervals(
    sessions: &UserDay,
    heartbeat_ms: i64,
    timeout_s: i64,
) -> SmallVec<[(i64, i64); 4]> {
    let mut intervals: SmallVec<[(i64, i64); 6]> = sessions
        .iter()
        .map(|s| s.interval(heartbeat_ms, timeout_s))
        .filter(|(a, b)| a < b)
        .collect();
    intervals.sort_unstable();
    let mut merged: SmallVec<[(i64, i64); 4]> = SmallVec::new();
    for (a, b) in intervals {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
}

/// Local midnight of `day` in `zone`, using the zone's offset at noon.
fn local_midnight_s(day: NaiveDate, zone: chrono_tz::Tz) -> i64 {
    let noon = day.and_hms_opt(12, 0, 0).expect("valid time");
    let offset = zone
        .offset_from_local_datetime(&noon)
        .earliest()
        .map_or(0, |o| o.fix().local_minus_utc());
    day.and_hms_opt(0, 0, 0)
        .expect("valid time")
        .and_utc()
        .timestamp()
        - offset as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(start_ms: i64, end_ms: i64, lost_end: bool) -> SimSession {
        SimSession {
            kind: 0,
            number: 1,
            start_ms,
            end_ms,
            lost_end,
            aways: SmallVec::new(),
        }
    }

    #[test]
    fn a_session_with_its_end_lasts_until_the_end() {
        assert_eq!(
            session(10_500, 99_999, false).interval(300_000, 600),
            (10, 99)
        );
    }

    #[test]
    fn a_lost_end_lasts_until_the_last_heartbeat_plus_t() {
        // Heartbeats at 310.5 s and 610.5 s; the client died at 700 s.
        let s = session(10_500, 700_000, true);
        assert_eq!(
            s.heartbeats(300_000).collect::<Vec<_>>(),
            [310_500, 610_500]
        );
        assert_eq!(s.interval(300_000, 600), (10, 610 + 600));
        // A presence event after the last heartbeat is the last sign of life.
        let mut s = s;
        s.aways.push(AwayPeriod {
            from_ms: 650_000,
            to_ms: Some(690_000),
        });
        assert_eq!(s.interval(300_000, 600), (10, 690 + 600));
    }

    #[test]
    fn a_users_intervals_are_merged() {
        let sessions: UserDay = SmallVec::from_vec(vec![
            session(0, 100_000, false),
            session(50_000, 150_000, false),
            session(200_000, 210_000, false),
        ]);
        assert_eq!(
            user_intervals(&sessions, 300_000, 600).as_slice(),
            &[(0, 150), (200, 210)]
        );
    }

    #[test]
    fn local_midnight_follows_the_zone() {
        let day: NaiveDate = "2020-03-25".parse().unwrap();
        // New York is on EDT (UTC−4) after 2020-03-08.
        let ny = local_midnight_s(day, chrono_tz::America::New_York);
        assert_eq!(ny, day.and_hms_opt(4, 0, 0).unwrap().and_utc().timestamp());
        let tokyo = local_midnight_s(day, chrono_tz::Asia::Tokyo);
        assert_eq!(
            tokyo,
            day.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp() - 9 * 3600
        );
    }
}
