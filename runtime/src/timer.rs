//! Per-worker timer heaps: wake parked goroutines at their deadlines.
//!
//! As in Go 1.14+, each worker owns a min-heap of timers, so adding a timer
//! touches no shared lock. Workers look at their own heap on every trip
//! through the scheduler, at every other heap whose earliest deadline has
//! passed, and sleep no longer than the earliest deadline of all heaps. A
//! timer only ever *unparks*: user code never runs on a timer.
//!
//! A timer whose waiter was woken another way is not removed; it fires
//! later into a stale park generation and does nothing (the park state
//! machine ignores it). That keeps cancellation free on the hot path.

use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::park::{Waiter, Wake};

struct Timer {
    when: Instant,
    /// Tie-break so equal deadlines fire in insertion order.
    seq: u64,
    waiter: Waiter,
}

impl PartialEq for Timer {
    fn eq(&self, other: &Self) -> bool {
        (self.when, self.seq) == (other.when, other.seq)
    }
}
impl Eq for Timer {}
impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timer {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        // Reversed: BinaryHeap is a max-heap and we want the earliest first.
        (other.when, other.seq).cmp(&(self.when, self.seq))
    }
}

/// One worker's timers.
pub(crate) struct TimerHeap {
    heap: Mutex<(BinaryHeap<Timer>, u64)>,
    /// Earliest deadline as nanoseconds since the runtime's epoch, or
    /// `u64::MAX` when empty; read by other workers without the lock.
    next: AtomicU64,
}

impl TimerHeap {
    pub(crate) fn new() -> TimerHeap {
        TimerHeap { heap: Mutex::new((BinaryHeap::new(), 0)), next: AtomicU64::new(u64::MAX) }
    }

    /// Adds a timer that wakes `waiter` (as timed out) at `when`.
    pub(crate) fn add(&self, epoch: Instant, when: Instant, waiter: Waiter) {
        let mut guard = self.heap.lock();
        let (heap, seq) = &mut *guard;
        *seq += 1;
        heap.push(Timer { when, seq: *seq, waiter });
        self.next.store(nanos_since(epoch, heap.peek().expect("just pushed").when), Ordering::Release);
    }

    /// The earliest deadline, without locking.
    pub(crate) fn next_deadline(&self, epoch: Instant) -> Option<Instant> {
        match self.next.load(Ordering::Acquire) {
            u64::MAX => None,
            n => Some(epoch + Duration::from_nanos(n)),
        }
    }

    /// Fires every timer due by `now`; returns how many woke somebody.
    /// With `try_only`, gives up at once if another worker holds the heap.
    pub(crate) fn run_due(&self, epoch: Instant, now: Instant, try_only: bool) -> usize {
        if self.next.load(Ordering::Acquire) > nanos_since(epoch, now) {
            return 0;
        }
        let mut due = Vec::new();
        {
            let mut guard = if try_only {
                match self.heap.try_lock() {
                    Some(g) => g,
                    None => return 0,
                }
            } else {
                self.heap.lock()
            };
            let (heap, _) = &mut *guard;
            while heap.peek().is_some_and(|t| t.when <= now) {
                due.push(heap.pop().expect("peeked").waiter);
            }
            let next = heap.peek().map_or(u64::MAX, |t| nanos_since(epoch, t.when));
            self.next.store(next, Ordering::Release);
        }
        // Wake outside the lock: waking schedules goroutines.
        due.iter().filter(|w| w.wake(Wake::TimedOut)).count()
    }

    /// Drops every timer (shutdown).
    pub(crate) fn clear(&self) {
        self.heap.lock().0.clear();
        self.next.store(u64::MAX, Ordering::Release);
    }
}

fn nanos_since(epoch: Instant, t: Instant) -> u64 {
    t.saturating_duration_since(epoch).as_nanos().min(u64::MAX as u128 - 1) as u64
}
