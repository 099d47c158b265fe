//! `Runtime::metrics`: counters that say what a runtime is doing.
//!
//! Read without stopping anything, from counters the workers keep anyway
//! or write with plain stores (each counter has one writer), so keeping
//! them costs the hot path nothing measurable. Sums over workers are not
//! one atomic snapshot: under load, two fields may be a moment apart.

use std::sync::atomic::Ordering;

use crate::scheduler::Shared;
use crate::stack;

/// A runtime's counters at one moment, from [`Runtime::metrics`].
///
/// [`Runtime::metrics`]: crate::Runtime::metrics
///
/// # Examples
///
/// ```
/// let rt = gort_runtime::Runtime::builder().workers(2).build().unwrap();
/// rt.block_on(|| ());
/// let m = rt.metrics();
/// assert_eq!(m.workers, 2);
/// assert_eq!(m.goroutines_created, 1); // block_on's goroutine
/// assert_eq!(m.queue_depths.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeMetrics {
    /// Regular worker threads (spares not included).
    pub workers: usize,
    /// Goroutines alive now: spawned and not yet returned, parked or not
    /// (what [`num_goroutine`](crate::num_goroutine) reports).
    pub goroutines_live: usize,
    /// Goroutines spawned since the runtime was built.
    pub goroutines_created: u64,
    /// Runnable goroutines queued on each worker (its local queue plus its
    /// `runnext` slot): regular workers first, then each spare started.
    pub queue_depths: Vec<usize>,
    /// Runnable goroutines in the global queue (goroutines made runnable
    /// by plain threads, and overflow).
    pub global_queue_depth: usize,
    /// Times a worker took goroutines from another worker's queue.
    pub steals: u64,
    /// Times a goroutine parked (channel, select, sync, sleep, I/O).
    pub parks: u64,
    /// Spare threads started to stand in for workers stuck in one goroutine
    /// for over 10 ms; they never exceed the builder's `spare_threads`.
    pub spare_threads_started: usize,
    /// Spare threads working now (started and not retired).
    pub spare_threads_active: usize,
    /// Free goroutine stacks kept for reuse: the process-wide lists plus
    /// this runtime's workers' caches.
    pub stacks_pooled: usize,
    /// Goroutine stacks mapped in the process, all runtimes together: those
    /// in use plus the free ones (a scavenged stack stays mapped, its memory
    /// given back). `stacks_mapped - stacks_pooled` is roughly the stacks in
    /// use, in a process with one runtime.
    pub stacks_mapped: usize,
}

/// Reads `shared`'s counters.
pub(crate) fn read(shared: &Shared) -> RuntimeMetrics {
    let started = shared.workers + shared.spares.started();
    let slots = &shared.slots[..started];
    let (stacks_mapped, global_free) = stack::counts();
    let sum = |f: fn(&crate::scheduler::Slot) -> u64| slots.iter().map(f).sum();
    RuntimeMetrics {
        workers: shared.workers,
        goroutines_live: shared.registry.len(),
        goroutines_created: shared.registry.spawned(),
        queue_depths: slots
            .iter()
            .map(|s| s.stealer.len() + usize::from(!s.runnext.load(Ordering::Acquire).is_null()))
            .collect(),
        global_queue_depth: shared.injector.len(),
        steals: sum(|s| s.own.steals.load(Ordering::Relaxed)),
        parks: sum(|s| s.own.parks.load(Ordering::Relaxed)),
        spare_threads_started: shared.spares.threads(),
        spare_threads_active: shared.spares.active(),
        stacks_pooled: global_free + slots.iter().map(|s| s.own.pooled_stacks.load(Ordering::Relaxed)).sum::<usize>(),
        stacks_mapped,
    }
}
