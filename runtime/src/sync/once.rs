//! `Once`: Go's `sync.Once`.
//!
//! A state byte (not run, running, done) read without a lock on the fast
//! path; the first caller runs the function, and callers that come while it
//! runs park on a queue until it is done.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

use parking_lot::Mutex as QueueLock;

use super::queue::{Node, Queue, grant, wait};
use crate::park::WaitReason;

const NEW: u8 = 0;
const RUNNING: u8 = 1;
const DONE: u8 = 2;

/// The token of a waiter woken because the function finished.
const FINISHED: u32 = 1;

/// Runs a function exactly once, however many goroutines call it: Go's
/// `sync.Once`. Callers that arrive while it runs park until it returns.
///
/// As in Go, if the function panics, the `Once` counts as done: later calls
/// do not run it again.
///
/// # Examples
///
/// ```
/// use gort_runtime::sync::Once;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// static INIT: Once = Once::new();
/// static RUNS: AtomicUsize = AtomicUsize::new(0);
/// let hs: Vec<_> = (0..8)
///     .map(|_| gort_runtime::spawn(|| INIT.call_once(|| { RUNS.fetch_add(1, Ordering::SeqCst); })))
///     .collect();
/// for h in hs {
///     h.join().unwrap();
/// }
/// assert_eq!(RUNS.load(Ordering::SeqCst), 1);
/// ```
pub struct Once {
    state: AtomicU8,
    waiters: QueueLock<Queue>,
}

impl Once {
    /// A `Once` that has not run.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!gort_runtime::sync::Once::new().is_completed());
    /// ```
    pub const fn new() -> Once {
        Once { state: AtomicU8::new(NEW), waiters: QueueLock::new(Queue::new()) }
    }

    /// Runs `f` if no call has run it yet; otherwise waits until the call
    /// that runs it has returned: Go's `once.Do(f)`.
    ///
    /// # Examples
    ///
    /// ```
    /// let once = gort_runtime::sync::Once::new();
    /// let mut n = 0;
    /// once.call_once(|| n += 1);
    /// once.call_once(|| n += 1);
    /// assert_eq!(n, 1);
    /// ```
    pub fn call_once(&self, f: impl FnOnce()) {
        if self.state.load(Ordering::Acquire) == DONE {
            return;
        }
        let mut waiters = self.waiters.lock();
        match self.state.load(Ordering::Acquire) {
            DONE => {}
            RUNNING => {
                let node = Node::new(Instant::now(), 0);
                // SAFETY: `node` stays on this frame until `wait` returns.
                unsafe { waiters.push(&node, false) };
                wait(&node, waiters, WaitReason::Sync, || self.waiters.lock(), |q| &mut **q, |_| {});
            }
            _ => {
                self.state.store(RUNNING, Ordering::Relaxed);
                drop(waiters);
                let _finish = Finish(self);
                f();
            }
        }
    }

    /// True once a call has run the function to its end (or its panic).
    ///
    /// # Examples
    ///
    /// ```
    /// let once = gort_runtime::sync::Once::new();
    /// once.call_once(|| {});
    /// assert!(once.is_completed());
    /// ```
    pub fn is_completed(&self) -> bool {
        self.state.load(Ordering::Acquire) == DONE
    }
}

/// Marks the `Once` done and wakes the waiters, also if `f` panics.
struct Finish<'a>(&'a Once);

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        let mut waiters = self.0.waiters.lock();
        self.0.state.store(DONE, Ordering::Release);
        let mut wakeups = Vec::new();
        while let Some(node) = waiters.pop() {
            // SAFETY: popped under the queue lock, which we hold.
            wakeups.push(unsafe { grant(node, FINISHED) });
        }
        drop(waiters);
        drop(wakeups);
    }
}

impl Default for Once {
    fn default() -> Self {
        Once::new()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once").field("completed", &self.is_completed()).finish()
    }
}
