//! Every live goroutine of a runtime, for counting, dumps and shutdown.
//!
//! Go keeps `allgs`; we keep one slab of `Arc<G>` per *spawner* (each
//! worker, plus one shared by plain threads). Holding the `Arc` here is what
//! keeps a parked goroutine (referenced otherwise only from wait queues)
//! alive, and lets shutdown find and unwind the goroutines that will never
//! run again.
//!
//! Spawning inserts into the spawner's own slab, whose lock and lines stay
//! in that worker's cache. A goroutine usually ends on another worker,
//! which removes it from the spawner's slab: to keep that from moving the
//! slab's lock between caches on every goroutine, finished goroutines are
//! removed in batches ([`Registry::remove_batch`], one lock per slab per
//! batch). The live count is kept apart, as two padded counters per actor
//! (goroutines it spawned, goroutines that ended on it): live is spawned
//! minus ended, exact as soon as a goroutine ends even while its removal is
//! batched, and the spawned total is `RuntimeMetrics::goroutines_created`.
//!
//! A goroutine between its end and its batched removal is still in a slab,
//! finished: [`Registry::snapshot`] leaves such goroutines out.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::goroutine::G;

#[derive(Default)]
struct Slab {
    slots: Vec<Option<Arc<G>>>,
    free: Vec<usize>,
}

/// One actor's counters, alone on their cache line(s), so actors do not
/// false-share.
#[derive(Default)]
#[repr(align(128))]
struct Counts {
    /// Spawned here.
    spawned: AtomicU64,
    /// Ended here.
    ended: AtomicU64,
}

/// The live goroutines of one runtime.
pub(crate) struct Registry {
    /// One slab per worker, then one for plain threads.
    slabs: Box<[Mutex<Slab>]>,
    /// Per actor (same indexes).
    counts: Box<[Counts]>,
}

/// Where a goroutine sits in the registry: (slab, slot).
pub(crate) type Place = (usize, usize);

impl Registry {
    /// A registry for `workers` workers.
    pub(crate) fn new(workers: usize) -> Registry {
        Registry {
            slabs: (0..=workers).map(|_| Mutex::new(Slab::default())).collect(),
            counts: (0..=workers).map(|_| Counts::default()).collect(),
        }
    }

    /// The actor index of a plain thread (not a worker).
    fn outside(&self) -> usize {
        self.slabs.len() - 1
    }

    /// Adds a goroutine spawned by worker `spawner` (`None`: a plain thread).
    pub(crate) fn insert(&self, spawner: Option<usize>, g: Arc<G>) -> Place {
        let index = spawner.unwrap_or(self.outside());
        self.counts[index].spawned.fetch_add(1, Ordering::Relaxed);
        let mut slab = self.slabs[index].lock();
        let slot = match slab.free.pop() {
            Some(slot) => {
                slab.slots[slot] = Some(g);
                slot
            }
            None => {
                slab.slots.push(Some(g));
                slab.slots.len() - 1
            }
        };
        (index, slot)
    }

    /// Counts a goroutine that just ended on worker `worker`; its slot is
    /// freed later by [`remove_batch`](Self::remove_batch).
    pub(crate) fn ended(&self, worker: usize) {
        self.counts[worker].ended.fetch_add(1, Ordering::Relaxed);
    }

    /// Frees the slots of ended goroutines, one lock per slab.
    pub(crate) fn remove_batch(&self, places: &mut [Place]) {
        places.sort_unstable_by_key(|p| p.0);
        for group in places.chunk_by(|a, b| a.0 == b.0) {
            let mut slab = self.slabs[group[0].0].lock();
            for &(_, slot) in group {
                // Only a count decrement: the caller still holds the goroutine.
                if slab.slots[slot].take().is_some() {
                    slab.free.push(slot);
                }
            }
        }
    }

    /// Live goroutines now.
    pub(crate) fn len(&self) -> usize {
        // Ended first, so a goroutine ending between the two sums is
        // usually counted in both; the sums are not one snapshot, hence
        // the saturation.
        let ended: u64 = self.counts.iter().map(|c| c.ended.load(Ordering::Relaxed)).sum();
        self.spawned().saturating_sub(ended) as usize
    }

    /// Goroutines spawned since the runtime was built.
    pub(crate) fn spawned(&self) -> u64 {
        self.counts.iter().map(|c| c.spawned.load(Ordering::Relaxed)).sum()
    }

    /// Takes every goroutine out (shutdown).
    pub(crate) fn drain(&self) -> Vec<Arc<G>> {
        let mut all = Vec::new();
        for slab in self.slabs.iter() {
            let mut slab = slab.lock();
            all.extend(slab.slots.drain(..).flatten());
            slab.free.clear();
        }
        for counts in self.counts.iter() {
            counts.ended.store(counts.spawned.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        all
    }

    /// A snapshot of every live goroutine (ended ones left out).
    pub(crate) fn snapshot(&self) -> Vec<Arc<G>> {
        let mut all = Vec::with_capacity(self.len());
        for slab in self.slabs.iter() {
            all.extend(slab.lock().slots.iter().flatten().filter(|g| !g.park.is_done()).cloned());
        }
        all
    }
}
