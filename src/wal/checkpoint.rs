//! The shipping position on disk, made durable on a cadence.
//!
//! Every move of the position is written at once (write, rename): a
//! `kill -9` then re-ships at most the insert in flight. That write is not
//! fsynced, so a power cut may forget it — and, under POSIX, also forget
//! the unlinks of shipped segments, which would make the whole log look
//! unshipped. So at most every `checkpoint_sync_ms`, and at every clean
//! stop, the position is written durably (write, fsync the file, rename,
//! fsync the directory; the directory's fsync also makes the unlinks
//! durable): a power cut re-ships about that long's worth of inserts,
//! never the log. Re-shipped rows are copies that every figure ignores
//! (docs/design.md), so this bounds cost, not correctness.

use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::files::{self, Position};

#[derive(Debug)]
pub struct Checkpoint {
    dir: PathBuf,
    every: Duration,
    /// The latest position, written or not yet durable.
    latest: Option<Position>,
    /// The position last made durable.
    durable: Option<Position>,
    /// Segments were unlinked since the directory was last fsynced.
    unlinked: bool,
    /// When the position was last made durable (or the log opened).
    synced_at: Instant,
}

impl Checkpoint {
    /// `found`: the position read at start-up, which the last run may not
    /// have made durable (so the first sync writes it again).
    pub fn new(dir: PathBuf, every: Duration, found: Option<Position>) -> Self {
        Self {
            dir,
            every,
            latest: found,
            durable: None,
            unlinked: false,
            synced_at: Instant::now(),
        }
    }

    /// The position moved to `at`: written now, made durable if it is time.
    pub fn moved(&mut self, at: Position) -> io::Result<()> {
        self.latest = Some(at);
        if self.synced_at.elapsed() >= self.every {
            return self.sync();
        }
        files::write_checkpoint(&self.dir, at, false)
    }

    /// A shipped segment was unlinked: the next sync makes it durable.
    pub fn unlinked(&mut self) {
        self.unlinked = true;
    }

    /// When a sync is due, if anything is waiting for one.
    pub fn due(&self) -> Option<Instant> {
        self.pending().then(|| self.synced_at + self.every)
    }

    /// Makes the latest position and unlinks durable now (at a clean stop,
    /// or when [`Self::due`]); nothing to do if nothing changed.
    pub fn sync(&mut self) -> io::Result<()> {
        if !self.pending() {
            return Ok(());
        }
        match self.latest {
            Some(at) if self.latest != self.durable => {
                files::write_checkpoint(&self.dir, at, true)?
            }
            _ => files::sync_dir(&self.dir)?,
        }
        self.durable = self.latest;
        self.unlinked = false;
        self.synced_at = Instant::now();
        Ok(())
    }

    fn pending(&self) -> bool {
        self.latest != self.durable || self.unlinked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: u64) -> Position {
        Position { segment: 1, offset }
    }

    #[test]
    fn every_move_is_written_and_a_sync_is_due_until_made() {
        let dir = tempfile::tempdir().unwrap();
        let mut checkpoint = Checkpoint::new(dir.path().into(), Duration::from_secs(3600), None);
        assert_eq!(checkpoint.due(), None);
        checkpoint.moved(at(100)).unwrap();
        assert_eq!(files::read_checkpoint(dir.path()).unwrap(), Some(at(100)));
        let due = checkpoint.due().expect("a sync is due");
        assert!(due > Instant::now() + Duration::from_secs(3500));
        checkpoint.sync().unwrap();
        assert_eq!(checkpoint.due(), None);
        checkpoint.unlinked();
        assert!(checkpoint.due().is_some(), "an unlink waits for a sync too");
        checkpoint.sync().unwrap();
        assert_eq!(checkpoint.due(), None);
    }

    #[test]
    fn a_move_after_the_interval_is_made_durable_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut checkpoint = Checkpoint::new(dir.path().into(), Duration::ZERO, None);
        checkpoint.moved(at(7)).unwrap();
        assert_eq!(checkpoint.due(), None);
        assert_eq!(files::read_checkpoint(dir.path()).unwrap(), Some(at(7)));
    }
}
