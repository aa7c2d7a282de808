//! Concurrency over one day's seconds while users are added one at a time:
//! a segment tree with range add and the maximum over the whole day, both
//! in O(log n). Calibration adds users until the maximum reaches the day's
//! target, so the simulated peak is exact rather than expected.

pub struct PeakTree {
    seconds: usize,
    /// Per node: the maximum over its range, including adds to the node itself.
    max: Vec<i32>,
    /// Per node: what was added to its whole range.
    added: Vec<i32>,
}

impl PeakTree {
    pub fn new(seconds: usize) -> Self {
        let nodes = 4 * seconds.max(1);
        Self {
            seconds,
            max: vec![0; nodes],
            added: vec![0; nodes],
        }
    }

    /// The maximum of any second.
    pub fn max(&self) -> i32 {
        self.max[1]
    }

    /// Adds `value` to seconds `[from, to)` (clipped to the day).
    pub fn add(&mut self, from: i64, to: i64, value: i32) {
        let from = from.max(0) as usize;
        let to = to.min(self.seconds as i64);
        if to <= from as i64 {
            return;
        }
        self.add_node(1, 0, self.seconds, from, to as usize, value);
    }

    fn add_node(&mut self, node: usize, lo: usize, hi: usize, from: usize, to: usize, value: i32) {
        if to <= lo || hi <= from {
            return;
        }
        if from <= lo && hi <= to {
            self.added[node] += value;
            self.max[node] += value;
            return;
        }
        let mid = (lo + hi) / 2;
        self.add_node(2 * node, lo, mid, from, to, value);
        self.add_node(2 * node + 1, mid, hi, from, to, value);
        self.max[node] = self.added[node] + self.max[2 * node].max(self.max[2 * node + 1]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::Xoshiro256PlusPlus;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn the_maximum_matches_a_plain_array_after_every_add() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        for seconds in [1usize, 2, 7, 100, 1000] {
            let mut tree = PeakTree::new(seconds);
            let mut plain = vec![0i32; seconds];
            for _ in 0..300 {
                let a = rng.random_range(-5..seconds as i64 + 5);
                let b = rng.random_range(a..seconds as i64 + 10);
                tree.add(a, b, 1);
                for s in a.max(0)..b.min(seconds as i64) {
                    plain[s as usize] += 1;
                }
                assert_eq!(tree.max(), *plain.iter().max().unwrap());
            }
        }
    }
}
