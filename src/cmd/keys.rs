//! `highwater keys new`

use crate::config::keys::new_key;

/// Prints `count` fresh keys, one per line (nothing else, so that scripts
/// can take them as they are).
pub fn new(count: usize) {
    for _ in 0..count {
        println!("{}", new_key());
    }
}
