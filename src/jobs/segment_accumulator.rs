//! The day's figures per segment (DESIGN §2, "Segments"), gathered in the
//! same pass as the day's own: for every dimension and value, the users,
//! connections and active users per second, user-seconds and DAU.
//!
//! A user in two segments at once counts once in each: a user's sessions
//! are grouped by value and merged per value before counting. Users never
//! cross slices, so the per-value deltas add up across slices (and shards)
//! exactly like the day's own; peaks are taken at the end.

use compact_str::CompactString;
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use super::concurrency::{merge_intervals, minute_maxima};
use super::day_accumulator::{MinuteMaxima, Peak};
use super::day_window::DayWindow;
use super::segment_deltas::SegmentDeltas;
use super::session_interval::Interval;
use crate::domain::dimension::Dimension;

/// Ids of a session's value in each dimension (see [`SegmentAccumulator::ids`]).
pub type ValueIds = [u32; 3];

/// One session as the segments see it.
#[derive(Debug, Clone)]
pub struct SegmentedSession {
    pub interval: Interval,
    pub ids: ValueIds,
    /// Its active parts; `None` when it has no presence events (active
    /// whenever open).
    pub active: Option<Box<[Interval]>>,
}

/// The figures of one value of one dimension on one day.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueFigures {
    pub value: CompactString,
    pub peak_users: Peak,
    pub peak_connections: Peak,
    pub peak_active_users: Peak,
    pub dau: u64,
    pub acu: f64,
    /// Per-minute maxima; only filled for the values that are kept.
    pub minutes: Vec<MinuteMaxima>,
}

/// One dimension's figures of the day.
#[derive(Debug, Clone, PartialEq)]
pub struct DimensionFigures {
    pub dimension: Dimension,
    /// Every value seen, `""` (unknown) included.
    pub value_count: u32,
    /// Σ of every value's `peak_users`.
    pub summed_peak: u64,
    /// The kept values: all of them, but for `org_id` (see [`Keep`]).
    pub values: Vec<ValueFigures>,
}

/// Which `org_id` values are kept: the top `top` by `peak_users` (ties by
/// value) and the watched ones.
#[derive(Debug, Clone, Default)]
pub struct Keep {
    pub top: usize,
    pub watched: Vec<String>,
}

#[derive(Debug, Default)]
struct ValueCounts {
    users: SegmentDeltas,
    connections: SegmentDeltas,
    active: SegmentDeltas,
    user_seconds: u64,
    dau: u64,
}

#[derive(Debug, Default)]
struct DimensionCounts {
    ids: FxHashMap<CompactString, u32>,
    names: Vec<CompactString>,
    values: Vec<ValueCounts>,
}

impl DimensionCounts {
    fn id(&mut self, value: &str) -> u32 {
        if let Some(&id) = self.ids.get(value) {
            return id;
        }
        let id = self.names.len() as u32;
        self.ids.insert(CompactString::from(value), id);
        self.names.push(CompactString::from(value));
        self.values.push(ValueCounts::default());
        id
    }
}

pub struct SegmentAccumulator {
    window: DayWindow,
    keep: Keep,
    dimensions: [DimensionCounts; 3],
}

impl SegmentAccumulator {
    pub fn new(window: DayWindow, keep: Keep) -> Self {
        Self {
            window,
            keep,
            dimensions: Default::default(),
        }
    }

    /// The ids of a session's values (platform, country, org_id).
    pub fn ids(&mut self, values: [&str; 3]) -> ValueIds {
        let [p, c, o] = &mut self.dimensions;
        [p.id(values[0]), c.id(values[1]), o.id(values[2])]
    }

    /// Counts one user's sessions of the day (all of them, at once).
    pub fn add_user(&mut self, sessions: &[SegmentedSession]) {
        let window = self.window;
        for (d, counts) in self.dimensions.iter_mut().enumerate() {
            let mut seen: SmallVec<[u32; 2]> = SmallVec::new();
            for session in sessions {
                let id = session.ids[d];
                counts.values[id as usize]
                    .connections
                    .add(&window, session.interval);
                if !seen.contains(&id) {
                    seen.push(id);
                }
            }
            for id in seen {
                let of_value = || sessions.iter().filter(move |s| s.ids[d] == id);
                let mut online: SmallVec<[Interval; 2]> = of_value().map(|s| s.interval).collect();
                let mut active: SmallVec<[Interval; 2]> = of_value()
                    .flat_map(|s| match &s.active {
                        Some(parts) => parts.to_vec(),
                        None => vec![s.interval],
                    })
                    .collect();
                merge_intervals(&mut online);
                merge_intervals(&mut active);
                let value = &mut counts.values[id as usize];
                for &interval in &online {
                    value.user_seconds += value.users.add(&window, interval);
                }
                for &interval in &active {
                    value.active.add(&window, interval);
                }
                value.dau += 1;
            }
        }
    }

    /// Every dimension's figures, with the organisations `keep` says.
    pub fn finish(self) -> Vec<DimensionFigures> {
        let (window, keep) = (self.window, &self.keep);
        Dimension::ALL
            .into_iter()
            .zip(self.dimensions)
            .map(|(dimension, counts)| finish_dimension(&window, dimension, counts, keep))
            .collect()
    }
}

fn finish_dimension(
    window: &DayWindow,
    dimension: Dimension,
    counts: DimensionCounts,
    keep: &Keep,
) -> DimensionFigures {
    let value_count = counts.names.len() as u32;
    let mut values: Vec<(CompactString, ValueCounts, Peak)> = counts
        .names
        .into_iter()
        .zip(counts.values)
        .map(|(name, mut value)| {
            let (peak, at) = value.users.peak(window);
            (name, value, Peak { value: peak, at })
        })
        .collect();
    let summed_peak = values.iter().map(|(_, _, p)| u64::from(p.value)).sum();
    // Highest peak first, ties by value: the order of the API too.
    values.sort_by(|a, b| b.2.value.cmp(&a.2.value).then_with(|| a.0.cmp(&b.0)));
    if dimension == Dimension::Org {
        let mut rank = 0;
        values.retain(|(name, _, _)| {
            rank += 1;
            rank <= keep.top || keep.watched.iter().any(|w| w == name)
        });
        // A watched organisation without a session today: zeros, shown.
        for watched in &keep.watched {
            if !values.iter().any(|(name, _, _)| name == watched) {
                let none = Peak {
                    value: 0,
                    at: window.start,
                };
                values.push((watched.into(), ValueCounts::default(), none));
            }
        }
        values.sort_by(|a, b| b.2.value.cmp(&a.2.value).then_with(|| a.0.cmp(&b.0)));
    }
    let values = values
        .into_iter()
        .map(|(value, mut counts, peak_users)| {
            let peak_of = |deltas: &mut SegmentDeltas| {
                let (value, at) = deltas.peak(window);
                Peak { value, at }
            };
            let peak_connections = peak_of(&mut counts.connections);
            let peak_active_users = peak_of(&mut counts.active);
            let minutes_of = |deltas: &SegmentDeltas| minute_maxima(&deltas.counts(window));
            let (users, connections, active) = (
                minutes_of(&counts.users),
                minutes_of(&counts.connections),
                minutes_of(&counts.active),
            );
            let minutes = users
                .iter()
                .zip(&connections)
                .zip(&active)
                .map(|((&users, &connections), &active_users)| MinuteMaxima {
                    users,
                    connections,
                    active_users,
                })
                .collect();
            ValueFigures {
                value,
                peak_users,
                peak_connections,
                peak_active_users,
                dau: counts.dau,
                acu: counts.user_seconds as f64 / window.len() as f64,
                minutes,
            }
        })
        .collect();
    DimensionFigures {
        dimension,
        value_count,
        summed_peak,
        values,
    }
}
