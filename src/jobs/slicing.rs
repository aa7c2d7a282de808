//! A day is computed one slice of users at a time, so that neither the
//! jobs nor ClickHouse ever hold more than one slice's sessions, whatever
//! the day's size. Users fall into 64 buckets (`cityHash64(user_id) % 64`,
//! see `store::schema`); a slice is an equal range of buckets, and the
//! figures of all slices merge exactly: users never cross slices, so
//! per-second deltas add, DAU sets are disjoint, histograms merge, and the
//! peaks are taken last (docs/design.md §2).

use std::ops::Range;

use crate::config::JobsSettings;
use crate::store::schema::BUCKETS;

/// How the jobs read a day: cut into how many slices, and whether with
/// the sessions' segment values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slicing {
    /// Sessions per slice at most (the day's size sets the count).
    pub max_sessions_per_slice: u64,
    /// A fixed count instead (a power of two up to 64), for benchmarks.
    pub fixed: Option<u32>,
    /// Compute the figures per segment too (`jobs.segments`).
    pub segments: bool,
}

impl Default for Slicing {
    fn default() -> Self {
        Self::from(&JobsSettings::default())
    }
}

impl From<&JobsSettings> for Slicing {
    fn from(jobs: &JobsSettings) -> Self {
        Self {
            max_sessions_per_slice: jobs.max_sessions_per_slice,
            fixed: (jobs.slices > 0).then_some(jobs.slices),
            segments: jobs.segments,
        }
    }
}

impl Slicing {
    /// The slices of a day of about `sessions` sessions.
    /// How many slices to read `range` (UTC days) of `project` in: the
    /// fixed count, or one from the sessions there (an estimate read
    /// from ClickHouse).
    pub async fn slices(
        &self,
        client: &clickhouse::Client,
        project: &str,
        range: (chrono::NaiveDate, chrono::NaiveDate),
    ) -> Result<u32, crate::store::StoreError> {
        Ok(match self.fixed {
            Some(fixed) => fixed,
            None => self.slices_for(super::sessions::estimate(client, project, range).await?),
        })
    }

    pub fn slices_for(&self, sessions: u64) -> u32 {
        self.fixed
            .unwrap_or_else(|| slice_count(sessions, self.max_sessions_per_slice))
    }
}

/// How many slices a day of about `sessions` sessions is read in, at most
/// `max_per_slice` each: a power of two from 1 to [`BUCKETS`], so that
/// slices are equal ranges of buckets.
pub fn slice_count(sessions: u64, max_per_slice: u64) -> u32 {
    let wanted = sessions.div_ceil(max_per_slice.max(1)).max(1);
    wanted.next_power_of_two().min(u64::from(BUCKETS)) as u32
}

/// The buckets of slice `index` of `slices` (a power of two).
pub fn slice_buckets(index: u32, slices: u32) -> Range<u8> {
    let width = BUCKETS / slices;
    (index * width) as u8..((index + 1) * width) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_are_powers_of_two_covering_every_bucket_once() {
        assert_eq!(slice_count(0, 1_000), 1);
        assert_eq!(slice_count(1_000, 1_000), 1);
        assert_eq!(slice_count(1_001, 1_000), 2);
        assert_eq!(slice_count(5_000, 1_000), 8);
        assert_eq!(slice_count(u64::MAX / 2, 1), 64);
        for slices in [1, 2, 4, 8, 16, 32, 64] {
            let covered: Vec<u8> = (0..slices).flat_map(|i| slice_buckets(i, slices)).collect();
            assert_eq!(covered, (0..64).collect::<Vec<u8>>(), "{slices}");
        }
    }
}
