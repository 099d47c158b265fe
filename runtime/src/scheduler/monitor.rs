//! The monitor: one thread per runtime that watches the workers, as Go's
//! sysmon does. Every [`TICK`] it
//!
//! - finds workers that have run one goroutine for [`STUCK_AFTER`] (a
//!   blocking call, a loop without channel operations), wakes an idle
//!   worker to steal what they have queued, and starts or recalls spare
//!   workers to stand in for those blocked in the kernel, or for all of
//!   them when every worker is stuck (`scheduler::spare`);
//! - polls the netpoller if goroutines wait for I/O and no worker has
//!   polled for [`POLL_STARVED`];
//! - every [`SCAVENGE_EVERY`], returns the memory of pooled stacks that
//!   stayed unused for that long to the kernel, and of all pooled stacks
//!   beyond the hot set when the runtime goes idle;
//! - when the whole runtime sleeps, checks for a deadlock
//!   (`scheduler::deadlock`).
//!
//! It costs the hot path three plain stores per goroutine switch (the
//! worker's progress counter, and its running-goroutine pointer set and
//! cleared). When every worker has slept for
//! [`QUIET_TICKS`] ticks and nothing needs re-checking, the monitor sleeps
//! until a worker wakes up and rings its [`Bell`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::Shared;
use super::deadlock;
use super::runq::RunQueue as LocalQueue;
use super::worker::Worker;
use crate::goroutine::G;
use crate::stack::{self, Scavenge};

/// How often the monitor looks.
const TICK: Duration = Duration::from_millis(5);

/// A worker that has run one goroutine this long is stuck (Go's
/// `forcePreemptNS`).
const STUCK_AFTER: Duration = Duration::from_millis(10);

/// Goroutines wait for I/O and no worker polled for this long: poll.
const POLL_STARVED: Duration = Duration::from_millis(10);

/// How often pooled stacks are scavenged.
const SCAVENGE_EVERY: Duration = Duration::from_secs(1);

/// Ticks with every worker asleep before the monitor sleeps for good.
const QUIET_TICKS: u32 = 10;

/// Wakes the monitor from its quiet sleep.
#[derive(Default)]
pub(crate) struct Bell {
    /// True while the monitor sleeps until rung.
    quiet: AtomicBool,
    rung: Mutex<bool>,
    cond: Condvar,
}

impl Bell {
    /// Rings if the monitor sleeps for good: called by a worker that just
    /// woke up. One atomic load otherwise.
    pub(crate) fn ring_if_quiet(&self) {
        // SeqCst pairs with `sleep`: either the monitor sees this worker
        // awake after declaring itself quiet, or we see it quiet here.
        if self.quiet.load(Ordering::SeqCst) {
            self.ring();
        }
    }

    pub(crate) fn ring(&self) {
        *self.rung.lock() = true;
        self.cond.notify_one();
    }

    /// Sleeps for `timeout`, or until rung with `None`.
    fn sleep(&self, shared: &Shared, timeout: Option<Duration>) {
        let mut rung = self.rung.lock();
        match timeout {
            Some(t) => {
                if !*rung {
                    self.cond.wait_for(&mut rung, t);
                }
            }
            None => {
                self.quiet.store(true, Ordering::SeqCst);
                // A worker that woke before `quiet` was set did not ring.
                if !*rung && shared.all_asleep() && !shared.is_shut_down() {
                    self.cond.wait(&mut rung);
                }
                self.quiet.store(false, Ordering::SeqCst);
            }
        }
        *rung = false;
    }
}

/// The monitor thread's state.
struct Monitor {
    shared: Arc<Shared>,
    /// Queues of spares not started yet, by rank.
    spare_queues: Vec<Option<LocalQueue<G>>>,
    spare_threads: Vec<JoinHandle<()>>,
    /// Per slot: the progress counter last seen, and when it changed.
    seen: Vec<(u64, Instant)>,
    quiet_ticks: u32,
    scavenged_at: Instant,
}

/// The monitor thread's body: runs until shutdown, then joins the spares
/// it started.
pub(crate) fn run(shared: Arc<Shared>, spare_queues: Vec<LocalQueue<G>>) {
    let now = Instant::now();
    let mut m = Monitor {
        seen: vec![(0, now); shared.slots.len()],
        shared,
        spare_queues: spare_queues.into_iter().map(Some).collect(),
        spare_threads: Vec::new(),
        quiet_ticks: 0,
        scavenged_at: now,
    };
    while !m.shared.is_shut_down() {
        let timeout = m.tick(Instant::now());
        m.shared.bell.sleep(&m.shared, timeout);
    }
    for t in m.spare_threads.drain(..) {
        // A worker's loop catches goroutine panics: joining only collects it.
        let _ = t.join();
    }
}

impl Monitor {
    /// One look at the runtime; returns how long to sleep (`None`: until
    /// rung).
    fn tick(&mut self, now: Instant) -> Option<Duration> {
        self.retake(now);
        if let Some(poller) = self.shared.poller_if_made()
            && poller.has_waiters()
            && poller.unpolled_for(now) >= POLL_STARVED
        {
            poller.poll(Some(Duration::ZERO));
        }
        if now - self.scavenged_at >= SCAVENGE_EVERY {
            stack::scavenge(Scavenge::Cold);
            self.scavenged_at = now;
        }
        if !self.shared.all_asleep() {
            self.quiet_ticks = 0;
            return Some(TICK);
        }
        self.quiet_ticks = self.quiet_ticks.saturating_add(1);
        if self.quiet_ticks == QUIET_TICKS {
            // Idle: nothing will reuse the free stacks soon.
            stack::scavenge(Scavenge::Excess);
        }
        if deadlock::check(&self.shared) {
            return None;
        }
        if self.quiet_ticks < QUIET_TICKS {
            return Some(TICK);
        }
        // Asleep for a while. A timer or a socket will wake a worker, which
        // rings; but a plain thread ending (the one thing that can turn
        // "asleep" into "deadlocked" without waking anyone) rings nothing,
        // so keep looking while a thread waits in `block_on`.
        if deadlock::stalled(&self.shared) && self.shared.block_ons.count() > 0 { Some(STUCK_AFTER) } else { None }
    }

    /// Go's retake: finds stuck workers, gets their queued goroutines
    /// moving, and asks for spares.
    ///
    /// A worker blocked in the kernel (a system call, a sleep) leaves its
    /// CPU idle: it gets a spare, as Go hands a P off from a system call. A
    /// worker stuck in a CPU loop is using its CPU: a spare would only
    /// oversubscribe the machine while the other workers take its queue,
    /// so those get spares only when every regular worker is stuck and
    /// nothing else would run at all.
    fn retake(&mut self, now: Instant) {
        let shared = &self.shared;
        let (mut blocked, mut running, mut regular_stuck) = (0, 0, 0);
        for (index, (slot, seen)) in shared.slots.iter().zip(self.seen.iter_mut()).enumerate() {
            let progress = slot.own.progress.load(Ordering::Relaxed);
            if progress != seen.0 {
                *seen = (progress, now);
            } else if !slot.own.running.load(Ordering::Relaxed).is_null() && now - seen.1 >= STUCK_AFTER {
                if thread_is_running(slot.tid.load(Ordering::Relaxed)) {
                    running += 1;
                } else {
                    blocked += 1;
                }
                regular_stuck += usize::from(index < shared.workers);
                if !slot.stealer.is_empty() || !slot.runnext.load(Ordering::Acquire).is_null() {
                    shared.wake_worker();
                }
            }
        }
        let stuck = blocked + if regular_stuck == shared.workers { running } else { 0 };
        for rank in shared.spares.want(stuck) {
            let queue = self.spare_queues[rank].take().expect("each spare starts once");
            let worker = shared.clone();
            let index = shared.workers + rank;
            let spawned = std::thread::Builder::new()
                .name(format!("gort-spare-{rank}"))
                .spawn(move || Worker::main(worker, index, queue));
            match spawned {
                Ok(t) => {
                    shared.spares.thread_started();
                    self.spare_threads.push(t);
                }
                // Out of threads: the stuck workers' goroutines still move
                // to the idle workers, only with less parallelism.
                Err(e) => {
                    shared.spares.failed_to_start();
                    eprintln!("gort: cannot start a spare worker thread: {e}");
                }
            }
        }
    }
}

/// Whether thread `tid` of this process is on a CPU or ready for one (state
/// `R` in `/proc`), rather than blocked. Unknown counts as blocked, which
/// errs towards starting a spare.
fn thread_is_running(tid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")) else { return false };
    // "tid (comm) S ...": the name may hold anything, so look after its last ')'.
    stat.rfind(')').and_then(|i| stat[i + 1..].trim_start().chars().next()) == Some('R')
}
