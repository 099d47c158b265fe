//! Wait records and wait queues: Go's `sudog` and `waitq`.
//!
//! A blocked operation puts a [`Sudog`] on its channel's queue: a record,
//! on the blocked waiter's own stack, that holds the value being sent or
//! the slot a value is received into. One [`Selection`] is shared by every
//! record of one blocked operation (one record for a plain send or
//! receive, one per arm for a select) and decides which record wins.
//!
//! # Invariants
//!
//! - A record is linked into at most one queue, and its links, its slot and
//!   its selection's waiter are touched only under the lock of the channel
//!   whose queue holds it (or held it, for the waker that took it out).
//! - A waker *claims* a record (`Selection::claim`) before touching its
//!   slot; a selection is claimed at most once, so exactly one arm wins.
//! - The claiming waker's last touch of the record is
//!   [`Selection::complete`], a Release store made under the channel lock
//!   after it decided the wake. The waiter frees its records only after it
//!   saw `complete` or took every lock its records are queued under, so no
//!   waker ever touches a record that is gone.

use std::cell::{Cell, UnsafeCell};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

use gort_runtime::park::{Waiter, Wakeup};

/// No arm has been chosen yet.
const WAITING: usize = usize::MAX;
/// A waker has chosen an arm and is filling it in, under its channel lock.
const CLAIMED: usize = usize::MAX - 1;

/// The part of a blocked operation that all its records share: who to
/// wake, and which arm won.
pub struct Selection {
    /// `WAITING`, `CLAIMED`, or the index of the completed arm.
    state: AtomicUsize,
    /// Written only by the owner, under every lock its records are queued
    /// under; read by wakers under one of those locks.
    waiter: UnsafeCell<Waiter>,
}

impl Selection {
    pub(crate) fn new() -> Selection {
        Selection { state: AtomicUsize::new(WAITING), waiter: UnsafeCell::new(Waiter::current()) }
    }

    /// Chooses this selection for arm `case` if nobody chose it yet.
    /// Call with the lock of a channel whose queue held one of its records.
    fn claim(&self) -> bool {
        self.state.compare_exchange(WAITING, CLAIMED, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }

    /// The arm that completed, if a waker has finished with this selection.
    pub(crate) fn completed(&self) -> Option<usize> {
        match self.state.load(Ordering::Acquire) {
            WAITING | CLAIMED => None,
            case => Some(case),
        }
    }

    /// Takes a fresh waiter after a wake that completed nothing (a
    /// spurious one), so the next park can be woken.
    ///
    /// # Safety
    ///
    /// The caller owns the selection and holds every lock its records are
    /// queued under, or none are queued.
    pub(crate) unsafe fn rearm(&self) {
        // SAFETY: wakers read the waiter only under a lock the caller holds.
        unsafe { *self.waiter.get() = Waiter::current() };
    }
}

/// One blocked operation on one channel: Go's `sudog`.
pub(crate) struct Sudog<T> {
    selection: *const Selection,
    /// This record's arm in its selection (0 for a plain send or receive).
    case: usize,
    /// A sender's value until taken; where a receiver's value is put.
    slot: UnsafeCell<Option<T>>,
    prev: Cell<*const Sudog<T>>,
    next: Cell<*const Sudog<T>>,
    queued: Cell<bool>,
}

impl<T> Sudog<T> {
    pub(crate) fn new(selection: &Selection, case: usize, value: Option<T>) -> Sudog<T> {
        Sudog {
            selection,
            case,
            slot: UnsafeCell::new(value),
            prev: Cell::new(ptr::null()),
            next: Cell::new(ptr::null()),
            queued: Cell::new(false),
        }
    }

    /// The slot, for its owner once the record is out of every queue.
    pub(crate) fn into_slot(self) -> Option<T> {
        debug_assert!(!self.queued.get());
        self.slot.into_inner()
    }

    /// Puts `value` in the slot (a sender handing over to this receiver).
    ///
    /// # Safety
    ///
    /// The caller claimed the record and holds its channel's lock.
    pub(crate) unsafe fn put(&self, value: T) {
        // SAFETY: the claim makes the caller the only writer; the owner reads
        // it only after `complete`.
        unsafe { *self.slot.get() = Some(value) };
    }

    /// Takes the value out of the slot (a receiver taking a sender's value).
    ///
    /// # Safety
    ///
    /// As [`put`](Self::put).
    pub(crate) unsafe fn take(&self) -> Option<T> {
        // SAFETY: as in `put`.
        unsafe { (*self.slot.get()).take() }
    }

    /// Decides the wake of the claimed record's waiter, then marks it
    /// complete: the last touch of the record. Deliver the returned
    /// wake-up after unlocking.
    ///
    /// # Safety
    ///
    /// The caller claimed the record, holds its channel's lock, and does
    /// not touch the record afterwards.
    pub(crate) unsafe fn complete(&self) -> Option<Wakeup> {
        // SAFETY: the record's owner keeps its selection alive until it has
        // seen `complete` or taken our lock (module invariants).
        let selection = unsafe { &*self.selection };
        // SAFETY: the waiter is written only under our lock.
        let wakeup = unsafe { (*selection.waiter.get()).unpark_deferred() };
        selection.state.store(self.case, Ordering::Release);
        wakeup
    }
}

/// A FIFO of blocked records, linked through the records themselves.
pub(crate) struct WaitQueue<T> {
    head: *const Sudog<T>,
    tail: *const Sudog<T>,
}

impl<T> WaitQueue<T> {
    pub(crate) const fn new() -> WaitQueue<T> {
        WaitQueue { head: ptr::null(), tail: ptr::null() }
    }

    /// Appends `s`.
    ///
    /// # Safety
    ///
    /// `s` is in no queue and stays alive and in place until it is taken
    /// out again (by [`pop_claimed`](Self::pop_claimed) or
    /// [`remove`](Self::remove)); the caller holds the queue's lock.
    pub(crate) unsafe fn push(&mut self, s: &Sudog<T>) {
        debug_assert!(!s.queued.get());
        s.queued.set(true);
        s.prev.set(self.tail);
        s.next.set(ptr::null());
        if self.tail.is_null() {
            self.head = s;
        } else {
            // SAFETY: queued records are alive (push's contract).
            unsafe { (*self.tail).next.set(s) };
        }
        self.tail = s;
    }

    /// Removes `s` if it is still queued here.
    ///
    /// # Safety
    ///
    /// `s` was pushed on this queue, if on any; the caller holds the lock.
    pub(crate) unsafe fn remove(&mut self, s: &Sudog<T>) {
        if !s.queued.replace(false) {
            return;
        }
        let (prev, next) = (s.prev.get(), s.next.get());
        if prev.is_null() {
            self.head = next;
        } else {
            // SAFETY: queued neighbours are alive.
            unsafe { (*prev).next.set(next) };
        }
        if next.is_null() {
            self.tail = prev;
        } else {
            // SAFETY: as above.
            unsafe { (*next).prev.set(prev) };
        }
    }

    /// Takes out the first record whose selection it can claim; records of
    /// selections already won elsewhere are dropped from the queue on the
    /// way (Go's `dequeue`).
    ///
    /// # Safety
    ///
    /// The caller holds the lock. The record returned is claimed: the
    /// caller must fill it in and [`Sudog::complete`] it under the lock.
    pub(crate) unsafe fn pop_claimed<'a>(&mut self) -> Option<&'a Sudog<T>> {
        while !self.head.is_null() {
            // SAFETY: queued records are alive until taken out, and taking
            // them out needs the lock we hold.
            let s = unsafe { &*self.head };
            // SAFETY: `s` is queued here.
            unsafe { self.remove(s) };
            // SAFETY: a record's selection outlives its time in the queue.
            if unsafe { (*s.selection).claim() } {
                return Some(s);
            }
        }
        None
    }
}
