//! `WaitGroup`: wait for a collection of goroutines to finish (Go's
//! `sync.WaitGroup`).
//!
//! The counter is one atomic, so `add`/`done` cost one read-modify-write
//! and take the lock only when the count reaches zero. Waiters park under
//! the lock after re-checking the count, and the release takes the same
//! lock, re-checks that the count is still zero, and wakes them, so a wake
//! can neither fall between a waiter's check and its park nor reach a
//! waiter of a later phase (the group reused after a `wait` returned). An
//! *epoch* counts releases: a waiter returns once the epoch it saw has
//! passed, even if the count went up again meanwhile.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use parking_lot::Mutex;

use crate::park::{WaitReason, Waiter, park};

/// Waits for a collection of goroutines to finish.
///
/// `Clone` shares the same group (like passing Go's `*sync.WaitGroup`).
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// let wg = gort_runtime::sync::WaitGroup::new();
/// let hits = Arc::new(AtomicUsize::new(0));
/// for _ in 0..10 {
///     wg.add(1);
///     let (wg, hits) = (wg.clone(), hits.clone());
///     gort_runtime::spawn(move || {
///         hits.fetch_add(1, Ordering::Relaxed);
///         wg.done();
///     });
/// }
/// wg.wait();
/// assert_eq!(hits.load(Ordering::Relaxed), 10);
/// ```
#[derive(Clone, Default)]
pub struct WaitGroup {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    count: AtomicI64,
    waiters: Mutex<Waiters>,
}

#[derive(Default)]
struct Waiters {
    epoch: u64,
    parked: Vec<Waiter>,
}

impl WaitGroup {
    /// A group with a count of zero.
    ///
    /// # Examples
    ///
    /// ```
    /// let wg = gort_runtime::sync::WaitGroup::new();
    /// wg.wait(); // nothing to wait for
    /// ```
    pub fn new() -> WaitGroup {
        WaitGroup::default()
    }

    /// Adds `delta` (which may be negative) to the count; when it reaches
    /// zero, every waiter is released.
    ///
    /// # Panics
    ///
    /// "sync: negative WaitGroup counter", as in Go, if the count drops
    /// below zero.
    ///
    /// # Examples
    ///
    /// ```
    /// let wg = gort_runtime::sync::WaitGroup::new();
    /// wg.add(2);
    /// wg.add(-2);
    /// wg.wait();
    /// ```
    pub fn add(&self, delta: i64) {
        let count = self.inner.count.fetch_add(delta, Ordering::AcqRel) + delta;
        if count < 0 {
            panic!("sync: negative WaitGroup counter");
        }
        if count == 0 && delta != 0 {
            self.release();
        }
    }

    /// Decrements the count by one (`add(-1)`).
    ///
    /// # Examples
    ///
    /// ```
    /// let wg = gort_runtime::sync::WaitGroup::new();
    /// wg.add(1);
    /// let w = wg.clone();
    /// gort_runtime::spawn(move || w.done());
    /// wg.wait();
    /// ```
    pub fn done(&self) {
        self.add(-1);
    }

    /// Parks until the count is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// let wg = gort_runtime::sync::WaitGroup::new();
    /// wg.add(1);
    /// let w = wg.clone();
    /// std::thread::spawn(move || w.done());
    /// wg.wait(); // works on plain threads too
    /// ```
    pub fn wait(&self) {
        if self.inner.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut waiters = self.inner.waiters.lock();
        let epoch = waiters.epoch;
        loop {
            if self.inner.count.load(Ordering::Acquire) == 0 || waiters.epoch != epoch {
                return;
            }
            waiters.parked.push(Waiter::current());
            park(WaitReason::WaitGroup, None, waiters);
            waiters = self.inner.waiters.lock();
        }
    }

    fn release(&self) {
        let parked = {
            let mut waiters = self.inner.waiters.lock();
            if self.inner.count.load(Ordering::Acquire) != 0 {
                // A new phase began before we got the lock: its waiters wait
                // for its own end.
                return;
            }
            waiters.epoch += 1;
            std::mem::take(&mut waiters.parked)
        };
        for w in parked {
            w.unpark();
        }
    }
}

impl std::fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitGroup").field("count", &self.inner.count.load(Ordering::Relaxed)).finish()
    }
}
