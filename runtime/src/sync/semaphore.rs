//! `Semaphore`: a weighted semaphore, as Go's `golang.org/x/sync/semaphore`.
//!
//! One `parking_lot` mutex guards the size, the amount held and a FIFO of
//! waiters with their weights. Waiters are served strictly in order: a
//! large request at the head is not overtaken by smaller ones behind it (so
//! it cannot starve), and a newcomer waits whenever anyone is queued.

use std::fmt;
use std::time::Instant;

use parking_lot::Mutex as StateLock;

use super::queue::{Node, Queue, grant, wait};
use crate::park::WaitReason;

/// The token of a waiter whose weight was acquired for it.
const ACQUIRED: u32 = 1;

struct State {
    held: u64,
    queue: Queue,
}

/// A weighted semaphore that parks goroutines, not threads (Go's
/// `x/sync/semaphore.Weighted`). `acquire(n)` takes `n` of its `size`
/// units, waiting in arrival order; `release(n)` gives them back.
///
/// # Examples
///
/// ```
/// use gort_runtime::sync::{Semaphore, WaitGroup};
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// let sem = Arc::new(Semaphore::new(3));
/// let (now, max) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
/// let wg = WaitGroup::new();
/// for _ in 0..20 {
///     wg.add(1);
///     let (sem, now, max, wg) = (sem.clone(), now.clone(), max.clone(), wg.clone());
///     gort_runtime::spawn(move || {
///         sem.acquire(1);
///         max.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
///         gort_runtime::yield_now();
///         now.fetch_sub(1, Ordering::SeqCst);
///         sem.release(1);
///         wg.done();
///     });
/// }
/// wg.wait();
/// assert!(max.load(Ordering::SeqCst) <= 3);
/// ```
pub struct Semaphore {
    size: u64,
    state: StateLock<State>,
}

impl Semaphore {
    /// A semaphore of `size` units, none held.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort_runtime::sync::Semaphore::new(2);
    /// assert!(s.try_acquire(2));
    /// ```
    pub const fn new(size: u64) -> Semaphore {
        Semaphore { size, state: StateLock::new(State { held: 0, queue: Queue::new() }) }
    }

    /// Acquires `n` units, waiting until they are free and every earlier
    /// waiter has been served.
    ///
    /// # Panics
    ///
    /// If `n` exceeds the semaphore's size: it could never be acquired.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort_runtime::sync::Semaphore::new(4);
    /// s.acquire(3);
    /// assert!(!s.try_acquire(2));
    /// s.release(3);
    /// ```
    #[track_caller]
    pub fn acquire(&self, n: u64) {
        assert!(n <= self.size, "semaphore: acquire of {n} exceeds the semaphore's size of {}", self.size);
        let mut st = self.state.lock();
        if self.size - st.held >= n && st.queue.is_empty() {
            st.held += n;
            return;
        }
        let node = Node::new(Instant::now(), n);
        // SAFETY: `node` stays on this frame until `wait` returns.
        unsafe { st.queue.push(&node, false) };
        wait(
            &node,
            st,
            WaitReason::Semacquire,
            || self.state.lock(),
            |st| &mut st.queue,
            // Unwound at shutdown: give back units acquired for it, or let
            // the waiters it held up go ahead (x/sync's notifyWaiters).
            |granted| self.release(if granted.is_some() { n } else { 0 }),
        );
    }

    /// Acquires `n` units only if that needs no waiting; returns whether it
    /// did.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort_runtime::sync::Semaphore::new(1);
    /// assert!(s.try_acquire(1));
    /// assert!(!s.try_acquire(1));
    /// ```
    pub fn try_acquire(&self, n: u64) -> bool {
        let mut st = self.state.lock();
        let ok = self.size - st.held >= n && st.queue.is_empty();
        if ok {
            st.held += n;
        }
        ok
    }

    /// Releases `n` units and serves the waiters that now fit, in order.
    ///
    /// # Panics
    ///
    /// "semaphore: released more than held", as Go's.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort_runtime::sync::Semaphore::new(1);
    /// s.acquire(1);
    /// s.release(1);
    /// assert!(s.try_acquire(1));
    /// ```
    #[track_caller]
    pub fn release(&self, n: u64) {
        let mut st = self.state.lock();
        if n > st.held {
            drop(st);
            panic!("semaphore: released more than held");
        }
        st.held -= n;
        self.serve(st);
    }

    /// Acquires for the waiters at the head that now fit, in order.
    fn serve(&self, mut st: parking_lot::MutexGuard<'_, State>) {
        let mut wakeups = Vec::new();
        while let Some(head) = st.queue.front() {
            if self.size - st.held < head.want {
                break;
            }
            st.held += head.want;
            let node = st.queue.pop().expect("peeked");
            // SAFETY: popped under the state lock, which we hold.
            wakeups.push(unsafe { grant(node, ACQUIRED) });
        }
        drop(st);
        drop(wakeups);
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore").field("size", &self.size).field("held", &self.state.lock().held).finish()
    }
}
