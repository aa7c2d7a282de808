//! `C_user`, `C_conn` and `C_active` at one second over every stored event
//! (docs/design.md §2 "Online now"), overall and per value of a dimension.
//!
//! ClickHouse narrows the sessions down to those that may be open (not
//! ended, a sign of life within `T`); the definition itself — start,
//! maximum length, presence — is applied here by the same code the daily
//! jobs use, so "online now" and the day's curve cannot disagree. Reading
//! the store rather than this process's own traffic is what makes two
//! instances behind one load balancer count a user connected through both
//! once.

use chrono::NaiveDate;
use rustc_hash::{FxHashMap, FxHashSet};
use xxhash_rust::xxh3::xxh3_128;

use crate::domain::calendar::utc_date;
use crate::domain::dimension::Dimension;
use crate::figures::online::{OnlineCounts, OnlineNow, OnlineValue};
use crate::jobs::session_interval::{Presence, SessionRules};
use crate::jobs::sessions;
use crate::jobs::slicing::{Slicing, slice_buckets};
use crate::store::StoreError;

/// Beyond `L` back and a day ahead: every day that can hold an event of a
/// session open at the second (as the daily jobs read, `sessions::read_range`).
const MARGIN_S: i64 = 86_400;

/// Users are told apart by a 128-bit hash of their id: a set of hashes
/// costs a fraction of a set of strings at millions online, and two ids
/// share a hash with a probability no count will ever show (~2⁻⁸⁰ at 10⁸ ids).
type UserKey = u128;

/// Counts of one value (or of all), over slices of users: a user's
/// sessions are all in one slice, so each slice's distinct users are
/// added up and forgotten.
#[derive(Default)]
struct Tally {
    users: FxHashSet<UserKey>,
    active: FxHashSet<UserKey>,
    connections: u64,
    earlier_slices: OnlineCounts,
}

impl Tally {
    fn add(&mut self, user: UserKey, presence: Presence) {
        self.connections += 1;
        self.users.insert(user);
        if presence == Presence::Active {
            self.active.insert(user);
        }
    }

    fn end_slice(&mut self) {
        self.earlier_slices = self.counts();
        self.users.clear();
        self.active.clear();
        self.connections = 0;
    }

    fn counts(&self) -> OnlineCounts {
        OnlineCounts {
            users: self.earlier_slices.users + self.users.len() as u64,
            connections: self.earlier_slices.connections + self.connections,
            active_users: self.earlier_slices.active_users + self.active.len() as u64,
        }
    }
}

/// The UTC days read for second `at`.
fn read_range(at: i64, rules: SessionRules) -> (NaiveDate, NaiveDate) {
    (
        utc_date(at - i64::from(rules.max_length) - MARGIN_S),
        utc_date(at + MARGIN_S),
    )
}

/// Evaluates online now for `project` at second `at`, reading the
/// sessions one slice of users at a time as `slicing` says (ClickHouse
/// groups one slice's sessions at once, as in the daily jobs).
pub async fn online_at(
    client: &clickhouse::Client,
    project: &str,
    rules: SessionRules,
    slicing: Slicing,
    at: i64,
    dimension: Option<Dimension>,
) -> Result<OnlineNow, StoreError> {
    let range = read_range(at, rules);
    let slices = slicing.slices(client, project, range).await?;
    let mut all = Tally::default();
    let mut by_value: FxHashMap<String, Tally> = FxHashMap::default();
    for slice in 0..slices {
        let buckets = slice_buckets(slice, slices);
        let mut sessions = sessions::read_maybe_open_at(
            client,
            project,
            (range, buckets),
            at,
            rules,
            dimension.is_some(),
        )?;
        while let Some(session) = sessions.next().await? {
            let Some(presence) = session.facts.open_at(rules, at) else {
                continue;
            };
            let user = xxh3_128(session.user_id.as_bytes());
            all.add(user, presence);
            if let Some(dimension) = dimension {
                let value = session.values[dimension.index()];
                match by_value.get_mut(value) {
                    Some(tally) => tally.add(user, presence),
                    None => by_value
                        .entry(value.to_owned())
                        .or_default()
                        .add(user, presence),
                }
            }
        }
        all.end_slice();
        by_value.values_mut().for_each(Tally::end_slice);
    }
    let values = dimension.map(|dimension| {
        let mut values: Vec<OnlineValue> = by_value
            .iter()
            .map(|(value, tally)| OnlineValue {
                value: value.clone(),
                counts: tally.counts(),
            })
            .collect();
        values.sort_by(|a, b| {
            b.counts
                .users
                .cmp(&a.counts.users)
                .then_with(|| a.value.cmp(&b.value))
        });
        (dimension, values)
    });
    Ok(OnlineNow {
        at,
        counts: all.counts(),
        values,
        counted_until_ms: None,
    })
}
