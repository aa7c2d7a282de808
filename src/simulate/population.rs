//! Who user number `i` is: a Slack-like id, a home region, a country and an
//! organisation — the same on every day, so that WAU and MAU see the same
//! people come back. Users are numbered in the order they join: a growing
//! product reaches further into the numbering.

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

use super::model::Choice;
use super::organisations::Organisations;
use super::scenario::Scenario;

/// Ids use Slack's alphabet of digits and capitals (no I, L, O, U).
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Ids are 10 characters of 5 bits: user numbers are permuted within 50 bits.
const ID_BITS: u32 = 50;
const ID_MASK: u64 = (1 << ID_BITS) - 1;

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub org_id: String,
    pub region: usize,
    pub country: usize,
}

#[derive(Debug, Clone)]
pub struct Population {
    seed: u64,
    organisations: Organisations,
    regions: Choice,
    countries: Vec<Choice>,
}

impl Population {
    /// The scenario's people at `scale` (organisation sizes scale too).
    pub fn new(scenario: &Scenario, scale: f64, seed: u64) -> Self {
        Self {
            seed,
            organisations: Organisations::new(
                u64::from(scenario.org_size),
                scenario.largest_org_users,
                scale,
            ),
            regions: Choice::new(scenario.regions.iter().map(|r| (&r.name, &r.weight))),
            countries: scenario
                .regions
                .iter()
                .map(|r| Choice::new(&r.countries))
                .collect(),
        }
    }

    fn home(&self, index: u64) -> (usize, usize) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(mix(&[self.seed, 0x05E5, index]));
        let region = self.regions.pick(&mut rng);
        (region, self.countries[region].pick(&mut rng))
    }

    pub fn country_code(&self, user: &User) -> &str {
        &self.countries[user.region].names[user.country]
    }

    /// The user's home region (cheaper than the whole `user`).
    pub fn region(&self, index: u64) -> usize {
        self.home(index).0
    }

    pub fn user(&self, index: u64) -> User {
        let (region, country) = self.home(index);
        let org = self.organisations.of(index);
        User {
            id: encode_id('U', permute(index, self.seed)),
            org_id: encode_id('T', permute(org, self.seed ^ 0x0E6)),
            region,
            country,
        }
    }
}

/// A well-mixed 64-bit value from several (SplitMix64 finaliser per part):
/// seeds every per-user and per-day random stream, so each can be
/// regenerated on its own.
pub fn mix(parts: &[u64]) -> u64 {
    let mut h: u64 = 0x9E37_79B9_7F4A_7C15;
    for &part in parts {
        h ^= part;
        h = h.wrapping_add(0x9E37_79B9_7F4A_7C15);
        h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        h ^= h >> 31;
    }
    h
}

/// A bijection on 50-bit numbers (adding, multiplying by an odd constant and
/// xor-shifting right are each invertible modulo 2^50): distinct users get
/// distinct ids that do not look sequential.
fn permute(n: u64, seed: u64) -> u64 {
    let mut x = n.wrapping_add(seed) & ID_MASK;
    x = x.wrapping_mul(0x5DEE_CE66_D1CE_4E5B | 1) & ID_MASK;
    x ^= x >> 23;
    x = x.wrapping_mul(0x2545_F491_4F6C_DD1D) & ID_MASK;
    x ^= x >> 19;
    x
}

fn encode_id(prefix: char, mut x: u64) -> String {
    let mut id = String::with_capacity(11);
    id.push(prefix);
    let mut chars = [0u8; 10];
    for c in chars.iter_mut().rev() {
        *c = ALPHABET[(x & 31) as usize];
        x >>= 5;
    }
    id.push_str(std::str::from_utf8(&chars).expect("ASCII alphabet"));
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustc_hash::FxHashSet;

    #[test]
    fn ids_are_distinct_well_formed_and_depend_on_the_seed() {
        let ids: FxHashSet<String> = (0..200_000u64)
            .map(|i| encode_id('U', permute(i, 7)))
            .collect();
        assert_eq!(ids.len(), 200_000);
        let one = encode_id('U', permute(12345, 7));
        assert_eq!(one.len(), 11);
        assert!(one.starts_with('U') && one[1..].bytes().all(|b| ALPHABET.contains(&b)));
        assert_ne!(one, encode_id('U', permute(12345, 8)));
    }

    #[test]
    fn mix_separates_nearby_inputs() {
        assert_ne!(mix(&[1, 2, 3]), mix(&[1, 3, 2]));
        assert_ne!(mix(&[0, 0]), mix(&[0, 1]));
        assert_eq!(mix(&[5, 6]), mix(&[5, 6]));
    }
}
