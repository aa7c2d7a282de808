//! "Once per episode": a condition fires when it starts to hold, not
//! while it keeps holding; once it stops, the next time it holds is a new
//! episode.

use std::collections::HashSet;
use std::hash::Hash;

#[derive(Debug)]
pub struct Episodes<K> {
    open: HashSet<K>,
}

impl<K> Default for Episodes<K> {
    fn default() -> Self {
        Self {
            open: HashSet::new(),
        }
    }
}

/// What a check of a condition changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// It started to hold: a new episode (time to fire).
    Started,
    /// It stopped holding: the episode ends.
    Ended,
    Unchanged,
}

impl<K: Hash + Eq> Episodes<K> {
    /// Records whether the condition `key` holds now.
    pub fn update(&mut self, key: K, holds: bool) -> Change {
        match (holds, holds && !self.open.contains(&key)) {
            (true, true) => {
                self.open.insert(key);
                Change::Started
            }
            (false, _) if self.open.remove(&key) => Change::Ended,
            _ => Change::Unchanged,
        }
    }

    /// Forgets an episode whose alert could not be delivered, so that the
    /// next check fires it again.
    pub fn reopen(&mut self, key: &K) {
        self.open.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_condition_fires_once_per_episode() {
        let mut episodes = Episodes::default();
        let changes: Vec<Change> = [false, true, true, true, false, false, true, true]
            .into_iter()
            .map(|holds| episodes.update("online", holds))
            .collect();
        use Change::*;
        assert_eq!(
            changes,
            [
                Unchanged, Started, Unchanged, Unchanged, Ended, Unchanged, Started, Unchanged
            ]
        );
    }

    #[test]
    fn conditions_are_independent_and_a_failed_delivery_fires_again() {
        let mut episodes = Episodes::default();
        assert_eq!(episodes.update(("a", 1), true), Change::Started);
        assert_eq!(episodes.update(("a", 2), true), Change::Started);
        assert_eq!(episodes.update(("a", 1), true), Change::Unchanged);
        episodes.reopen(&("a", 1));
        assert_eq!(episodes.update(("a", 1), true), Change::Started);
    }
}
