//! `Mutex<T>`: Go's `sync.Mutex`, holding its data as std's does.
//!
//! One state byte: `LOCKED`, and `PARKED` (someone may be queued). Locking
//! is one compare-and-swap when free; a contended locker spins briefly
//! (the holder runs on another worker), then sets `PARKED`, re-checks under
//! the queue lock and parks. Unlocking is one compare-and-swap unless
//! `PARKED` is set; then it wakes the queue's head under the queue lock.
//!
//! Fairness, as Go's starvation mode: a woken waiter competes with new
//! arrivals (throughput), keeps its place at the front of the queue if it
//! loses, and once it has waited more than [`STARVATION`] the unlocker hands
//! the lock straight to it, without ever releasing it. So no goroutine waits
//! forever under contention.
//!
//! Invariant: `state` changes away from `LOCKED | PARKED` only under the
//! queue lock, so a locker that sees `LOCKED | PARKED` under that lock knows
//! the unlocker will find its node.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex as QueueLock;

use super::queue::{Node, Queue, grant, wait};
use crate::park::WaitReason;

const LOCKED: u8 = 1;
const PARKED: u8 = 2;

/// Tokens: woken to compete again, or handed the lock.
const WOKEN: u32 = 1;
const HANDOFF: u32 = 2;

/// A waiter queued this long gets the lock handed over (Go: 1 ms).
const STARVATION: Duration = Duration::from_millis(1);

/// Spin rounds (1, 2, 4, ... pause instructions) before parking.
const SPIN_ROUNDS: u32 = 6;

/// A mutual exclusion lock that parks goroutines, not threads: Go's
/// `sync.Mutex` with std's shape (it owns the data; the guard unlocks).
///
/// A goroutine may hold the guard across parks (channel operations,
/// sleeps): the lock is not tied to a thread. There is no poisoning: a
/// panic while holding the guard unlocks it.
///
/// # Examples
///
/// ```
/// use gort_runtime::sync::{Mutex, WaitGroup};
/// use std::sync::Arc;
/// let count = Arc::new(Mutex::new(0));
/// let wg = WaitGroup::new();
/// for _ in 0..8 {
///     wg.add(1);
///     let (count, wg) = (count.clone(), wg.clone());
///     gort_runtime::spawn(move || {
///         for _ in 0..1000 {
///             *count.lock() += 1;
///         }
///         wg.done();
///     });
/// }
/// wg.wait();
/// assert_eq!(*count.lock(), 8000);
/// ```
pub struct Mutex<T: ?Sized> {
    state: AtomicU8,
    queue: QueueLock<Queue>,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out `&mut T` to one holder at a time, on any
// thread: T must be Send, and need not be Sync.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

/// Holds a [`Mutex`] locked; unlocks when dropped. Derefs to the data.
///
/// # Examples
///
/// ```
/// let m = gort_runtime::sync::Mutex::new(vec![1]);
/// let mut guard = m.lock();
/// guard.push(2);
/// drop(guard);
/// assert_eq!(*m.lock(), [1, 2]);
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    /// Send iff T: Send, Sync iff T: Sync, as `&mut T`.
    _data: PhantomData<&'a mut T>,
}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = gort_runtime::sync::Mutex::new(5);
    /// assert_eq!(*m.lock(), 5);
    /// ```
    pub const fn new(value: T) -> Mutex<T> {
        Mutex { state: AtomicU8::new(0), queue: QueueLock::new(Queue::new()), value: UnsafeCell::new(value) }
    }

    /// Consumes the mutex, returning the data.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = gort_runtime::sync::Mutex::new(String::from("x"));
    /// assert_eq!(m.into_inner(), "x");
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks, parking the goroutine (or blocking the thread) while another
    /// holder has it: Go's `m.Lock()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = gort_runtime::sync::Mutex::new(0);
    /// *m.lock() += 1;
    /// assert_eq!(*m.lock(), 1);
    /// ```
    pub fn lock(&self) -> MutexGuard<'_, T> {
        if self.state.compare_exchange(0, LOCKED, Ordering::Acquire, Ordering::Relaxed).is_err() {
            self.lock_slow();
        }
        MutexGuard { mutex: self, _data: PhantomData }
    }

    /// Locks only if that needs no waiting: Go's `m.TryLock()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = gort_runtime::sync::Mutex::new(0);
    /// let held = m.lock();
    /// assert!(m.try_lock().is_none());
    /// drop(held);
    /// assert!(m.try_lock().is_some());
    /// ```
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        let mut s = self.state.load(Ordering::Relaxed);
        while s & LOCKED == 0 {
            match self.state.compare_exchange_weak(s, s | LOCKED, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return Some(MutexGuard { mutex: self, _data: PhantomData }),
                Err(now) => s = now,
            }
        }
        None
    }

    /// The data, through a unique borrow: no locking needed.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut m = gort_runtime::sync::Mutex::new(1);
    /// *m.get_mut() = 2;
    /// assert_eq!(*m.lock(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    fn lock_slow(&self) {
        let mut since = None;
        let mut woken = false;
        let mut spins = 0;
        loop {
            let s = self.state.load(Ordering::Relaxed);
            if s & LOCKED == 0 {
                if self.state.compare_exchange_weak(s, s | LOCKED, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                    return;
                }
                continue;
            }
            if s & PARKED == 0 && spins < SPIN_ROUNDS {
                for _ in 0..1 << spins {
                    std::hint::spin_loop();
                }
                spins += 1;
                continue;
            }
            if s & PARKED == 0
                && self.state.compare_exchange_weak(s, s | PARKED, Ordering::Relaxed, Ordering::Relaxed).is_err()
            {
                continue;
            }
            let mut queue = self.queue.lock();
            // Re-check under the queue lock (see the module invariant).
            if self.state.load(Ordering::Relaxed) != LOCKED | PARKED {
                continue;
            }
            let node = Node::new(*since.get_or_insert_with(Instant::now), 0);
            // SAFETY: `node` stays on this frame until `wait` returns.
            unsafe { queue.push(&node, woken) };
            let token = wait(
                &node,
                queue,
                WaitReason::Sync,
                || self.queue.lock(),
                |q| &mut **q,
                |granted| match granted {
                    // Unwound at shutdown holding a lock handed to it: give it
                    // back; woken to compete: pass the turn on.
                    Some(HANDOFF) => self.unlock(),
                    Some(_) => self.wake_next(),
                    None => {}
                },
            );
            if token == HANDOFF {
                return;
            }
            woken = true;
            spins = 0;
        }
    }

    /// Wakes the head waiter to compete if the lock is free (a woken waiter
    /// that was unwound instead passes its turn on).
    fn wake_next(&self) {
        let mut queue = self.queue.lock();
        if self.state.load(Ordering::Relaxed) & LOCKED != 0 {
            return;
        }
        let Some(node) = queue.pop() else { return };
        if queue.is_empty() {
            self.state.fetch_and(!PARKED, Ordering::Relaxed);
        }
        // SAFETY: popped under the queue lock, which we hold.
        let wakeup = unsafe { grant(node, WOKEN) };
        drop(queue);
        drop(wakeup);
    }

    fn unlock(&self) {
        if self.state.compare_exchange(LOCKED, 0, Ordering::Release, Ordering::Relaxed).is_err() {
            self.unlock_slow();
        }
    }

    fn unlock_slow(&self) {
        let mut queue = self.queue.lock();
        let Some(node) = queue.pop() else {
            // PARKED was set by a locker that then found the lock free.
            self.state.store(0, Ordering::Release);
            return;
        };
        let more = if queue.is_empty() { 0 } else { PARKED };
        let handoff = node.since.elapsed() >= STARVATION;
        let token = if handoff {
            // Never released: the starved waiter owns it when it wakes.
            self.state.store(LOCKED | more, Ordering::Relaxed);
            HANDOFF
        } else {
            self.state.store(more, Ordering::Release);
            WOKEN
        };
        // SAFETY: popped under the queue lock, which we still hold.
        let wakeup = unsafe { grant(node, token) };
        drop(queue);
        drop(wakeup);
    }
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard holds (for `Cond`).
    pub(crate) fn mutex(guard: &Self) -> &'a Mutex<T> {
        guard.mutex
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock: no `&mut` exists elsewhere.
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock, and `&mut self` is unique.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let locked = self.state.load(Ordering::Relaxed) & LOCKED != 0;
        f.debug_struct("Mutex").field("locked", &locked).finish_non_exhaustive()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}
