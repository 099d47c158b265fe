//! The work-stealing M:N scheduler: Go's G-M-P, with workers as Ps.
//!
//! ```text
//!            Shared (one per runtime, behind an Arc)
//!   ┌───────────────────────────────────────────────────────────┐
//!   │ injector (global run queue)  idle (spinning/sleeping)     │
//!   │ registry (all live goroutines)                            │
//!   │ slots[i]: stealer · runnext · timers · sleeper            │
//!   └───────────────────────────────────────────────────────────┘
//!        ▲ steal half               ▲ steal half
//!   worker 0 thread             worker 1 thread        ...
//!   local deque + stack pool    local deque + stack pool
//! ```
//!
//! - [`worker`]: the per-thread loop (find work, run it, handle the switch).
//! - [`idle`]: which worker spins, which sleep, and who wakes whom.
//! - [`registry`]: every live goroutine.
//! - [`monitor`]: Go's sysmon, a thread that watches the workers.
//! - [`spare`]: the workers that stand in for stuck ones.
//! - [`deadlock`]: noticing that no goroutine can ever run again.
//!
//! Where a runnable goroutine goes: a goroutine made runnable *on a worker
//! of its own runtime* (spawned, or woken by a channel operation running
//! there) goes into that worker's `runnext` slot, pushing the previous
//! occupant to the local queue, so a producer/consumer pair stays on one
//! worker and in cache (Go's `runqput(next=true)`). From anywhere else it
//! goes to the injector. Either way, an idle worker is woken if none is
//! spinning.
//!
//! Rejected: one global queue (contention on every spawn); LIFO local
//! queues (unfair; Go and tokio use FIFO plus one LIFO slot, `runnext`);
//! a thread per timer or a timer thread that runs user code (Go runs timers
//! in the scheduler, and so do we).

pub(crate) mod census;
pub(crate) mod deadlock;
pub(crate) mod idle;
pub(crate) mod monitor;
pub(crate) mod registry;
pub(crate) mod runq;
pub(crate) mod spare;
pub(crate) mod worker;

use std::io;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use crossbeam_deque::Injector;
use parking_lot::Mutex;

use crate::goroutine::{G, Output};
use crate::net::poller::Poller;
use crate::park::Waiter;
use crate::stack;
use crate::time::TimerTask;
use crate::timer::{Fire, TimerHeap};

use deadlock::BlockOns;
use idle::{Idle, Sleeper};
use monitor::Bell;
use registry::Registry;
use runq::Stealer;
use spare::Spares;

/// Blank goroutine headers kept in the global list; more are freed.
const FREE_GS_GLOBAL: usize = 4096;

/// Goroutine ids, unique in the process; the first goroutine is 1, as in Go.
static NEXT_GOROUTINE_ID: AtomicU64 = AtomicU64::new(1);

/// The parts of a worker that other threads touch. Aligned so that two
/// slots never share a cache line.
#[repr(align(128))]
pub(crate) struct Slot {
    /// Steals from the worker's local queue.
    pub(crate) stealer: Stealer<G>,
    /// One goroutine that runs next, before the local queue: an
    /// `Arc::into_raw` pointer or null. The owner swaps it; thieves take it
    /// only with a compare-and-swap.
    pub(crate) runnext: AtomicPtr<G>,
    pub(crate) timers: TimerHeap,
    pub(crate) sleeper: Sleeper,
    /// The worker thread's kernel id, for the monitor to see whether it is
    /// blocked; 0 until the thread starts.
    pub(crate) tid: AtomicI32,
    /// What the worker writes at every switch, on lines of its own.
    pub(crate) own: OwnerLine,
}

/// Counters only the worker writes (plain stores) and others only read:
/// kept off the lines of `runnext` and the stealer, which the other workers
/// touch at every wake and steal, and off the neighbouring slot's lines, so
/// the stores at every switch do not bounce those lines between CPUs.
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct OwnerLine {
    /// Goroutine resumptions; with `running`, the monitor reads it to find a
    /// worker stuck in one goroutine.
    pub(crate) progress: AtomicU64,
    /// The goroutine the worker runs now, or null; for goroutine dumps and
    /// the monitor.
    pub(crate) running: AtomicPtr<G>,
    /// Counters for `Runtime::metrics`.
    pub(crate) parks: AtomicU64,
    pub(crate) steals: AtomicU64,
    pub(crate) pooled_stacks: AtomicUsize,
}

impl Slot {
    /// Empties `runnext`, taking the goroutine it held.
    pub(crate) fn take_runnext(&self) -> Option<Arc<G>> {
        // Acquire pairs with the Release in `Worker::push_next`.
        let p = self.runnext.swap(std::ptr::null_mut(), Ordering::Acquire);
        // SAFETY: a non-null runnext owns one Arc count, now ours.
        (!p.is_null()).then(|| unsafe { Arc::from_raw(p) })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        drop(self.take_runnext());
    }
}

/// State shared by all workers of one runtime.
pub(crate) struct Shared {
    pub(crate) injector: Injector<Arc<G>>,
    /// The regular workers' slots, then the spares'.
    pub(crate) slots: Box<[Slot]>,
    /// How many of `slots` belong to regular workers.
    pub(crate) workers: usize,
    pub(crate) spares: Spares,
    /// Wakes the monitor when it sleeps for good.
    pub(crate) bell: Bell,
    /// Threads waiting in `block_on`, told of a deadlock.
    pub(crate) block_ons: BlockOns,
    pub(crate) idle: Idle,
    pub(crate) registry: Registry,
    /// Blank goroutine headers that workers' caches overflowed into (see
    /// `G::recycle`); at most [`FREE_GS_GLOBAL`].
    pub(crate) free_gs: Mutex<Vec<Arc<G>>>,
    shut_down: AtomicBool,
    /// Default stack size of this runtime's goroutines (rounded).
    pub(crate) stack_size: usize,
    pub(crate) epoch: Instant,
    /// The netpoller, made when the first socket waits.
    poller: OnceLock<io::Result<Poller>>,
}

impl Shared {
    /// State for `workers` regular workers and `stealers.len() - workers`
    /// spares.
    pub(crate) fn new(stealers: Vec<Stealer<G>>, workers: usize, stack_size: usize) -> Shared {
        let all = stealers.len();
        let slots = stealers
            .into_iter()
            .map(|stealer| Slot {
                stealer,
                runnext: AtomicPtr::new(std::ptr::null_mut()),
                timers: TimerHeap::new(),
                sleeper: Sleeper::default(),
                tid: AtomicI32::new(0),
                own: OwnerLine::default(),
            })
            .collect();
        Shared {
            injector: Injector::new(),
            slots,
            workers,
            spares: Spares::new(all - workers),
            bell: Bell::default(),
            block_ons: BlockOns::default(),
            idle: Idle::default(),
            registry: Registry::new(all),
            free_gs: Mutex::new(Vec::new()),
            shut_down: AtomicBool::new(false),
            stack_size: stack::round_size(stack_size),
            epoch: Instant::now(),
            poller: OnceLock::new(),
        }
    }

    /// The netpoller, made on first use.
    pub(crate) fn poller(&self) -> io::Result<&Poller> {
        self.poller.get_or_init(Poller::new).as_ref().map_err(|e| io::Error::new(e.kind(), e.to_string()))
    }

    /// The netpoller if it has been made.
    pub(crate) fn poller_if_made(&self) -> Option<&Poller> {
        self.poller.get()?.as_ref().ok()
    }

    /// The netpoller if it exists and goroutines wait on it.
    pub(crate) fn active_poller(&self) -> Option<&Poller> {
        self.poller_if_made().filter(|p| p.has_waiters())
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Acquire)
    }

    /// Creates a goroutine running `f` and makes it runnable.
    pub(crate) fn spawn(
        self: &Arc<Self>,
        name: Option<Box<str>>,
        stack_size: Option<usize>,
        f: impl FnOnce() -> Output + Send + 'static,
    ) -> io::Result<Arc<G>> {
        if self.is_shut_down() {
            return Err(io::Error::other("cannot spawn a goroutine: its runtime has shut down"));
        }
        // The stack is taken at the first run, on the worker that runs it;
        // fail now if stacks have run out, so the caller gets the error.
        stack::check_available()?;
        let size = stack_size.map_or(self.stack_size, stack::round_size);
        let (spawner, blank) = worker::take_blank(self);
        let id = NEXT_GOROUTINE_ID.fetch_add(1, Ordering::Relaxed);
        let g = G::launch(blank, id, name, size, f);
        g.registry_place.set(self.registry.insert(spawner, g.clone()));
        self.schedule(g.clone());
        Ok(g)
    }

    /// Makes `g` runnable: on the current worker's `runnext` if this thread
    /// is one of ours, else on the injector; then wakes an idle worker if
    /// none is spinning.
    pub(crate) fn schedule(&self, g: Arc<G>) {
        match worker::push_next(self, g) {
            Ok(()) => self.wake_worker(),
            Err(g) => self.inject(g),
        }
    }

    /// Queues `g` on the injector (the current thread is not one of our
    /// workers) and wakes a worker.
    fn inject(&self, g: Arc<G>) {
        if self.is_shut_down() {
            return;
        }
        self.injector.push(g);
        self.wake_worker();
    }

    /// [`schedule`](Self::schedule)s `g` on its own runtime, taking no
    /// second reference to it on the common path: a wake on one of the
    /// runtime's workers.
    pub(crate) fn schedule_own(g: Arc<G>) {
        let shared: *const Shared = Arc::as_ptr(g.runtime());
        // SAFETY: `g`, which we hold here, keeps its runtime alive.
        match worker::push_next(unsafe { &*shared }, g) {
            // SAFETY: this thread is a worker of `shared`, and workers hold
            // their runtime alive until they exit, after we return.
            Ok(()) => unsafe { &*shared }.wake_worker(),
            // Elsewhere `g` may run, end and be freed, and the runtime with
            // it, as soon as it is queued: keep a reference for the call.
            Err(g) => g.runtime().inject(g.clone()),
        }
    }

    /// Go's wakep: wake one sleeping worker, as the spinner, unless a worker
    /// is spinning already or none sleeps.
    pub(crate) fn wake_worker(&self) {
        if let Some(index) = self.idle.pick_sleeper() {
            self.slots[index].sleeper.signal();
            self.interrupt_poll(Some(index));
        }
    }

    /// Interrupts `epoll_wait` if worker `index` (any, with `None`) is
    /// blocked in it.
    fn interrupt_poll(&self, index: Option<usize>) {
        if let Some(Ok(poller)) = self.poller.get() {
            poller.interrupt_if_blocked(index);
        }
    }

    /// Takes up to `n` blank headers from the global list into `out`.
    fn take_free_gs(&self, n: usize, out: &mut Vec<Arc<G>>) {
        let mut free = self.free_gs.lock();
        let at = free.len().saturating_sub(n);
        out.extend(free.drain(at..));
    }

    /// Gives blank headers to the global list, freeing those beyond its cap.
    fn give_free_gs(&self, gs: impl Iterator<Item = Arc<G>>) {
        let mut free = self.free_gs.lock();
        free.extend(gs);
        free.truncate(FREE_GS_GLOBAL);
    }

    /// Is there anything runnable in any queue? (The spinner's last look.)
    pub(crate) fn has_work(&self) -> bool {
        !self.injector.is_empty()
            || self.slots.iter().any(|s| !s.stealer.is_empty() || !s.runnext.load(Ordering::SeqCst).is_null())
    }

    /// The earliest timer deadline of all workers.
    pub(crate) fn earliest_timer(&self) -> Option<Instant> {
        self.slots.iter().filter_map(|s| s.timers.next_deadline(self.epoch)).min()
    }

    /// Fires the due timers of worker `own`, and of any other worker whose
    /// heap is free; returns how many goroutines they woke.
    fn run_timers(&self, own: usize, now: Instant) -> usize {
        self.slots.iter().enumerate().map(|(i, s)| s.timers.run_due(self.epoch, now, i != own)).sum()
    }

    /// Stops the workers' loops and wakes every sleeping worker.
    pub(crate) fn begin_shutdown(&self) {
        self.shut_down.store(true, Ordering::Release);
        for slot in self.slots.iter() {
            slot.sleeper.signal();
        }
        self.spares.shut_down();
        self.bell.ring();
        self.interrupt_poll(None);
    }

    /// Every worker and active spare asleep, none spinning: no goroutine
    /// runs, and none will until something wakes a worker.
    pub(crate) fn all_asleep(&self) -> bool {
        self.idle.asleep(self.workers + self.spares.active())
    }

    /// After the workers have exited: unwinds every goroutine left, which
    /// will never run again, and empties the queues.
    pub(crate) fn tear_down(&self) {
        for slot in self.slots.iter() {
            slot.timers.clear();
            drop(slot.take_runnext());
        }
        while !self.injector.steal().is_empty() {}
        // Blank headers point back at us: drop them to break the cycle.
        self.free_gs.lock().clear();
        // Unwinding may wake or free others; loop until none are left.
        loop {
            let all = self.registry.drain();
            if all.is_empty() {
                break;
            }
            for g in all {
                // SAFETY: every worker has exited, so no thread runs `g`.
                unsafe { g.tear_down(stack::release) };
            }
        }
        while !self.injector.steal().is_empty() {}
    }
}

/// Arms a timer on the current worker that wakes `g`'s park `generation`.
pub(crate) fn add_timer(deadline: Instant, g: &G, generation: u64) {
    let shared = g.runtime();
    let index = worker::current_index(shared).expect("a goroutine parks only on a worker of its own runtime");
    shared.slots[index].timers.add(shared.epoch, deadline, Fire::Wake(Waiter::goroutine(g.arc(), generation)));
}

impl Shared {
    /// Arms a timer that calls `task` at `when`: on this worker's heap when
    /// called on one of ours, else on worker 0's, waking a sleeping worker
    /// so that it sleeps no longer than the new deadline.
    pub(crate) fn add_task(&self, when: Instant, task: Arc<dyn TimerTask>) {
        match worker::current_index(self) {
            Some(index) => self.slots[index].timers.add(self.epoch, when, Fire::Task(task)),
            None => {
                self.slots[0].timers.add(self.epoch, when, Fire::Task(task));
                self.recheck_timers();
            }
        }
    }

    /// Makes a sleeping worker look at the deadlines again: called when a
    /// timer may sit on a heap no running worker will look at (one added
    /// from outside, or left by a spare that retires).
    pub(crate) fn recheck_timers(&self) {
        // Pairs with the fence in `Worker::sleep`: either that worker sees
        // the new deadline, or we see it registered as asleep.
        std::sync::atomic::fence(Ordering::SeqCst);
        self.wake_worker();
        // A worker blocked in epoll_wait sleeps until its own deadline:
        // make it look at the timers again.
        self.interrupt_poll(None);
    }
}
