//! Which workers sleep, and the one that spins: Go's wakep protocol.
//!
//! A worker that runs out of work first *spins*: it looks through the other
//! workers' queues and the global queue for something to steal. At most one
//! worker spins at a time (a counter that only moves 0 -> 1 -> 0). A worker
//! that finds nothing goes to *sleep* on its own condition variable.
//!
//! Whoever makes a goroutine runnable calls [`Idle::wake_one`] after
//! publishing it: if a worker is asleep and none is spinning, one sleeper is
//! woken and handed the spinning role. When a spinner finds work it stops
//! spinning and, being the last spinner, wakes another sleeper so that any
//! remaining work is found too (Go's `resetspinning`).
//!
//! # Why no wake-up is lost
//!
//! A submitter does: push the goroutine; `SeqCst` load of `spinning` and
//! `sleeping`. A spinner that gives up does: add itself to `sleeping`
//! (`SeqCst`); decrement `spinning` (`SeqCst`); look at every queue once
//! more. All four accesses are `SeqCst` (the local queue's word and
//! `runnext` are swapped and read with `SeqCst`, which costs nothing over
//! `AcqRel`/`Acquire` on x86 and ARMv8; crossbeam's injector fences its
//! emptiness check), so they fall in one total order:
//! either the submitter's loads come after the spinner's decrement — it then
//! sees `spinning == 0` and `sleeping > 0` and wakes somebody — or the push
//! comes before the spinner's final look, which then finds the goroutine.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

/// Spinning and sleeping workers of one runtime.
#[derive(Debug, Default)]
pub(crate) struct Idle {
    /// Workers looking for work to steal: 0 or 1.
    spinning: AtomicUsize,
    /// Workers asleep (the length of `sleepers`, readable without the lock).
    sleeping: AtomicUsize,
    /// Indexes of the sleeping workers.
    sleepers: Mutex<Vec<usize>>,
}

impl Idle {
    /// Becomes the spinner if there is none.
    pub(crate) fn try_start_spinning(&self) -> bool {
        self.spinning.compare_exchange(0, 1, Ordering::SeqCst, Ordering::Relaxed).is_ok()
    }

    /// Stops spinning; true if this was the last spinner.
    pub(crate) fn stop_spinning(&self) -> bool {
        self.spinning.fetch_sub(1, Ordering::SeqCst) == 1
    }

    /// Picks a sleeper to wake if somebody should be woken: a worker is
    /// asleep and none is spinning. The chosen worker inherits the spinning
    /// role; the caller must signal it.
    pub(crate) fn pick_sleeper(&self) -> Option<usize> {
        if self.spinning.load(Ordering::SeqCst) != 0 || self.sleeping.load(Ordering::SeqCst) == 0 {
            return None;
        }
        if !self.try_start_spinning() {
            return None;
        }
        let mut sleepers = self.sleepers.lock();
        match sleepers.pop() {
            Some(index) => {
                self.sleeping.fetch_sub(1, Ordering::SeqCst);
                Some(index)
            }
            None => {
                drop(sleepers);
                self.stop_spinning();
                None
            }
        }
    }

    /// Registers `index` as asleep (before its final look at the queues).
    pub(crate) fn add_sleeper(&self, index: usize) {
        let mut sleepers = self.sleepers.lock();
        sleepers.push(index);
        self.sleeping.fetch_add(1, Ordering::SeqCst);
    }

    /// Takes `index` off the sleepers if it is still there. `false` means a
    /// waker already picked it and is about to signal it.
    pub(crate) fn remove_sleeper(&self, index: usize) -> bool {
        let mut sleepers = self.sleepers.lock();
        match sleepers.iter().position(|&i| i == index) {
            Some(pos) => {
                sleepers.swap_remove(pos);
                self.sleeping.fetch_sub(1, Ordering::SeqCst);
                true
            }
            None => false,
        }
    }

    /// True when exactly `workers` workers sleep and none spins.
    pub(crate) fn asleep(&self, workers: usize) -> bool {
        self.spinning.load(Ordering::SeqCst) == 0 && self.sleeping.load(Ordering::SeqCst) == workers
    }
}

/// One worker's bed: a flag and a condition variable.
#[derive(Debug, Default)]
pub(crate) struct Sleeper {
    signalled: Mutex<bool>,
    cond: Condvar,
}

impl Sleeper {
    /// Wakes the worker (or makes its next `sleep` return at once).
    pub(crate) fn signal(&self) {
        let mut signalled = self.signalled.lock();
        *signalled = true;
        self.cond.notify_one();
    }

    /// Consumes a signal if one came; never waits.
    pub(crate) fn try_take(&self) -> bool {
        std::mem::replace(&mut *self.signalled.lock(), false)
    }

    /// Whether a signal came (without consuming it).
    pub(crate) fn is_signalled(&self) -> bool {
        *self.signalled.lock()
    }

    /// Sleeps until signalled or `deadline`; returns whether it was signalled
    /// (and consumes the signal).
    pub(crate) fn sleep(&self, deadline: Option<Instant>) -> bool {
        let mut signalled = self.signalled.lock();
        while !*signalled {
            match deadline {
                None => self.cond.wait(&mut signalled),
                Some(d) => {
                    if self.cond.wait_until(&mut signalled, d).timed_out() {
                        break;
                    }
                }
            }
        }
        std::mem::replace(&mut *signalled, false)
    }
}
