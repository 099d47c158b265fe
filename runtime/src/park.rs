//! The parking seam: park the current waiter, unpark it from anywhere.
//!
//! This is the one primitive that channels, sync and net build on. A
//! *waiter* is the goroutine running now or, outside any goroutine, the
//! calling OS thread. The protocol is Go's `gopark`/`goready`:
//!
//! 1. Under its own lock, the blocking operation takes [`Waiter::current`]
//!    and stores it where a waker will find it (a wait queue).
//! 2. It calls [`park`] and hands over the lock guard. A goroutine switches
//!    to its worker's scheduler first, and only *then* is the guard dropped
//!    (Go's `unlockf`). A waker that finds the waiter can therefore never
//!    resume the goroutine while it still runs on its stack.
//! 3. Any thread calls [`Waiter::unpark`]. Exactly one unpark per park period
//!    succeeds; later ones, and ones holding a waiter from an earlier period,
//!    return `false` and change nothing.
//!
//! # The state word
//!
//! Each waiter has one `AtomicU64`: a *generation* (which park period this
//! is) in the high bits, a wake kind bit, and a state in the low bits.
//!
//! ```text
//!   RUNNING --unpark--> NOTIFIED            (woken before it switched out)
//!   RUNNING --switch+unlock--> PARKED --unpark--> WOKEN   (queued to run)
//!   NOTIFIED / WOKEN --resumed--> RUNNING with generation + 1
//! ```
//!
//! A [`Waiter`] records the generation it was taken in; `unpark` acts only
//! while the word still carries that generation and RUNNING or PARKED. The
//! compare-and-swap that leaves those states is the single point where a
//! wake is won, which is what makes it exactly once. A waiter that is taken
//! but never parked on may leave a NOTIFIED behind; the next park then
//! returns at once (a spurious wake-up), so callers re-check their condition
//! in a loop, as with `std::thread::park`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

use crate::goroutine::{self, G};
use crate::scheduler::{Shared, census};

/// Why a waiter is parked: shown by goroutine dumps and deadlock reports.
///
/// The names follow Go's `waitReason` strings.
///
/// # Examples
///
/// ```
/// use gort_runtime::park::WaitReason;
/// assert_eq!(WaitReason::ChanReceive.as_str(), "chan receive");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WaitReason {
    /// Receiving from a channel.
    ChanReceive,
    /// Sending on a channel.
    ChanSend,
    /// Blocked in `select!`.
    Select,
    /// Blocked in `select! {}` with no cases, or a select whose channels are all nil.
    Forever,
    /// Receiving from a nil channel.
    ChanReceiveNil,
    /// Sending on a nil channel.
    ChanSendNil,
    /// In `gort::time::sleep`.
    Sleep,
    /// Waiting for another goroutine to finish (`JoinHandle::join`).
    Join,
    /// In `WaitGroup::wait`.
    WaitGroup,
    /// Locking a `gort::sync::Mutex` (or waiting in `Once::call_once`).
    Sync,
    /// Waiting for a socket to become ready.
    IoWait,
    /// `RwLock::read`.
    RwLockRead,
    /// `RwLock::write`.
    RwLockWrite,
    /// `Cond::wait`.
    CondWait,
    /// `Semaphore::acquire`.
    Semacquire,
    /// Waiting for work handed to `gort::blocking` (Go shows a goroutine
    /// in a blocking system call as `syscall`).
    Syscall,
}

impl WaitReason {
    /// The reason as Go's goroutine dumps spell it.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort_runtime::park::WaitReason;
    /// assert_eq!(WaitReason::Sleep.as_str(), "sleep");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            WaitReason::ChanReceive => "chan receive",
            WaitReason::ChanSend => "chan send",
            WaitReason::Select => "select",
            WaitReason::Forever => "select (no cases)",
            WaitReason::Sleep => "sleep",
            WaitReason::Join => "join",
            WaitReason::WaitGroup => "sync.WaitGroup.Wait",
            WaitReason::Sync => "sync.Mutex.Lock",
            WaitReason::IoWait => "IO wait",
            WaitReason::ChanReceiveNil => "chan receive (nil chan)",
            WaitReason::ChanSendNil => "chan send (nil chan)",
            WaitReason::RwLockRead => "sync.RWMutex.RLock",
            WaitReason::RwLockWrite => "sync.RWMutex.Lock",
            WaitReason::CondWait => "sync.Cond.Wait",
            WaitReason::Semacquire => "semacquire",
            WaitReason::Syscall => "syscall",
        }
    }

    pub(crate) fn from_index(i: u8) -> Option<WaitReason> {
        // In declaration order: `reason as u8` indexes it.
        const ALL: [WaitReason; 16] = [
            WaitReason::ChanReceive,
            WaitReason::ChanSend,
            WaitReason::Select,
            WaitReason::Forever,
            WaitReason::ChanReceiveNil,
            WaitReason::ChanSendNil,
            WaitReason::Sleep,
            WaitReason::Join,
            WaitReason::WaitGroup,
            WaitReason::Sync,
            WaitReason::IoWait,
            WaitReason::RwLockRead,
            WaitReason::RwLockWrite,
            WaitReason::CondWait,
            WaitReason::Semacquire,
            WaitReason::Syscall,
        ];
        ALL.get(i as usize).copied()
    }
}

/// How a park ended.
///
/// # Examples
///
/// ```
/// use gort_runtime::park::{park, Wake, WaitReason};
/// use std::time::{Duration, Instant};
/// let deadline = Instant::now() + Duration::from_millis(1);
/// // Nobody unparks us, so the deadline ends the park.
/// let mut wake = Wake::Unparked;
/// while Instant::now() < deadline {
///     wake = park(WaitReason::Sleep, Some(deadline), ());
/// }
/// assert_eq!(wake, Wake::TimedOut);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// A [`Waiter::unpark`] woke it (or a spurious wake-up; re-check).
    Unparked,
    /// The deadline passed first.
    TimedOut,
}

// Layout of the state word: generation << GEN_SHIFT | TIMED_OUT? | state.
const STATE_MASK: u64 = 0b111;
const TIMED_OUT: u64 = 0b1000;
const GEN_SHIFT: u32 = 4;

/// Not parked: running, runnable before its first park, or between parks.
const RUNNING: u64 = 0;
/// Unparked while still RUNNING: the next park returns at once.
const NOTIFIED: u64 = 1;
/// Switched out and its lock released; only an unpark brings it back.
const PARKED: u64 = 2;
/// Unparked from PARKED and handed to the scheduler.
const WOKEN: u64 = 3;
/// The goroutine has returned; nothing wakes it any more.
const DONE: u64 = 4;

/// What a successful [`ParkState::notify`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Notified {
    /// The waiter had not switched out yet; it will not block.
    Early,
    /// The waiter was parked: the caller must make it runnable.
    Parked,
}

/// The state word shared by goroutines and parked threads.
#[derive(Debug, Default)]
pub(crate) struct ParkState(AtomicU64);

impl ParkState {
    /// The current generation: a [`Waiter`] taken now belongs to it.
    pub(crate) fn generation(&self) -> u64 {
        self.0.load(Ordering::Acquire) >> GEN_SHIFT
    }

    /// Tries to wake the park period `generation`. Exactly one caller per
    /// generation gets `Some`.
    pub(crate) fn notify(&self, generation: u64, wake: Wake) -> Option<Notified> {
        let kind = if wake == Wake::TimedOut { TIMED_OUT } else { 0 };
        let mut cur = self.0.load(Ordering::Acquire);
        loop {
            if cur >> GEN_SHIFT != generation {
                return None;
            }
            let (next, found) = match cur & STATE_MASK {
                RUNNING => (NOTIFIED, Notified::Early),
                PARKED => (WOKEN, Notified::Parked),
                _ => return None,
            };
            // AcqRel: Release publishes whatever the waker wrote for the
            // waiter (a value in its slot) to the resumed waiter, which reads
            // the word with Acquire in `resume`; Acquire pairs with the
            // Release in `park_switched`.
            match self.0.compare_exchange_weak(
                cur,
                generation << GEN_SHIFT | kind | next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(found),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Called by the scheduler after the goroutine switched out and its lock
    /// was released: RUNNING becomes PARKED. Returns `false` if an unpark
    /// came first (NOTIFIED), in which case the goroutine must run again.
    pub(crate) fn park_switched(&self) -> bool {
        let cur = self.0.load(Ordering::Acquire);
        match cur & STATE_MASK {
            RUNNING => {
                self.0.compare_exchange(cur, (cur & !STATE_MASK) | PARKED, Ordering::AcqRel, Ordering::Acquire).is_ok()
            }
            NOTIFIED => false,
            state => unreachable!("goroutine switched out to park in state {state}"),
        }
    }

    /// Ends the park period: returns how it ended and opens the next
    /// generation. Only the parked waiter itself calls this, after a wake.
    pub(crate) fn resume(&self) -> Wake {
        let cur = self.0.load(Ordering::Acquire);
        debug_assert!(matches!(cur & STATE_MASK, NOTIFIED | WOKEN), "resumed without a wake");
        let wake = if cur & TIMED_OUT != 0 { Wake::TimedOut } else { Wake::Unparked };
        // Nobody else writes the word now: the waking CAS moved it out of
        // RUNNING/PARKED, and no waiter of the next generation exists yet.
        self.0.store(((cur >> GEN_SHIFT) + 1) << GEN_SHIFT | RUNNING, Ordering::Release);
        wake
    }

    /// A thread whose deadline passed claims its own park period. Returns
    /// `false` if an unpark won the race (then the thread must `resume`).
    fn time_out(&self, generation: u64) -> bool {
        self.0
            .compare_exchange(
                generation << GEN_SHIFT | RUNNING,
                (generation + 1) << GEN_SHIFT | RUNNING,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    fn is_notified(&self) -> bool {
        self.0.load(Ordering::Acquire) & STATE_MASK == NOTIFIED
    }

    /// True while parked and not yet woken.
    pub(crate) fn is_parked(&self) -> bool {
        self.0.load(Ordering::Acquire) & STATE_MASK == PARKED
    }

    /// True once [`finish`](Self::finish) ran.
    pub(crate) fn is_done(&self) -> bool {
        self.0.load(Ordering::Acquire) & STATE_MASK == DONE
    }

    /// Marks a finished goroutine: no unpark can succeed any more.
    pub(crate) fn finish(&self) {
        let generation = self.generation();
        self.0.store(generation << GEN_SHIFT | DONE, Ordering::Release);
    }
}

/// A handle that wakes one park period of one waiter.
///
/// Take it with [`Waiter::current`] before parking, store it where a waker
/// will find it, then call [`park`]. Cloning is cheap; any clone may wake
/// the waiter, and only the first unpark of the period counts.
///
/// # Examples
///
/// ```
/// use gort_runtime::park::{park, Waiter, WaitReason};
/// use std::sync::Arc;
/// use parking_lot::Mutex;
///
/// let slot: Arc<Mutex<Option<Waiter>>> = Arc::new(Mutex::new(None));
/// let done = Arc::new(Mutex::new(false));
/// let (s, d) = (slot.clone(), done.clone());
/// let t = std::thread::spawn(move || loop {
///     if let Some(w) = s.lock().take() {
///         *d.lock() = true;
///         assert!(w.unpark());
///         break;
///     }
///     std::thread::yield_now();
/// });
/// let mut guard = slot.lock();
/// *guard = Some(Waiter::current());
/// park(WaitReason::ChanReceive, None, guard); // the guard is released once we are parked
/// while !*done.lock() {
///     std::thread::yield_now();
/// }
/// t.join().unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct Waiter {
    target: Target,
    generation: u64,
}

#[derive(Clone, Debug)]
enum Target {
    Goroutine(Arc<G>),
    Thread(Arc<ThreadParker>),
}

impl Waiter {
    /// The waiter for the current goroutine, or for this thread outside any
    /// goroutine, in its current park period.
    ///
    /// # Examples
    ///
    /// ```
    /// let w = gort_runtime::park::Waiter::current();
    /// assert!(w.is_thread());
    /// ```
    pub fn current() -> Waiter {
        match goroutine::current() {
            Some(g) => Waiter { generation: g.park.generation(), target: Target::Goroutine(g) },
            None => {
                THREAD_PARKER.with(|p| Waiter { generation: p.state.generation(), target: Target::Thread(p.clone()) })
            }
        }
    }

    /// The waiter of goroutine `g` for park period `generation`.
    pub(crate) fn goroutine(g: Arc<G>, generation: u64) -> Waiter {
        Waiter { target: Target::Goroutine(g), generation }
    }

    /// True when this waiter is a plain OS thread rather than a goroutine.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(gort_runtime::park::Waiter::current().is_thread());
    /// ```
    pub fn is_thread(&self) -> bool {
        matches!(self.target, Target::Thread(_))
    }

    /// Wakes the waiter if it is still in the park period this handle was
    /// taken in and nobody woke it yet. Returns whether this call woke it.
    ///
    /// # Examples
    ///
    /// ```
    /// let w = gort_runtime::park::Waiter::current();
    /// assert!(w.unpark());      // wakes (the next park returns at once)
    /// assert!(!w.unpark());     // only one unpark per period counts
    /// ```
    pub fn unpark(&self) -> bool {
        self.wake(Wake::Unparked)
    }

    /// True when `self` and `other` wake the same goroutine or thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = (gort_runtime::park::Waiter::current(), gort_runtime::park::Waiter::current());
    /// assert!(a.same_waiter(&b));
    /// ```
    pub fn same_waiter(&self, other: &Waiter) -> bool {
        match (&self.target, &other.target) {
            (Target::Goroutine(a), Target::Goroutine(b)) => Arc::ptr_eq(a, b),
            (Target::Thread(a), Target::Thread(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// Wins the wake of this park period but delivers it later: returns
    /// `None` if somebody else won it, else a [`Wakeup`] that makes the
    /// waiter runnable when [`Wakeup::deliver`]ed.
    ///
    /// This splits [`unpark`](Self::unpark) for callers that keep the
    /// `Waiter` inside memory the waiter owns (a record on its stack, in a
    /// wait queue): they decide the wake under their lock, where the record
    /// is surely alive, and deliver it after unlocking, touching only the
    /// `Wakeup`. Scheduling the goroutine (or signalling the thread) then
    /// happens outside the lock, as Go's `goready` after `unlock`.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort_runtime::park::{park, Waiter, WaitReason};
    /// let w = Waiter::current();
    /// let wakeup = w.unpark_deferred().expect("nobody else woke it");
    /// assert!(w.unpark_deferred().is_none(), "the wake is won once");
    /// wakeup.deliver();
    /// park(WaitReason::ChanReceive, None, ()); // returns at once
    /// ```
    pub fn unpark_deferred(&self) -> Option<Wakeup> {
        self.decide(Wake::Unparked)
    }

    /// Wakes with the given kind; the timer uses `Wake::TimedOut`.
    pub(crate) fn wake(&self, wake: Wake) -> bool {
        self.decide(wake).map(Wakeup::deliver).is_some()
    }

    fn decide(&self, wake: Wake) -> Option<Wakeup> {
        match &self.target {
            Target::Goroutine(g) => match g.park.notify(self.generation, wake)? {
                // Not switched out yet: it will see the wake by itself.
                Notified::Early => Some(Wakeup(None)),
                // Parked: nobody but us can make it runnable, so `g` is
                // still ours to clone.
                Notified::Parked => Some(Wakeup(Some(Target::Goroutine(g.clone())))),
            },
            Target::Thread(p) => {
                // Clone first: once notified, the thread may return and drop
                // the record this `Waiter` lives in.
                let p = p.clone();
                p.state.notify(self.generation, wake)?;
                Some(Wakeup(Some(Target::Thread(p))))
            }
        }
    }
}

/// A wake that was won by [`Waiter::unpark_deferred`] and is not delivered
/// yet. Deliver it with [`deliver`](Self::deliver); dropping it delivers
/// it too, so a wake cannot get lost.
///
/// # Examples
///
/// ```
/// let w = gort_runtime::park::Waiter::current();
/// let wakeup = w.unpark_deferred().unwrap();
/// wakeup.deliver();
/// ```
#[derive(Debug)]
#[must_use = "a wake-up does nothing until delivered"]
pub struct Wakeup(Option<Target>);

impl Wakeup {
    /// Makes the waiter runnable: schedules the goroutine or signals the
    /// thread. Call it after releasing the locks that guarded the waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// let w = gort_runtime::park::Waiter::current();
    /// w.unpark_deferred().unwrap().deliver();
    /// ```
    pub fn deliver(mut self) {
        self.send();
    }

    fn send(&mut self) {
        match self.0.take() {
            None => {}
            Some(Target::Goroutine(g)) => Shared::schedule_own(g),
            Some(Target::Thread(p)) => {
                // Taking the lock orders this signal after the parked
                // thread's check of the state, so it cannot fall in between.
                let mut counted = p.lock.lock();
                // The thread is no longer asleep for good: uncount it before
                // it runs, so a deadlock check never sees it as asleep then.
                if std::mem::take(&mut *counted) {
                    THREADS_PARKED_FOR_GOOD.fetch_sub(1, Ordering::SeqCst);
                    census::changed();
                }
                p.cond.notify_one();
            }
        }
    }
}

impl Drop for Wakeup {
    fn drop(&mut self) {
        self.send();
    }
}

/// Parks the current waiter until a [`Waiter`] of this park period is
/// unparked or `deadline` passes; drops `unlock` once parked.
///
/// On a goroutine, `unlock` is dropped on the same OS thread after the
/// goroutine has switched out, so a waker that needs the lock `unlock`
/// guards cannot resume it early. On a plain thread, `unlock` is dropped
/// before the thread sleeps (the state word keeps the wake from getting
/// lost). May return [`Wake::Unparked`] spuriously: re-check the condition.
///
/// # Panics
///
/// Aborts the process when called while the current goroutine is unwinding
/// a panic: a goroutine that switched out mid-unwind would resume on
/// another thread with that thread's panic bookkeeping.
///
/// # Examples
///
/// ```
/// use gort_runtime::park::{park, Waiter, WaitReason};
/// let w = Waiter::current();
/// w.unpark();                                    // wake first ...
/// park(WaitReason::ChanReceive, None, ());       // ... so this returns at once
/// ```
pub fn park<L>(reason: WaitReason, deadline: Option<Instant>, unlock: L) -> Wake {
    goroutine::with_current(|g| match g {
        Some(g) => goroutine::park_current(g, reason, deadline, unlock),
        None => THREAD_PARKER.with(|p| p.park(deadline, unlock)),
    })
}

/// Plain threads parked without a deadline, in every runtime: they act
/// again only when something else wakes them, so deadlock detection
/// (`scheduler::deadlock`) counts them as asleep.
static THREADS_PARKED_FOR_GOOD: AtomicUsize = AtomicUsize::new(0);

/// How many plain threads are parked without a deadline right now.
pub(crate) fn threads_parked_for_good() -> usize {
    THREADS_PARKED_FOR_GOOD.load(Ordering::SeqCst)
}

/// Parks a plain OS thread: a state word plus a condition variable.
#[derive(Debug, Default)]
pub(crate) struct ThreadParker {
    state: ParkState,
    /// True while the thread is counted in [`THREADS_PARKED_FOR_GOOD`]:
    /// set by the thread as it sleeps without a deadline, cleared by
    /// whoever wakes it (or by the thread, if it wakes spuriously).
    lock: Mutex<bool>,
    cond: Condvar,
}

impl ThreadParker {
    fn park<L>(&self, deadline: Option<Instant>, unlock: L) -> Wake {
        let generation = self.state.generation();
        drop(unlock);
        let mut guard = self.lock.lock();
        loop {
            if self.state.is_notified() {
                return self.state.resume();
            }
            match deadline {
                None => {
                    *guard = true;
                    THREADS_PARKED_FOR_GOOD.fetch_add(1, Ordering::SeqCst);
                    census::changed();
                    self.cond.wait(&mut guard);
                    if std::mem::take(&mut *guard) {
                        THREADS_PARKED_FOR_GOOD.fetch_sub(1, Ordering::SeqCst);
                        census::changed();
                    }
                }
                Some(deadline) => {
                    if Instant::now() >= deadline {
                        if self.state.time_out(generation) {
                            return Wake::TimedOut;
                        }
                        continue;
                    }
                    self.cond.wait_until(&mut guard, deadline);
                }
            }
        }
    }
}

thread_local! {
    /// This thread's parker, for parks outside any goroutine. Plain threads
    /// never migrate, so a thread-local is right here.
    static THREAD_PARKER: Arc<ThreadParker> = Arc::new(ThreadParker::default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpark_is_won_once_per_generation() {
        let s = ParkState::default();
        let g = s.generation();
        assert_eq!(s.notify(g, Wake::Unparked), Some(Notified::Early));
        assert_eq!(s.notify(g, Wake::Unparked), None);
        assert_eq!(s.resume(), Wake::Unparked);
        assert_eq!(s.notify(g, Wake::Unparked), None, "a stale waiter must not wake a later park");
        let g2 = s.generation();
        assert_eq!(g2, g + 1);
        assert!(s.park_switched());
        assert_eq!(s.notify(g2, Wake::TimedOut), Some(Notified::Parked));
        assert_eq!(s.resume(), Wake::TimedOut);
    }

    #[test]
    fn finished_goroutines_cannot_be_woken() {
        let s = ParkState::default();
        let g = s.generation();
        s.finish();
        assert!(s.is_done());
        assert_eq!(s.notify(g, Wake::Unparked), None);
    }

    #[test]
    fn thread_park_times_out_without_unpark() {
        let deadline = Instant::now() + std::time::Duration::from_millis(5);
        let mut wake = Wake::Unparked;
        while Instant::now() < deadline {
            wake = park(WaitReason::Sleep, Some(deadline), ());
        }
        assert_eq!(wake, Wake::TimedOut);
    }

    #[test]
    fn thread_unpark_from_another_thread_wakes_it() {
        let w = Waiter::current();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(5));
            assert!(w.unpark());
        });
        assert_eq!(park(WaitReason::ChanReceive, None, ()), Wake::Unparked);
        t.join().unwrap();
    }
}
