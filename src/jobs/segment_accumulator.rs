//! The day's figures per segment (docs/design.md §2, "Segments"), gathered in the
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

use super::concurrency::{MinuteMaxima, Peak, merge_intervals, minute_maxima};
use super::segment_deltas::{SegmentDeltas, Series, SeriesPeak};
use super::session_interval::Interval;
use crate::domain::day_window::DayWindow;
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

impl SegmentedSession {
    /// Its active parts (all of it without presence events).
    pub fn active_parts(&self) -> &[Interval] {
        self.active
            .as_deref()
            .unwrap_or(std::slice::from_ref(&self.interval))
    }
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
    deltas: SegmentDeltas,
    user_seconds: u64,
    dau: u64,
}

impl ValueCounts {
    /// One user of this value, online and active over these merged
    /// intervals.
    fn add_user(&mut self, window: &DayWindow, online: &[Interval], active: &[Interval]) {
        for &interval in online {
            self.user_seconds += self.deltas.add(window, Series::Users, interval);
        }
        for &interval in active {
            self.deltas.add(window, Series::Active, interval);
        }
        self.dau += 1;
    }
}

#[derive(Debug, Default)]
struct DimensionCounts {
    ids: FxHashMap<CompactString, u32>,
    names: Vec<CompactString>,
    values: Vec<ValueCounts>,
}

impl DimensionCounts {
    fn id(&mut self, value: &str) -> u32 {
        // A handful of values (platforms): comparing beats hashing.
        if self.names.len() <= 8 {
            if let Some(id) = self.names.iter().position(|name| name == value) {
                return id as u32;
            }
        } else if let Some(&id) = self.ids.get(value) {
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

    /// Counts one user's sessions of the day (all of them, at once);
    /// `online` and `active` are the user's merged intervals, which are
    /// also those of the user's value wherever all sessions share one (the
    /// usual case, so it costs no merging).
    pub fn add_user(
        &mut self,
        sessions: &[SegmentedSession],
        online: &[Interval],
        active: &[Interval],
    ) {
        let window = self.window;
        // The usual user: one session, no presence events. Its interval is
        // online, active and connected alike: one write for all three.
        if let [session] = sessions
            && session.active.is_none()
        {
            for (d, counts) in self.dimensions.iter_mut().enumerate() {
                let value = &mut counts.values[session.ids[d] as usize];
                value.user_seconds += value.deltas.add_all(&window, session.interval);
                value.dau += 1;
            }
            return;
        }
        for (d, counts) in self.dimensions.iter_mut().enumerate() {
            for session in sessions {
                counts.values[session.ids[d] as usize].deltas.add(
                    &window,
                    Series::Connections,
                    session.interval,
                );
            }
            let first = sessions[0].ids[d];
            if sessions.iter().all(|s| s.ids[d] == first) {
                counts.values[first as usize].add_user(&window, online, active);
                continue;
            }
            let mut seen: SmallVec<[u32; 4]> = SmallVec::new();
            for session in sessions {
                let id = session.ids[d];
                if seen.contains(&id) {
                    continue;
                }
                seen.push(id);
                let of_value = || sessions.iter().filter(move |s| s.ids[d] == id);
                let mut online: SmallVec<[Interval; 2]> = of_value().map(|s| s.interval).collect();
                let mut active: SmallVec<[Interval; 2]> =
                    if sessions.iter().any(|s| s.active.is_some()) {
                        of_value()
                            .flat_map(|s| s.active_parts().iter().copied())
                            .collect()
                    } else {
                        online.clone()
                    };
                merge_intervals(&mut online);
                merge_intervals(&mut active);
                counts.values[id as usize].add_user(&window, &online, &active);
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
    let mut values: Vec<(CompactString, ValueCounts, [SeriesPeak; 3])> = counts
        .names
        .into_iter()
        .zip(counts.values)
        .map(|(name, mut value)| {
            let peaks = value.deltas.peaks(window);
            (name, value, peaks)
        })
        .collect();
    let summed_peak = values.iter().map(|(_, _, p)| u64::from(p[0].0)).sum();
    // Highest peak first, ties by value: the order of the API too.
    let by_peak = |a: &(CompactString, ValueCounts, [SeriesPeak; 3]),
                   b: &(CompactString, ValueCounts, [SeriesPeak; 3])| {
        b.2[0].0.cmp(&a.2[0].0).then_with(|| a.0.cmp(&b.0))
    };
    values.sort_by(by_peak);
    if dimension == Dimension::Org {
        let mut rank = 0;
        values.retain(|(name, _, _)| {
            rank += 1;
            rank <= keep.top || keep.watched.iter().any(|w| w == name)
        });
        // A watched organisation without a session today: zeros, shown.
        for watched in &keep.watched {
            if !values.iter().any(|(name, _, _)| name == watched) {
                let none = [(0, window.start); 3];
                values.push((watched.into(), ValueCounts::default(), none));
            }
        }
        values.sort_by(by_peak);
    }
    let values = values
        .into_iter()
        .map(|(value, counts, peaks)| {
            let peak = |series: Series| Peak {
                value: peaks[series as usize].0,
                at: peaks[series as usize].1,
            };
            let [users, connections, active] =
                counts.deltas.counts(window).map(|c| minute_maxima(&c));
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
                peak_users: peak(Series::Users),
                peak_connections: peak(Series::Connections),
                peak_active_users: peak(Series::Active),
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
