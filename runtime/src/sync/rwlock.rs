//! `RwLock<T>`: Go's `sync.RWMutex`, holding its data as std's does.
//!
//! One `parking_lot` mutex guards the reader count, the writer flag and a
//! FIFO of waiting readers and writers. A newcomer waits whenever anyone is
//! queued, and an unlock hands the lock over directly: to the writer at the
//! head of the queue, or to every reader at its head at once. So a stream
//! of readers never starves a writer (nor writers readers), at the price of
//! a short lock per `read()`/`write()`.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::time::Instant;

use parking_lot::Mutex as StateLock;

use super::queue::{Node, Queue, grant, wait};
use crate::park::WaitReason;

/// What a queued node wants.
const READ: u64 = 0;
const WRITE: u64 = 1;

/// The token of a node that was handed the lock.
const GRANTED: u32 = 1;

struct State {
    readers: usize,
    writer: bool,
    queue: Queue,
}

/// A reader-writer lock that parks goroutines, not threads: Go's
/// `sync.RWMutex` with std's shape. Many readers or one writer; waiters are
/// served in arrival order, so writers never starve under a stream of
/// readers. No poisoning.
///
/// # Examples
///
/// ```
/// let l = gort_runtime::sync::RwLock::new(vec![1, 2]);
/// {
///     let (a, b) = (l.read(), l.read()); // readers share
///     assert_eq!(a.len() + b.len(), 4);
/// }
/// l.write().push(3);
/// assert_eq!(*l.read(), [1, 2, 3]);
/// ```
pub struct RwLock<T: ?Sized> {
    state: StateLock<State>,
    value: UnsafeCell<T>,
}

// SAFETY: writers get `&mut T` (T: Send) and readers share `&T` across
// threads (T: Sync).
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

/// Shared access to a [`RwLock`]'s data; unlocks when dropped.
///
/// # Examples
///
/// ```
/// let l = gort_runtime::sync::RwLock::new(1);
/// let r = l.read();
/// assert_eq!(*r, 1);
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    _data: PhantomData<&'a T>,
}

/// Exclusive access to a [`RwLock`]'s data; unlocks when dropped.
///
/// # Examples
///
/// ```
/// let l = gort_runtime::sync::RwLock::new(1);
/// *l.write() += 1;
/// assert_eq!(*l.read(), 2);
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    _data: PhantomData<&'a mut T>,
}

impl<T> RwLock<T> {
    /// An unlocked lock holding `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort_runtime::sync::RwLock::new("v");
    /// assert_eq!(*l.read(), "v");
    /// ```
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
            state: StateLock::new(State { readers: 0, writer: false, queue: Queue::new() }),
            value: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock, returning the data.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(gort_runtime::sync::RwLock::new(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for reading, waiting while a writer holds or waits for it: Go's
    /// `RLock`.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort_runtime::sync::RwLock::new(0);
    /// assert_eq!(*l.read(), 0);
    /// ```
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        let mut st = self.state.lock();
        if !st.writer && st.queue.is_empty() {
            st.readers += 1;
        } else {
            self.wait(st, READ, WaitReason::RwLockRead);
        }
        RwLockReadGuard { lock: self, _data: PhantomData }
    }

    /// Locks for writing, waiting while anyone holds it or waits before
    /// us: Go's `Lock`.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort_runtime::sync::RwLock::new(0);
    /// *l.write() = 7;
    /// assert_eq!(*l.read(), 7);
    /// ```
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        let mut st = self.state.lock();
        if !st.writer && st.readers == 0 && st.queue.is_empty() {
            st.writer = true;
        } else {
            self.wait(st, WRITE, WaitReason::RwLockWrite);
        }
        RwLockWriteGuard { lock: self, _data: PhantomData }
    }

    /// Locks for reading only if that needs no waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort_runtime::sync::RwLock::new(0);
    /// let w = l.write();
    /// assert!(l.try_read().is_none());
    /// drop(w);
    /// assert!(l.try_read().is_some());
    /// ```
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        let mut st = self.state.lock();
        (!st.writer && st.queue.is_empty()).then(|| {
            st.readers += 1;
            RwLockReadGuard { lock: self, _data: PhantomData }
        })
    }

    /// Locks for writing only if that needs no waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort_runtime::sync::RwLock::new(0);
    /// let r = l.read();
    /// assert!(l.try_write().is_none());
    /// drop(r);
    /// assert!(l.try_write().is_some());
    /// ```
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        let mut st = self.state.lock();
        (!st.writer && st.readers == 0 && st.queue.is_empty()).then(|| {
            st.writer = true;
            RwLockWriteGuard { lock: self, _data: PhantomData }
        })
    }

    /// The data, through a unique borrow: no locking needed.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut l = gort_runtime::sync::RwLock::new(1);
    /// *l.get_mut() = 2;
    /// assert_eq!(*l.read(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// Queues and parks until an unlock hands us the lock.
    fn wait(&self, mut st: parking_lot::MutexGuard<'_, State>, want: u64, reason: WaitReason) {
        let node = Node::new(Instant::now(), want);
        // SAFETY: `node` stays on this frame until `wait` returns.
        unsafe { st.queue.push(&node, false) };
        let token = wait(
            &node,
            st,
            reason,
            || self.state.lock(),
            |st| &mut st.queue,
            // Unwound at shutdown: give back a lock handed to it, or let the
            // waiters it held up go ahead.
            |granted| match (granted, want) {
                (Some(_), READ) => self.unlock_read(),
                (Some(_), _) => self.unlock_write(),
                (None, _) => {
                    let st = self.state.lock();
                    if !st.writer {
                        Self::hand_over(st);
                    }
                }
            },
        );
        debug_assert_eq!(token, GRANTED);
    }

    fn unlock_read(&self) {
        let mut st = self.state.lock();
        st.readers -= 1;
        if st.readers == 0 {
            Self::hand_over(st);
        }
    }

    fn unlock_write(&self) {
        let mut st = self.state.lock();
        st.writer = false;
        Self::hand_over(st);
    }

    /// With no writer holding it: hands the lock to the writer at the head
    /// of the queue (once no reader holds it), or to every reader at the head.
    fn hand_over(mut st: parking_lot::MutexGuard<'_, State>) {
        let mut wakeups = Vec::new();
        while let Some(head) = st.queue.front() {
            match head.want {
                WRITE if st.readers == 0 && wakeups.is_empty() => {
                    st.writer = true;
                    let node = st.queue.pop().expect("peeked");
                    // SAFETY: popped under the state lock, which we hold.
                    wakeups.push(unsafe { grant(node, GRANTED) });
                    break;
                }
                READ => {
                    st.readers += 1;
                    let node = st.queue.pop().expect("peeked");
                    // SAFETY: as above.
                    wakeups.push(unsafe { grant(node, GRANTED) });
                }
                _ => break,
            }
        }
        drop(st);
        drop(wakeups);
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a read lock is held: no writer has `&mut T`.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.unlock_read();
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the write lock is held: nobody else has a reference.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as above, and `&mut self` is unique.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.unlock_write();
    }
}

impl<T: ?Sized> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state.lock();
        f.debug_struct("RwLock").field("readers", &st.readers).field("writer", &st.writer).finish_non_exhaustive()
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}
