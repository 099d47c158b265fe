//! Spare workers: threads that stand in for workers stuck in one goroutine.
//!
//! Scheduling is cooperative: a goroutine that blocks its thread (a
//! blocking system call, `std::thread::sleep`, a long loop without a
//! channel operation) holds its worker until it returns. The monitor
//! (`scheduler::monitor`) notices such a worker and asks for a spare; a
//! spare is an ordinary worker with its own slot (queue, `runnext`, timers)
//! after the regular ones, so it steals the stuck worker's queued
//! goroutines and keeps the runtime at its intended parallelism. This is
//! Go's `handoffp` without preemption: the stuck thread keeps its
//! goroutine, the rest move on.
//!
//! Spares are started on demand, at most one per slot set aside at build
//! time, and never end before shutdown. Spare `k` is *wanted* while the
//! monitor asks for more than `k` (one per worker blocked in the kernel,
//! plus one per worker spinning when every worker is stuck); an unwanted
//! spare finishes the work it has, then retires (waits here) instead of
//! going to sleep as an idle worker, until it is wanted again.
//!
//! Invariant: `active` counts spares started and not retired; deadlock
//! detection compares it, plus the regular workers, with the sleepers.

use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::{Condvar, Mutex};

#[derive(Default)]
struct State {
    /// Spares wanted now, at most `max`.
    wanted: usize,
    /// Spares started so far.
    started: usize,
    shut_down: bool,
}

/// The spare workers of one runtime.
#[derive(Default)]
pub(crate) struct Spares {
    max: usize,
    state: Mutex<State>,
    cond: Condvar,
    /// `state.wanted`, readable without the lock.
    wanted: AtomicUsize,
    /// `state.started`, readable without the lock.
    started: AtomicUsize,
    /// Spares started and not retired.
    active: AtomicUsize,
    /// Spare threads that really started (some of `started` may have
    /// failed to).
    threads: AtomicUsize,
}

impl Spares {
    /// Room for `max` spares.
    pub(crate) fn new(max: usize) -> Spares {
        Spares { max, ..Spares::default() }
    }

    /// Asks for `n` spares (capped at the maximum); returns the ranks of
    /// the spares the caller must start now.
    pub(crate) fn want(&self, n: usize) -> std::ops::Range<usize> {
        let mut state = self.state.lock();
        let wanted = n.min(self.max);
        if wanted > state.wanted {
            self.cond.notify_all();
        }
        state.wanted = wanted;
        self.wanted.store(wanted, Ordering::SeqCst);
        let start = state.started;
        if wanted > start {
            state.started = wanted;
            self.started.store(wanted, Ordering::SeqCst);
            self.active.fetch_add(wanted - start, Ordering::SeqCst);
        }
        start..state.started
    }

    /// Whether spare `rank` should keep working.
    pub(crate) fn is_wanted(&self, rank: usize) -> bool {
        rank < self.wanted.load(Ordering::SeqCst)
    }

    /// Retires spare `rank` until it is wanted again or the runtime shuts
    /// down.
    pub(crate) fn retire(&self, rank: usize) {
        let mut state = self.state.lock();
        self.active.fetch_sub(1, Ordering::SeqCst);
        while rank >= state.wanted && !state.shut_down {
            self.cond.wait(&mut state);
        }
        self.active.fetch_add(1, Ordering::SeqCst);
    }

    /// A spare's thread has started.
    pub(crate) fn thread_started(&self) {
        self.threads.fetch_add(1, Ordering::SeqCst);
    }

    /// A spare whose thread could not be started: no longer active (its
    /// rank stays taken, so it is not tried again).
    pub(crate) fn failed_to_start(&self) {
        self.active.fetch_sub(1, Ordering::SeqCst);
    }

    /// Wakes every retired spare for shutdown.
    pub(crate) fn shut_down(&self) {
        self.state.lock().shut_down = true;
        self.cond.notify_all();
    }

    /// Spares started and not retired.
    pub(crate) fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    /// Spare ranks handed out since the runtime was built: their slots may
    /// hold goroutines.
    pub(crate) fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    /// Spare threads running (working or retired).
    pub(crate) fn threads(&self) -> usize {
        self.threads.load(Ordering::SeqCst)
    }
}
