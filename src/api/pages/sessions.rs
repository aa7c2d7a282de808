//! Dashboard sessions, kept on the server. The browser's cookie holds only
//! an opaque random id (256 bits); the session maps it to the read keys
//! entered in that browser, so the cookie carries no key material. Sessions
//! expire, end at logout, and a login always starts a new id (so an id
//! planted before login is worth nothing after it). One key holds at most
//! [`MAX_SESSIONS_PER_KEY`]: its oldest make room for its newest, so no key
//! can push out the sessions of others. They live in memory: a restart logs
//! everyone out.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngExt;
use sha2::{Digest, Sha256};

use crate::api::access::keys::Authorized;

/// How long a session lasts after its login.
pub const SESSION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Sessions one key (the one a login used) holds at most.
pub const MAX_SESSIONS_PER_KEY: usize = 1_000;
/// Read keys one session may hold (one per project in practice).
const MAX_KEYS: usize = 16;

#[derive(Debug, Default)]
pub struct SessionStore {
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    /// By SHA-256 of the id: the table never holds a usable id.
    sessions: HashMap<[u8; 32], Session>,
    /// The sessions each key logged in, oldest first (ended ones linger
    /// until their turn comes).
    by_key: HashMap<Authorized, VecDeque<[u8; 32]>>,
}

#[derive(Debug, Clone)]
struct Session {
    /// The read keys entered, most recent first.
    keys: Vec<Authorized>,
    expires: Instant,
}

impl SessionStore {
    /// The read keys of the session `id`, if it exists and has not expired.
    pub fn keys(&self, id: &str) -> Option<Vec<Authorized>> {
        let mut table = self.table.lock().expect("sessions lock");
        let digest = digest(id);
        let session = table.sessions.get(&digest)?;
        if session.expires <= Instant::now() {
            table.sessions.remove(&digest);
            return None;
        }
        Some(session.keys.clone())
    }

    /// Starts a session holding `key` and the keys of the session `old` (which
    /// ends); returns the new id.
    pub fn log_in(&self, old: Option<&str>, key: Authorized) -> String {
        let mut keys = vec![key];
        if let Some(old) = old {
            let previous = self.keys(old).unwrap_or_default();
            keys.extend(previous.into_iter().filter(|k| *k != key));
            self.log_out(old);
        }
        keys.truncate(MAX_KEYS);
        let id = URL_SAFE_NO_PAD.encode(rand::rng().random::<[u8; 32]>());
        let mut table = self.table.lock().expect("sessions lock");
        let Table { sessions, by_key } = &mut *table;
        let of_key = by_key.entry(key).or_default();
        // Forget what has ended; past the bound, the key's oldest goes.
        of_key.retain(|d| sessions.contains_key(d));
        while of_key.len() >= MAX_SESSIONS_PER_KEY {
            let oldest = of_key.pop_front().expect("not empty");
            sessions.remove(&oldest);
        }
        let expires = Instant::now() + SESSION_TTL;
        let digest = digest(&id);
        of_key.push_back(digest);
        sessions.insert(digest, Session { keys, expires });
        id
    }

    pub fn log_out(&self, id: &str) {
        self.table
            .lock()
            .expect("sessions lock")
            .sessions
            .remove(&digest(id));
    }
}

fn digest(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(project: usize) -> Authorized {
        Authorized::for_tests(project)
    }

    #[test]
    fn a_login_starts_a_new_session_that_keeps_the_earlier_keys() {
        let store = SessionStore::default();
        let first = store.log_in(None, key(0));
        assert_eq!(store.keys(&first), Some(vec![key(0)]));
        let second = store.log_in(Some(&first), key(1));
        assert_ne!(first, second);
        assert_eq!(store.keys(&first), None, "the old id ends");
        assert_eq!(store.keys(&second), Some(vec![key(1), key(0)]));
        store.log_out(&second);
        assert_eq!(store.keys(&second), None);
        assert_eq!(store.keys("made-up"), None);
    }

    #[test]
    fn one_key_s_logins_push_out_only_its_own_oldest_sessions() {
        let store = SessionStore::default();
        let other = store.log_in(None, key(1));
        let first = store.log_in(None, key(0));
        for _ in 0..(3 * MAX_SESSIONS_PER_KEY) {
            store.log_in(None, key(0));
        }
        assert_eq!(
            store.keys(&other),
            Some(vec![key(1)]),
            "another key's session stays"
        );
        assert_eq!(store.keys(&first), None, "the key's oldest went");
        let table = store.table.lock().unwrap();
        assert_eq!(table.sessions.len(), MAX_SESSIONS_PER_KEY + 1);
    }

    #[test]
    fn ids_are_long_and_random() {
        let store = SessionStore::default();
        let (a, b) = (store.log_in(None, key(0)), store.log_in(None, key(0)));
        assert_ne!(a, b);
        assert_eq!(a.len(), 43, "32 bytes in base64url");
    }
}
