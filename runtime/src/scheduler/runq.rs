//! A worker's local run queue: FIFO for its owner, newest-first for thieves.
//!
//! The owner pushes at the tail and pops at the head, so its goroutines run
//! in the order they became runnable. A thief takes up to half, at most
//! [`STEAL_BATCH`], from the *tail*: the goroutines that would run last
//! here. Go's and crossbeam's FIFO queues let thieves take the oldest;
//! taking the newest keeps the owner's order intact, which matters when
//! goroutines become runnable in the order they hand work to each other (a
//! pipeline's stages): the owner runs each as its input arrives, on the
//! stack the previous one just freed, instead of both workers starting
//! goroutines ahead of their input on fresh stacks (the `chain` workload,
//! see docs/design.md).
//!
//! # The ring and its invariants
//!
//! A ring of atomic pointers (each an `Arc::into_raw`), a power of two
//! long, and one 64-bit word holding `head` (low half) and `tail` (high
//! half), positions that only wrap around `u32`. The live goroutines are
//! `head..tail`.
//!
//! - Only the owner writes slots, and only the slot at `tail`, before the
//!   compare-and-swap that makes it live. A thief reads its batch before
//!   its compare-and-swap; if the word is unchanged, nobody touched those
//!   slots meanwhile.
//! - Every change of the word is a compare-and-swap: the owner's push
//!   (`tail + 1`) and pop (`head + 1`), a thief's steal (`tail - k`).
//!   Because the tail moves both ways, the word could come back to a value
//!   a thief read with other goroutines in its slots (a steal and pushes in
//!   between). Thieves therefore take turns on a queue (`stealing`, never
//!   waited for: a thief that finds it taken tries its next victim, where
//!   crossbeam's `Retry` would have it try again); with no other thief, and
//!   the owner unable to swap rings during the turn, the head and tail only
//!   grow during a steal, and an unchanged word means an unchanged queue
//!   (short of 2^32 pushes during one steal).
//! - A full ring doubles, as crossbeam's deques do: a goroutine that
//!   spawns a million keeps them in order here, where Go would move half
//!   to its global queue at every 256. A grown ring goes back to
//!   [`MIN_CAP`] once the owner finds it empty, which copies nothing
//!   (halving at a quarter full, as crossbeam does, copied every goroutine
//!   of a draining million once more). The owner swaps rings holding
//!   `stealing`, so no thief reads the old one when it is freed; the live
//!   slots are copied to the same positions, so the word does not change.

use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};

use crossbeam_deque::{Injector, Steal};

/// The smallest ring (Go's `len(p.runq)`).
const MIN_CAP: u32 = 256;

/// Most goroutines one steal moves.
const STEAL_BATCH: u32 = 32;

/// Head and tail, packed so that one compare-and-swap covers both.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Ends {
    head: u32,
    tail: u32,
}

impl Ends {
    fn unpack(word: u64) -> Ends {
        Ends { head: word as u32, tail: (word >> 32) as u32 }
    }

    fn pack(self) -> u64 {
        u64::from(self.head) | (u64::from(self.tail) << 32)
    }

    fn len(self) -> u32 {
        self.tail.wrapping_sub(self.head)
    }
}

/// The slots: position `pos` lives at `pos & (len - 1)`.
struct Ring<T> {
    slots: Box<[AtomicPtr<T>]>,
}

impl<T> Ring<T> {
    fn new(cap: u32) -> Box<Ring<T>> {
        debug_assert!(cap.is_power_of_two());
        Box::new(Ring { slots: (0..cap).map(|_| AtomicPtr::new(std::ptr::null_mut())).collect() })
    }

    fn cap(&self) -> u32 {
        self.slots.len() as u32
    }

    fn slot(&self, pos: u32) -> &AtomicPtr<T> {
        &self.slots[(pos & (self.cap() - 1)) as usize]
    }
}

/// The queue, shared by the owner's [`RunQueue`] and the [`Stealer`]s.
/// Aligned so that the word every push and pop writes shares its cache line
/// with nothing other workers write except while they steal from it.
#[repr(align(128))]
struct Inner<T> {
    ends: AtomicU64,
    /// Held by the one thief stealing now, or by the owner swapping rings.
    stealing: AtomicBool,
    /// From `Box::into_raw`; replaced and freed only by the owner.
    ring: AtomicPtr<Ring<T>>,
}

impl<T> Inner<T> {
    /// `SeqCst` (no dearer than `Acquire` on x86 or ARMv8) for the
    /// wake-up argument in `scheduler::idle`: a spinner's last look at the
    /// queues and a submitter's push fall in one order.
    fn ends(&self) -> Ends {
        Ends::unpack(self.ends.load(Ordering::SeqCst))
    }

    /// Moves the word from `from` to `to` if no one changed it (`SeqCst`:
    /// see [`ends`](Self::ends)).
    fn swap_ends(&self, from: Ends, to: Ends) -> bool {
        self.ends.compare_exchange(from.pack(), to.pack(), Ordering::SeqCst, Ordering::Relaxed).is_ok()
    }

    /// Takes the thieves' turn: true if we got it.
    fn try_take_turn(&self) -> bool {
        self.stealing.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }

    fn end_turn(&self) {
        self.stealing.store(false, Ordering::Release);
    }
}

impl<T> Drop for Inner<T> {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `Box::into_raw`, and nothing else
        // can reach the queue any more.
        let ring = unsafe { Box::from_raw(*self.ring.get_mut()) };
        let ends = Ends::unpack(*self.ends.get_mut());
        for i in 0..ends.len() {
            let p = ring.slot(ends.head.wrapping_add(i)).load(Ordering::Relaxed);
            // SAFETY: live slots own one count each.
            drop(unsafe { Arc::from_raw(p) });
        }
    }
}

/// The owner's handle: push and pop. Not `Sync`: two threads pushing at
/// once could both write the slot at `tail`.
pub(crate) struct RunQueue<T>(Arc<Inner<T>>, PhantomData<*mut ()>);

// SAFETY: the owner's handle may move to another thread (the spares' queues
// are made before their threads); it carries `Arc<T>`s, hence the bounds.
unsafe impl<T: Send + Sync> Send for RunQueue<T> {}

/// A thief's (and observers') handle.
pub(crate) struct Stealer<T>(Arc<Inner<T>>, PhantomData<*mut ()>);

// SAFETY: every method of a thief's handle is safe to call from any number
// of threads at once (thieves take turns through `stealing`); it hands out
// `Arc<T>`s, hence the bounds.
unsafe impl<T: Send + Sync> Send for Stealer<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send + Sync> Sync for Stealer<T> {}

impl<T> Clone for Stealer<T> {
    fn clone(&self) -> Self {
        Stealer(self.0.clone(), PhantomData)
    }
}

impl<T> RunQueue<T> {
    pub(crate) fn new() -> RunQueue<T> {
        let ring = Box::into_raw(Ring::new(MIN_CAP));
        RunQueue(
            Arc::new(Inner { ends: AtomicU64::new(0), stealing: AtomicBool::new(false), ring: AtomicPtr::new(ring) }),
            PhantomData,
        )
    }

    pub(crate) fn stealer(&self) -> Stealer<T> {
        Stealer(self.0.clone(), PhantomData)
    }

    fn ring(&self) -> &Ring<T> {
        // SAFETY: only the owner (us) replaces or frees the ring.
        unsafe { &*self.0.ring.load(Ordering::Relaxed) }
    }

    /// Moves the live goroutines to a ring of `cap` slots, at the same
    /// positions, and frees the old one.
    fn resize(&self, cap: u32) {
        let q = &self.0;
        let new = Ring::new(cap);
        // A thief holds the turn for a few loads and one compare-and-swap,
        // unless the kernel preempted it there: then let it run.
        let mut spins = 0u32;
        while !q.try_take_turn() {
            spins += 1;
            if spins % 64 == 0 {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        let old = self.ring();
        // With the turn ours, only we change the word.
        let ends = q.ends();
        for i in 0..ends.len() {
            let pos = ends.head.wrapping_add(i);
            new.slot(pos).store(old.slot(pos).load(Ordering::Relaxed), Ordering::Relaxed);
        }
        let old = q.ring.swap(Box::into_raw(new), Ordering::Release);
        q.end_turn();
        // SAFETY: from `Box::into_raw`; no thief holds it (we had the
        // turn) and we no longer use it.
        drop(unsafe { Box::from_raw(old) });
    }

    /// Queues `g` at the tail.
    pub(crate) fn push(&self, g: Arc<T>) {
        self.push_raw(&[Arc::into_raw(g).cast_mut()]);
    }

    /// Queues `ps` (`Arc::into_raw` pointers, whose counts the queue takes)
    /// at the tail, in order, with one compare-and-swap.
    fn push_raw(&self, ps: &[*mut T]) {
        let q = &self.0;
        let n = ps.len() as u32;
        loop {
            let ends = q.ends();
            let ring = self.ring();
            if ring.cap() - ends.len() < n {
                assert!(ring.cap() < 1 << 31, "more than 2^31 goroutines queued on one worker");
                self.resize(2 * ring.cap());
                continue;
            }
            // Only we write slots, and those from `tail` on are not live: no
            // thief reads them until the swap below succeeds.
            for (i, &p) in ps.iter().enumerate() {
                ring.slot(ends.tail.wrapping_add(i as u32)).store(p, Ordering::Relaxed);
            }
            if q.swap_ends(ends, Ends { tail: ends.tail.wrapping_add(n), ..ends }) {
                return;
            }
        }
    }

    /// Takes the goroutine at the head.
    pub(crate) fn pop(&self) -> Option<Arc<T>> {
        let q = &self.0;
        loop {
            let ends = q.ends();
            let ring = self.ring();
            if ends.len() == 0 {
                if ring.cap() > MIN_CAP {
                    self.resize(MIN_CAP);
                }
                return None;
            }
            let p = ring.slot(ends.head).load(Ordering::Relaxed);
            if q.swap_ends(ends, Ends { head: ends.head.wrapping_add(1), ..ends }) {
                // SAFETY: the swap took the slot out of the ring; its count
                // is ours.
                return Some(unsafe { Arc::from_raw(p) });
            }
        }
    }

    /// Takes about half of `injector`'s goroutines, at most
    /// [`STEAL_BATCH`], leaving the rest to other workers; returns the
    /// first to run and queues the others here.
    pub(crate) fn refill(&self, injector: &Injector<Arc<T>>) -> Option<Arc<T>> {
        let n = injector.len().div_ceil(2).clamp(1, STEAL_BATCH as usize);
        // `Retry` means we raced another worker, not that it is empty.
        let take = || std::iter::repeat_with(|| injector.steal()).find(|s| !s.is_retry()).and_then(Steal::success);
        let first = take()?;
        let mut rest = [std::ptr::null_mut(); STEAL_BATCH as usize];
        let mut got = 0;
        for g in std::iter::from_fn(take).take(n - 1) {
            rest[got] = Arc::into_raw(g).cast_mut();
            got += 1;
        }
        self.push_raw(&rest[..got]);
        Some(first)
    }
}

impl<T> Stealer<T> {
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn len(&self) -> usize {
        self.0.ends().len() as usize
    }

    /// Takes up to half of the queue, at most [`STEAL_BATCH`], from its
    /// tail; returns the oldest of them and queues the rest on `dest`, in
    /// order. `None` if the queue is empty or another thief is at it.
    pub(crate) fn steal_batch_and_pop(&self, dest: &RunQueue<T>) -> Option<Arc<T>> {
        let q = &self.0;
        if q.ends().len() == 0 || !q.try_take_turn() {
            return None;
        }
        // SAFETY: the owner frees a ring only holding the turn, now ours.
        let ring = unsafe { &*q.ring.load(Ordering::Acquire) };
        let mut batch = [std::ptr::null_mut(); STEAL_BATCH as usize];
        let taken = loop {
            let ends = q.ends();
            let n = ends.len().div_ceil(2).min(STEAL_BATCH);
            if n == 0 {
                break &batch[..0];
            }
            let from = ends.tail.wrapping_sub(n);
            for (i, b) in batch[..n as usize].iter_mut().enumerate() {
                *b = ring.slot(from.wrapping_add(i as u32)).load(Ordering::Relaxed);
            }
            if q.swap_ends(ends, Ends { tail: from, ..ends }) {
                break &batch[..n as usize];
            }
        };
        q.end_turn();
        // The swap took the batch out of the ring: each pointer carries one
        // count, now ours; the rest go to `dest` with theirs.
        let (&first, rest) = taken.split_first()?;
        dest.push_raw(rest);
        // SAFETY: as just said, `first`'s count is ours.
        Some(unsafe { Arc::from_raw(first) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distinct values to queue; only their identity matters.
    fn headers(n: usize) -> Vec<Arc<usize>> {
        (0..n).map(Arc::new).collect()
    }

    /// A queue holding `n` distinct values, pushed in order, and the values.
    fn filled(n: usize) -> (RunQueue<usize>, Vec<Arc<usize>>) {
        let (q, gs) = (RunQueue::new(), headers(n));
        for g in &gs {
            q.push(g.clone());
        }
        (q, gs)
    }

    #[test]
    fn the_owner_pops_in_push_order_and_a_thief_takes_the_newest_half() {
        let (q, gs) = filled(10);
        let thief = RunQueue::new();
        let first = q.stealer().steal_batch_and_pop(&thief).unwrap();
        assert!(Arc::ptr_eq(&first, &gs[5]), "the oldest of the newest half runs first");
        for g in &gs[6..] {
            assert!(Arc::ptr_eq(&thief.pop().unwrap(), g));
        }
        for g in &gs[..5] {
            assert!(Arc::ptr_eq(&q.pop().unwrap(), g));
        }
        assert!(q.pop().is_none() && thief.pop().is_none());
    }

    #[test]
    fn a_refill_takes_half_the_injector_in_order() {
        let (q, injector) = (RunQueue::new(), Injector::new());
        let gs = headers(10);
        for g in &gs {
            injector.push(g.clone());
        }
        assert!(Arc::ptr_eq(&q.refill(&injector).unwrap(), &gs[0]));
        for g in &gs[1..5] {
            assert!(Arc::ptr_eq(&q.pop().unwrap(), g));
        }
        assert!(q.pop().is_none());
        assert_eq!(injector.len(), 5, "the other half is left to other workers");
    }

    #[test]
    fn a_full_ring_grows_keeping_the_order_and_shrinks_once_empty() {
        let (q, gs) = filled(10_000);
        assert_eq!((q.stealer().len(), q.ring().cap()), (10_000, 16_384));
        let thief = RunQueue::new();
        let first = q.stealer().steal_batch_and_pop(&thief).unwrap();
        assert!(Arc::ptr_eq(&first, &gs[10_000 - STEAL_BATCH as usize]));
        for g in &gs[..10_000 - STEAL_BATCH as usize] {
            assert!(Arc::ptr_eq(&q.pop().unwrap(), g));
        }
        assert_eq!(q.ring().cap(), 16_384, "kept while goroutines are queued");
        assert!(q.pop().is_none());
        assert_eq!(q.ring().cap(), MIN_CAP, "back to the smallest once empty");
    }

    #[test]
    fn racing_thieves_and_owner_take_each_value_exactly_once() {
        use std::sync::atomic::AtomicBool;
        let q = RunQueue::new();
        let gs = headers(200_000);
        let (stealer, done) = (q.stealer(), AtomicBool::new(false));
        let taken = std::thread::scope(|s| {
            let thieves: Vec<_> = (0..2)
                .map(|_| {
                    let (stealer, done) = (stealer.clone(), &done);
                    s.spawn(move || {
                        let mine = RunQueue::new();
                        let mut got = Vec::new();
                        while !done.load(Ordering::Acquire) || !stealer.is_empty() {
                            got.extend(stealer.steal_batch_and_pop(&mine));
                            got.extend(std::iter::from_fn(|| mine.pop()));
                        }
                        got
                    })
                })
                .collect();
            let mut got = Vec::new();
            for (i, g) in gs.iter().enumerate() {
                q.push(g.clone());
                if i % 3 == 0 {
                    got.extend(q.pop());
                }
            }
            done.store(true, Ordering::Release);
            got.extend(std::iter::from_fn(|| q.pop()));
            thieves.into_iter().flat_map(|t| t.join().unwrap()).chain(got).collect::<Vec<_>>()
        });
        let mut seen: Vec<_> = taken.iter().map(Arc::as_ptr).collect();
        seen.sort_unstable();
        let mut want: Vec<_> = gs.iter().map(Arc::as_ptr).collect();
        want.sort_unstable();
        assert_eq!(seen.len(), want.len(), "values lost or duplicated");
        assert_eq!(seen, want);
    }
}
