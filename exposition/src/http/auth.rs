//! Basic authentication against the bcrypt hashes of `basic_auth_users`.
//!
//! As in exporter-toolkit, bcrypt runs one at a time (a flood of bad passwords cannot use every core), an
//! unknown user is checked against a fixed hash so response times do not reveal which users exist, and
//! successful checks are cached so a scrape every few seconds does not pay bcrypt's cost each time. The cache
//! holds keyed hashes of the credentials (never the password itself) and forgets entries when it is full or
//! the configured hash changes.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::Mutex;

use base64::Engine;

/// How many successful logins are remembered.
const CACHE_SIZE: usize = 100;

/// A bcrypt hash (cost 10) checked when the user is unknown, to even out response times.
const DECOY_HASH: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

/// Verifies `Authorization: Basic` credentials.
#[derive(Debug)]
pub(crate) struct BasicAuth {
    users: BTreeMap<String, String>,
    keys: (RandomState, RandomState),
    cache: Mutex<HashMap<(u64, u64), ()>>,
    bcrypt_lock: Mutex<()>,
}

impl BasicAuth {
    pub(crate) fn new(users: BTreeMap<String, String>) -> BasicAuth {
        BasicAuth {
            users,
            keys: (RandomState::new(), RandomState::new()),
            cache: Mutex::new(HashMap::new()),
            bcrypt_lock: Mutex::new(()),
        }
    }

    /// Whether any user is configured (authentication is required).
    pub(crate) fn enabled(&self) -> bool {
        !self.users.is_empty()
    }

    /// Checks an `Authorization` header value. Blocks while bcrypt runs: call from a blocking-capable thread.
    pub(crate) fn check(&self, authorization: Option<&[u8]>) -> bool {
        let Some((user, pass)) = authorization.and_then(parse_basic) else {
            return false;
        };
        let (known, hash) = match self.users.get(&user) {
            Some(hash) => (true, hash.as_str()),
            None => (false, DECOY_HASH),
        };
        let key = self.cache_key(&user, hash, &pass);
        if known && self.cache.lock().unwrap_or_else(|p| p.into_inner()).contains_key(&key) {
            return true;
        }
        let ok = {
            let _serial = self.bcrypt_lock.lock().unwrap_or_else(|p| p.into_inner());
            bcrypt::verify(&pass, hash).unwrap_or(false)
        };
        if known && ok {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= CACHE_SIZE {
                cache.clear();
            }
            cache.insert(key, ());
        }
        known && ok
    }

    /// Two independent keyed 64-bit hashes of (user, configured hash, password).
    fn cache_key(&self, user: &str, hash: &str, pass: &[u8]) -> (u64, u64) {
        let one = |state: &RandomState| {
            let mut h = state.build_hasher();
            for part in [user.as_bytes(), hash.as_bytes(), pass] {
                h.write_usize(part.len());
                h.write(part);
            }
            h.finish()
        };
        (one(&self.keys.0), one(&self.keys.1))
    }

    #[cfg(test)]
    fn cached(&self) -> usize {
        self.cache.lock().map(|c| c.len()).unwrap_or(0)
    }
}

/// Splits `Basic base64(user:pass)` (scheme case-insensitive, as Go's `Request.BasicAuth`).
fn parse_basic(value: &[u8]) -> Option<(String, Vec<u8>)> {
    let value = std::str::from_utf8(value).ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    let user = String::from_utf8(decoded[..colon].to_vec()).ok()?;
    Some((user, decoded[colon + 1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user: &str, pass: &str) -> Vec<u8> {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        )
        .into_bytes()
    }

    #[test]
    fn checks_and_caches() {
        let hash = bcrypt::hash("s3cret:x", 4).unwrap();
        let auth = BasicAuth::new(BTreeMap::from([("alice".to_string(), hash)]));
        assert!(auth.enabled());
        let cases: &[(Option<Vec<u8>>, bool)] = &[
            (Some(header("alice", "s3cret:x")), true),
            (Some(header("alice", "wrong")), false),
            (Some(header("bob", "s3cret:x")), false),
            (Some(b"Bearer abc".to_vec()), false),
            (Some(b"Basic !!!".to_vec()), false),
            (Some(b"basic YWxpY2U=".to_vec()), false),
            (None, false),
        ];
        for (h, want) in cases {
            assert_eq!(
                auth.check(h.as_deref()),
                *want,
                "{:?}",
                h.as_deref().map(String::from_utf8_lossy)
            );
        }
        assert_eq!(auth.cached(), 1, "only the success is cached");
        assert!(auth.check(Some(&header("alice", "s3cret:x"))));
        assert_eq!(auth.cached(), 1);
        let lower = format!(
            "basic {}",
            base64::engine::general_purpose::STANDARD.encode("alice:s3cret:x")
        );
        assert!(auth.check(Some(lower.as_bytes())));
        assert!(!BasicAuth::new(BTreeMap::new()).enabled());
    }
}
