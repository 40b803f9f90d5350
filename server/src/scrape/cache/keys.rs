//! The scrape cache's index from series text (`name{labels}` as the target writes it) to cache entry: the texts
//! of all series of a target live in one byte arena, and the hash table holds only entry numbers (4 bytes a slot),
//! where a map of boxed keys would spend a 16-byte key, an allocation header and rounding per series.

use std::hash::BuildHasher;

use hashbrown::HashTable;

/// Series texts and their entry numbers (`0..len`, in insertion order).
#[derive(Default)]
pub(super) struct SeriesKeys {
    /// Every key, concatenated.
    arena: Vec<u8>,
    /// The end of key `i` in `arena` (it starts where key `i - 1` ends).
    ends: Vec<usize>,
    table: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
}

impl std::fmt::Debug for SeriesKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeriesKeys")
            .field("len", &self.ends.len())
            .field("bytes", &self.arena.len())
            .finish_non_exhaustive()
    }
}

/// Key `i` of `arena`/`ends`.
fn key<'a>(arena: &'a [u8], ends: &[usize], i: u32) -> &'a [u8] {
    let i = i as usize;
    let start = if i == 0 { 0 } else { ends[i - 1] };
    &arena[start..ends[i]]
}

impl SeriesKeys {
    /// The entry number of `text`.
    pub(super) fn get(&self, text: &[u8]) -> Option<u32> {
        let hash = self.hasher.hash_one(text);
        self.table
            .find(hash, |&i| key(&self.arena, &self.ends, i) == text)
            .copied()
    }

    /// Adds `text` (not present) as the next entry number, which it returns.
    pub(super) fn insert(&mut self, text: &[u8]) -> u32 {
        let i = self.ends.len() as u32;
        self.arena.extend_from_slice(text);
        self.ends.push(self.arena.len());
        let hash = self.hasher.hash_one(text);
        let (arena, ends, hasher) = (&self.arena, &self.ends, &self.hasher);
        self.table
            .insert_unique(hash, i, |&j| hasher.hash_one(key(arena, ends, j)));
        i
    }

    /// Number of keys.
    pub(super) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Keeps the keys whose `keep` flag is set, renumbered in order (`0..kept`).
    pub(super) fn retain(&mut self, keep: &[bool]) {
        let mut arena = Vec::new();
        let mut ends = Vec::new();
        for (i, _) in keep.iter().enumerate().filter(|(_, k)| **k) {
            arena.extend_from_slice(key(&self.arena, &self.ends, i as u32));
            ends.push(arena.len());
        }
        self.arena = arena;
        self.ends = ends;
        self.table = HashTable::with_capacity(self.ends.len());
        for i in 0..self.ends.len() as u32 {
            let hash = self.hasher.hash_one(key(&self.arena, &self.ends, i));
            let (arena, ends, hasher) = (&self.arena, &self.ends, &self.hasher);
            self.table
                .insert_unique(hash, i, |&j| hasher.hash_one(key(arena, ends, j)));
        }
        self.shrink();
    }

    /// Gives back the arena's spare capacity (after a scrape added series: targets rarely grow afterwards).
    pub(super) fn shrink(&mut self) {
        self.arena.shrink_to_fit();
        self.ends.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_renumbered_and_kept_apart() {
        let mut k = SeriesKeys::default();
        let texts: Vec<String> = (0..1000).map(|i| format!("m{{a=\"{i}\"}}")).collect();
        for (i, t) in texts.iter().enumerate() {
            assert_eq!(k.get(t.as_bytes()), None);
            assert_eq!(k.insert(t.as_bytes()), i as u32);
        }
        // Prefixes and concatenations of neighbours are not keys.
        assert_eq!(k.get(b"m{a=\"1\"}m{a=\"2\"}"), None);
        assert_eq!(k.get(b"m{a="), None);
        assert_eq!(k.get(b""), None);
        for (i, t) in texts.iter().enumerate() {
            assert_eq!(k.get(t.as_bytes()), Some(i as u32));
        }
        let keep: Vec<bool> = (0..1000).map(|i| i % 3 == 0).collect();
        k.retain(&keep);
        assert_eq!(k.len(), 334);
        for (i, t) in texts.iter().enumerate() {
            let want = (i % 3 == 0).then_some((i / 3) as u32);
            assert_eq!(k.get(t.as_bytes()), want, "{t}");
        }
        assert_eq!(k.insert(b""), 334);
        assert_eq!(k.get(b""), Some(334));
    }
}
