//! API keys: which project a bearer token names, and whether it may write or
//! read. Keys are compared in constant time so that timing reveals nothing
//! about how close a guess was.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::config::ProjectSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    Ingest,
    Read,
}

#[derive(Debug)]
struct KeyEntry {
    key: Vec<u8>,
    project: usize,
    role: KeyRole,
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
            let roles = [
                (&settings.ingest_keys, KeyRole::Ingest),
                (&settings.read_keys, KeyRole::Read),
            ];
            for (keys, role) in roles {
                entries.extend(keys.iter().map(|k| KeyEntry {
                    key: k.as_bytes().to_vec(),
                    project,
                    role,
                }));
            }
        }
        Self { entries }
    }

    /// The project index and role of `token`. Every entry is compared, so the
    /// time taken does not depend on where (or whether) the key matches.
    pub fn lookup(&self, token: &[u8]) -> Option<(usize, KeyRole)> {
        let mut found = None;
        for entry in &self.entries {
            if bool::from(entry.key.as_slice().ct_eq(token)) {
                found = Some((entry.project, entry.role));
            }
        }
        found
    }

    /// The project a request may act on with `role`, from its
    /// `Authorization: Bearer` header.
    pub fn authorize(&self, headers: &HeaderMap, role: KeyRole) -> Result<usize, ApiError> {
        let token = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
            .map(|t| t.trim_ascii())
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::MissingKey)?;
        match self.lookup(token) {
            None => Err(ApiError::UnknownKey),
            Some((project, found)) if found == role => Ok(project),
            Some((_, KeyRole::Read)) => Err(ApiError::WrongKeyRole(
                "this is a read key; sending events needs an ingest key",
            )),
            Some((_, KeyRole::Ingest)) => Err(ApiError::WrongKeyRole(
                "this is an ingest key; reading needs a read key",
            )),
        }
    }
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
        assert_eq!(ok.unwrap(), 0);
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
}
