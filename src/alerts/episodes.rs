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

impl<K: Hash + Eq> Episodes<K> {
    /// Records whether the condition `key` holds now; true when that
    /// starts an episode (time to fire).
    pub fn update(&mut self, key: K, holds: bool) -> bool {
        if holds {
            self.open.insert(key)
        } else {
            self.open.remove(&key);
            false
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
        let fired: Vec<bool> = [false, true, true, true, false, false, true, true]
            .into_iter()
            .map(|holds| episodes.update("online", holds))
            .collect();
        assert_eq!(
            fired,
            [false, true, false, false, false, false, true, false]
        );
    }

    #[test]
    fn conditions_are_independent_and_a_failed_delivery_fires_again() {
        let mut episodes = Episodes::default();
        assert!(episodes.update(("a", 1), true));
        assert!(episodes.update(("a", 2), true));
        assert!(!episodes.update(("a", 1), true));
        episodes.reopen(&("a", 1));
        assert!(episodes.update(("a", 1), true));
    }
}
