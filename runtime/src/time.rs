//! Sleeping: parks the goroutine on its worker's timer heap.

use std::time::{Duration, Instant};

use crate::park::{WaitReason, park};

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
    // A park can end early only by a spurious wake-up: check the clock after.
    loop {
        park(WaitReason::Sleep, Some(deadline), ());
        if Instant::now() >= deadline {
            return;
        }
    }
}
