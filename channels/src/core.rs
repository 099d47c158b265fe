//! The channel itself: Go's `hchan`, and every operation on it.
//!
//! One lock guards a ring buffer of `cap` values, a queue of blocked
//! senders, a queue of blocked receivers and the closed flag. The
//! handles (`Chan`, `Sender`, `Receiver`) all wrap a [`Core`]: a nil
//! channel is a `Core` without an `Inner`.
//!
//! # Invariants (under the lock)
//!
//! - Receivers wait only while the buffer is empty and no sender waits;
//!   senders wait only while the buffer is full (for `cap == 0`: always
//!   full) and no receiver waits. So a send first looks for a waiting
//!   receiver and hands the value straight into its slot; a receive first
//!   looks for a waiting sender, and on a buffered channel takes the head
//!   and moves that sender's value into the tail (FIFO holds).
//! - Once closed, no record waits: close wakes them all, receivers with
//!   nothing (they see `None`), senders with their value still in the slot
//!   (they panic "send on closed channel").
//! - Wake-ups are decided under the lock and delivered after it (see
//!   `queue`), so a woken goroutine never waits for the lock we hold.

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Weak};
use std::time::Instant;

use gort_runtime::park::{WaitReason, Wake, Wakeup, park};
use parking_lot::RawMutex;
use parking_lot::lock_api::{GuardNoSend, RawMutex as _};

use crate::queue::{Selection, Sudog, WaitQueue};

/// The shared part of a non-nil channel.
pub struct Inner<T> {
    raw: RawMutex,
    state: UnsafeCell<State<T>>,
    cap: usize,
}

// SAFETY: the state is reached only through `Locked`, which holds `raw`;
// values of `T` move between threads, hence `T: Send`.
unsafe impl<T: Send> Send for Inner<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Inner<T> {}

pub(crate) struct State<T> {
    pub(crate) buf: VecDeque<T>,
    pub(crate) closed: bool,
    pub(crate) recvq: WaitQueue<T>,
    pub(crate) sendq: WaitQueue<T>,
}

/// The state, locked; unlocks when dropped.
pub(crate) struct Locked<'a, T>(&'a Inner<T>, Option<GuardNoSend>);

impl<T> Deref for Locked<'_, T> {
    type Target = State<T>;
    fn deref(&self) -> &State<T> {
        // SAFETY: we hold the lock.
        unsafe { &*self.0.state.get() }
    }
}

impl<T> DerefMut for Locked<'_, T> {
    fn deref_mut(&mut self) -> &mut State<T> {
        // SAFETY: we hold the lock, and `&mut self` makes this the only reference.
        unsafe { &mut *self.0.state.get() }
    }
}

impl<T> Drop for Locked<'_, T> {
    fn drop(&mut self) {
        let guard = self.1.take().expect("a Locked holds its guard until dropped");
        // SAFETY: the guard is the one our `lock` returned.
        unsafe { self.0.raw.unlock(guard) }
    }
}

/// What a send that may not wait did.
pub(crate) enum SendNow<T> {
    /// Handed to a receiver (deliver its wake-up after unlocking) or buffered.
    Sent(Option<Wakeup>),
    /// The channel is full (or nobody receives on an unbuffered one).
    Full(T),
    Closed(T),
}

/// What a receive that may not wait did.
pub(crate) enum RecvNow<T> {
    /// A value, and perhaps a sender's wake-up to deliver after unlocking.
    Got(T, Option<Wakeup>),
    Empty,
    Closed,
}

impl<T> Inner<T> {
    pub(crate) fn lock(&self) -> Locked<'_, T> {
        let guard = self.raw.lock();
        Locked(self, Some(guard))
    }

    /// The raw lock, for `select`, which locks several channels in address order.
    pub(crate) fn raw(&self) -> &RawMutex {
        &self.raw
    }

    /// The state, for `select` while it holds [`raw`](Self::raw).
    ///
    /// # Safety
    ///
    /// The caller holds the lock and has no other reference to the state.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn state_mut(&self) -> &mut State<T> {
        // SAFETY: the caller's contract.
        unsafe { &mut *self.state.get() }
    }

    pub(crate) fn cap(&self) -> usize {
        self.cap
    }
}

impl<T> State<T> {
    /// Sends `v` if that needs no waiting.
    pub(crate) fn send_now(&mut self, cap: usize, v: T) -> SendNow<T> {
        if self.closed {
            return SendNow::Closed(v);
        }
        // SAFETY: we hold the lock (we have `&mut State`); the record is
        // claimed, filled in and completed here under it.
        if let Some(r) = unsafe { self.recvq.pop_claimed() } {
            // SAFETY: as above.
            return unsafe {
                r.put(v);
                SendNow::Sent(r.complete())
            };
        }
        if self.buf.len() < cap {
            self.buf.push_back(v);
            return SendNow::Sent(None);
        }
        SendNow::Full(v)
    }

    /// Receives a value if that needs no waiting.
    pub(crate) fn recv_now(&mut self) -> RecvNow<T> {
        // SAFETY: as in `send_now`.
        if let Some(s) = unsafe { self.sendq.pop_claimed() } {
            // SAFETY: as in `send_now`.
            let theirs = unsafe { s.take() }.expect("a waiting sender holds its value");
            // A sender waits on a buffered channel only when it is full:
            // take the head and put the sender's value at the tail.
            let v = match self.buf.pop_front() {
                Some(head) => {
                    self.buf.push_back(theirs);
                    head
                }
                None => theirs,
            };
            // SAFETY: as in `send_now`.
            return RecvNow::Got(v, unsafe { s.complete() });
        }
        match self.buf.pop_front() {
            Some(v) => RecvNow::Got(v, None),
            None if self.closed => RecvNow::Closed,
            None => RecvNow::Empty,
        }
    }
}

/// How a blocking operation ended short of success.
pub(crate) enum Blocked<T> {
    Closed(T),
    TimedOut(T),
}

/// A handle's view of a channel: `None` is the nil channel.
pub struct Core<T>(pub(crate) Option<Arc<Inner<T>>>);

impl<T> fmt::Debug for Core<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Core({:#x})", self.addr())
    }
}

impl<T> Clone for Core<T> {
    fn clone(&self) -> Self {
        Core(self.0.clone())
    }
}

impl<T> Core<T> {
    pub(crate) fn new(cap: usize) -> Core<T> {
        Core(Some(Arc::new(Inner {
            raw: RawMutex::INIT,
            state: UnsafeCell::new(State {
                buf: VecDeque::with_capacity(cap),
                closed: false,
                recvq: WaitQueue::new(),
                sendq: WaitQueue::new(),
            }),
            cap,
        })))
    }

    pub(crate) fn nil() -> Core<T> {
        Core(None)
    }

    /// A reference that does not keep the channel alive (nil: never upgrades).
    pub(crate) fn downgrade(&self) -> Weak<Inner<T>> {
        self.0.as_ref().map_or_else(Weak::new, Arc::downgrade)
    }

    /// The channel behind `weak`, if a handle to it is still alive.
    pub(crate) fn upgrade(weak: &Weak<Inner<T>>) -> Option<Core<T>> {
        weak.upgrade().map(|inner| Core(Some(inner)))
    }

    pub(crate) fn same(&self, other: &Core<T>) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }

    /// An address that identifies the channel (0 for nil).
    pub(crate) fn addr(&self) -> usize {
        self.0.as_ref().map_or(0, |i| Arc::as_ptr(i) as usize)
    }

    /// Sends, waiting until `deadline` (forever with `None`).
    pub(crate) fn send(&self, v: T, deadline: Option<Instant>) -> Result<(), Blocked<T>> {
        let Some(inner) = &self.0 else {
            return Err(Blocked::TimedOut(wait_on_nil(v, WaitReason::ChanSendNil, deadline)));
        };
        let mut st = inner.lock();
        let v = match st.send_now(inner.cap, v) {
            SendNow::Sent(wakeup) => {
                drop(st);
                drop(wakeup);
                return Ok(());
            }
            SendNow::Closed(v) => return Err(Blocked::Closed(v)),
            SendNow::Full(v) => v,
        };
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Blocked::TimedOut(v));
        }
        let selection = Selection::new();
        let record = Sudog::new(&selection, 0, Some(v));
        // SAFETY: `record` stays on this frame, in place, and `wait` takes it
        // out of the queue (or sees it taken) before returning.
        unsafe { st.sendq.push(&record) };
        let timed_out = wait(inner, st, &selection, WaitReason::ChanSend, deadline, |st| {
            // SAFETY: under the lock; `record` was pushed on this queue.
            unsafe { st.sendq.remove(&record) }
        });
        match (record.into_slot(), timed_out) {
            (None, _) => Ok(()),
            (Some(v), true) => Err(Blocked::TimedOut(v)),
            (Some(v), false) => Err(Blocked::Closed(v)),
        }
    }

    /// Receives, waiting until `deadline` (forever with `None`). `Ok(None)`
    /// means closed and drained; `Err(())` means timed out.
    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<Option<T>, ()> {
        let Some(inner) = &self.0 else {
            wait_on_nil((), WaitReason::ChanReceiveNil, deadline);
            return Err(());
        };
        let mut st = inner.lock();
        match st.recv_now() {
            RecvNow::Got(v, wakeup) => {
                drop(st);
                drop(wakeup);
                return Ok(Some(v));
            }
            RecvNow::Closed => return Ok(None),
            RecvNow::Empty => {}
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(());
        }
        let selection = Selection::new();
        let record = Sudog::new(&selection, 0, None);
        // SAFETY: as in `send`.
        unsafe { st.recvq.push(&record) };
        let timed_out = wait(inner, st, &selection, WaitReason::ChanReceive, deadline, |st| {
            // SAFETY: under the lock; `record` was pushed on this queue.
            unsafe { st.recvq.remove(&record) }
        });
        match (record.into_slot(), timed_out) {
            (Some(v), _) => Ok(Some(v)),
            (None, true) => Err(()),
            (None, false) => Ok(None),
        }
    }

    /// Receives, waiting as long as it takes: `None` once closed and drained.
    pub(crate) fn recv_forever(&self) -> Option<T> {
        self.recv(None).expect("a receive without deadline does not time out")
    }

    pub(crate) fn try_send(&self, v: T) -> SendNow<T> {
        let Some(inner) = &self.0 else { return SendNow::Full(v) };
        let mut st = inner.lock();
        let now = st.send_now(inner.cap, v);
        drop(st);
        now
    }

    pub(crate) fn try_recv(&self) -> RecvNow<T> {
        let Some(inner) = &self.0 else { return RecvNow::Empty };
        let mut st = inner.lock();
        let now = st.recv_now();
        drop(st);
        now
    }

    /// Closes the channel: wakes every waiting receiver (with nothing) and
    /// every waiting sender (whose value stays with it).
    #[track_caller]
    pub(crate) fn close(&self) {
        let Some(inner) = &self.0 else { panic!("close of nil channel") };
        let mut st = inner.lock();
        if st.closed {
            drop(st);
            panic!("close of closed channel");
        }
        st.closed = true;
        let mut wakeups = Vec::new();
        // SAFETY: under the lock; each record is claimed and completed here,
        // receivers' slots left empty, senders' left full.
        unsafe {
            while let Some(r) = st.recvq.pop_claimed() {
                wakeups.push(r.complete());
            }
            while let Some(s) = st.sendq.pop_claimed() {
                wakeups.push(s.complete());
            }
        }
        drop(st);
        drop(wakeups);
    }

    pub(crate) fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |inner| inner.lock().buf.len())
    }

    pub(crate) fn cap(&self) -> usize {
        self.0.as_ref().map_or(0, |inner| inner.cap)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.0.as_ref().is_some_and(|inner| inner.lock().closed)
    }
}

/// Parks until `selection` completes or `deadline` passes, handing `st`'s
/// lock to the park. Returns `true` on time-out, after `dequeue` took the
/// record out under the lock. On return the record is in no queue and no
/// waker touches it any more.
fn wait<'a, T>(
    inner: &'a Inner<T>,
    mut st: Locked<'a, T>,
    selection: &Selection,
    reason: WaitReason,
    deadline: Option<Instant>,
    dequeue: impl Fn(&mut State<T>),
) -> bool {
    let on_unwind = DequeueOnUnwind { inner, dequeue: &dequeue };
    let timed_out = loop {
        let wake = park(reason, deadline, st);
        if selection.completed().is_some() {
            break false;
        }
        // Timed out or woken spuriously: the lock settles any waker in flight.
        st = inner.lock();
        if selection.completed().is_some() {
            break false;
        }
        if wake == Wake::TimedOut || deadline.is_some_and(|d| Instant::now() >= d) {
            dequeue(&mut st);
            break true;
        }
        // SAFETY: our one record is queued under the lock we hold.
        unsafe { selection.rearm() };
    };
    std::mem::forget(on_unwind);
    timed_out
}

/// Takes a waiting record out of its queue if its waiter unwinds while
/// parked: a runtime that shuts down unwinds the goroutines parked in it,
/// and the channel (held by a plain thread, say) outlives the stack the
/// record lives on. Normal returns `forget` it.
struct DequeueOnUnwind<'a, T, F: Fn(&mut State<T>)> {
    inner: &'a Inner<T>,
    dequeue: &'a F,
}

impl<T, F: Fn(&mut State<T>)> Drop for DequeueOnUnwind<'_, T, F> {
    fn drop(&mut self) {
        (self.dequeue)(&mut self.inner.lock());
    }
}

/// A send or receive on a nil channel: never completes; waits until
/// `deadline`, then hands `v` back.
fn wait_on_nil<V>(v: V, reason: WaitReason, deadline: Option<Instant>) -> V {
    loop {
        park(reason, deadline, ());
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return v;
        }
    }
}
