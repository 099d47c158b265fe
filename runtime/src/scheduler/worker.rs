//! One worker thread: find a runnable goroutine, run it, handle its switch.
//!
//! Finding work follows Go's `findRunnable`:
//!
//! 0. our own due timers (cheap when there are none);
//! 1. every [`GLOBAL_QUEUE_INTERVAL`]th slice, the injector first (so
//!    goroutines there cannot starve behind busy local queues);
//! 2. `runnext`, inheriting the current time slice;
//! 3. the local queue, then a batch from the injector;
//! 4. due timers of every worker (other workers' only if their heap is free);
//! 5. as the one spinning worker: steal the newest half of a random
//!    victim's queue (`scheduler::runq`), [`STEAL_ATTEMPTS`] rounds; the
//!    last one also takes, after a grace period, queues of at most
//!    [`SHORT_QUEUE`] and victims' `runnext`;
//! 6. sleep until signalled or the earliest timer.
//!
//! # Time slices and `runnext`
//!
//! A goroutine taken from `runnext` inherits the slice of the one before it
//! (Go's `inheritTime`). Two goroutines that keep waking each other would
//! otherwise monopolise the worker; once a chain of inherited runs is older
//! than [`TIME_SLICE`], the `runnext` goroutine goes to the back of the
//! local queue instead. The clock is read only every
//! [`INHERIT_CLOCK_EVERY`]th inherited run, keeping it off the hot path.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_deque::Steal;

use super::Shared;
use super::runq::RunQueue as LocalQueue;
use crate::goroutine::{G, Switch};
use crate::rng::FastRand;
use crate::stack::{self, StackPool};

/// Go's `schedtick % 61`: how often the injector is checked before the
/// local queue. A prime, so it does not resonate with other periodic work.
const GLOBAL_QUEUE_INTERVAL: u64 = 61;

/// Go's `forcePreemptNS`: the longest a chain of `runnext` goroutines may
/// hold a worker while others wait in its queue.
const TIME_SLICE: Duration = Duration::from_millis(10);

/// Inherited runs between two clock reads.
const INHERIT_CLOCK_EVERY: u32 = 64;

/// Go's `stealTries`: rounds over all victims before giving up.
const STEAL_ATTEMPTS: usize = 4;

/// How long a thief waits before taking a victim's `runnext`, or a queue of
/// at most [`SHORT_QUEUE`]: the victim is usually about to run them (Go's
/// `usleep(3)` in `runqsteal`). A real sleep, as Go's, which the kernel's
/// timer slack stretches to about 50 µs: a 3 µs spin let thieves take
/// goroutines their victims were about to run, splitting communicating
/// pairs across CPUs (select, pingpong and chain 12-16% slower, 7
/// interleaved runs).
const RUNNEXT_GRACE: Duration = Duration::from_micros(3);

/// Queues this short are stolen only in the last round, after
/// [`RUNNEXT_GRACE`], as `runnext` is. Go steals them at once; but a
/// goroutine that wakes several in a row (a select draining its channels)
/// leaves all but the last in its queue, a spinning thief took nearly every
/// one of them (15-25% of select's messages ran on the other worker from
/// their receiver, against 1.7% in Go's trace), and select ran at 420-490 ns against
/// 300-370 ns with this rule.
const SHORT_QUEUE: usize = 3;

/// Blank goroutine headers moved between a worker's cache and the global
/// list at once; a worker caches at most twice this many.
const FREE_GS_BATCH: usize = 32;

/// Heap grown at once before a batch of new headers: just under glibc's
/// initial mmap threshold (128 KiB), so the block comes from the arena.
const HEAP_RESERVE: usize = 120 * 1024;

/// Batches of new headers per [`HEAP_RESERVE`]: 8 × 32 headers of ~320
/// bytes, with room left for the allocations made between them.
const RESERVE_EVERY: u32 = 8;

/// Ended goroutines a worker removes from the registry at once.
const RETIRE_BATCH: usize = 32;

/// The longest a spare sleeps before it checks whether it is still wanted.
const SPARE_NAP: Duration = Duration::from_millis(10);

/// The thread-owned part of a worker. Lives on the worker thread's stack;
/// goroutines reach it through [`WORKER`], so every method takes `&self`.
pub(crate) struct Worker {
    shared: Arc<Shared>,
    index: usize,
    local: LocalQueue<G>,
    rng: FastRand,
    /// Slices started (Go's `schedtick`).
    tick: Cell<u64>,
    /// The tick at which `find` last polled the netpoller between slices.
    polled_at: Cell<u64>,
    /// Inherited runs in the current slice, and when we first looked.
    inherited: Cell<u32>,
    inherit_start: Cell<Option<Instant>>,
    spinning: Cell<bool>,
    stacks: RefCell<StackPool>,
    /// Blank goroutine headers for spawning without allocating.
    free_gs: RefCell<Vec<Arc<G>>>,
    /// Batches of new headers allocated here (see `allocate_blanks`).
    blank_batches: Cell<u32>,
    /// Goroutines that ended here, not yet removed from the registry.
    ended: RefCell<Vec<Arc<G>>>,
}

thread_local! {
    /// The worker running on this thread, or null on other threads.
    static WORKER: Cell<*const Worker> = const { Cell::new(std::ptr::null()) };
}

/// Calls `f` with this thread's worker if it belongs to `shared`.
///
/// Never inlined, for the reason given at `goroutine::running`.
#[inline(never)]
fn with_worker_of<R>(shared: &Shared, f: impl FnOnce(&Worker) -> R) -> Option<R> {
    let w = WORKER.with(Cell::get);
    // SAFETY: WORKER is set only while the worker (on this thread's stack)
    // is alive, in `Worker::main`.
    let w = unsafe { w.as_ref() }?;
    std::ptr::eq(&*w.shared, shared).then(|| f(w))
}

/// Puts `g` in the current worker's `runnext` if this thread is a worker of
/// `shared`; hands `g` back otherwise.
pub(super) fn push_next(shared: &Shared, g: Arc<G>) -> Result<(), Arc<G>> {
    let mut g = Some(g);
    with_worker_of(shared, |w| w.push_next(g.take().expect("taken once")));
    match g {
        None => Ok(()),
        Some(g) => Err(g),
    }
}

/// The index of the current worker, if this thread is a worker of `shared`.
pub(super) fn current_index(shared: &Shared) -> Option<usize> {
    with_worker_of(shared, |w| w.index)
}

/// A blank header for spawning on `shared`, and the spawner's index
/// (`None` on a plain thread). A worker recycles one from its cache
/// (refilled in batches from the global list); a plain thread allocates.
pub(super) fn take_blank(shared: &Arc<Shared>) -> (Option<usize>, Arc<G>) {
    with_worker_of(shared, |w| {
        let mut free = w.free_gs.borrow_mut();
        if free.is_empty() {
            shared.take_free_gs(FREE_GS_BATCH, &mut free);
        }
        if free.is_empty() {
            let batches = w.blank_batches.get();
            w.blank_batches.set(batches.wrapping_add(1));
            allocate_blanks(shared, &mut free, batches % RESERVE_EVERY == 0);
        }
        (Some(w.index), free.pop().expect("just refilled"))
    })
    .unwrap_or_else(|| (None, G::blank(shared.clone())))
}

/// Allocates a batch of new headers; with `reserve`, first grows this
/// thread's heap by [`HEAP_RESERVE`] in one step.
///
/// Why: glibc grows a thread's malloc arena by exactly what each
/// allocation needs, one `mprotect` per page, and `mprotect` takes the mm
/// lock for writing, which stalls every other worker's page faults and
/// guard installs on fresh stacks behind it. Spawning 100,000 goroutines
/// that all stay alive (the `chain` workload) made 10,500 such calls and
/// ran in two modes, 2.5 µs or 6-9 µs a goroutine, with 20x the context
/// switches in the slow one. Taking and freeing one block just under
/// glibc's mmap threshold first leaves the arena's top that much larger,
/// so the next [`RESERVE_EVERY`] batches of headers (and the allocations
/// around them) fit without a call. With other allocators it is one
/// allocation and free now and then.
fn allocate_blanks(shared: &Arc<Shared>, out: &mut Vec<Arc<G>>, reserve: bool) {
    if reserve {
        // black_box: the compiler may otherwise elide an allocation nobody uses.
        drop(std::hint::black_box(Vec::<u8>::with_capacity(HEAP_RESERVE)));
    }
    out.extend((0..FREE_GS_BATCH).map(|_| G::blank(shared.clone())));
}

/// Adds one to a counter that only this worker writes.
fn bump(counter: &std::sync::atomic::AtomicU64) {
    counter.store(counter.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
}

impl Worker {
    /// The worker thread's body: runs goroutines until shutdown. Workers
    /// past `shared.workers` are spares (`scheduler::spare`).
    pub(crate) fn main(shared: Arc<Shared>, index: usize, local: LocalQueue<G>) {
        crate::fault::install_on_worker();
        let w = Worker {
            stacks: RefCell::new(StackPool::new(shared.stack_size)),
            shared,
            index,
            local,
            rng: FastRand::new(index as u64),
            tick: Cell::new(0),
            polled_at: Cell::new(u64::MAX),
            inherited: Cell::new(0),
            inherit_start: Cell::new(None),
            spinning: Cell::new(false),
            free_gs: RefCell::new(Vec::with_capacity(3 * FREE_GS_BATCH)),
            blank_batches: Cell::new(0),
            ended: RefCell::new(Vec::with_capacity(RETIRE_BATCH)),
        };
        // SAFETY: gettid has no preconditions.
        w.slot().tid.store(unsafe { libc::gettid() }, Ordering::Relaxed);
        WORKER.set(&w);
        while let Some(g) = w.find() {
            w.run(g);
        }
        w.flush_ended();
        WORKER.set(std::ptr::null());
        if w.spinning.get() {
            w.shared.idle.stop_spinning();
        }
    }

    fn slot(&self) -> &super::Slot {
        &self.shared.slots[self.index]
    }

    fn push_next(&self, g: Arc<G>) {
        // Release publishes `g` to whoever takes it (owner or thief);
        // Acquire takes ownership of the previous occupant; SeqCst for the
        // wake-up argument in `scheduler::idle` (free: a locked instruction
        // either way on x86, `swpal` on ARMv8).
        let old = self.slot().runnext.swap(Arc::into_raw(g).cast_mut(), Ordering::SeqCst);
        if !old.is_null() {
            // SAFETY: a non-null runnext owns one Arc count, now ours.
            self.local.push(unsafe { Arc::from_raw(old) });
        }
    }

    /// Queues a finished goroutine for removal from the registry; removes
    /// a whole batch once [`RETIRE_BATCH`] have ended.
    fn retire(&self, g: Arc<G>) {
        let mut ended = self.ended.borrow_mut();
        ended.push(g);
        if ended.len() >= RETIRE_BATCH {
            drop(ended);
            self.flush_ended();
        }
    }

    /// Removes the ended goroutines from the registry, then recycles each
    /// header nothing else refers to (a blank cache overflows into the
    /// global list in batches).
    fn flush_ended(&self) {
        let ended = std::mem::take(&mut *self.ended.borrow_mut());
        if ended.is_empty() {
            return;
        }
        let mut places: Vec<_> = ended.iter().map(|g| g.registry_place.get()).collect();
        self.shared.registry.remove_batch(&mut places);
        let mut free = self.free_gs.borrow_mut();
        free.extend(ended.into_iter().filter_map(G::recycle));
        if free.len() > 2 * FREE_GS_BATCH {
            let at = free.len().min(FREE_GS_BATCH);
            self.shared.give_free_gs(free.drain(at..));
        }
    }

    /// Runs `g` until it parks, yields or finishes.
    fn run(&self, g: Arc<G>) {
        let slot = self.slot();
        loop {
            // The monitor sees a worker stuck when `running` stays set while
            // `progress` stays still (see `scheduler::monitor`).
            bump(&slot.own.progress);
            slot.own.running.store(Arc::as_ptr(&g).cast_mut(), Ordering::Relaxed);
            // SAFETY: we own `g`: it came out of a queue or runnext (each
            // holds a goroutine at most once), or it is ours from the
            // previous turn of this loop.
            let switch = unsafe { g.resume(|size| self.take_stack(size), |stack| self.give_stack(stack)) };
            slot.own.running.store(std::ptr::null_mut(), Ordering::Relaxed);
            let switch = switch.unwrap_or_else(|err| {
                // SAFETY: we own `g` (as above) and it never ran.
                unsafe { g.fail_start(err) };
                None
            });
            match switch {
                None => {
                    self.shared.registry.ended(self.index);
                    g.finish();
                    self.retire(g);
                    return;
                }
                Some(Switch::Yield) => {
                    self.local.push(g);
                    return;
                }
                Some(Switch::Park(unlock)) => {
                    bump(&slot.own.parks);
                    // SAFETY: the goroutine has switched out on this thread
                    // and cannot be resumed before it is marked PARKED below.
                    unsafe { unlock.run() };
                    if g.park.park_switched() {
                        return;
                    }
                    // Woken before it finished parking: run it again now.
                }
            }
        }
    }

    fn take_stack(&self, size: usize) -> std::io::Result<stack::RawStack> {
        let mut pool = self.stacks.borrow_mut();
        let stack = pool.take(size);
        self.slot().own.pooled_stacks.store(pool.len(), Ordering::Relaxed);
        stack
    }

    fn give_stack(&self, stack: stack::RawStack) {
        let mut pool = self.stacks.borrow_mut();
        pool.give(stack);
        self.slot().own.pooled_stacks.store(pool.len(), Ordering::Relaxed);
    }

    /// The next goroutine to run, or `None` at shutdown.
    fn find(&self) -> Option<Arc<G>> {
        loop {
            if self.shared.is_shut_down() {
                return None;
            }
            // Our own due timers first, as Go's schedule() does: a worker kept
            // busy by runnext chains must still wake its sleepers on time.
            // Reads the clock only when there are timers.
            let timers = &self.slot().timers;
            if timers.next_deadline(self.shared.epoch).is_some() {
                timers.run_due(self.shared.epoch, Instant::now(), false);
            }
            // Every 61st time slice, and whenever we run dry, look for ready
            // sockets without blocking, so I/O is seen while all are busy.
            // Once per slice: `runnext` chains keep the tick unchanged, and
            // must not make a system call at every switch.
            let tick = self.tick.get();
            if tick % GLOBAL_QUEUE_INTERVAL == 0
                && self.polled_at.replace(tick) != tick
                && let Some(poller) = self.shared.active_poller()
            {
                poller.poll(Some(Duration::ZERO));
            }
            let found = self.next_local().or_else(|| {
                if self.shared.run_timers(self.index, Instant::now()) > 0 {
                    return self.next_local();
                }
                if let Some(poller) = self.shared.active_poller()
                    && poller.poll(Some(Duration::ZERO)) > 0
                {
                    return self.next_local();
                }
                if !self.spinning.get() && self.shared.idle.try_start_spinning() {
                    self.spinning.set(true);
                }
                if self.spinning.get() { self.steal() } else { None }
            });
            if let Some(g) = found {
                self.stop_spinning();
                return Some(g);
            }
            self.sleep();
            self.shared.bell.ring_if_quiet();
        }
    }

    /// Go's resetspinning: the last spinner to find work wakes another
    /// worker, so that any further work is picked up too.
    fn stop_spinning(&self) {
        if self.spinning.replace(false) && self.shared.idle.stop_spinning() {
            self.shared.wake_worker();
        }
    }

    /// Starts a new time slice (a goroutine not inherited from `runnext`).
    fn new_slice(&self) {
        self.tick.set(self.tick.get().wrapping_add(1));
        self.inherited.set(0);
        self.inherit_start.set(None);
    }

    /// Steps 1-3 of the search: injector every 61st slice, runnext, local
    /// queue, injector.
    fn next_local(&self) -> Option<Arc<G>> {
        let injector = &self.shared.injector;
        if self.tick.get() % GLOBAL_QUEUE_INTERVAL == 0
            && let Steal::Success(g) = injector.steal()
        {
            self.new_slice();
            return Some(g);
        }
        if let Some(g) = self.take_runnext() {
            return Some(g);
        }
        let g = self.local.pop().or_else(|| self.local.refill(injector))?;
        self.new_slice();
        Some(g)
    }

    /// Takes `runnext` unless the inherited slice is used up, in which case
    /// the goroutine goes to the back of the local queue.
    fn take_runnext(&self) -> Option<Arc<G>> {
        let g = self.slot().take_runnext()?;
        let n = self.inherited.get() + 1;
        self.inherited.set(n);
        if n % INHERIT_CLOCK_EVERY == 0 {
            let now = Instant::now();
            match self.inherit_start.get() {
                None => self.inherit_start.set(Some(now)),
                Some(start) if now - start >= TIME_SLICE => {
                    self.local.push(g);
                    self.inherited.set(0);
                    self.inherit_start.set(None);
                    return None;
                }
                Some(_) => {}
            }
        }
        Some(g)
    }

    /// Step 5: steal from the other workers and the injector.
    fn steal(&self) -> Option<Arc<G>> {
        // Spares not started yet have nothing to steal.
        let n = self.shared.workers + self.shared.spares.started();
        for attempt in 0..STEAL_ATTEMPTS {
            let last = attempt + 1 == STEAL_ATTEMPTS;
            let start = self.rng.below(n);
            for victim in (0..n).map(|k| (start + k) % n).filter(|&v| v != self.index) {
                let slot = &self.shared.slots[victim];
                let queued = slot.stealer.len();
                let stolen = if queued > SHORT_QUEUE {
                    slot.stealer.steal_batch_and_pop(&self.local)
                } else if last {
                    self.steal_after_grace(victim, queued)
                } else {
                    None
                };
                if stolen.is_some() {
                    bump(&self.slot().own.steals);
                    return stolen;
                }
            }
            if let Some(g) = self.local.refill(&self.shared.injector) {
                return Some(g);
            }
        }
        None
    }

    /// Go's findrunnable blocking in netpoll: with goroutines waiting for
    /// I/O and no other worker in `epoll_wait`, sleep there (until the next
    /// timer) instead of on the condition variable; `wake_worker` and
    /// `add_task` interrupt it through the eventfd. Returns false if it did
    /// not poll (the caller sleeps as usual); true once it has, with the
    /// idle bookkeeping done: it is the spinner if a waker picked it.
    fn poll_instead_of_sleeping(&self, wake_at: Option<Instant>) -> bool {
        let shared = &self.shared;
        let Some(poller) = shared.active_poller() else { return false };
        if !poller.start_blocking(self.index) {
            return false;
        }
        let sleeper = &self.slot().sleeper;
        // A waker that saw us registered but not yet blocked signalled the
        // sleeper instead of the eventfd: do not block then.
        if !sleeper.is_signalled() {
            poller.poll(wake_at.map(|t| t.saturating_duration_since(Instant::now())));
        }
        poller.stop_blocking();
        if !sleeper.try_take() {
            if shared.idle.remove_sleeper(self.index) {
                // Events, a timer or nothing: look for work, not as the spinner.
                return true;
            }
            // A waker picked us meanwhile: its signal is coming.
            sleeper.sleep(None);
        }
        self.spinning.set(true);
        true
    }

    /// The last steal round at a victim with a short queue or a `runnext`:
    /// the victim is probably about to run them, so wait [`RUNNEXT_GRACE`]
    /// first, then take what is still queued, or the `runnext` goroutine if
    /// it stayed there all along.
    fn steal_after_grace(&self, victim: usize, queued: usize) -> Option<Arc<G>> {
        let slot = &self.shared.slots[victim];
        let next = slot.runnext.load(Ordering::Acquire);
        if queued == 0 && next.is_null() {
            return None;
        }
        std::thread::sleep(RUNNEXT_GRACE);
        if let Some(g) = slot.stealer.steal_batch_and_pop(&self.local) {
            return Some(g);
        }
        if next.is_null() {
            return None;
        }
        // Whatever pointer the CAS finds is owned by the slot, so taking it
        // is sound even if `next` was run and reused meanwhile.
        slot.runnext
            .compare_exchange(next, std::ptr::null_mut(), Ordering::AcqRel, Ordering::Acquire)
            .ok()
            // SAFETY: we removed the pointer from runnext: its count is ours.
            .map(|p| unsafe { Arc::from_raw(p) })
    }

    /// Step 6: sleep until signalled or the earliest timer is due; a spare
    /// nobody wants any more retires instead.
    fn sleep(&self) {
        self.flush_ended();
        let shared = &self.shared;
        if let Some(rank) = self.index.checked_sub(shared.workers)
            && !shared.spares.is_wanted(rank)
        {
            if self.spinning.replace(false) && shared.idle.stop_spinning() && shared.has_work() {
                shared.wake_worker();
            }
            // Timers armed here (goroutines that ran on this spare) would
            // otherwise wait for a worker that went to sleep before they
            // were armed.
            if self.slot().timers.next_deadline(shared.epoch).is_some() {
                shared.recheck_timers();
            }
            shared.spares.retire(rank);
            return;
        }
        shared.idle.add_sleeper(self.index);
        if self.spinning.replace(false) && shared.idle.stop_spinning() && shared.has_work() {
            // Work arrived while we gave up (see scheduler::idle): look again.
            if shared.idle.remove_sleeper(self.index) {
                return;
            }
            // A waker picked us already; take its signal below.
        }
        // Look at the timers again now that we are registered as asleep: a
        // plain thread that armed one meanwhile either sees us asleep and
        // wakes us, or its deadline is seen here (`Shared::add_task`).
        std::sync::atomic::fence(Ordering::SeqCst);
        let mut wake_at = shared.earliest_timer();
        if self.index >= shared.workers {
            // A spare wakes now and then to see whether it is still wanted.
            let nap = Instant::now() + SPARE_NAP;
            wake_at = Some(wake_at.map_or(nap, |t| t.min(nap)));
        }
        let sleeper = &self.slot().sleeper;
        if self.poll_instead_of_sleeping(wake_at) {
            return;
        }
        if !sleeper.sleep(wake_at) {
            if shared.idle.remove_sleeper(self.index) {
                // Timed out: a timer is due. We are not the spinner.
                return;
            }
            // A waker picked us meanwhile: its signal is coming.
            sleeper.sleep(None);
        }
        // Woken by `wake_worker`, which made us the spinner (or by shutdown).
        self.spinning.set(true);
    }
}
