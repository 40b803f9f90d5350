//! ULIDs name blocks: 48 bits of milliseconds since the epoch and 80 random bits, written as 26 characters of
//! Crockford's base32, so names sort by creation time. A small generator instead of a crate: the format is a few
//! lines, and the randomness only has to make names unique (std's per-process random hash keys provide it).

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A 128-bit ULID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ulid(pub u128);

/// A string that is not a ULID.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid ULID {0:?}")]
pub struct UlidError(pub String);

impl Ulid {
    /// A new ULID for the current time.
    pub fn new() -> Ulid {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Ulid::with_time(ms)
    }

    /// A new ULID with the given timestamp (ms) and fresh randomness.
    pub fn with_time(ms: u64) -> Ulid {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let state = RandomState::new();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let hi = state.hash_one((n, 0u8));
        let lo = state.hash_one((n, 1u8));
        let random = ((u128::from(hi) << 64) | u128::from(lo)) & ((1u128 << 80) - 1);
        Ulid((u128::from(ms & ((1 << 48) - 1)) << 80) | random)
    }

    /// The timestamp part (ms).
    pub fn timestamp_ms(&self) -> u64 {
        (self.0 >> 80) as u64
    }
}

impl Default for Ulid {
    fn default() -> Self {
        Ulid::new()
    }
}

impl fmt::Display for Ulid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = [0u8; 26];
        for (i, c) in s.iter_mut().enumerate() {
            let shift = 125 - 5 * i as u32;
            *c = ALPHABET[((self.0 >> shift) & 31) as usize];
        }
        f.write_str(std::str::from_utf8(&s).map_err(|_| fmt::Error)?)
    }
}

impl FromStr for Ulid {
    type Err = UlidError;

    fn from_str(s: &str) -> Result<Ulid, UlidError> {
        let err = || UlidError(s.to_string());
        if s.len() != 26 {
            return Err(err());
        }
        let mut v: u128 = 0;
        for (i, b) in s.bytes().enumerate() {
            let d = ALPHABET
                .iter()
                .position(|&a| a == b.to_ascii_uppercase())
                .ok_or_else(err)? as u128;
            if i == 0 && d > 7 {
                return Err(err());
            }
            v = (v << 5) | d;
        }
        Ok(Ulid(v))
    }
}

impl serde::Serialize for Ulid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Ulid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Ulid, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_order() {
        // The spec's example: time 1469918176385 is "01ARYZ6S41" followed by the randomness.
        let known = "01ARYZ6S41TSV4RRFFQ69G5FAV";
        let u: Ulid = known.parse().unwrap();
        assert_eq!(u.to_string(), known);
        assert_eq!(u.timestamp_ms(), 1_469_918_176_385);
        assert!(Ulid::with_time(1_469_918_176_385).to_string().starts_with("01ARYZ6S41"));
        let a = Ulid::with_time(1000);
        let b = Ulid::with_time(1001);
        assert!(a < b && a.to_string() < b.to_string());
        assert_ne!(Ulid::with_time(5), Ulid::with_time(5));
        for bad in [
            "",
            "8ZZZZZZZZZZZZZZZZZZZZZZZZZ",
            "01ARZ3NDEKTSV4RRFFQ69G5FA!",
            "01ARZ3NDEKTSV4RRFFQ69G5FA",
        ] {
            assert!(bad.parse::<Ulid>().is_err(), "{bad}");
        }
    }
}
