//! Shipped segments are kept a while before they are deleted. ClickHouse
//! 18.16 never fsyncs its parts: rows shipped just before its machine
//! loses power may be lost from it, and a log that still holds them ships
//! them again at the next start (`reship`). A shipped segment is deleted
//! `keep_shipped_s` after it was shipped, or at once when the log needs
//! its room. (Replicated clusters hold an insert on several machines
//! before the log moves past it; current releases fsync `events` itself.)

use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Retention {
    keep: Duration,
    /// Shipped segments (id, bytes), oldest first, with when they were.
    kept: VecDeque<(u64, u64, Instant)>,
}

impl Retention {
    pub fn new(keep: Duration) -> Self {
        Self {
            keep,
            kept: VecDeque::new(),
        }
    }

    /// Segment `id` of `bytes` was shipped (or found shipped) now.
    pub fn shipped(&mut self, id: u64, bytes: u64) {
        self.kept.push_back((id, bytes, Instant::now()));
    }

    /// The segments to delete now: those kept long enough, or every one
    /// when the log needs room.
    pub fn due(&mut self, need_room: bool) -> Vec<(u64, u64)> {
        let mut due = Vec::new();
        while let Some(&(id, bytes, at)) = self.kept.front() {
            if !need_room && at.elapsed() < self.keep {
                break;
            }
            due.push((id, bytes));
            self.kept.pop_front();
        }
        due
    }

    /// When the next kept segment is due, if any.
    pub fn next_due(&self) -> Option<Instant> {
        self.kept.front().map(|&(_, _, at)| at + self.keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_kept_until_due_or_until_room_is_needed() {
        let mut retention = Retention::new(Duration::from_secs(3600));
        retention.shipped(1, 10);
        retention.shipped(2, 20);
        assert!(retention.due(false).is_empty());
        assert!(retention.next_due().is_some());
        assert_eq!(retention.due(true), [(1, 10), (2, 20)]);
        assert_eq!(retention.next_due(), None);
        let mut at_once = Retention::new(Duration::ZERO);
        at_once.shipped(3, 30);
        assert_eq!(at_once.due(false), [(3, 30)]);
    }
}
