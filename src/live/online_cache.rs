//! Requests for online now that arrive together share evaluations (at
//! millions online one reads millions of sessions): a request waits for
//! the evaluation in progress, then takes the latest result if that
//! evaluation began after the request arrived (so it saw every event
//! stored before the request) and is of the same second; otherwise it
//! evaluates, for itself and whoever queued behind it.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use rustc_hash::FxHashMap;

use super::board::LiveBoard;
use super::online::online_at;
use crate::config::ProjectSettings;
use crate::domain::dimension::Dimension;
use crate::figures::online::OnlineNow;
use crate::jobs::compute_day::rules;
use crate::jobs::slicing::Slicing;
use crate::store::StoreError;

/// The latest result and when its evaluation began.
type Slot = Arc<tokio::sync::Mutex<Option<(OnlineNow, Instant)>>>;
/// A project and the dimension asked for, if any.
type Question = (String, Option<Dimension>);

#[derive(Clone, Debug, Default)]
pub struct OnlineCache {
    slots: Arc<Mutex<FxHashMap<Question, Slot>>>,
    /// Today's counts of the live rounds (none without live rounds).
    board: LiveBoard,
    /// How the store is read when it is (slices of users).
    slicing: Slicing,
}

impl OnlineCache {
    /// Answers from `board` when it has counts for the second asked
    /// (however old their cut-off: the answer says it, and falling back to
    /// a read of the store under the load that slowed the rounds would
    /// only add to it); else reads the store in slices as `slicing` says.
    pub fn new(board: LiveBoard, slicing: Slicing) -> Self {
        Self {
            board,
            slicing,
            ..Self::default()
        }
    }

    /// Online now for `project` at second `at` (and per value of
    /// `dimension`): from the live rounds' counts if they cover that second
    /// (not per value), else evaluated over the store.
    pub async fn at(
        &self,
        client: &clickhouse::Client,
        project: &ProjectSettings,
        at: i64,
        dimension: Option<Dimension>,
    ) -> Result<OnlineNow, StoreError> {
        if dimension.is_none()
            && let Some(live) = self.board.get(&project.name)
            && let Some(counts) = live.at(at)
        {
            return Ok(OnlineNow {
                at,
                counts,
                values: None,
                counted_until_ms: Some(live.cut_ms),
            });
        }
        let arrived = Instant::now();
        let slot = self
            .slots
            .lock()
            .expect("online cache lock")
            .entry((project.name.clone(), dimension))
            .or_default()
            .clone();
        let mut last = slot.lock().await;
        if let Some((online, _)) = last
            .as_ref()
            .filter(|(online, began)| online.at == at && *began >= arrived)
        {
            return Ok(online.clone());
        }
        let began = Instant::now();
        let online = online_at(
            client,
            &project.name,
            rules(project),
            self.slicing,
            at,
            dimension,
        )
        .await?;
        *last = Some((online.clone(), began));
        Ok(online)
    }
}
