//! What makes an API key acceptable, and how to make a good one.
//!
//! A key is a bearer secret: anyone who has it may write (ingest keys) or
//! read (read keys) a project. A deployment copied from the README must not
//! start open, so the example file's keys are refused, and so is any key too
//! short to resist guessing.

use rand::RngExt;
use rand::distr::Alphanumeric;

/// Shortest key accepted: 24 characters. A key from [`new_key`] is longer.
pub const MIN_KEY_LEN: usize = 24;
/// Characters of a new key: 32 alphanumerics ≈ 190 bits of randomness.
const NEW_KEY_LEN: usize = 32;

/// The shipped example configuration, whose keys are public.
const EXAMPLE: &str = include_str!("../../highwater.example.toml");

/// A fresh random key (`highwater keys new`).
pub fn new_key() -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(NEW_KEY_LEN)
        .map(char::from)
        .collect()
}

/// Why `key` may not be used, if it may not. Never quotes a real key: the
/// message may end up in logs.
pub fn refusal(key: &str) -> Option<String> {
    if example_keys().any(|example| example == key) {
        return Some(format!(
            "{key:?} is the example configuration's key, which anyone can read: \
             replace it with a key of your own (`highwater keys new` prints one)"
        ));
    }
    if key.chars().count() < MIN_KEY_LEN {
        return Some(format!(
            "a key of {} characters is too short to resist guessing: keys need at least \
             {MIN_KEY_LEN} (`highwater keys new` prints one)",
            key.chars().count()
        ));
    }
    None
}

/// The keys written in `highwater.example.toml` (its `*_keys = [...]` lines).
fn example_keys() -> impl Iterator<Item = &'static str> {
    EXAMPLE
        .lines()
        .filter(|line| line.trim_start().contains("_keys"))
        .flat_map(|line| line.split('"').skip(1).step_by(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_keys_are_long_random_and_accepted() {
        let (a, b) = (new_key(), new_key());
        assert_eq!(a.len(), NEW_KEY_LEN);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(refusal(&a), None);
    }

    #[test]
    fn the_example_files_keys_and_short_keys_are_refused() {
        let examples: Vec<&str> = example_keys().collect();
        assert_eq!(examples.len(), 2, "{examples:?}");
        for key in examples {
            let why = refusal(key).unwrap();
            assert!(why.contains(key) && why.contains("example"), "{why}");
        }
        let short = "abcdefghijklmnopqrstuvw"; // 23
        let why = refusal(short).unwrap();
        assert!(
            why.contains("23 characters") && !why.contains(short),
            "{why}"
        );
        assert_eq!(refusal("abcdefghijklmnopqrstuvwx"), None);
    }
}
