//! `Cond`: Go's `sync.Cond`, for a gort [`Mutex`](super::Mutex).
//!
//! `wait` queues the caller on the condition *before* it releases the
//! mutex, and both are released only once the goroutine is parked, so a
//! `signal` between the unlock and the park cannot be lost.

use std::fmt;
use std::time::Instant;

use parking_lot::Mutex as QueueLock;

use super::mutex::MutexGuard;
use super::queue::{Node, Queue, grant, wait};
use crate::park::WaitReason;

/// The token of a signalled waiter.
const SIGNALLED: u32 = 1;

/// A condition variable: goroutines wait for an event while holding a
/// gort [`Mutex`](super::Mutex) (Go's `sync.Cond`).
///
/// As with Go's, check the condition in a loop around `wait`.
///
/// # Examples
///
/// ```
/// use gort_runtime::sync::{Cond, Mutex};
/// use std::sync::Arc;
/// let pair = Arc::new((Mutex::new(false), Cond::new()));
/// let p = pair.clone();
/// gort_runtime::spawn(move || {
///     *p.0.lock() = true;
///     p.1.signal();
/// });
/// let mut ready = pair.0.lock();
/// while !*ready {
///     ready = pair.1.wait(ready);
/// }
/// ```
pub struct Cond {
    waiters: QueueLock<Queue>,
}

impl Cond {
    /// A condition with no waiters.
    ///
    /// # Examples
    ///
    /// ```
    /// gort_runtime::sync::Cond::new().signal(); // nobody waits: nothing happens
    /// ```
    pub const fn new() -> Cond {
        Cond { waiters: QueueLock::new(Queue::new()) }
    }

    /// Unlocks `guard`'s mutex, waits for a `signal` or `broadcast`, and
    /// locks it again: Go's `c.Wait()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort_runtime::sync::{Cond, Mutex};
    /// use std::sync::Arc;
    /// let state = Arc::new((Mutex::new(0), Cond::new()));
    /// let s = state.clone();
    /// let h = gort_runtime::spawn(move || {
    ///     let mut n = s.0.lock();
    ///     while *n < 3 {
    ///         n = s.1.wait(n);
    ///     }
    ///     *n
    /// });
    /// for _ in 0..3 {
    ///     *state.0.lock() += 1;
    ///     state.1.broadcast();
    /// }
    /// assert_eq!(h.join().unwrap(), 3);
    /// ```
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        let mutex = MutexGuard::mutex(&guard);
        let mut waiters = self.waiters.lock();
        let node = Node::new(Instant::now(), 0);
        // SAFETY: `node` stays on this frame until `wait` returns.
        unsafe { waiters.push(&node, false) };
        // The park releases the queue lock and then the mutex.
        wait(
            &node,
            (waiters, Some(guard)),
            WaitReason::CondWait,
            || (self.waiters.lock(), None),
            |(q, _)| &mut **q,
            // Unwound at shutdown after a signal: pass the signal on.
            |granted| {
                if granted.is_some() {
                    self.signal();
                }
            },
        );
        mutex.lock()
    }

    /// Wakes one waiter, if any: Go's `c.Signal()`.
    ///
    /// # Examples
    ///
    /// ```
    /// gort_runtime::sync::Cond::new().signal();
    /// ```
    pub fn signal(&self) {
        let mut waiters = self.waiters.lock();
        // SAFETY: popped under the queue lock, which we hold.
        let wakeup = waiters.pop().map(|node| unsafe { grant(node, SIGNALLED) });
        drop(waiters);
        drop(wakeup);
    }

    /// Wakes every waiter: Go's `c.Broadcast()`.
    ///
    /// # Examples
    ///
    /// ```
    /// gort_runtime::sync::Cond::new().broadcast();
    /// ```
    pub fn broadcast(&self) {
        let mut waiters = self.waiters.lock();
        let mut wakeups = Vec::new();
        while let Some(node) = waiters.pop() {
            // SAFETY: popped under the queue lock, which we hold.
            wakeups.push(unsafe { grant(node, SIGNALLED) });
        }
        drop(waiters);
        drop(wakeups);
    }
}

impl Default for Cond {
    fn default() -> Self {
        Cond::new()
    }
}

impl fmt::Debug for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cond").finish_non_exhaustive()
    }
}
