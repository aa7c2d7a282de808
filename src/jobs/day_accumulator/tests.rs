//! Tests of the day accumulator: users and connections, sessions across midnight, presence, empty days, slices.

use super::*;
use crate::jobs::session_interval::NO_MIN;
use chrono::NaiveDate;

const RULES: SessionRules = SessionRules {
    timeout: 600,
    max_length: 7 * 86_400,
};

fn day() -> DayWindow {
    DayWindow::new(
        NaiveDate::from_ymd_opt(2020, 3, 25).unwrap(),
        chrono_tz::Tz::UTC,
    )
}

/// A session `[start, end)` given as offsets from the day's start.
fn session(start: i64, end: i64) -> SessionFacts {
    let d0 = day().start;
    SessionFacts {
        first_start: (d0 + start) as u32,
        first_event: (d0 + start) as u32,
        first_end: (d0 + end) as u32,
        last_alive: (d0 + start) as u32,
        presence: Vec::new(),
    }
}

/// Ends the (only) slice and the day: the figures and the DAU set.
fn finish_day(mut acc: DayAccumulator) -> (DaySessionsFigures, Vec<CompactString>) {
    let active = acc.end_slice().into_iter().map(|(_, user)| user).collect();
    (acc.finish(), active)
}

fn add_user(acc: &mut DayAccumulator, user: &str, sessions: &[SessionFacts]) {
    for facts in sessions {
        acc.add_session(user, 0, facts, NO_SEGMENTS);
    }
}

#[test]
fn two_devices_of_one_user_count_once_as_a_user_and_twice_as_connections() {
    let mut acc = DayAccumulator::new(day(), RULES);
    add_user(&mut acc, "U1", &[session(100, 300)]);
    add_user(&mut acc, "U2", &[session(250, 260)]);
    add_user(&mut acc, "U1", &[session(200, 400)]);
    let (f, mut active) = finish_day(acc);
    active.sort();
    assert_eq!(active, ["U1", "U2"]);
    let d0 = day().start;
    assert_eq!(f.dau, 2);
    assert_eq!(
        f.peak_users,
        Peak {
            value: 2,
            at: d0 + 250
        }
    );
    assert_eq!(
        f.peak_connections,
        Peak {
            value: 3,
            at: d0 + 250
        }
    );
    // User 1: 300 s (100..400), user 2: 10 s.
    assert!((f.acu - 310.0 / 86_400.0).abs() < 1e-12);
    assert_eq!(f.session_lengths.len(), 3);
    assert_eq!(f.minutes.len(), 1440);
    assert_eq!(
        f.minutes[4],
        MinuteMaxima {
            users: 2,
            connections: 3,
            active_users: 2
        }
    );
}

#[test]
fn a_session_from_yesterday_counts_but_its_length_belongs_to_the_day_it_ends() {
    let mut acc = DayAccumulator::new(day(), RULES);
    add_user(&mut acc, "U1", &[session(-1000, 50)]);
    add_user(&mut acc, "U2", &[session(-1000, 0)]);
    let (f, _) = finish_day(acc);
    assert_eq!(f.dau, 1);
    assert_eq!(
        f.peak_users,
        Peak {
            value: 1,
            at: day().start
        }
    );
    assert_eq!(f.session_lengths.len(), 1);
    assert_eq!(f.session_lengths.max(), 1050);
}

#[test]
fn presence_in_one_session_keeps_the_other_sessions_active_time() {
    let mut acc = DayAccumulator::new(day(), RULES);
    let mut away = session(100, 200);
    away.presence = vec![((day().start + 100) as u32, 2)];
    add_user(&mut acc, "U1", &[session(150, 300), away]);
    let (f, _) = finish_day(acc);
    assert_eq!(
        f.peak_active_users,
        Peak {
            value: 1,
            at: day().start + 150
        }
    );
    assert_eq!(f.minutes[1].active_users, 0);
    assert_eq!(f.minutes[3].active_users, 1);
}

#[test]
fn an_empty_day_peaks_at_zero_at_its_start() {
    let mut acc = DayAccumulator::new(day(), RULES);
    let mut empty = session(100, 100);
    empty.first_end = NO_MIN;
    empty.last_alive = 0;
    add_user(&mut acc, "U1", &[empty]);
    let (f, active) = finish_day(acc);
    assert!(active.is_empty());
    assert_eq!(
        (f.dau, f.peak_users),
        (
            0,
            Peak {
                value: 0,
                at: day().start
            }
        )
    );
}

#[test]
fn slices_of_users_add_up_to_the_whole_day() {
    let users = [
        ("U1", vec![session(100, 300), session(200, 400)]),
        ("U2", vec![session(250, 260)]),
        ("U3", vec![session(0, 86_400)]),
        ("U4", vec![session(299, 301)]),
    ];
    let mut whole = DayAccumulator::new(day(), RULES);
    for (user, sessions) in &users {
        add_user(&mut whole, user, sessions);
    }
    let (whole, mut whole_set) = finish_day(whole);
    let mut sliced = DayAccumulator::new(day(), RULES);
    let mut sliced_set = Vec::new();
    for slice in users.chunks(2) {
        for (user, sessions) in slice {
            add_user(&mut sliced, user, sessions);
        }
        sliced_set.extend(sliced.end_slice().into_iter().map(|(_, u)| u));
    }
    let sliced = sliced.finish();
    whole_set.sort();
    sliced_set.sort();
    assert_eq!(whole_set, sliced_set);
    assert_eq!(
        (
            whole.dau,
            whole.peak_users,
            whole.peak_connections,
            whole.peak_active_users
        ),
        (
            sliced.dau,
            sliced.peak_users,
            sliced.peak_connections,
            sliced.peak_active_users
        )
    );
    assert_eq!(whole.acu, sliced.acu);
    assert_eq!(whole.minutes, sliced.minutes);
    assert_eq!(whole.session_lengths, sliced.session_lengths);
    assert_eq!(whole.peak_users.value, 3, "U1, U3 and U4 at 299");
}
