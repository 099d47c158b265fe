//! Per-worker timer heaps: wake parked goroutines at their deadlines.
//!
//! As in Go 1.14+, each worker owns a min-heap of timers, so adding a timer
//! touches no shared lock. Workers look at their own heap on every trip
//! through the scheduler, at every other heap whose earliest deadline has
//! passed, and sleep no longer than the earliest deadline of all heaps. A
//! timer either *unparks* a waiter or calls a [`TimerTask`]
//! (`crate::time::call_at`): time channels use tasks to send their value.
//! Tasks run on the worker thread, outside any goroutine, so they must not
//! block; user code never runs on a timer.
//!
//! A timer whose waiter was woken another way is not removed; it fires
//! later into a stale park generation and does nothing (the park state
//! machine ignores it). That keeps cancellation free on the hot path.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::park::{Waiter, Wake};
use crate::time::TimerTask;

/// A deadline (nanoseconds since the runtime's epoch) and what it does.
struct Timer {
    when: u64,
    fire: Fire,
}

/// What a timer does when it fires.
pub(crate) enum Fire {
    /// Wakes a parked waiter as timed out.
    Wake(Waiter),
    /// Calls a task (a time channel's send).
    Task(Arc<dyn TimerTask>),
}

impl Fire {
    /// Runs the timer; returns whether it did anything.
    fn run(self, now: Instant) -> bool {
        match self {
            Fire::Wake(waiter) => waiter.wake(Wake::TimedOut),
            Fire::Task(task) => {
                task.fire(now);
                true
            }
        }
    }
}

/// A 4-ary min-heap on `when`, as Go's timer heap: half the depth of a
/// binary heap, so an insert into 100,000 timers touches half the cache
/// lines. Timers with equal deadlines fire in no particular order.
#[derive(Default)]
struct QuadHeap(Vec<Timer>);

impl QuadHeap {
    fn peek_when(&self) -> Option<u64> {
        self.0.first().map(|t| t.when)
    }

    fn push(&mut self, timer: Timer) {
        let heap = &mut self.0;
        heap.push(timer);
        let mut i = heap.len() - 1;
        while i > 0 {
            let parent = (i - 1) / 4;
            if heap[parent].when <= heap[i].when {
                break;
            }
            heap.swap(i, parent);
            i = parent;
        }
    }

    fn pop(&mut self) -> Option<Timer> {
        let heap = &mut self.0;
        let last = heap.len().checked_sub(1)?;
        heap.swap(0, last);
        let top = heap.pop();
        let mut i = 0;
        loop {
            let first = 4 * i + 1;
            let Some(child) = (first..(first + 4).min(heap.len())).min_by_key(|&c| heap[c].when) else {
                break;
            };
            if heap[i].when <= heap[child].when {
                break;
            }
            heap.swap(i, child);
            i = child;
        }
        top
    }
}

/// One worker's timers.
pub(crate) struct TimerHeap {
    heap: Mutex<QuadHeap>,
    /// Earliest deadline as nanoseconds since the runtime's epoch, or
    /// `u64::MAX` when empty; read by other workers without the lock.
    next: AtomicU64,
}

impl TimerHeap {
    pub(crate) fn new() -> TimerHeap {
        TimerHeap { heap: Mutex::new(QuadHeap::default()), next: AtomicU64::new(u64::MAX) }
    }

    /// Adds a timer that does `fire` at `when`.
    pub(crate) fn add(&self, epoch: Instant, when: Instant, fire: Fire) {
        let mut heap = self.heap.lock();
        heap.push(Timer { when: nanos_since(epoch, when), fire });
        self.next.store(heap.peek_when().expect("just pushed"), Ordering::Release);
    }

    /// The earliest deadline, without locking.
    pub(crate) fn next_deadline(&self, epoch: Instant) -> Option<Instant> {
        match self.next.load(Ordering::Acquire) {
            u64::MAX => None,
            n => Some(epoch + Duration::from_nanos(n)),
        }
    }

    /// Fires every timer due by `now`; returns how many did something.
    /// With `try_only`, gives up at once if another worker holds the heap.
    pub(crate) fn run_due(&self, epoch: Instant, now: Instant, try_only: bool) -> usize {
        let now_nanos = nanos_since(epoch, now);
        if self.next.load(Ordering::Acquire) > now_nanos {
            return 0;
        }
        let mut due = Vec::new();
        {
            let mut heap = if try_only {
                match self.heap.try_lock() {
                    Some(g) => g,
                    None => return 0,
                }
            } else {
                self.heap.lock()
            };
            while heap.peek_when().is_some_and(|when| when <= now_nanos) {
                due.push(heap.pop().expect("peeked").fire);
            }
            self.next.store(heap.peek_when().unwrap_or(u64::MAX), Ordering::Release);
        }
        // Fire outside the lock: waking schedules goroutines, and a task
        // may add its next timer.
        due.into_iter().map(|fire| fire.run(now)).filter(|&did| did).count()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quad_heap_pops_in_deadline_order() {
        let mut heap = QuadHeap::default();
        let mut x: u64 = 12345;
        for _ in 0..1000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            heap.push(Timer { when: x >> 40, fire: Fire::Wake(Waiter::current()) });
        }
        let mut last = 0;
        let mut n = 0;
        while let Some(t) = heap.pop() {
            assert!(t.when >= last, "{} after {last}", t.when);
            last = t.when;
            n += 1;
        }
        assert_eq!(n, 1000);
    }
}
