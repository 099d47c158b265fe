//! Deadlock detection: Go's `checkdead`, for a runtime that shares its
//! process with plain threads.
//!
//! Go declares a deadlock when no goroutine can run and nothing outside the
//! goroutines can make one run: no timer pending, no goroutine in the
//! netpoller, no thread in a system call. We check the same of one runtime
//! while some thread waits for it in `block_on` (the goroutine it waits for
//! is the program's main goroutine):
//!
//! 1. every worker and active spare sleeps, and no queue holds a goroutine;
//! 2. no timer is armed on any worker, and no goroutine waits for a socket;
//! 3. every thread of the process is accounted for as unable to act: our
//!    workers, spares and monitor; plain threads parked without a deadline
//!    in a gort wait (woken only by somebody else); idle `gort::blocking`
//!    threads; the SIGQUIT dumper.
//!
//! Point 3 is what makes plain threads safe: a thread that holds a channel
//! end and may send later, a thread in a blocking call, the workers of
//! another runtime, a test harness's threads are all unknown to us, so
//! their mere existence (counted in `/proc/self/status`) rules a deadlock
//! out. No false positives, at the price of detecting nothing in processes
//! with unrelated threads (such as `cargo test`'s harness).
//!
//! The checks are made twice around the census, and the workers' progress
//! counters must not move in between, so a goroutine that ran meanwhile (and
//! perhaps armed a timer or spawned a thread) cancels the verdict; the
//! census epoch (`scheduler::census`) must not move either, so a plain
//! thread woken meanwhile does too.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

use super::{Shared, census};
use crate::goroutine::G;

/// The message Go prints, first line of the report.
pub(crate) const MESSAGE: &str = "all goroutines are asleep - deadlock!";

/// One thread in `block_on`: the goroutine it waits for, and the report
/// once a deadlock is found.
struct BlockOn {
    main: Arc<G>,
    report: Option<Arc<str>>,
}

/// The threads waiting in `block_on` on one runtime.
#[derive(Default)]
pub(crate) struct BlockOns {
    list: Mutex<Vec<BlockOn>>,
    /// `list.len()`, readable without the lock.
    count: AtomicUsize,
}

impl BlockOns {
    /// Registers a wait for `main`; undone by [`leave`](Self::leave).
    pub(crate) fn enter(&self, main: Arc<G>) {
        let mut list = self.list.lock();
        list.push(BlockOn { main, report: None });
        self.count.store(list.len(), Ordering::SeqCst);
    }

    /// Ends the wait for `main`.
    pub(crate) fn leave(&self, main: &Arc<G>) {
        let mut list = self.list.lock();
        list.retain(|b| !Arc::ptr_eq(&b.main, main));
        self.count.store(list.len(), Ordering::SeqCst);
    }

    /// The deadlock report for the wait on `main`, once there is one.
    pub(crate) fn report(&self, main: &Arc<G>) -> Option<Arc<str>> {
        self.list.lock().iter().find(|b| Arc::ptr_eq(&b.main, main)).and_then(|b| b.report.clone())
    }

    /// Threads waiting in `block_on` now.
    pub(crate) fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Hands `report` to every waiting thread and wakes it.
    fn tell_all(&self, report: &Arc<str>) {
        let mains: Vec<Arc<G>> = {
            let mut list = self.list.lock();
            for b in list.iter_mut() {
                b.report = Some(report.clone());
            }
            list.iter().map(|b| b.main.clone()).collect()
        };
        // After the report is set: a thread that checks it under the join
        // lock either sees it or has parked, leaving its waiter for us.
        for main in mains {
            let waiter = main.join.lock().waiter.take();
            if let Some(w) = waiter {
                w.unpark();
            }
        }
    }
}

/// Looks for a deadlock of `shared`; if there is one, reports it to the
/// threads in `block_on` and returns true.
pub(crate) fn check(shared: &Shared) -> bool {
    if shared.block_ons.count() == 0 {
        return false;
    }
    let before = progress(shared);
    if !stalled(shared) || !every_thread_asleep(shared) || !stalled(shared) || progress(shared) != before {
        return false;
    }
    let mut report = format!("{MESSAGE}\n\n");
    for g in crate::debug::infos(shared) {
        report.push_str(&format!("{g}\n\n"));
    }
    shared.block_ons.tell_all(&Arc::from(report));
    true
}

/// Points 1 and 2: nothing runs, and no timer or socket can change that.
pub(crate) fn stalled(shared: &Shared) -> bool {
    shared.all_asleep()
        && !shared.has_work()
        && shared.earliest_timer().is_none()
        && shared.poller_if_made().is_none_or(|p| !p.has_waiters())
}

/// The sum of the workers' progress counters (see `Slot::progress`).
fn progress(shared: &Shared) -> u64 {
    shared.slots.iter().map(|s| s.own.progress.load(Ordering::SeqCst)).fold(0, u64::wrapping_add)
}

/// Point 3: every thread of the process is one we know cannot act. The
/// census epoch must not move while the counts and the thread count are
/// read (see `scheduler::census`).
fn every_thread_asleep(shared: &Shared) -> bool {
    let epoch = census::epoch();
    let ours = shared.workers + shared.spares.threads() + 1;
    let asleep = ours
        + crate::park::threads_parked_for_good()
        + crate::blocking::idle_threads()
        + crate::debug::helper_threads();
    let Some(threads) = process_threads() else { return false };
    threads == asleep && census::epoch() == epoch
}

/// The number of threads in this process, from `/proc/self/status`.
fn process_threads() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("Threads:")).and_then(|n| n.trim().parse().ok())
}
