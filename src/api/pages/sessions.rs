//! Dashboard sessions, kept on the server. The browser's cookie holds only
//! an opaque random id (256 bits); the session maps it to the read keys
//! entered in that browser, so the cookie carries no key material. Sessions
//! expire, end at logout, and a login always starts a new id (so an id
//! planted before login is worth nothing after it). They live in memory: a
//! restart logs everyone out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngExt;
use sha2::{Digest, Sha256};

use crate::api::access::keys::Authorized;

/// How long a session lasts after its login.
pub const SESSION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Sessions held at most; past it the ones closest to expiry go first.
const MAX_SESSIONS: usize = 100_000;
/// Read keys one session may hold (one per project in practice).
const MAX_KEYS: usize = 16;

#[derive(Debug, Default)]
pub struct SessionStore {
    /// By SHA-256 of the id: the table never holds a usable id.
    sessions: Mutex<HashMap<[u8; 32], Session>>,
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
        let mut sessions = self.sessions.lock().expect("sessions lock");
        let digest = digest(id);
        let session = sessions.get(&digest)?;
        if session.expires <= Instant::now() {
            sessions.remove(&digest);
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
        let mut sessions = self.sessions.lock().expect("sessions lock");
        if sessions.len() >= MAX_SESSIONS {
            let now = Instant::now();
            sessions.retain(|_, s| s.expires > now);
            while sessions.len() >= MAX_SESSIONS {
                let soonest = *sessions
                    .iter()
                    .min_by_key(|(_, s)| s.expires)
                    .expect("not empty")
                    .0;
                sessions.remove(&soonest);
            }
        }
        let expires = Instant::now() + SESSION_TTL;
        sessions.insert(digest(&id), Session { keys, expires });
        id
    }

    pub fn log_out(&self, id: &str) {
        self.sessions
            .lock()
            .expect("sessions lock")
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
    fn ids_are_long_and_random() {
        let store = SessionStore::default();
        let (a, b) = (store.log_in(None, key(0)), store.log_in(None, key(0)));
        assert_ne!(a, b);
        assert_eq!(a.len(), 43, "32 bytes in base64url");
    }
}
