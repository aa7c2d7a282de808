//! Today's per-second counts as the latest live round left them
//! (`jobs::live_round`), for answering "online now" without reading the
//! store: `C(t)` at any second of today is one array lookup. Rounds
//! publish a new snapshot; readers take the current one (a pointer swap
//! under a lock held for nothing longer).

use std::sync::{Arc, RwLock};

use rustc_hash::FxHashMap;

use crate::figures::online::OnlineCounts;

/// One project's counts for every second of its current day.
#[derive(Debug)]
pub struct LiveCounts {
    /// The day's first second (epoch).
    pub start: i64,
    /// `C_user`, `C_conn`, `C_active` per second of the day.
    pub users: Vec<u32>,
    pub connections: Vec<u32>,
    pub active_users: Vec<u32>,
    /// Every event received before this (server ms) is counted.
    pub cut_ms: i64,
}

impl LiveCounts {
    /// The counts at second `t`, if it is in the day.
    pub fn at(&self, t: i64) -> Option<OnlineCounts> {
        let i = usize::try_from(t - self.start).ok()?;
        Some(OnlineCounts {
            users: u64::from(*self.users.get(i)?),
            connections: u64::from(self.connections[i]),
            active_users: u64::from(self.active_users[i]),
        })
    }
}

/// The latest counts per project, shared by the live rounds and readers.
#[derive(Clone, Debug, Default)]
pub struct LiveBoard(Arc<RwLock<FxHashMap<String, Arc<LiveCounts>>>>);

impl LiveBoard {
    pub fn publish(&self, project: &str, counts: LiveCounts) {
        self.0
            .write()
            .expect("live board lock")
            .insert(project.to_owned(), Arc::new(counts));
    }

    pub fn get(&self, project: &str) -> Option<Arc<LiveCounts>> {
        self.0
            .read()
            .expect("live board lock")
            .get(project)
            .cloned()
    }
}
