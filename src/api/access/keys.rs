//! API keys: which project a bearer token names, whether it may write or
//! read, and its token bucket (the rate limits of its project). A token is
//! compared with every key as SHA-256 digests of fixed length, in constant
//! time and without stopping at a match, so that timing reveals neither how
//! close a guess was nor how long the keys are.

use std::num::NonZeroU32;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::api::error::ApiError;
use crate::config::ProjectSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    Ingest,
    Read,
}

#[derive(Debug)]
struct KeyEntry {
    digest: [u8; 32],
    project: usize,
    role: KeyRole,
    /// Ingest keys count events, read keys requests.
    bucket: DefaultDirectRateLimiter,
    burst: u32,
}

/// A key that passed [`KeyRing::authorize`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Authorized {
    pub project: usize,
    entry: usize,
}

impl Authorized {
    /// A stand-in for unit tests of code that only stores keys.
    #[cfg(test)]
    pub fn for_tests(project: usize) -> Self {
        Self {
            project,
            entry: project,
        }
    }
}

fn bucket(per_s: u32, burst: u32) -> DefaultDirectRateLimiter {
    let at_least_one = |n: u32| NonZeroU32::new(n.max(1)).expect("positive");
    RateLimiter::direct(Quota::per_second(at_least_one(per_s)).allow_burst(at_least_one(burst)))
}

/// Every key of every project.
#[derive(Debug)]
pub struct KeyRing {
    entries: Vec<KeyEntry>,
}

impl KeyRing {
    pub fn new(projects: &[ProjectSettings]) -> Self {
        let mut entries = Vec::new();
        for (project, settings) in projects.iter().enumerate() {
            let limits = settings.rate_limits;
            let roles = [
                (
                    &settings.ingest_keys,
                    KeyRole::Ingest,
                    (limits.ingest_events_per_s, limits.ingest_burst_events),
                ),
                (
                    &settings.read_keys,
                    KeyRole::Read,
                    (limits.read_requests_per_s, limits.read_burst_requests),
                ),
            ];
            for (keys, role, (per_s, burst)) in roles {
                entries.extend(keys.iter().map(|k| KeyEntry {
                    digest: Sha256::digest(k.as_bytes()).into(),
                    project,
                    role,
                    bucket: bucket(per_s, burst),
                    burst: burst.max(1),
                }));
            }
        }
        Self { entries }
    }

    /// The project index and role of `token`. Every entry is compared, so the
    /// time taken does not depend on where (or whether) the key matches.
    pub fn lookup(&self, token: &[u8]) -> Option<(usize, KeyRole)> {
        self.find(token)
            .map(|i| (self.entries[i].project, self.entries[i].role))
    }

    /// `token` as a read key, if it is one.
    pub fn read_key(&self, token: &[u8]) -> Option<Authorized> {
        let entry = self.find(token)?;
        (self.entries[entry].role == KeyRole::Read).then_some(Authorized {
            project: self.entries[entry].project,
            entry,
        })
    }

    /// The read key whose SHA-256 is `hex` (as dashboard sessions keep
    /// it), if the configuration still has it.
    pub fn read_key_by_digest(&self, hex: &str) -> Option<Authorized> {
        let digest: [u8; 32] = hex::decode(hex).ok()?.try_into().ok()?;
        let entry = self
            .entries
            .iter()
            .position(|e| e.role == KeyRole::Read && e.digest == digest)?;
        Some(Authorized {
            project: self.entries[entry].project,
            entry,
        })
    }

    /// The SHA-256 of `key`, in hex: how sessions name it without keeping it.
    pub fn digest_hex(&self, key: Authorized) -> String {
        hex::encode(self.entries[key.entry].digest)
    }

    fn find(&self, token: &[u8]) -> Option<usize> {
        let digest: [u8; 32] = Sha256::digest(token).into();
        let mut found = None;
        for (i, entry) in self.entries.iter().enumerate() {
            if bool::from(entry.digest.ct_eq(&digest)) {
                found = Some(i);
            }
        }
        found
    }

    /// Takes `cost` tokens (events or requests) from the key's bucket, or
    /// says how long to wait for them.
    pub fn throttle(&self, key: Authorized, cost: usize) -> Result<(), ApiError> {
        let bucket = &self.entries[key.entry].bucket;
        let n = NonZeroU32::new(u32::try_from(cost.max(1)).unwrap_or(u32::MAX)).expect("positive");
        match bucket.check_n(n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => {
                let wait = not_until.wait_time_from(bucket.clock().now());
                Err(ApiError::RateLimited {
                    retry_after_s: wait.as_secs_f64().ceil().max(1.0) as u64,
                })
            }
            Err(capacity) => Err(ApiError::OverBurst {
                cost,
                burst: capacity.0,
            }),
        }
    }

    /// Takes the rest of a batch's `total` cost when `paid` tokens were
    /// taken before it could be counted. A batch larger than the burst could
    /// never pass: that is `OverBurst` (413), not a wait.
    pub fn throttle_rest(
        &self,
        key: Authorized,
        total: usize,
        paid: usize,
    ) -> Result<(), ApiError> {
        let burst = self.entries[key.entry].burst;
        if total > burst as usize {
            return Err(ApiError::OverBurst { cost: total, burst });
        }
        match total.checked_sub(paid) {
            Some(rest) if rest > 0 => self.throttle(key, rest),
            _ => Ok(()),
        }
    }

    /// Takes up to `cost` tokens from the key's bucket — about as many as
    /// it holds, halving the ask until it fits; never refuses. For work
    /// already done that must still cost its client.
    pub fn charge(&self, key: Authorized, cost: usize) {
        let bucket = &self.entries[key.entry].bucket;
        let mut n = u32::try_from(cost).unwrap_or(u32::MAX);
        while let Some(take) = NonZeroU32::new(n) {
            match bucket.check_n(take) {
                Ok(Ok(())) => return,
                // Fewer tokens left than asked for: take what is there.
                Ok(Err(_)) => n /= 2,
                Err(capacity) => n = capacity.0,
            }
        }
    }

    /// The key of a request and the project it may act on with `role`, from
    /// its `Authorization: Bearer` header.
    pub fn authorize(&self, headers: &HeaderMap, role: KeyRole) -> Result<Authorized, ApiError> {
        let token = bearer_token(headers).ok_or(ApiError::MissingKey)?;
        self.authorize_token(token, role)
    }

    /// [`authorize`](Self::authorize) for a key sent another way (in a
    /// PostHog body, say).
    pub fn authorize_token(&self, token: &[u8], role: KeyRole) -> Result<Authorized, ApiError> {
        let entry = self.find(token).ok_or(ApiError::UnknownKey)?;
        match self.entries[entry].role {
            found if found == role => Ok(Authorized {
                project: self.entries[entry].project,
                entry,
            }),
            KeyRole::Read => Err(ApiError::WrongKeyRole(
                "this is a read key; sending events needs an ingest key",
            )),
            KeyRole::Ingest => Err(ApiError::WrongKeyRole(
                "this is an ingest key; reading needs a read key",
            )),
        }
    }
}

/// The token of an `Authorization: Bearer` header, if there is one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&[u8]> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .map(|t| t.trim_ascii())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> KeyRing {
        KeyRing::new(&[
            ProjectSettings::new("a", "ingest-a-0123456789", "read-a-0123456789ab"),
            ProjectSettings::new("b", "ingest-b-0123456789", "read-b-0123456789ab"),
        ])
    }

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, value.parse().unwrap());
        h
    }

    #[test]
    fn keys_resolve_to_their_own_project_and_role() {
        let ring = ring();
        assert_eq!(
            ring.lookup(b"ingest-b-0123456789"),
            Some((1, KeyRole::Ingest))
        );
        assert_eq!(
            ring.lookup(b"read-a-0123456789ab"),
            Some((0, KeyRole::Read))
        );
        assert_eq!(ring.lookup(b"ingest-b-012345678"), None);
        assert_eq!(ring.lookup(b""), None);
    }

    #[test]
    fn authorize_distinguishes_missing_unknown_and_wrong_role() {
        let ring = ring();
        let ok = ring.authorize(&headers("Bearer ingest-a-0123456789"), KeyRole::Ingest);
        assert_eq!(ok.unwrap().project, 0);
        assert!(matches!(
            ring.authorize(&HeaderMap::new(), KeyRole::Ingest),
            Err(ApiError::MissingKey)
        ));
        assert!(matches!(
            ring.authorize(&headers("Basic x"), KeyRole::Ingest),
            Err(ApiError::MissingKey)
        ));
        assert!(matches!(
            ring.authorize(&headers("Bearer nope"), KeyRole::Ingest),
            Err(ApiError::UnknownKey)
        ));
        assert!(matches!(
            ring.authorize(&headers("Bearer read-a-0123456789ab"), KeyRole::Ingest),
            Err(ApiError::WrongKeyRole(_))
        ));
    }

    #[test]
    fn each_key_has_its_own_bucket_sized_by_its_project() {
        let mut small = ProjectSettings::new("a", "ingest-a-0123456789", "read-a-0123456789ab");
        small.rate_limits.ingest_events_per_s = 1;
        small.rate_limits.ingest_burst_events = 100;
        small.rate_limits.read_requests_per_s = 1;
        small.rate_limits.read_burst_requests = 2;
        let other = ProjectSettings::new("b", "ingest-b-0123456789", "read-b-0123456789ab");
        let ring = KeyRing::new(&[small, other]);
        let key = |k: &str, role| {
            ring.authorize(&headers(&format!("Bearer {k}")), role)
                .unwrap()
        };
        let a_ingest = key("ingest-a-0123456789", KeyRole::Ingest);
        ring.throttle(a_ingest, 60).unwrap();
        assert!(matches!(
            ring.throttle(a_ingest, 60),
            Err(ApiError::RateLimited { retry_after_s }) if retry_after_s >= 1
        ));
        assert!(matches!(
            ring.throttle(a_ingest, 101),
            Err(ApiError::OverBurst {
                cost: 101,
                burst: 100
            })
        ));
        // The other project's key is untouched by a's exhaustion.
        ring.throttle(key("ingest-b-0123456789", KeyRole::Ingest), 100_000)
            .unwrap();
        let a_read = key("read-a-0123456789ab", KeyRole::Read);
        ring.throttle(a_read, 1).unwrap();
        ring.throttle(a_read, 1).unwrap();
        assert!(ring.throttle(a_read, 1).is_err());
    }
}
