//! The select engine behind `select!` and `Select`: Go's `selectgo`.
//!
//! 1. Visit the arms in a uniformly random order (Go's `pollorder`) with
//!    every channel locked, in address order (`lockorder`, so two selects
//!    can never deadlock on each other's locks); the first arm that can
//!    complete now wins.
//! 2. If none can and there is a `default`, take it.
//! 3. Else queue one record per arm, all sharing one `Selection`, and park
//!    with every lock handed to the park. The first waker to claim the
//!    selection completes its arm; the others skip the records.
//! 4. Once woken, lock every channel again and take the records out of the
//!    queues that still hold them.
//!
//! Nil channels are never ready and never locked. Arms are trait objects so
//! that one engine serves any mix of channel types.

use std::cell::Cell;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use gort_runtime::park::{WaitReason, Wake, Wakeup, park};
use parking_lot::RawMutex;
use parking_lot::lock_api::{GuardNoSend, RawMutex as _};

use crate::core::{Core, RecvNow, SendNow};
use crate::queue::{Selection, Sudog};

/// What an arm can do right now, asked under its channel's lock.
#[doc(hidden)]
pub enum Poll {
    /// Completed; deliver the wake-up (if any) after unlocking.
    Done(Option<Wakeup>),
    NotReady,
    /// A send arm on a closed channel: the select panics.
    SendOnClosed,
}

/// One arm of a select, type-erased. Implemented by [`RecvArm`] and
/// [`SendArm`]; public only for the `select!` macro.
///
/// # Safety
///
/// `lock` returns the same mutex (or `None`) every time, the one that
/// guards the queue `enqueue` and `dequeue` use; `recv_slot` returns a
/// pointer to an `Option<Option<T>>` only when the arm receives `T`s from
/// the channel at `addr`. The engine unlocks and casts on that promise.
#[doc(hidden)]
pub unsafe trait Arm {
    /// The channel's lock; `None` for a nil channel (never ready).
    fn lock(&self) -> Option<&RawMutex>;
    /// Completes the arm now if it can. Called with the lock held.
    ///
    /// # Safety
    ///
    /// The caller holds [`lock`](Self::lock).
    unsafe fn poll(&mut self) -> Poll;
    /// Queues a record for this arm (arm `case` of `selection`).
    ///
    /// # Safety
    ///
    /// The caller holds the lock, keeps `selection` and `self` in place
    /// until [`dequeue`](Self::dequeue) ran under the lock, and calls it
    /// for every queued arm before either goes.
    unsafe fn enqueue(&mut self, selection: &Selection, case: usize);
    /// Takes this arm's record out of its queue if it is still there, and
    /// keeps what it holds.
    ///
    /// # Safety
    ///
    /// The caller holds the lock.
    unsafe fn dequeue(&mut self);
    /// The arm won through its queued record (a waker completed it); returns
    /// `false` for a send arm that was woken by `close`.
    fn won_queued(&mut self) -> bool;
    /// The value of a recv arm that won, as a type-erased `Option<Option<T>>`
    /// pointer, if this is a recv arm on the channel at `addr`.
    fn recv_slot(&mut self, addr: usize) -> Option<*mut ()>;
}

/// A `recv(ch) -> v` arm.
#[doc(hidden)]
pub struct RecvArm<'a, T> {
    core: &'a Core<T>,
    record: Option<Sudog<T>>,
    /// `Some(v)` once the arm won: `v` is `None` for a closed channel.
    result: Option<Option<T>>,
}

impl<'a, T> RecvArm<'a, T> {
    pub(crate) fn new(core: &'a Core<T>) -> Self {
        RecvArm { core, record: None, result: None }
    }

    /// The channel's address (0 for nil), which identifies it.
    pub(crate) fn addr(&self) -> usize {
        self.core.addr()
    }

    /// The received value (`None`: closed) of the winning arm.
    pub fn take(&mut self) -> Option<T> {
        self.result.take().expect("select took an arm that did not complete")
    }
}

// SAFETY: `lock` is always the lock of `self.core`, whose queues the arm
// uses, and `recv_slot` matches `self.core`'s address, whose items are `T`.
unsafe impl<T> Arm for RecvArm<'_, T> {
    fn lock(&self) -> Option<&RawMutex> {
        self.core.0.as_deref().map(|inner| inner.raw())
    }

    unsafe fn poll(&mut self) -> Poll {
        let inner = self.core.0.as_deref().expect("nil arms are not polled");
        // SAFETY: the caller holds the lock.
        match unsafe { inner.state_mut() }.recv_now() {
            RecvNow::Got(v, wakeup) => {
                self.result = Some(Some(v));
                Poll::Done(wakeup)
            }
            RecvNow::Closed => {
                self.result = Some(None);
                Poll::Done(None)
            }
            RecvNow::Empty => Poll::NotReady,
        }
    }

    unsafe fn enqueue(&mut self, selection: &Selection, case: usize) {
        let inner = self.core.0.as_deref().expect("nil arms are not queued");
        let record = self.record.insert(Sudog::new(selection, case, None));
        // SAFETY: the caller holds the lock and keeps the record in place
        // until `dequeue` (the trait's contract).
        unsafe { inner.state_mut().recvq.push(record) };
    }

    unsafe fn dequeue(&mut self) {
        if let (Some(inner), Some(record)) = (self.core.0.as_deref(), &self.record) {
            // SAFETY: the caller holds the lock; the record was pushed here.
            unsafe { inner.state_mut().recvq.remove(record) };
        }
    }

    fn won_queued(&mut self) -> bool {
        let record = self.record.take().expect("a queued arm has a record");
        self.result = Some(record.into_slot());
        true
    }

    fn recv_slot(&mut self, addr: usize) -> Option<*mut ()> {
        (self.core.addr() == addr).then_some(&mut self.result as *mut Option<Option<T>> as *mut ())
    }
}

/// A `send(ch, v)` arm.
#[doc(hidden)]
pub struct SendArm<'a, T> {
    core: &'a Core<T>,
    value: Option<T>,
    record: Option<Sudog<T>>,
}

impl<'a, T> SendArm<'a, T> {
    pub(crate) fn new(core: &'a Core<T>, value: T) -> Self {
        SendArm { core, value: Some(value), record: None }
    }
}

// SAFETY: `lock` is always the lock of `self.core`, whose queues the arm
// uses; `recv_slot` never returns a pointer.
unsafe impl<T> Arm for SendArm<'_, T> {
    fn lock(&self) -> Option<&RawMutex> {
        self.core.0.as_deref().map(|inner| inner.raw())
    }

    unsafe fn poll(&mut self) -> Poll {
        let inner = self.core.0.as_deref().expect("nil arms are not polled");
        let v = self.value.take().expect("a send arm holds its value until it is sent");
        // SAFETY: the caller holds the lock.
        match unsafe { inner.state_mut() }.send_now(inner.cap(), v) {
            SendNow::Sent(wakeup) => Poll::Done(wakeup),
            SendNow::Full(v) => {
                self.value = Some(v);
                Poll::NotReady
            }
            SendNow::Closed(v) => {
                self.value = Some(v);
                Poll::SendOnClosed
            }
        }
    }

    unsafe fn enqueue(&mut self, selection: &Selection, case: usize) {
        let inner = self.core.0.as_deref().expect("nil arms are not queued");
        let record = self.record.insert(Sudog::new(selection, case, self.value.take()));
        // SAFETY: as for `RecvArm::enqueue`.
        unsafe { inner.state_mut().sendq.push(record) };
    }

    unsafe fn dequeue(&mut self) {
        if let (Some(inner), Some(record)) = (self.core.0.as_deref(), self.record.take()) {
            // SAFETY: the caller holds the lock; the record was pushed here.
            unsafe { inner.state_mut().sendq.remove(&record) };
            self.value = record.into_slot();
        }
    }

    fn won_queued(&mut self) -> bool {
        let record = self.record.take().expect("a queued arm has a record");
        // A receiver takes the value; close leaves it.
        record.into_slot().is_none()
    }

    fn recv_slot(&mut self, _addr: usize) -> Option<*mut ()> {
        None
    }
}

/// How long a select may wait when no arm is ready.
#[derive(Clone, Copy, Debug)]
#[doc(hidden)]
pub enum Block {
    /// Not at all: a `default` arm.
    No,
    Forever,
    Until(Instant),
}

/// Runs a select over `arms`: returns the index of the arm that completed,
/// or `None` when `block` allowed no (more) waiting.
///
/// # Panics
///
/// "send on closed channel" when the chosen arm sends on a closed channel.
#[doc(hidden)]
#[track_caller]
pub fn select(arms: &mut [&mut dyn Arm], block: Block) -> Option<usize> {
    let n = arms.len();
    // Each arm's lock, read once (0 for a nil channel).
    let addrs = Scratch::from_fn(n, |i| arms[i].lock().map_or(0, |l| l as *const RawMutex as usize));
    let addrs = addrs.as_slice();
    let mut poll_order = Scratch::from_fn(n, |i| i as u32);
    shuffle(poll_order.as_mut());
    let poll_order = poll_order.as_slice();
    // Lock order: the arms with a channel, by lock address. It is also the
    // order records are queued in, so arms on one channel keep their random
    // poll order (a stable sort), or the first of them would always win.
    let mut lock_order = Scratch::from_fn(n, |_| 0u32);
    let mut live = 0;
    for &i in poll_order {
        if addrs[i as usize] != 0 {
            lock_order.as_mut()[live] = i;
            live += 1;
        }
    }
    let lock_order = &mut lock_order.as_mut()[..live];
    lock_order.sort_by_key(|&i| addrs[i as usize]);
    if live == 0 {
        return wait_without_arms(block);
    }
    // The distinct locks, in order: arms may share a channel.
    let mut locks = Scratch::from_fn(live, |_| 0usize);
    let mut distinct = 0;
    for &i in lock_order.iter() {
        let addr = addrs[i as usize];
        if distinct == 0 || locks.as_slice()[distinct - 1] != addr {
            locks.as_mut()[distinct] = addr;
            distinct += 1;
        }
    }
    let locks = Locks(&locks.as_slice()[..distinct]);

    loop {
        locks.lock_all();
        for &i in poll_order {
            if addrs[i as usize] == 0 {
                continue;
            }
            // SAFETY: every channel is locked.
            match unsafe { arms[i as usize].poll() } {
                Poll::NotReady => continue,
                Poll::Done(wakeup) => {
                    locks.unlock_all();
                    drop(wakeup);
                    return Some(i as usize);
                }
                Poll::SendOnClosed => {
                    locks.unlock_all();
                    panic!("send on closed channel");
                }
            }
        }
        let deadline = match block {
            Block::No => {
                locks.unlock_all();
                return None;
            }
            Block::Forever => None,
            Block::Until(deadline) => Some(deadline),
        };

        let selection = Selection::new();
        for &i in lock_order.iter() {
            // SAFETY: every channel is locked; `selection` and the arms stay
            // on this frame until every record is dequeued below.
            unsafe { arms[i as usize].enqueue(&selection, i as usize) };
        }
        // Unwinding out of `park` (a runtime shutting down under us) would
        // leave records queued that live on this stack: dequeue them then.
        let on_unwind = DequeueOnUnwind { arms: &mut *arms, order: lock_order, locks };
        let wake = park(WaitReason::Select, deadline, Unlock(locks));
        std::mem::forget(on_unwind);
        locks.lock_all();
        let won = selection.completed();
        for &i in lock_order.iter() {
            if Some(i as usize) != won {
                // SAFETY: every channel is locked.
                unsafe { arms[i as usize].dequeue() };
            }
        }
        locks.unlock_all();
        if let Some(case) = won {
            if !arms[case].won_queued() {
                panic!("send on closed channel");
            }
            return Some(case);
        }
        if wake == Wake::TimedOut || deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        // A spurious wake-up: poll again from the top.
    }
}

/// A select whose every channel is nil: `select {}` waits forever.
fn wait_without_arms(block: Block) -> Option<usize> {
    loop {
        match block {
            Block::No => return None,
            Block::Forever => {
                park(WaitReason::Forever, None, ());
            }
            Block::Until(deadline) => {
                park(WaitReason::Forever, Some(deadline), ());
                if Instant::now() >= deadline {
                    return None;
                }
            }
        }
    }
}

/// Blocks forever: `select! {}`.
#[doc(hidden)]
pub fn block_forever() -> ! {
    loop {
        park(WaitReason::Forever, None, ());
    }
}

/// The distinct channel locks of a select, in address order (so two
/// selects can never deadlock on each other's locks). The addresses are
/// those of locks inside channels the arms borrow for the whole select.
#[derive(Clone, Copy)]
struct Locks<'a>(&'a [usize]);

impl Locks<'_> {
    fn lock_all(self) {
        for &addr in self.0 {
            // SAFETY: `addr` is a channel's lock, alive while the arms borrow it.
            let lock = unsafe { &*(addr as *const RawMutex) };
            // The guard is a stateless marker: `unlock_all` makes a new one.
            let _ = lock.lock();
        }
    }

    fn unlock_all(self) {
        for &addr in self.0.iter().rev() {
            // SAFETY: as in `lock_all`; it locked this lock once, on this
            // thread, and we unlock it once. parking_lot's guard state is a
            // stateless marker.
            unsafe { (*(addr as *const RawMutex)).unlock(GuardNoSend::new()) };
        }
    }
}

/// The park's unlock guard: unlocks every channel once the goroutine is
/// switched out.
struct Unlock<'a>(Locks<'a>);

impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        self.0.unlock_all();
    }
}

/// Dequeues every arm under all the locks when dropped; see `select`.
struct DequeueOnUnwind<'a, 'b> {
    arms: &'a mut [&'b mut dyn Arm],
    order: &'a [u32],
    locks: Locks<'a>,
}

impl Drop for DequeueOnUnwind<'_, '_> {
    fn drop(&mut self) {
        self.locks.lock_all();
        for &i in self.order {
            // SAFETY: every channel is locked.
            unsafe { self.arms[i as usize].dequeue() };
        }
        self.locks.unlock_all();
    }
}

/// Per-arm scratch without a heap allocation for the common small selects.
enum Scratch<T> {
    Inline([T; 8], usize),
    Heap(Vec<T>),
}

impl<T: Copy + Default> Scratch<T> {
    /// `[f(0), .., f(n - 1)]`.
    fn from_fn(n: usize, mut f: impl FnMut(usize) -> T) -> Scratch<T> {
        if n <= 8 {
            let mut a = [T::default(); 8];
            for (i, x) in a.iter_mut().take(n).enumerate() {
                *x = f(i);
            }
            Scratch::Inline(a, n)
        } else {
            Scratch::Heap((0..n).map(f).collect())
        }
    }

    fn as_slice(&self) -> &[T] {
        match self {
            Scratch::Inline(a, n) => &a[..*n],
            Scratch::Heap(v) => v,
        }
    }

    fn as_mut(&mut self) -> &mut [T] {
        match self {
            Scratch::Inline(a, n) => &mut a[..*n],
            Scratch::Heap(v) => v,
        }
    }
}

/// Fisher–Yates with a per-thread xorshift: every order equally likely.
fn shuffle(xs: &mut [u32]) {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(seed());
    }
    STATE.with(|s| {
        let mut x = s.get();
        for i in (1..xs.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let j = (((x >> 32) * (i as u64 + 1)) >> 32) as usize;
            xs.swap(i, j);
        }
        s.set(x);
    });
}

/// A seed that differs between threads and runs.
fn seed() -> u64 {
    let local = 0u8;
    let t = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    (&local as *const u8 as u64 ^ t.rotate_left(32) ^ 0x9E37_79B9_7F4A_7C15) | 1
}
