//! One evaluation of online now per project, dimension and second, however
//! many ask: requests arriving together wait for the evaluation in
//! progress instead of starting their own (at millions online one
//! evaluation reads millions of sessions).

use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;

use super::online::{OnlineNow, online_at};
use crate::config::ProjectSettings;
use crate::domain::dimension::Dimension;
use crate::jobs::compute_day::rules;
use crate::store::StoreError;

type Slot = Arc<tokio::sync::Mutex<Option<OnlineNow>>>;
/// A project and the dimension asked for, if any.
type Question = (String, Option<Dimension>);

#[derive(Clone, Debug, Default)]
pub struct OnlineCache {
    slots: Arc<Mutex<FxHashMap<Question, Slot>>>,
}

impl OnlineCache {
    /// Online now for `project` at second `at` (and per value of
    /// `dimension`): the evaluation of that second if there was one.
    pub async fn at(
        &self,
        client: &clickhouse::Client,
        project: &ProjectSettings,
        at: i64,
        dimension: Option<Dimension>,
    ) -> Result<OnlineNow, StoreError> {
        let slot = self
            .slots
            .lock()
            .expect("online cache lock")
            .entry((project.name.clone(), dimension))
            .or_default()
            .clone();
        let mut last = slot.lock().await;
        if let Some(last) = last.as_ref().filter(|last| last.at == at) {
            return Ok(last.clone());
        }
        let now = online_at(client, &project.name, rules(project), at, dimension).await?;
        *last = Some(now.clone());
        Ok(now)
    }
}
