//! `blocking`: run known-blocking work on a thread that is not a worker.
//!
//! A goroutine that calls a blocking function (a file read, a DNS lookup,
//! a C library that sleeps) holds its worker for as long as the call
//! takes. [`blocking`] hands the call to a pool of plain threads and parks
//! the goroutine until it returns, so the worker runs other goroutines
//! meanwhile (Go does the same for every system call by handing its P to
//! another thread; we cannot see system calls, so the caller says which
//! work blocks).
//!
//! The pool is one per process, shared by all runtimes: threads are started
//! when no waiting one is free, up to [`MAX_THREADS`], and end after
//! [`IDLE_TIMEOUT`] without work. Each thread counts itself in and out of
//! the waiting set under the pool's lock; the idle count that deadlock
//! detection reads is the waiting threads minus the queued jobs, so it
//! never includes a thread that is about to run user code (whichever thread
//! ends up taking the job).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::goroutine;
use crate::park::{WaitReason, Waiter, park};
use crate::scheduler::census;

/// Most threads the pool runs at once; more jobs wait in its queue.
const MAX_THREADS: usize = 512;

/// How long an idle pool thread waits for work before it ends.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    /// Threads waiting for work (each counts itself in and out).
    waiting: usize,
    /// Threads started and not ended.
    threads: usize,
}

impl State {
    /// Waiting threads that no queued job will wake: the ones deadlock
    /// detection may count as unable to act.
    fn idle(&self) -> usize {
        self.waiting.saturating_sub(self.queue.len())
    }
}

#[derive(Default)]
struct Pool {
    state: Mutex<State>,
    work: Condvar,
    /// `state.idle()`, readable without the lock.
    idle: AtomicUsize,
}

static POOL: LazyLock<Pool> = LazyLock::new(Pool::default);

/// Idle pool threads now: they run nothing until a goroutine hands them
/// work, so deadlock detection counts them as asleep.
pub(crate) fn idle_threads() -> usize {
    POOL.idle.load(Ordering::SeqCst)
}

impl Pool {
    /// Republishes the idle count after `state` changed (under its lock).
    fn publish(&self, state: &State) {
        if self.idle.swap(state.idle(), Ordering::SeqCst) != state.idle() {
            census::changed();
        }
    }

    fn submit(&'static self, job: Job) {
        let mut state = self.state.lock();
        state.queue.push_back(job);
        if state.waiting >= state.queue.len() {
            // A waiting thread is free for it.
            self.work.notify_one();
        } else if state.threads < MAX_THREADS {
            state.threads += 1;
            let spawned = std::thread::Builder::new().name("gort-blocking".into()).spawn(|| POOL.serve());
            if let Err(e) = spawned {
                state.threads -= 1;
                if state.threads == 0 {
                    // No thread would ever run it: take it back and say so.
                    state.queue.pop_back();
                    self.publish(&state);
                    drop(state);
                    panic!("gort::blocking cannot start a thread: {e}");
                }
            }
        }
        self.publish(&state);
    }

    /// A pool thread's body: run queued jobs, wait idle, end when idle too long.
    fn serve(&self) {
        let mut state = self.state.lock();
        loop {
            if let Some(job) = state.queue.pop_front() {
                self.publish(&state);
                drop(state);
                job();
                state = self.state.lock();
                continue;
            }
            state.waiting += 1;
            self.publish(&state);
            let timed_out = self.work.wait_for(&mut state, IDLE_TIMEOUT).timed_out();
            state.waiting -= 1;
            self.publish(&state);
            if timed_out && state.queue.is_empty() {
                state.threads -= 1;
                return;
            }
        }
    }
}

/// Result of a blocking job, and the goroutine to wake when it is there.
struct Handoff<T> {
    result: Option<std::thread::Result<T>>,
    waiter: Option<Waiter>,
}

/// Runs `f`, which may block its thread, without holding up other
/// goroutines: on a goroutine, `f` runs on a pool thread while the
/// goroutine parks (shown as `syscall` in dumps); on a plain thread it
/// simply runs here. A panic in `f` resumes in the caller.
///
/// Use it for work that blocks in the kernel or in foreign code, such as
/// file I/O or `std::thread::sleep`. Sockets from `gort::net` and gort's
/// channels and locks park by themselves and need no wrapping.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let h = gort_runtime::spawn(|| {
///     gort_runtime::blocking(|| {
///         std::thread::sleep(Duration::from_millis(10)); // a worker stays free
///         std::fs::metadata(".").is_ok()
///     })
/// });
/// assert!(h.join().unwrap());
/// ```
pub fn blocking<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    if !goroutine::with_current(|g| g.is_some()) {
        return f();
    }
    let handoff = Arc::new(Mutex::new(Handoff { result: None, waiter: None }));
    let theirs = handoff.clone();
    POOL.submit(Box::new(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let mut h = theirs.lock();
        h.result = Some(result);
        if let Some(w) = h.waiter.take() {
            drop(h);
            w.unpark();
        }
    }));
    loop {
        let mut h = handoff.lock();
        if let Some(result) = h.result.take() {
            return result.unwrap_or_else(|payload| std::panic::resume_unwind(payload));
        }
        h.waiter = Some(Waiter::current());
        park(WaitReason::Syscall, None, h);
    }
}
