//! Which organisation user number `i` belongs to. Colleagues join together,
//! so an organisation is a run of consecutive user numbers.
//!
//! Even sizes (every organisation `org_size` users), or, with
//! `largest_org_users`, a heavy tail as real customers have: the numbering
//! is cut into chunks, and each chunk into organisations whose sizes fall
//! as `1 / k^1.1` (Zipf) for the k-th of the chunk, the first holding
//! `largest_org_users` and all of them `org_size` on average. At Slack's
//! scale that gives a few organisations of hundreds of thousands of users
//! and tens of thousands of a handful.

/// Zipf exponent of the sizes within a chunk.
const EXPONENT: f64 = 1.1;

#[derive(Debug, Clone)]
pub enum Organisations {
    Even {
        size: u64,
    },
    HeavyTail {
        /// Users per chunk.
        chunk: u64,
        /// First user offset (within the chunk) of organisations 1, 2, … of
        /// the chunk; organisation 0 starts at offset 0.
        starts: Vec<u64>,
    },
}

impl Organisations {
    /// Sizes as the scenario says, at `scale` (the largest organisation
    /// shrinks with the population, at least to one user).
    pub fn new(org_size: u64, largest_org_users: Option<u64>, scale: f64) -> Self {
        let size = org_size.max(1);
        let Some(largest) = largest_org_users else {
            return Organisations::Even { size };
        };
        let largest = ((largest as f64 * scale).round() as u64).max(size);
        // Chunk = largest × H(K) and K = chunk / org_size: solve by a few
        // rounds of substitution (H grows slowly).
        let mut count = (largest / size).max(1);
        for _ in 0..8 {
            count = ((largest as f64 * harmonic(count) / size as f64).round() as u64).max(1);
        }
        let total = harmonic(count);
        let chunk = (largest as f64 * total).round() as u64;
        let mut starts = Vec::with_capacity(count as usize);
        let mut cumulative = 0.0;
        for k in 1..count {
            cumulative += (k as f64).powf(-EXPONENT);
            let start = (chunk as f64 * cumulative / total).round() as u64;
            // Every organisation keeps at least one user.
            let floor = starts.last().map_or(1, |s| s + 1);
            starts.push(start.max(floor).min(chunk - 1));
        }
        starts.dedup();
        Organisations::HeavyTail { chunk, starts }
    }

    /// The organisation number of user number `index`.
    pub fn of(&self, index: u64) -> u64 {
        match self {
            Organisations::Even { size } => index / size,
            Organisations::HeavyTail { chunk, starts } => {
                let per_chunk = starts.len() as u64 + 1;
                let offset = index % chunk;
                (index / chunk) * per_chunk + starts.partition_point(|&s| s <= offset) as u64
            }
        }
    }
}

/// Σ_{k=1..n} k^-EXPONENT.
fn harmonic(n: u64) -> f64 {
    (1..=n).map(|k| (k as f64).powf(-EXPONENT)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(organisations: &Organisations, users: u64) -> Vec<u64> {
        let mut sizes = std::collections::BTreeMap::new();
        for user in 0..users {
            *sizes.entry(organisations.of(user)).or_insert(0u64) += 1;
        }
        let mut sizes: Vec<u64> = sizes.into_values().collect();
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        sizes
    }

    #[test]
    fn even_organisations_are_runs_of_org_size() {
        let even = Organisations::new(40, None, 1.0);
        assert_eq!((even.of(0), even.of(39), even.of(40)), (0, 0, 1));
    }

    #[test]
    fn a_heavy_tail_has_the_largest_and_the_average_asked_for() {
        let tail = Organisations::new(40, Some(350_000), 0.01);
        let Organisations::HeavyTail { chunk, .. } = &tail else {
            panic!("heavy tail expected");
        };
        let users = *chunk;
        let sizes = sizes(&tail, users);
        // The largest: 3,500 (at scale 0.01) within rounding.
        assert!((3_400..=3_600).contains(&sizes[0]), "{:?}", &sizes[..3]);
        // Zipf: the second about half the first.
        assert!((sizes[1] as f64 / sizes[0] as f64 - 0.466).abs() < 0.05);
        // Average about org_size; many tiny ones.
        let average = users as f64 / sizes.len() as f64;
        assert!((30.0..=50.0).contains(&average), "{average}");
        assert!(sizes.last().copied().unwrap() <= 10);
        // Consecutive users share; chunks repeat.
        assert_eq!(tail.of(0), tail.of(1));
        assert_ne!(tail.of(users - 1), tail.of(users));
    }
}
