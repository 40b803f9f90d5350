//! Lock-free bucket counts, sum and count that a scrape reads as one consistent snapshot.
//!
//! The scheme follows the Go client's histogram. There are two shards, each with bucket counts, a sum and a count
//! of finished observations. One word holds the hot shard index (top bit) and the number of observations started
//! (lower 63 bits). An observation increments that word, which also tells it the hot shard, then updates the
//! shard's bucket and sum, and increments the shard's count last.
//!
//! A snapshot (serialised by a mutex that observers never touch) flips the hot bit with one atomic add. From then
//! on new observations go to the other shard; the now-cold shard receives only the observations already started,
//! whose number the flip returned. The snapshot waits until the cold shard's count reaches that number, so the
//! buckets, sum and count it reads describe exactly the same observations. It then adds the cold shard into the hot
//! one and zeroes the cold shard, so the hot shard again holds the running totals.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::atomic::AtomicF64;

const HOT_BIT: u64 = 1 << 63;

#[derive(Debug)]
struct Shard {
    buckets: Box<[AtomicU64]>,
    sum: AtomicF64,
    count: AtomicU64,
}

impl Shard {
    fn new(buckets: usize) -> Shard {
        Shard {
            buckets: (0..buckets).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicF64::new(0.0),
            count: AtomicU64::new(0),
        }
    }
}

/// Bucket counts (not cumulative), sum and count for one instant.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Snapshot {
    pub(crate) buckets: Vec<u64>,
    pub(crate) sum: f64,
    pub(crate) count: u64,
}

/// Counts observations into a fixed number of buckets.
#[derive(Debug)]
pub(crate) struct HotCold {
    count_and_hot: AtomicU64,
    shards: [Shard; 2],
    snapshot_lock: Mutex<()>,
}

impl HotCold {
    pub(crate) fn new(buckets: usize) -> HotCold {
        HotCold {
            count_and_hot: AtomicU64::new(0),
            shards: [Shard::new(buckets), Shard::new(buckets)],
            snapshot_lock: Mutex::new(()),
        }
    }

    /// Records `v` in bucket `bucket` (which must be in range).
    #[inline]
    pub(crate) fn observe(&self, bucket: usize, v: f64) {
        let n = self.count_and_hot.fetch_add(1, Ordering::AcqRel);
        let shard = &self.shards[(n >> 63) as usize];
        if let Some(b) = shard.buckets.get(bucket) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        shard.sum.add(v);
        shard.count.fetch_add(1, Ordering::Release);
    }

    /// A consistent snapshot of all observations so far.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let _guard = self.snapshot_lock.lock().unwrap_or_else(|p| p.into_inner());
        let n = self.count_and_hot.fetch_add(HOT_BIT, Ordering::AcqRel);
        let started = n & !HOT_BIT;
        let cold_index = (n >> 63) as usize;
        let cold = &self.shards[cold_index];
        let hot = &self.shards[cold_index ^ 1];
        let mut spins = 0u32;
        while cold.count.load(Ordering::Acquire) != started {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        let snap = Snapshot {
            buckets: cold.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect(),
            sum: cold.sum.get(),
            count: started,
        };
        for (c, h) in cold.buckets.iter().zip(hot.buckets.iter()) {
            h.fetch_add(c.swap(0, Ordering::Relaxed), Ordering::Relaxed);
        }
        hot.sum.add(cold.sum.get());
        cold.sum.set(0.0);
        hot.count
            .fetch_add(cold.count.swap(0, Ordering::AcqRel), Ordering::AcqRel);
        snap
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn snapshots_are_consistent_under_concurrent_observation() {
        let hc = Arc::new(HotCold::new(2));
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..2)
            .map(|t| {
                let hc = Arc::clone(&hc);
                std::thread::spawn(move || {
                    for i in 0..50_000u64 {
                        // Every observation adds 1 to the sum, so sum == count == bucket total in every snapshot.
                        hc.observe(((i + t) % 2) as usize, 1.0);
                    }
                })
            })
            .collect();
        let reader = {
            let hc = Arc::clone(&hc);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut last = 0;
                while !stop.load(Ordering::Relaxed) {
                    let s = hc.snapshot();
                    assert_eq!(s.buckets.iter().sum::<u64>(), s.count);
                    assert_eq!(s.sum, s.count as f64);
                    assert!(s.count >= last);
                    last = s.count;
                }
            })
        };
        for w in writers {
            w.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        reader.join().unwrap();
        let s = hc.snapshot();
        assert_eq!(
            s,
            Snapshot {
                buckets: vec![50_000, 50_000],
                sum: 100_000.0,
                count: 100_000
            }
        );
        assert_eq!(hc.snapshot(), s, "a snapshot must not change the totals");
    }
}
