//! Sleeping, and timers that call back: the runtime's side of time.
//!
//! [`sleep`] parks the goroutine with a deadline on its worker's timer
//! heap. [`call_at`] arms a timer that calls a [`TimerTask`] instead; the
//! time channels of `gort-channels` (`after`, `tick`, `Timer`, `Ticker`)
//! are built on it, so no thread is ever started per timer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::park::{WaitReason, Wake, park};
use crate::runtime::with_current_shared;

/// Pauses the current goroutine for at least `d` (Go's `time.Sleep`).
///
/// The goroutine parks with a deadline on its worker's timer heap; the
/// worker runs other goroutines meanwhile. On a plain thread, the thread
/// sleeps. Never returns early; a zero duration returns at once.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// let took = gort_runtime::spawn(|| {
///     let start = Instant::now();
///     gort_runtime::time::sleep(Duration::from_millis(5));
///     start.elapsed()
/// }).join().unwrap();
/// assert!(took >= Duration::from_millis(5));
/// ```
pub fn sleep(d: Duration) {
    if d.is_zero() {
        return;
    }
    let Some(deadline) = Instant::now().checked_add(d) else {
        // Past the end of time: sleep forever.
        loop {
            park(WaitReason::Sleep, None, ());
        }
    };
    // A park can end early only by a spurious wake-up: check the clock
    // after. A time-out means the deadline passed (or the runtime is
    // unwinding this goroutine at shutdown, when nothing can wait).
    loop {
        if park(WaitReason::Sleep, Some(deadline), ()) == Wake::TimedOut || Instant::now() >= deadline {
            return;
        }
    }
}

/// Work a timer does when it fires (see [`call_at`]).
///
/// `fire` runs on a worker thread of the runtime, outside any goroutine,
/// while the worker is between goroutines: it must be short and must not
/// block (a channel's `try_send`, an unpark, arming the next timer).
///
/// # Examples
///
/// ```
/// use gort_runtime::time::TimerTask;
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::time::Instant;
///
/// struct Flag(AtomicBool);
/// impl TimerTask for Flag {
///     fn fire(&self, _now: Instant) {
///         self.0.store(true, Ordering::Release);
///     }
/// }
/// let flag = Flag(AtomicBool::new(false));
/// flag.fire(Instant::now());
/// assert!(flag.0.load(Ordering::Acquire));
/// ```
pub trait TimerTask: Send + Sync {
    /// Called once when the timer is due; `now` is the time the worker
    /// read when it ran its due timers.
    fn fire(&self, now: Instant);
}

/// Arms a timer that calls `task` at `when` (at once if `when` has
/// passed), on the current goroutine's runtime, or on the default runtime
/// from a plain thread.
///
/// Timers cannot be cancelled: a task that may become stale checks for
/// itself whether it still has something to do (time channels compare a
/// sequence number).
///
/// # Examples
///
/// ```
/// use gort_runtime::park::Waiter;
/// use gort_runtime::time::{call_at, TimerTask};
/// use std::sync::Arc;
/// use std::time::{Duration, Instant};
///
/// struct Wake(Waiter);
/// impl TimerTask for Wake {
///     fn fire(&self, _now: Instant) {
///         self.0.unpark();
///     }
/// }
/// let took = gort_runtime::spawn(|| {
///     let start = Instant::now();
///     call_at(start + Duration::from_millis(2), Arc::new(Wake(Waiter::current())));
///     gort_runtime::park::park(gort_runtime::park::WaitReason::Sleep, None, ());
///     start.elapsed()
/// }).join().unwrap();
/// assert!(took >= Duration::from_millis(2));
/// ```
pub fn call_at(when: Instant, task: Arc<dyn TimerTask>) {
    with_current_shared(|shared| shared.add_task(when, task));
}
