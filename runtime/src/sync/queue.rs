//! Wait nodes and FIFO wait queues for `gort::sync` (Go's `sudog` and
//! `semaRoot`).
//!
//! A blocked `lock`, `acquire` or `wait` puts a [`Node`] on a [`Queue`]:
//! a record on the waiter's own stack, so blocking allocates nothing. The
//! queue lives inside the primitive's own `parking_lot` mutex, which also
//! guards the primitive's state, and that guard is handed to `park`.
//!
//! # Protocol (the same as the channels' wait records)
//!
//! - A node is queued, dequeued, and its waiter read or rewritten only
//!   under the queue's lock.
//! - A waker takes a node off the queue and calls [`grant`] under that
//!   lock: it decides the wake, then stores the node's *token* (what the
//!   waiter was given: woken to retry, or handed the lock) as its last
//!   touch of the node, and delivers the wake after unlocking.
//! - The waiter returns only after it saw a token, either straight after
//!   waking or under the lock, so no waker ever touches a node that is
//!   gone. A wake that brought no token (a stale `Waiter` unparked) re-arms
//!   the node and parks again.
//! - If the waiter is unwound while parked (its runtime shut down), a
//!   guard takes its node off the queue, or, if it was granted something
//!   it will never use (a lock handed over, semaphore units), gives that
//!   back through the primitive's `undo`.

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use crate::park::{WaitReason, Waiter, Wakeup, park};

/// The token of a node nobody has granted yet.
const WAITING: u32 = 0;

/// One blocked waiter.
pub(crate) struct Node {
    waiter: UnsafeCell<Waiter>,
    token: AtomicU32,
    /// When it first queued (for starvation decisions).
    pub(crate) since: Instant,
    /// What it asks for: a semaphore weight, or a reader/writer kind.
    pub(crate) want: u64,
}

impl Node {
    pub(crate) fn new(since: Instant, want: u64) -> Node {
        Node { waiter: UnsafeCell::new(Waiter::current()), token: AtomicU32::new(WAITING), since, want }
    }

    fn token(&self) -> u32 {
        self.token.load(Ordering::Acquire)
    }
}

/// A FIFO of nodes on their waiters' stacks.
pub(crate) struct Queue(VecDeque<NonNull<Node>>);

// SAFETY: the queue only holds pointers; every access to a node goes
// through the lock the queue lives under, whatever thread holds it.
unsafe impl Send for Queue {}

impl Queue {
    pub(crate) const fn new() -> Queue {
        Queue(VecDeque::new())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Queues `node` at the back (first wait) or the front (a waiter that
    /// was woken and lost the race keeps its place).
    ///
    /// # Safety
    ///
    /// `node` stays in place until [`wait`] returns for it.
    pub(crate) unsafe fn push(&mut self, node: &Node, front: bool) {
        if front {
            self.0.push_front(NonNull::from(node));
        } else {
            self.0.push_back(NonNull::from(node));
        }
    }

    /// The first node, still queued.
    pub(crate) fn front(&self) -> Option<&Node> {
        // SAFETY: queued nodes are alive (push's contract) while we hold the
        // lock, which `&self` implies.
        self.0.front().map(|n| unsafe { n.as_ref() })
    }

    /// Takes the first node off the queue. The caller must [`grant`] it
    /// under the same lock.
    pub(crate) fn pop<'a>(&mut self) -> Option<&'a Node> {
        // SAFETY: as in `front`; the node stays alive until granted, and the
        // caller grants it under the lock we hold.
        self.0.pop_front().map(|n| unsafe { n.as_ref() })
    }

    fn remove(&mut self, node: &Node) {
        let p = NonNull::from(node);
        self.0.retain(|&n| n != p);
    }
}

/// Gives a dequeued node its token and decides its wake; deliver the
/// returned wake-up after unlocking.
///
/// # Safety
///
/// The caller took `node` off its queue with [`Queue::pop`] under the lock
/// it still holds, and does not touch `node` afterwards.
pub(crate) unsafe fn grant(node: &Node, token: u32) -> Option<Wakeup> {
    debug_assert_ne!(token, WAITING);
    // SAFETY: the waiter is read only under the queue lock, which we hold.
    let wakeup = unsafe { (*node.waiter.get()).unpark_deferred() };
    node.token.store(token, Ordering::Release);
    wakeup
}

/// Parks until `node`, queued under `guard`'s lock, is granted; returns its
/// token. `relock` takes the lock again and `queue` finds the queue behind
/// a guard. If the waiter is unwound while parked, `undo` runs after the
/// node is off the queue, without the lock: with the token it was granted
/// (to give back what it will never use), or `None` if it was still queued
/// (to serve the waiters it was holding up).
pub(crate) fn wait<'l, G: 'l>(
    node: &Node,
    mut guard: G,
    reason: WaitReason,
    relock: impl Fn() -> G,
    queue: impl Fn(&mut G) -> &mut Queue,
    undo: impl FnOnce(Option<u32>),
) -> u32 {
    let on_unwind = RemoveOnUnwind { node, relock: &relock, queue: &queue, undo: Some(undo) };
    let token = loop {
        park(reason, None, guard);
        let token = node.token();
        if token != WAITING {
            break token;
        }
        // Woken without a token: settle any waker in flight under the lock.
        guard = relock();
        let token = node.token();
        if token != WAITING {
            break token;
        }
        // SAFETY: the waiter is rewritten only under the queue lock we hold.
        unsafe { *node.waiter.get() = Waiter::current() };
    };
    std::mem::forget(on_unwind);
    token
}

/// Takes a node off its queue, or undoes its grant, if its waiter unwinds
/// out of `park`.
struct RemoveOnUnwind<'a, G, R: Fn() -> G, Q: Fn(&mut G) -> &mut Queue, U: FnOnce(Option<u32>)> {
    node: &'a Node,
    relock: &'a R,
    queue: &'a Q,
    undo: Option<U>,
}

impl<G, R, Q, U> Drop for RemoveOnUnwind<'_, G, R, Q, U>
where
    R: Fn() -> G,
    Q: Fn(&mut G) -> &mut Queue,
    U: FnOnce(Option<u32>),
{
    fn drop(&mut self) {
        let mut guard = (self.relock)();
        let token = self.node.token();
        if token == WAITING {
            (self.queue)(&mut guard).remove(self.node);
        }
        drop(guard);
        if let Some(undo) = self.undo.take() {
            undo((token != WAITING).then_some(token));
        }
    }
}
