//! The goroutine: a corosensei coroutine on a pooled stack plus a header.
//!
//! The header [`G`] is shared (`Arc`) between the run queues, the registry
//! of live goroutines, wait queues (inside [`Waiter`]s) and the
//! `JoinHandle`. Who touches which field:
//!
//! | field | written by | read by |
//! |---|---|---|
//! | `id`, `name`, `rt`, `stack_size` | spawn, before it is published | anyone |
//! | `entry` | spawn, then its first run | those two, in that order |
//! | `stack_bottom` | its first run, before it starts | its worker, the fault handler |
//! | `park` | the state machine of [`crate::park`] | anyone |
//! | `co`, `yielder`, `locals` | the one worker running it | that worker |
//! | `registry_place` | spawn, before it is published | the worker it ends on |
//! | `wait_reason`, `wait_since` | the goroutine when it parks | dumps |
//! | `join` | under its lock | the goroutine, its joiner |
//!
//! `co` is touched only by the worker that owns the goroutine at the time:
//! the state machine hands the goroutine from one worker to the next with
//! Release/Acquire (a queue push and pop, or the unpark CAS), and a
//! goroutine sits in at most one queue, so two workers never resume it at
//! once.
//!
//! Switching: the goroutine suspends back to its worker with a [`Switch`]
//! telling the worker what to do next: requeue it (`yield_now`) or finish
//! parking it (release the lock it handed over, then mark it PARKED).

use std::any::Any;
use std::cell::{Cell, UnsafeCell};
use std::io;
use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use corosensei::{Coroutine, CoroutineResult, Yielder};
use parking_lot::Mutex;

use crate::entry::Entry;
use crate::local::LocalMap;
use crate::park::{ParkState, WaitReason, Waiter, Wake};
use crate::scheduler::Shared;
use crate::scheduler::registry::Place;
use crate::stack::RawStack;

/// What a goroutine's body returns, boxed (no allocation for `()`).
pub(crate) type Output = Box<dyn Any + Send>;
/// How a goroutine ended: its value, or its panic payload.
pub(crate) type Outcome = std::thread::Result<Output>;

/// What a suspended goroutine asks of its worker.
#[derive(Clone, Copy)]
pub(crate) enum Switch {
    /// Put me back on the run queue (`yield_now`).
    Yield,
    /// Release this lock, then mark me parked.
    Park(Unlock),
}

/// A type-erased "drop this guard", living on the parked goroutine's stack.
#[derive(Clone, Copy)]
pub(crate) struct Unlock {
    data: *mut (),
    release: unsafe fn(*mut ()),
}

impl Unlock {
    /// Drops the guard.
    ///
    /// # Safety
    ///
    /// Call exactly once, on the thread the goroutine switched out from,
    /// before the goroutine can be resumed (its stack holds the guard).
    pub(crate) unsafe fn run(self) {
        // SAFETY: forwarded from the caller's contract; `release` matches
        // the type `data` points to (see `park_current`).
        unsafe { (self.release)(self.data) }
    }
}

type Co = Coroutine<(), Switch, (), RawStack>;

/// The coroutine, with the promise that lets it move between workers.
pub(crate) struct Task(Co);

// SAFETY: a coroutine holds a stack and the suspended state of a closure
// that was `Send` when spawned. What it creates while running may be !Send
// and is carried across workers when it parks; docs/safety.md states that
// contract (no thread-local borrows or thread-bound values across a park).
unsafe impl Send for Task {}

/// A goroutine's header. See the module docs for who touches what.
pub(crate) struct G {
    pub(crate) id: u64,
    pub(crate) name: Option<Box<str>>,
    pub(crate) park: ParkState,
    rt: Arc<Shared>,
    /// Stack size it asked for (rounded); its stack is taken at first run.
    stack_size: usize,
    /// Lowest usable stack address once it has a stack; the guard page
    /// lies below it.
    pub(crate) stack_bottom: Cell<usize>,
    /// Its body until the first run (see [`crate::entry`]).
    entry: UnsafeCell<Entry>,
    co: UnsafeCell<Option<Task>>,
    yielder: Cell<*const Yielder<(), Switch>>,
    wait_reason: AtomicU8,
    wait_since: AtomicU64,
    /// Where the registry keeps it (see `scheduler::registry`).
    pub(crate) registry_place: Cell<Place>,
    /// Set while the runtime tears this goroutine down at shutdown.
    torn_down: Cell<bool>,
    pub(crate) join: Mutex<JoinSlot>,
    pub(crate) locals: UnsafeCell<LocalMap>,
}

// SAFETY: the cells (`co`, `yielder`, `torn_down`, `locals`,
// `registry_place`) are only used
// by the single thread that currently runs or tears down the goroutine; the
// park state machine and the run queues transfer that right with
// Release/Acquire. Everything else is immutable, atomic or locked.
unsafe impl Sync for G {}
// SAFETY: as above; the header moves between workers with the goroutine.
unsafe impl Send for G {}

impl std::fmt::Debug for G {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("G").field("id", &self.id).field("name", &self.name).finish_non_exhaustive()
    }
}

/// The goroutine's result and its joiner, under one lock.
#[derive(Default)]
pub(crate) struct JoinSlot {
    pub(crate) outcome: Option<Outcome>,
    pub(crate) done: bool,
    pub(crate) waiter: Option<Waiter>,
    /// The `JoinHandle` is gone: the goroutine drops its own result.
    pub(crate) detached: bool,
}

/// Runs `f`, which drops user values at a goroutine's end, and swallows a
/// panic from it: the panic hook has reported it, and no caller is left to
/// resume it in. (A payload is forgotten, not dropped: its own destructor
/// might panic again.)
fn contain(f: impl FnOnce()) {
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(f)) {
        std::mem::forget(payload);
    }
}

const NO_REASON: u8 = u8::MAX;

impl G {
    /// A blank header of runtime `rt`, ready for [`launch`](Self::launch).
    pub(crate) fn blank(rt: Arc<Shared>) -> Arc<G> {
        Arc::new(G {
            id: 0,
            name: None,
            park: ParkState::default(),
            rt,
            stack_size: 0,
            stack_bottom: Cell::new(0),
            entry: UnsafeCell::new(Entry::default()),
            co: UnsafeCell::new(None),
            yielder: Cell::new(ptr::null()),
            wait_reason: AtomicU8::new(NO_REASON),
            wait_since: AtomicU64::new(0),
            registry_place: Cell::new((usize::MAX, usize::MAX)),
            torn_down: Cell::new(false),
            join: Mutex::new(JoinSlot::default()),
            locals: UnsafeCell::new(LocalMap::default()),
        })
    }

    /// Makes a blank header (new, or recycled by [`recycle`](Self::recycle))
    /// a goroutine that will run `f` on a stack of `stack_size` bytes
    /// (rounded); nothing runs, and no stack is taken, yet.
    pub(crate) fn launch(
        mut g: Arc<G>,
        id: u64,
        name: Option<Box<str>>,
        stack_size: usize,
        f: impl FnOnce() -> Output + Send + 'static,
    ) -> Arc<G> {
        let blank = Arc::get_mut(&mut g).expect("a goroutine being launched is shared with nobody");
        debug_assert!(blank.co.get_mut().is_none(), "launched a header that still has a coroutine");
        blank.id = id;
        blank.name = name;
        blank.stack_size = stack_size;
        blank.entry.get_mut().set(f);
        g
    }

    /// The coroutine that runs this goroutine's entry on `stack`.
    fn coroutine(&self, stack: RawStack) -> Task {
        let this: *const G = self;
        self.stack_bottom.set(stack.bottom());
        Task(Coroutine::with_stack(stack, move |yielder: &Yielder<(), Switch>, ()| {
            // SAFETY: the registry holds an Arc to this goroutine until it
            // finishes, so the header outlives its coroutine body.
            let g = unsafe { &*this };
            g.yielder.set(yielder);
            // SAFETY: the first run is the only reader of the entry, and the
            // spawn that wrote it happened before (queue Release/Acquire).
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| unsafe { (*g.entry.get()).run() }));
            // Goroutine-locals die with the goroutine, on its own stack.
            // SAFETY: only the running goroutine touches its locals.
            contain(|| unsafe { (*g.locals.get()).clear() });
            let mut join = g.join.lock();
            if join.detached {
                drop(join);
                // Nobody will take the result: drop it here, so a panicking
                // destructor is this goroutine's panic (the hook reports
                // it), not its worker's.
                contain(|| drop(outcome));
            } else {
                join.outcome = Some(outcome);
            }
        }))
    }

    /// Turns the header of a finished goroutine that nothing else refers to
    /// back into a blank one, as Go puts a dead `g` on its `gFree` list:
    /// spawning then allocates nothing. `None` if it is still referenced
    /// (by a `JoinHandle`, or a `Waiter` kept somewhere).
    pub(crate) fn recycle(mut g: Arc<G>) -> Option<Arc<G>> {
        let dead = Arc::get_mut(&mut g)?;
        debug_assert!(dead.co.get_mut().is_none(), "recycled a goroutine that has not finished");
        debug_assert!(!dead.entry.get_mut().is_set(), "recycled a goroutine that never ran");
        dead.name = None;
        dead.park = ParkState::default();
        *dead.yielder.get_mut() = ptr::null();
        *dead.wait_reason.get_mut() = NO_REASON;
        *dead.join.get_mut() = JoinSlot::default();
        Some(g)
    }

    /// A new counted reference to a live goroutine.
    pub(crate) fn arc(&self) -> Arc<G> {
        // SAFETY: every G lives in an Arc (G::blank is the only constructor),
        // and `&self` proves that Arc is alive, so its count is non-zero.
        unsafe {
            Arc::increment_strong_count(self);
            Arc::from_raw(self)
        }
    }

    /// The runtime this goroutine belongs to.
    pub(crate) fn runtime(&self) -> &Arc<Shared> {
        &self.rt
    }

    /// Runs the goroutine until it next switches out. On its first run it
    /// gets a stack from `take_stack` (given the size it asked for).
    ///
    /// Returns `Ok(None)` when it finished (its stack is handed back through
    /// `free_stack`), `Ok(Some(switch))` for the switch it asked for, and
    /// the error of `take_stack` if it could not start: then it never ran
    /// and the caller must [`fail_start`](Self::fail_start) it.
    ///
    /// # Safety
    ///
    /// The caller owns the goroutine right now: it popped it from a queue
    /// or won its wake, and no other thread resumes it concurrently.
    pub(crate) unsafe fn resume(
        &self,
        take_stack: impl FnOnce(usize) -> io::Result<RawStack>,
        free_stack: impl FnOnce(RawStack),
    ) -> io::Result<Option<Switch>> {
        // SAFETY: exclusive by the caller's contract.
        let slot = unsafe { &mut *self.co.get() };
        let task = match slot {
            Some(task) => task,
            None => slot.insert(self.coroutine(take_stack(self.stack_size)?)),
        };
        let prev = RUNNING.replace(self);
        let result = task.0.resume(());
        RUNNING.set(prev);
        Ok(match result {
            CoroutineResult::Yield(switch) => Some(switch),
            CoroutineResult::Return(()) => {
                let task = slot.take().expect("coroutine just returned");
                free_stack(task.0.into_stack());
                None
            }
        })
    }

    /// Ends a goroutine that could not start (no stack): its body is
    /// dropped unrun and `join` reports why. The caller then finishes it as
    /// any ended goroutine.
    ///
    /// # Safety
    ///
    /// As for [`resume`](Self::resume).
    pub(crate) unsafe fn fail_start(&self, err: io::Error) {
        // SAFETY: exclusive by the caller's contract; it never ran.
        unsafe { (*self.entry.get()).clear() };
        let msg = format!("goroutine {} could not start: {err}", self.id);
        eprintln!("{msg}");
        self.join.lock().outcome = Some(Err(Box::new(msg)));
    }

    /// Marks the goroutine finished and wakes its joiner.
    pub(crate) fn finish(&self) {
        self.park.finish();
        let waiter = {
            let mut join = self.join.lock();
            join.done = true;
            join.waiter.take()
        };
        if let Some(w) = waiter {
            w.unpark();
        }
    }

    /// Unwinds a goroutine that will never run again (runtime shutdown):
    /// its stack's destructors run on the calling thread.
    ///
    /// # Safety
    ///
    /// As for [`resume`](Self::resume): the caller owns the goroutine and
    /// no worker will run it again.
    pub(crate) unsafe fn tear_down(&self, free_stack: impl FnOnce(RawStack)) {
        // SAFETY: exclusive by the caller's contract.
        let slot = unsafe { &mut *self.co.get() };
        // SAFETY: as above; a goroutine that never ran still has its entry.
        let entry = unsafe { &mut *self.entry.get() };
        let unfinished = slot.is_some() || entry.is_set();
        if let Some(mut task) = slot.take() {
            self.torn_down.set(true);
            let prev = RUNNING.replace(self);
            task.0.force_unwind();
            RUNNING.set(prev);
            free_stack(task.0.into_stack());
        }
        entry.clear();
        if unfinished {
            let torn: Output = Box::new("goroutine torn down: its runtime shut down before it finished");
            self.join.lock().outcome = Some(Err(torn));
        }
        // SAFETY: the goroutine is gone; nothing else touches its locals.
        unsafe { (*self.locals.get()).clear() };
        self.finish();
    }

    /// Why it is parked, while it is.
    pub(crate) fn wait_reason(&self) -> Option<WaitReason> {
        WaitReason::from_index(self.wait_reason.load(Ordering::Relaxed))
    }

    /// How long it has been parked, while it is.
    pub(crate) fn waiting_for(&self) -> Option<Duration> {
        self.wait_reason()?;
        let since = self.wait_since.load(Ordering::Relaxed);
        Some(coarse_now().saturating_sub(Duration::from_nanos(since)))
    }
}

thread_local! {
    /// The goroutine running on this thread, or null. Workers set it around
    /// every resume; the stack overflow handler reads it.
    static RUNNING: Cell<*const G> = const { Cell::new(ptr::null()) };
}

/// The goroutine running on this thread.
///
/// Never inlined: a goroutine may resume on another thread after any park,
/// so the thread-local's address must be computed afresh on every call and
/// never kept in a register across a switch.
#[inline(never)]
pub(crate) fn running() -> *const G {
    RUNNING.with(Cell::get)
}

/// The current goroutine, if this thread is running one.
pub(crate) fn current() -> Option<Arc<G>> {
    with_current(|g| g.map(G::arc))
}

/// Calls `f` with the current goroutine, if any, without touching its count.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&G>) -> R) -> R {
    let g = running();
    // SAFETY: as in `current`: the worker keeps the goroutine alive while it runs.
    f(unsafe { g.as_ref() })
}

/// The monotonic clock at its coarse resolution (a few milliseconds): what a
/// park records as its start costs a few nanoseconds this way, against a
/// full clock read on every park.
fn coarse_now() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime only writes the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Prints a fatal runtime error and aborts, as Go's `throw` does.
pub(crate) fn fatal(msg: &str) -> ! {
    eprintln!("fatal error: {msg}");
    std::process::abort()
}

/// Suspends the current goroutine into its worker's scheduler.
fn suspend(g: &G, switch: Switch) {
    let yielder = g.yielder.get();
    debug_assert!(!yielder.is_null());
    // SAFETY: the yielder lives at the base of this goroutine's stack for as
    // long as the coroutine runs, and we are running on that stack now.
    unsafe { (*yielder).suspend(switch) }
}

/// The goroutine half of [`crate::park::park`].
///
/// `g` stays valid across the switch: the registry holds it until it ends.
pub(crate) fn park_current<L>(g: &G, reason: WaitReason, deadline: Option<Instant>, unlock: L) -> Wake {
    if g.torn_down.get() {
        // The runtime is unwinding this goroutine at shutdown: nothing will
        // ever wake it. A wait with a deadline ends as timed out at once;
        // one without would never end (callers loop on their condition), so
        // it is a fatal error, as parking while unwinding a panic is.
        drop(unlock);
        if deadline.is_some() {
            return Wake::TimedOut;
        }
        fatal(&format!(
            "goroutine {} tried to block ({}) in a destructor while its runtime was shutting down; \
             nothing can wake it any more",
            g.id,
            reason.as_str()
        ));
    }
    if std::thread::panicking() {
        fatal(&format!(
            "goroutine {} tried to park ({}) while unwinding a panic; a goroutine must not \
             block in a destructor that runs during a panic",
            g.id,
            reason.as_str()
        ));
    }
    let generation = g.park.generation();
    g.wait_since.store(coarse_now().as_nanos() as u64, Ordering::Relaxed);
    g.wait_reason.store(reason as u8, Ordering::Relaxed);
    if let Some(deadline) = deadline {
        crate::scheduler::add_timer(deadline, g, generation);
    }
    let mut unlock = ManuallyDrop::new(unlock);
    unsafe fn release<L>(data: *mut ()) {
        // SAFETY: `data` points at the ManuallyDrop<L> below, which is read
        // out exactly once (Unlock::run's contract).
        unsafe { ManuallyDrop::drop(&mut *(data as *mut ManuallyDrop<L>)) }
    }
    let switch = Switch::Park(Unlock { data: (&mut unlock as *mut ManuallyDrop<L>).cast(), release: release::<L> });
    suspend(g, switch);
    g.wait_reason.store(NO_REASON, Ordering::Relaxed);
    g.park.resume()
}

/// Gives up the worker: the current goroutine goes to the back of the run
/// queue and others run first. On a plain thread, yields the thread.
///
/// Like Go's `runtime.Gosched`. Every park, channel operation, sleep and
/// `yield_now` is a point where another goroutine may run: scheduling is
/// cooperative.
///
/// # Examples
///
/// ```
/// let h = gort_runtime::spawn(|| {
///     for _ in 0..3 {
///         gort_runtime::yield_now();
///     }
///     7
/// });
/// assert_eq!(h.join().unwrap(), 7);
/// ```
pub fn yield_now() {
    with_current(|g| match g {
        Some(g) => suspend(g, Switch::Yield),
        None => std::thread::yield_now(),
    })
}

/// The id of the running goroutine, or `None` on a plain OS thread.
///
/// Ids are unique within the process and never reused.
///
/// # Examples
///
/// ```
/// assert_eq!(gort_runtime::current_id(), None);
/// let id = gort_runtime::spawn(gort_runtime::current_id).join().unwrap();
/// assert!(id.is_some());
/// ```
pub fn current_id() -> Option<u64> {
    with_current(|g| g.map(|g| g.id))
}
