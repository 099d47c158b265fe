//! Cancellation: Go's `context` package (without values).
//!
//! A [`Context`] is a cheap handle to a node in a tree. Each node has a
//! `done` channel that is closed when it is cancelled, the reason
//! ([`Error`]), an optional deadline, and weak links to its children.
//! Cancelling a node records the reason, closes its channel and cancels its
//! children, depth first; it unlinks the node from its parent but never
//! cancels the parent. A child made under a cancelled parent is born
//! cancelled. Deadlines are timer tasks on the runtime's timer heaps
//! (`gort_runtime::time::call_at`): no goroutine or thread per context.
//!
//! Lock order: a parent's state lock is never held while a child's is
//! taken, except in `attach`, where the child is new and not yet shared.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use gort_runtime::time::{TimerTask, call_at};
use parking_lot::Mutex;

use crate::core::Core;
use crate::handles::{Chan, Receiver, chan};

/// Why a context was cancelled: Go's `context.Canceled` and
/// `context.DeadlineExceeded`.
///
/// # Examples
///
/// ```
/// use gort_channels::context::{background, with_cancel, Error};
/// let (ctx, cancel) = with_cancel(&background());
/// cancel();
/// assert_eq!(ctx.err(), Some(Error::Canceled));
/// assert_eq!(Error::Canceled.to_string(), "context canceled");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// Its cancel function (or an ancestor's) was called.
    Canceled,
    /// Its deadline (or an ancestor's) passed.
    DeadlineExceeded,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Canceled => "context canceled",
            Error::DeadlineExceeded => "context deadline exceeded",
        })
    }
}

impl std::error::Error for Error {}

/// Cancels its context (and every context derived from it). Calling it
/// again does nothing. Call it as `cancel()`; clones cancel the same
/// context.
///
/// # Examples
///
/// ```
/// use gort_channels::context::{background, with_cancel, CancelFunc};
/// let (ctx, cancel): (_, CancelFunc) = with_cancel(&background());
/// let again = cancel.clone();
/// cancel();
/// again(); // a no-op
/// assert!(ctx.is_cancelled());
/// ```
pub type CancelFunc = Arc<dyn Fn() + Send + Sync>;

/// A cancellation scope: Go's `context.Context`.
///
/// Cheap to clone; `Send + Sync`. Pass it down to the goroutines doing the
/// work and have them watch [`done`](Self::done) in `select!` or check
/// [`is_cancelled`](Self::is_cancelled).
///
/// # Examples
///
/// ```
/// use gort_channels::{chan, select, context};
/// use std::time::Duration;
///
/// let (ctx, cancel) = context::with_cancel(&context::background());
/// let results = chan::<u64>(0);
/// let (c, out) = (ctx.clone(), results.clone());
/// let worker = gort_runtime::spawn(move || {
///     for i in 0.. {
///         select! {
///             send(out, i) => {},
///             recv(c.done()) -> _ => return c.err(),
///         }
///     }
///     None
/// });
/// assert_eq!(results.recv(), Some(0));
/// cancel();
/// assert_eq!(worker.join().unwrap(), Some(context::Error::Canceled));
/// ```
#[derive(Clone)]
pub struct Context {
    node: Option<Arc<Node>>,
}

struct Node {
    done: Chan<()>,
    deadline: Option<Instant>,
    kind: &'static str,
    state: Mutex<State>,
}

struct State {
    err: Option<Error>,
    parent: Weak<Node>,
    children: HashMap<usize, Weak<Node>>,
}

/// The root context: never cancelled, no deadline (Go's
/// `context.Background()`).
///
/// # Examples
///
/// ```
/// let ctx = gort_channels::context::background();
/// assert!(!ctx.is_cancelled());
/// assert!(ctx.done().try_recv().unwrap_err().is_empty()); // a nil channel: never ready
/// ```
pub fn background() -> Context {
    Context { node: None }
}

/// A child of `parent` with its own cancel function (Go's
/// `context.WithCancel`).
///
/// # Examples
///
/// ```
/// use gort_channels::context::{background, with_cancel};
/// let (parent, cancel_parent) = with_cancel(&background());
/// let (child, _cancel_child) = with_cancel(&parent);
/// cancel_parent();
/// assert!(child.is_cancelled());
/// assert_eq!(child.done().recv(), None); // closed
/// ```
pub fn with_cancel(parent: &Context) -> (Context, CancelFunc) {
    derive(parent, None, "WithCancel")
}

/// A child of `parent` cancelled after `d` (Go's `context.WithTimeout`).
///
/// # Examples
///
/// ```
/// use gort_channels::context::{background, with_timeout, Error};
/// use std::time::Duration;
/// let (ctx, _cancel) = with_timeout(&background(), Duration::from_millis(5));
/// assert_eq!(ctx.done().recv(), None); // closed once the time is up
/// assert_eq!(ctx.err(), Some(Error::DeadlineExceeded));
/// ```
pub fn with_timeout(parent: &Context, d: Duration) -> (Context, CancelFunc) {
    match Instant::now().checked_add(d) {
        Some(deadline) => with_deadline(parent, deadline),
        None => with_cancel(parent),
    }
}

/// A child of `parent` cancelled at `deadline` (Go's
/// `context.WithDeadline`). Its deadline is the earlier of `deadline` and
/// the parent's.
///
/// # Examples
///
/// ```
/// use gort_channels::context::{background, with_deadline};
/// use std::time::{Duration, Instant};
/// let at = Instant::now() + Duration::from_secs(60);
/// let (ctx, cancel) = with_deadline(&background(), at);
/// assert_eq!(ctx.deadline(), Some(at));
/// cancel();
/// assert!(ctx.is_cancelled());
/// ```
pub fn with_deadline(parent: &Context, deadline: Instant) -> (Context, CancelFunc) {
    let deadline = parent.deadline().map_or(deadline, |d| d.min(deadline));
    derive(parent, Some(deadline), "WithDeadline")
}

fn derive(parent: &Context, deadline: Option<Instant>, kind: &'static str) -> (Context, CancelFunc) {
    let node = Arc::new(Node {
        done: chan(0),
        deadline,
        kind,
        state: Mutex::new(State { err: None, parent: Weak::new(), children: HashMap::new() }),
    });
    if let Some(parent) = &parent.node {
        attach(parent, &node);
    }
    if let Some(deadline) = deadline {
        if deadline <= Instant::now() {
            cancel(&node, Error::DeadlineExceeded);
        } else {
            call_at(deadline, Arc::new(Expire(Arc::downgrade(&node))));
        }
    }
    let cancel_node = node.clone();
    let cancel_fn: CancelFunc = Arc::new(move || cancel(&cancel_node, Error::Canceled));
    (Context { node: Some(node) }, cancel_fn)
}

/// Links a new `child` under `parent`, or cancels it at once if the parent
/// is cancelled already.
fn attach(parent: &Arc<Node>, child: &Arc<Node>) {
    let mut st = parent.state.lock();
    match st.err {
        Some(err) => {
            drop(st);
            cancel(child, err);
        }
        None => {
            st.children.insert(key(child), Arc::downgrade(child));
            child.state.lock().parent = Arc::downgrade(parent);
        }
    }
}

fn key(node: &Arc<Node>) -> usize {
    Arc::as_ptr(node) as usize
}

/// Cancels `node` with `err` unless it is cancelled already, then its
/// descendants, and unlinks it from its parent (which stays as it is).
/// Iterative, so a deep chain of contexts needs no deep stack.
fn cancel(node: &Arc<Node>, err: Error) {
    let parent = std::mem::take(&mut node.state.lock().parent);
    if let Some(parent) = parent.upgrade() {
        parent.state.lock().children.remove(&key(node));
    }
    let mut todo = vec![node.clone()];
    while let Some(node) = todo.pop() {
        let children = {
            let mut st = node.state.lock();
            if st.err.is_some() {
                continue; // cancelled already, and its descendants with it
            }
            st.err = Some(err);
            st.parent = Weak::new();
            std::mem::take(&mut st.children)
        };
        node.done.close();
        todo.extend(children.into_values().filter_map(|w| w.upgrade()));
    }
}

/// A deadline's timer: cancels the context if it is still around.
struct Expire(Weak<Node>);

impl TimerTask for Expire {
    fn fire(&self, _now: Instant) {
        if let Some(node) = self.0.upgrade() {
            cancel(&node, Error::DeadlineExceeded);
        }
    }
}

impl Context {
    /// A channel that is closed when the context is cancelled (Go's
    /// `ctx.Done()`): use it in `select!` as `recv(ctx.done()) -> _`. For
    /// [`background`] it is a nil channel, never ready.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort_channels::context::{background, with_cancel};
    /// let (ctx, cancel) = with_cancel(&background());
    /// assert!(ctx.done().try_recv().unwrap_err().is_empty());
    /// cancel();
    /// assert!(ctx.done().try_recv().unwrap_err().is_closed());
    /// ```
    pub fn done(&self) -> Receiver<()> {
        match &self.node {
            Some(node) => node.done.receiver(),
            None => Receiver::from_core(Core::nil()),
        }
    }

    /// Why the context was cancelled, or `None` while it is live (Go's
    /// `ctx.Err()`).
    ///
    /// # Examples
    ///
    /// ```
    /// use gort_channels::context::{background, with_cancel, Error};
    /// let (ctx, cancel) = with_cancel(&background());
    /// assert_eq!(ctx.err(), None);
    /// cancel();
    /// assert_eq!(ctx.err(), Some(Error::Canceled));
    /// ```
    pub fn err(&self) -> Option<Error> {
        self.node.as_ref().and_then(|node| node.state.lock().err)
    }

    /// True once the context is cancelled (for any reason).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!gort_channels::context::background().is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.err().is_some()
    }

    /// When the context will be cancelled by itself, if ever (Go's
    /// `ctx.Deadline()`).
    ///
    /// # Examples
    ///
    /// ```
    /// use gort_channels::context::{background, with_timeout};
    /// use std::time::Duration;
    /// assert_eq!(background().deadline(), None);
    /// let (ctx, _cancel) = with_timeout(&background(), Duration::from_secs(1));
    /// assert!(ctx.deadline().is_some());
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        self.node.as_ref().and_then(|node| node.deadline)
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.node {
            None => f.write_str("context.Background"),
            Some(node) => f
                .debug_struct(&format!("context.{}", node.kind))
                .field("err", &self.err())
                .field("deadline", &node.deadline)
                .finish(),
        }
    }
}
