//! Random events against a second-by-second evaluation of DESIGN §2 written
//! here, independently of `src/jobs`: every field of the daily figures, of
//! the segments of every dimension, and the per-minute series of the day
//! and of every kept segment must match exactly, over many seeds; so must
//! `GET /v1/online` at seconds around the sessions' starts and ends.
//!
//! `HIGHWATER_BRUTE_SEEDS=N` runs N seeds (default 12).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;
use highwater::config::ProjectSettings;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

use crate::{Place, spawn_app_with};

const INGEST: &str = "brute-ingest-key-00000001";
const READ: &str = "brute-read-key-0000000001";

#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) kind: &'static str,
    pub(crate) user: usize,
    pub(crate) session: usize,
    pub(crate) ts: i64,
    /// For presence: true = active.
    pub(crate) active: bool,
    /// platform, country, org_id: absent, or one of a few values.
    pub(crate) dims: [Option<&'static str>; 3],
}

impl Event {
    /// As posted (ts at the end of its second: flooring must not matter).
    pub(crate) fn json(&self) -> Value {
        let mut v = json!({"type": self.kind, "user_id": format!("U{}", self.user),
            "session_id": format!("S{}", self.session), "ts": self.ts * 1000 + 999});
        if self.kind == "presence" {
            v["status"] = json!(if self.active { "active" } else { "away" });
        }
        for (d, value) in self.dims.iter().enumerate() {
            if let Some(value) = value {
                v[DIMENSIONS[d]] = json!(value);
            }
        }
        v
    }
}

/// The values events may carry per dimension (few, so that sessions share
/// and disagree).
const DIMENSION_VALUES: [[&str; 3]; 3] = [
    ["ios", "macos", "web"],
    ["DE", "US", "JP"],
    ["o1", "o2", "o3"],
];
const DIMENSIONS: [&str; 3] = ["platform", "country", "org_id"];
/// The org_id values kept: the top 2 and the watched ones.
const TOP_ORGS: usize = 2;
const WATCHED_ORGS: [&str; 2] = ["o3", "zz"];

pub(crate) struct Scenario {
    pub(crate) zone: Tz,
    pub(crate) day: NaiveDate,
    pub(crate) timeout: i64,
    pub(crate) max_length: i64,
    pub(crate) events: Vec<Event>,
}

pub(crate) fn midnight(zone: Tz, day: NaiveDate) -> i64 {
    zone.from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap())
        .earliest()
        .unwrap()
        .timestamp()
}

pub(crate) fn scenario(seed: u64) -> Scenario {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut dim_rng = SmallRng::seed_from_u64(seed ^ 0xD1);
    let (zone, day) = match rng.random_range(0..3) {
        0 => (Tz::UTC, NaiveDate::from_ymd_opt(2020, 3, 25).unwrap()),
        1 => (
            chrono_tz::America::New_York,
            NaiveDate::from_ymd_opt(2020, 3, 8).unwrap(),
        ),
        _ => (
            chrono_tz::America::New_York,
            NaiveDate::from_ymd_opt(2020, 11, 1).unwrap(),
        ),
    };
    let timeout = [60, 300, 600][rng.random_range(0..3)];
    let max_length = [1800, 7200, 86_400][rng.random_range(0..3)];
    let (d0, d1) = (midnight(zone, day), midnight(zone, day.succ_opt().unwrap()));
    let mut events = Vec::new();
    for user in 0..rng.random_range(2..9) {
        for session in 0..rng.random_range(1..4) {
            let base = rng.random_range(d0 - 4 * 3600..d1 + 2 * 3600);
            let duration = rng.random_range(0..4 * 3600);
            // Most sessions keep one value per dimension; some events
            // lack it, and a few disagree.
            // (From their own generator: the events' times stay those of
            // the seeds before segments.)
            let usual: [usize; 3] = std::array::from_fn(|_| dim_rng.random_range(0..3));
            let mut push = |kind, ts, active| {
                let dims = std::array::from_fn(|d| match dim_rng.random_range(0..10) {
                    0..=2 => None,
                    3 => Some(DIMENSION_VALUES[d][dim_rng.random_range(0..3)]),
                    _ => Some(DIMENSION_VALUES[d][usual[d]]),
                });
                events.push(Event {
                    kind,
                    user,
                    session,
                    ts,
                    active,
                    dims,
                })
            };
            if rng.random_bool(0.8) {
                push("session_start", base, true);
            }
            for _ in 0..rng.random_range(0..6) {
                push("heartbeat", base + rng.random_range(0..=duration), true);
            }
            for _ in 0..rng.random_range(0..4) {
                // Some on the same second, some before the start.
                let ts = base + rng.random_range(-120..=duration) / 30 * 30;
                push("presence", ts, rng.random_bool(0.5));
            }
            match rng.random_range(0..10) {
                0 => push("session_end", base - 60, true),
                1..=5 => push("session_end", base + duration, true),
                _ => {}
            }
        }
    }
    // At-least-once delivery, in any order.
    let duplicates: Vec<Event> = events
        .iter()
        .filter(|_| rng.random_bool(0.2))
        .cloned()
        .collect();
    events.extend(duplicates);
    events.shuffle(&mut rng);
    Scenario {
        zone,
        day,
        timeout,
        max_length,
        events,
    }
}

/// One session as DESIGN §2 defines it, straight from its raw events.
pub(crate) struct Session {
    user: usize,
    pub(crate) start: i64,
    pub(crate) end: i64,
    /// (ts, active) of its presence events.
    presence: Vec<(i64, bool)>,
    /// Its value of each dimension: that of its earliest event with one
    /// (the smallest value within that second), "" if none has one.
    values: [String; 3],
}

impl Session {
    fn open_at(&self, t: i64) -> bool {
        self.start <= t && t < self.end
    }

    fn active_at(&self, t: i64) -> bool {
        let latest = self.presence.iter().filter(|p| p.0 <= t).map(|p| p.0).max();
        match latest {
            None => true,
            Some(ts) => self.presence.iter().any(|p| p.0 == ts && p.1),
        }
    }
}

pub(crate) fn sessions(s: &Scenario) -> Vec<Session> {
    let mut by_key: BTreeMap<(usize, usize), Vec<&Event>> = BTreeMap::new();
    for e in &s.events {
        by_key.entry((e.user, e.session)).or_default().push(e);
    }
    by_key
        .into_iter()
        .filter_map(|((user, _), events)| {
            let of = |kind| events.iter().filter(move |e| e.kind == kind).map(|e| e.ts);
            let start = of("session_start")
                .min()
                .unwrap_or_else(|| events.iter().map(|e| e.ts).min().unwrap());
            let alive = events
                .iter()
                .filter(|e| e.kind != "session_end")
                .map(|e| e.ts)
                .max();
            let end = match of("session_end").min() {
                Some(end) => end,
                None => alive.unwrap() + s.timeout,
            };
            let end = end.min(start + s.max_length);
            let presence = events
                .iter()
                .filter(|e| e.kind == "presence")
                .map(|e| (e.ts, e.active))
                .collect();
            let values = std::array::from_fn(|d| {
                events
                    .iter()
                    .filter_map(|e| Some((e.ts, e.dims[d]?)))
                    .min()
                    .map_or(String::new(), |(_, v)| v.to_owned())
            });
            (end > start).then_some(Session {
                user,
                start,
                end,
                presence,
                values,
            })
        })
        .collect()
}

fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Users with a session intersecting `[from, to)`.
fn active_users(sessions: &[Session], from: i64, to: i64) -> usize {
    let users: BTreeSet<usize> = sessions
        .iter()
        .filter(|s| s.start < to && s.end > from)
        .map(|s| s.user)
        .collect();
    users.len()
}

/// Per second of `[d0, d1)`: users, connections and active users among
/// `sessions`.
pub(crate) fn counts_per_second(sessions: &[&Session], d0: i64, d1: i64) -> Vec<[u64; 3]> {
    (d0..d1)
        .map(|t| {
            let open: Vec<&&Session> = sessions.iter().filter(|x| x.open_at(t)).collect();
            let users: BTreeSet<usize> = open.iter().map(|x| x.user).collect();
            let active: BTreeSet<usize> = open
                .iter()
                .filter(|x| x.active_at(t))
                .map(|x| x.user)
                .collect();
            [users.len() as u64, open.len() as u64, active.len() as u64]
        })
        .collect()
}

/// Peaks (value, first second) of each count, the per-minute maxima and
/// the user-seconds of a series from [`counts_per_second`].
fn peaks(counts: &[[u64; 3]], d0: i64) -> ([(u64, i64); 3], Vec<[u64; 3]>, u64) {
    let mut best = [(0u64, d0); 3];
    let mut minutes = vec![[0u64; 3]; counts.len() / 60];
    for (offset, second) in counts.iter().enumerate() {
        for i in 0..3 {
            if second[i] > best[i].0 {
                best[i] = (second[i], d0 + offset as i64);
            }
            let minute = &mut minutes[offset / 60][i];
            *minute = (*minute).max(second[i]);
        }
    }
    (best, minutes, counts.iter().map(|c| c[0]).sum())
}

/// The expected API day and per-minute series.
fn evaluate(s: &Scenario) -> (Value, Vec<[u64; 3]>) {
    let sessions = sessions(s);
    let (d0, d1) = (
        midnight(s.zone, s.day),
        midnight(s.zone, s.day.succ_opt().unwrap()),
    );
    let all: Vec<&Session> = sessions.iter().collect();
    let (best, minutes, user_seconds) = peaks(&counts_per_second(&all, d0, d1), d0);
    let mut lengths: Vec<i64> = sessions
        .iter()
        .filter(|x| (d0..d1).contains(&(x.end - 1)))
        .map(|x| x.end - x.start)
        .collect();
    lengths.sort();
    let rank = |q: f64| {
        if lengths.is_empty() {
            0
        } else {
            lengths[((q * lengths.len() as f64).ceil() as usize).max(1) - 1]
        }
    };
    let back = |days: i64| midnight(s.zone, s.day - chrono::Duration::days(days));
    let (dau, wau, mau) = (
        active_users(&sessions, d0, d1),
        active_users(&sessions, back(6), d1),
        active_users(&sessions, back(29), d1),
    );
    let day = json!({
        "day": s.day.to_string(),
        "dau": dau, "wau": wau, "mau": mau,
        "stickiness": if mau == 0 { 0.0 } else { dau as f64 / mau as f64 },
        "peak_users": best[0].0, "peak_users_at": rfc3339(best[0].1),
        "peak_connections": best[1].0, "peak_connections_at": rfc3339(best[1].1),
        "peak_active_users": best[2].0, "peak_active_users_at": rfc3339(best[2].1),
        "acu": user_seconds as f64 / (d1 - d0) as f64,
        "session_p50_s": rank(0.5), "session_p90_s": rank(0.9), "session_p99_s": rank(0.99),
        "final": true,
    });
    (day, minutes)
}

/// The expected `GET /v1/metrics/segments` day of dimension `d`, and each
/// kept value's per-minute series.
fn evaluate_segments(s: &Scenario, d: usize) -> (Value, BTreeMap<String, Vec<[u64; 3]>>) {
    let sessions = sessions(s);
    let (d0, d1) = (
        midnight(s.zone, s.day),
        midnight(s.zone, s.day.succ_opt().unwrap()),
    );
    let today: Vec<&Session> = sessions
        .iter()
        .filter(|x| x.start < d1 && x.end > d0)
        .collect();
    let coincident = peaks(&counts_per_second(&today, d0, d1), d0).0[0].0;
    let seen: BTreeSet<&str> = today.iter().map(|x| x.values[d].as_str()).collect();
    let mut values: Vec<(Value, Vec<[u64; 3]>)> = seen
        .iter()
        .map(|&value| {
            let of_value: Vec<&Session> = today
                .iter()
                .copied()
                .filter(|x| x.values[d] == value)
                .collect();
            let (best, minutes, user_seconds) = peaks(&counts_per_second(&of_value, d0, d1), d0);
            let dau: BTreeSet<usize> = of_value.iter().map(|x| x.user).collect();
            let figures = json!({
                "value": value,
                "peak_users": best[0].0, "peak_users_at": rfc3339(best[0].1),
                "peak_connections": best[1].0, "peak_connections_at": rfc3339(best[1].1),
                "peak_active_users": best[2].0, "peak_active_users_at": rfc3339(best[2].1),
                "dau": dau.len(),
                "acu": user_seconds as f64 / (d1 - d0) as f64,
            });
            (figures, minutes)
        })
        .collect();
    let summed: u64 = values
        .iter()
        .map(|(v, _)| v["peak_users"].as_u64().unwrap())
        .sum();
    let by_peak_then_value = |a: &(Value, _), b: &(Value, _)| {
        let key = |v: &Value| {
            (
                std::cmp::Reverse(v["peak_users"].as_u64().unwrap()),
                v["value"].as_str().unwrap().to_owned(),
            )
        };
        key(&a.0).cmp(&key(&b.0))
    };
    values.sort_by(by_peak_then_value);
    if DIMENSIONS[d] == "org_id" {
        let watched = |v: &Value| WATCHED_ORGS.contains(&v["value"].as_str().unwrap());
        values = values
            .into_iter()
            .enumerate()
            .filter(|(rank, (v, _))| *rank < TOP_ORGS || watched(v))
            .map(|(_, kept)| kept)
            .collect();
        for org in WATCHED_ORGS {
            if !seen.contains(org) {
                let nobody = json!({
                    "value": org,
                    "peak_users": 0, "peak_users_at": rfc3339(d0),
                    "peak_connections": 0, "peak_connections_at": rfc3339(d0),
                    "peak_active_users": 0, "peak_active_users_at": rfc3339(d0),
                    "dau": 0, "acu": 0.0,
                });
                values.push((nobody, vec![[0; 3]; ((d1 - d0) / 60) as usize]));
            }
        }
        values.sort_by(by_peak_then_value);
    }
    let day = json!({
        "day": s.day.to_string(),
        "summed_peak": summed,
        "coincident_peak": coincident,
        "diversity": if coincident == 0 { Value::Null } else { json!(summed as f64 / coincident as f64) },
        "value_count": seen.len(),
        "values": values.iter().map(|(v, _)| v.clone()).collect::<Vec<_>>(),
    });
    let minutes = values
        .into_iter()
        .map(|(v, m)| (v["value"].as_str().unwrap().to_owned(), m))
        .collect();
    (day, minutes)
}

fn series_of(response: &Value) -> Vec<[u64; 3]> {
    response["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            [
                m["users"].as_u64().unwrap(),
                m["connections"].as_u64().unwrap(),
                m["active_users"].as_u64().unwrap(),
            ]
        })
        .collect()
}

async fn check_seed(seed: u64, place: Place) {
    let s = scenario(seed);
    let mut project = ProjectSettings::new("brute", INGEST, READ);
    project.time_zone = s.zone;
    project.session_timeout_s = s.timeout as u32;
    project.max_session_length_s = s.max_length as u32;
    project.top_orgs = TOP_ORGS;
    project.watched_orgs = WATCHED_ORGS.map(String::from).to_vec();
    let app = spawn_app_with(&format!("brute_{seed}"), place.url(), |settings| {
        settings.projects = vec![project];
        place.apply(settings);
        // The day in one slice, or cut into 4 or 64 slices of users: the
        // figures must not change.
        settings.jobs.slices = [1, 4, 64][seed as usize % 3];
    })
    .await;
    let d1 = midnight(s.zone, s.day.succ_opt().unwrap());
    app.clock.set((d1 + 2 * 86_400) * 1000);
    for chunk in s.events.chunks(40) {
        let batch: Vec<Value> = chunk.iter().map(Event::json).collect();
        app.post_accepted(INGEST, &batch).await;
    }
    let day = s.day.to_string();
    app.run_jobs("brute", &day, &day).await;

    let (expected_day, expected_minutes) = evaluate(&s);
    let (_, daily) = app
        .read(READ, &format!("/v1/metrics/daily?from={day}&to={day}"))
        .await;
    assert_eq!(daily["days"][0], expected_day, "seed {seed}");
    let (_, series) = app
        .read(READ, &format!("/v1/metrics/concurrency?day={day}&step=60"))
        .await;
    let minutes = series_of(&series);
    assert_eq!(minutes, expected_minutes, "seed {seed}");
    for (d, dimension) in DIMENSIONS.iter().enumerate() {
        let (expected_day, expected_minutes) = evaluate_segments(&s, d);
        let (_, segments) = app
            .read(
                READ,
                &format!("/v1/metrics/segments?dimension={dimension}&from={day}&to={day}"),
            )
            .await;
        assert_eq!(
            segments["days"][0], expected_day,
            "seed {seed}, {dimension}"
        );
        for (value, expected) in expected_minutes {
            let (_, series) = app
                .read(
                    READ,
                    &format!(
                        "/v1/metrics/concurrency?day={day}&step=60&dimension={dimension}&value={value}"
                    ),
                )
                .await;
            assert_eq!(
                series_of(&series),
                expected,
                "seed {seed}, {dimension} {value:?}"
            );
        }
    }
    check_online(&app, &s, seed).await;
    app.stop().await.unwrap();
}

/// `GET /v1/online` at seconds around the sessions' starts and ends (and
/// a few others) against the counts of those seconds, overall and per
/// value of one dimension.
async fn check_online(app: &crate::TestApp, s: &Scenario, seed: u64) {
    let sessions = sessions(s);
    let all: Vec<&Session> = sessions.iter().collect();
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x0511);
    let d = seed as usize % 3;
    let mut seconds: Vec<i64> = (0..if sessions.is_empty() { 0 } else { 6 })
        .map(|_| {
            let x = &sessions[rng.random_range(0..sessions.len())];
            [x.start, x.end - 1, x.end, x.start + (x.end - x.start) / 2][rng.random_range(0..4)]
        })
        .collect();
    seconds.push(midnight(s.zone, s.day) + rng.random_range(0..86_400));
    for t in seconds {
        app.clock.set(t * 1000 + rng.random_range(0..1000));
        let expected = counts_per_second(&all, t, t + 1)[0];
        let mut by_value: BTreeMap<&str, Vec<&Session>> = BTreeMap::new();
        for x in all.iter().filter(|x| x.open_at(t)) {
            by_value.entry(x.values[d].as_str()).or_default().push(x);
        }
        let mut values: Vec<Value> = by_value
            .into_iter()
            .map(|(value, of_value)| {
                let [users, connections, active_users] = counts_per_second(&of_value, t, t + 1)[0];
                json!({"value": value, "users": users, "connections": connections,
                       "active_users": active_users})
            })
            .collect();
        values.sort_by_key(|v| std::cmp::Reverse(v["users"].as_u64().unwrap()));
        let (status, online) = app
            .read(READ, &format!("/v1/online?dimension={}", DIMENSIONS[d]))
            .await;
        assert_eq!(status, 200, "{online}");
        let context = format!("seed {seed}, second {}", rfc3339(t));
        assert_eq!(online["as_of"], rfc3339(t), "{context}");
        assert_eq!(
            [
                &online["users"],
                &online["connections"],
                &online["active_users"]
            ],
            expected.map(|c| json!(c)).each_ref(),
            "{context}"
        );
        assert_eq!(online["values"], json!(values), "{context}");
    }
}

#[tokio::test]
async fn jobs_match_a_second_by_second_evaluation_over_many_seeds() {
    let seeds: u64 = std::env::var("HIGHWATER_BRUTE_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    for seed in 0..seeds {
        check_seed(seed, Place::Node).await;
    }
}

#[tokio::test]
async fn on_two_shards_jobs_match_a_second_by_second_evaluation() {
    for seed in 100..104 {
        check_seed(seed, Place::TwoShards).await;
    }
}

#[tokio::test]
async fn on_two_shards_with_replicas_jobs_match_a_second_by_second_evaluation() {
    for seed in 200..202 {
        check_seed(seed, Place::TwoShardsWithReplicas).await;
    }
}
