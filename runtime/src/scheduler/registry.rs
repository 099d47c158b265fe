//! Every live goroutine of a runtime, for counting, dumps and shutdown.
//!
//! Go keeps `allgs`; we keep a sharded slab of `Arc<G>` so that spawn and
//! exit take one uncontended lock each. A goroutine's slot index is its
//! handle for removal. Holding the `Arc` here is what keeps a parked
//! goroutine (referenced otherwise only from wait queues) alive, and lets
//! shutdown find and unwind the goroutines that will never run again.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

use crate::goroutine::G;

/// Number of shards; a power of two, comfortably above the worker count.
const SHARDS: usize = 32;

#[derive(Default)]
struct Slab {
    slots: Vec<Option<Arc<G>>>,
    free: Vec<usize>,
}

/// The live goroutines of one runtime.
pub(crate) struct Registry {
    shards: [Mutex<Slab>; SHARDS],
    live: AtomicUsize,
}

impl Registry {
    pub(crate) fn new() -> Registry {
        Registry { shards: std::array::from_fn(|_| Mutex::new(Slab::default())), live: AtomicUsize::new(0) }
    }

    /// Adds a goroutine; returns the slot to remove it with.
    pub(crate) fn insert(&self, g: Arc<G>) -> usize {
        self.live.fetch_add(1, Ordering::Relaxed);
        let mut shard = self.shards[g.id as usize % SHARDS].lock();
        match shard.free.pop() {
            Some(slot) => {
                shard.slots[slot] = Some(g);
                slot
            }
            None => {
                shard.slots.push(Some(g));
                shard.slots.len() - 1
            }
        }
    }

    /// Removes the goroutine `id` from `slot`.
    pub(crate) fn remove(&self, id: u64, slot: usize) -> Option<Arc<G>> {
        let mut shard = self.shards[id as usize % SHARDS].lock();
        let g = shard.slots[slot].take();
        if g.is_some() {
            shard.free.push(slot);
            self.live.fetch_sub(1, Ordering::Relaxed);
        }
        g
    }

    /// Live goroutines now.
    pub(crate) fn len(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// Takes every goroutine out (shutdown).
    pub(crate) fn drain(&self) -> Vec<Arc<G>> {
        let mut all = Vec::new();
        for shard in &self.shards {
            let mut shard = shard.lock();
            all.extend(shard.slots.drain(..).flatten());
            shard.free.clear();
        }
        self.live.store(0, Ordering::Relaxed);
        all
    }

    /// A snapshot of every live goroutine.
    pub(crate) fn snapshot(&self) -> Vec<Arc<G>> {
        let mut all = Vec::with_capacity(self.len());
        for shard in &self.shards {
            all.extend(shard.lock().slots.iter().flatten().cloned());
        }
        all
    }
}
