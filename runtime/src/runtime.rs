//! Runtimes: worker pools that goroutines run on, and the default one.
//!
//! A [`Runtime`] owns N worker threads and the [`Shared`] state they
//! schedule from. The *default runtime* starts on first use (a `go!` or
//! `spawn` on a plain thread) with `GORT_WORKERS` workers, else one per CPU,
//! and lives until the process exits. Any number of other runtimes may be
//! built; a goroutine stays on the runtime that spawned it, and so do the
//! goroutines it spawns.

use std::io;
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::goroutine;
use crate::metrics::RuntimeMetrics;
use crate::scheduler::Shared;
use crate::scheduler::runq::RunQueue as LocalQueue;
use crate::scheduler::worker::Worker;
use crate::spawn::{Builder, JoinHandle, spawn_failed};
use crate::stack::DEFAULT_STACK_SIZE;

/// Stack size of the goroutines that [`Runtime::block_on`] and [`run`]
/// start: a main thread's 8 MiB, for a program's `main` body.
///
/// # Examples
///
/// ```
/// fn depth(n: u32) -> u32 { if n == 0 { 0 } else { 1 + depth(n - 1) } }
/// // Deeper than a 64 KiB goroutine stack allows, fine for the main goroutine.
/// assert_eq!(gort_runtime::run(|| depth(10_000)), 10_000);
/// assert_eq!(gort_runtime::MAIN_STACK_SIZE, 8 << 20);
/// ```
pub const MAIN_STACK_SIZE: usize = 8 << 20;

/// Configures a [`Runtime`]: number of workers and default stack size.
///
/// # Examples
///
/// ```
/// let rt = gort_runtime::Runtime::builder().workers(2).stack_size(128 * 1024).build()?;
/// assert_eq!(rt.block_on(|| 20 + 22), 42);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a RuntimeBuilder does nothing until you call build"]
pub struct RuntimeBuilder {
    workers: Option<usize>,
    spare_threads: Option<usize>,
    stack_size: usize,
    thread_name: String,
}

impl RuntimeBuilder {
    /// Number of worker threads (Go's GOMAXPROCS). Default: the
    /// `GORT_WORKERS` environment variable, else the number of CPUs.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = gort_runtime::Runtime::builder().workers(1).build()?;
    /// assert_eq!(rt.workers(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn workers(mut self, n: usize) -> RuntimeBuilder {
        self.workers = Some(n);
        self
    }

    /// Most spare threads the runtime may start to stand in for workers
    /// stuck in one goroutine (a blocking call, a long loop without channel
    /// operations) for over 10 ms. Default: as many as there are workers.
    /// With 0, a stuck worker's queued goroutines still move to the other
    /// workers, but nothing replaces the stuck thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = gort_runtime::Runtime::builder().workers(2).spare_threads(4).build()?;
    /// assert_eq!(rt.metrics().spare_threads_started, 0); // none needed yet
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spare_threads(mut self, n: usize) -> RuntimeBuilder {
        self.spare_threads = Some(n);
        self
    }

    /// Default stack size of this runtime's goroutines, in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = gort_runtime::Runtime::builder().stack_size(1 << 20).build()?;
    /// fn depth(n: u32) -> u32 { if n == 0 { 0 } else { 1 + depth(n - 1) } }
    /// assert_eq!(rt.block_on(|| depth(20_000)), 20_000);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> RuntimeBuilder {
        self.stack_size = bytes;
        self
    }

    /// Prefix of the worker threads' names (default `gort-worker`).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = gort_runtime::Runtime::builder().thread_name("db").build()?;
    /// let name = rt.block_on(|| std::thread::current().name().map(str::to_owned));
    /// assert!(name.unwrap().starts_with("db-"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn thread_name(mut self, prefix: impl Into<String>) -> RuntimeBuilder {
        self.thread_name = prefix.into();
        self
    }

    /// Starts the workers.
    ///
    /// # Errors
    ///
    /// When `workers(0)` was asked for, or a worker thread cannot start.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(gort_runtime::Runtime::builder().workers(0).build().is_err());
    /// ```
    pub fn build(self) -> io::Result<Runtime> {
        let workers = match self.workers {
            Some(0) => {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, "a runtime needs at least one worker"));
            }
            Some(n) => n,
            None => workers_from_env()?,
        };
        crate::fault::install_panic_hook();
        let spares = self.spare_threads.unwrap_or(workers);
        let mut queues: Vec<LocalQueue<_>> = (0..workers + spares).map(|_| LocalQueue::new()).collect();
        let stealers = queues.iter().map(LocalQueue::stealer).collect();
        let shared = Arc::new(Shared::new(stealers, workers, self.stack_size));
        crate::debug::dump_on_sigquit(&shared);
        let exits = Arc::new(Exits::default());
        let mut threads = Vec::with_capacity(workers + 1);
        let spare_queues = queues.split_off(workers);
        let (monitor_shared, monitor_exits) = (shared.clone(), exits.clone());
        let monitor = thread::Builder::new().name(format!("{}-monitor", self.thread_name)).spawn(move || {
            let _exit = MarkOnExit(monitor_exits);
            crate::scheduler::monitor::run(monitor_shared, spare_queues);
        });
        match monitor {
            Ok(t) => threads.push(t),
            Err(e) => return Err(io::Error::new(e.kind(), format!("cannot start gort's monitor thread: {e}"))),
        }
        for (index, queue) in queues.into_iter().enumerate() {
            let (worker_shared, worker_exits) = (shared.clone(), exits.clone());
            let spawned = thread::Builder::new().name(format!("{}-{index}", self.thread_name)).spawn(move || {
                let _exit = MarkOnExit(worker_exits);
                Worker::main(worker_shared, index, queue);
            });
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    let rt = Runtime { shared, threads: Mutex::new(threads), exits };
                    drop(rt);
                    return Err(io::Error::new(e.kind(), format!("cannot start a gort worker thread: {e}")));
                }
            }
        }
        Ok(Runtime { shared, threads: Mutex::new(threads), exits })
    }
}

/// Reads `GORT_WORKERS`, else the CPU count.
fn workers_from_env() -> io::Result<usize> {
    match std::env::var("GORT_WORKERS") {
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("GORT_WORKERS must be a positive number of worker threads, not {v:?}"),
            )),
        },
        Err(_) => Ok(num_cpus::get().max(1)),
    }
}

/// Counts worker threads that have left their loop, so shutdown can wait
/// with a timeout (std's `JoinHandle::join` has none).
#[derive(Default)]
struct Exits {
    count: Mutex<usize>,
    cond: Condvar,
}

/// Marks a runtime thread's exit when dropped: also when the thread
/// unwinds, so shutdown never waits for a thread that is gone.
struct MarkOnExit(Arc<Exits>);

impl Drop for MarkOnExit {
    fn drop(&mut self) {
        self.0.mark();
    }
}

impl Exits {
    fn mark(&self) {
        *self.count.lock() += 1;
        self.cond.notify_all();
    }

    /// Waits until `n` workers have exited or `deadline`; true if they did.
    fn wait(&self, n: usize, deadline: Option<Instant>) -> bool {
        let mut count = self.count.lock();
        while *count < n {
            match deadline {
                None => self.cond.wait(&mut count),
                Some(d) => {
                    if self.cond.wait_until(&mut count, d).timed_out() {
                        return *count >= n;
                    }
                }
            }
        }
        true
    }
}

/// A pool of worker threads running goroutines.
///
/// Dropping a runtime shuts it down (see
/// [`shutdown_timeout`](Runtime::shutdown_timeout)), waiting for each
/// worker to finish the goroutine it is running.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let rt = gort_runtime::Runtime::builder().workers(2).build()?;
/// let h = rt.spawn(|| 1);
/// assert_eq!(h.join().unwrap(), 1);
/// assert_eq!(rt.block_on(|| 2), 2);
/// rt.shutdown_timeout(Duration::from_secs(5));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Runtime {
    shared: Arc<Shared>,
    threads: Mutex<Vec<thread::JoinHandle<()>>>,
    exits: Arc<Exits>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("workers", &self.workers())
            .field("goroutines", &self.num_goroutine())
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A builder for a runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = gort_runtime::Runtime::builder().workers(1).build()?;
    /// assert_eq!(rt.block_on(|| "hi"), "hi");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder {
            workers: None,
            spare_threads: None,
            stack_size: DEFAULT_STACK_SIZE,
            thread_name: "gort-worker".into(),
        }
    }

    /// A runtime with the default settings.
    ///
    /// # Errors
    ///
    /// As for [`RuntimeBuilder::build`].
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = gort_runtime::Runtime::new()?;
    /// assert_eq!(rt.block_on(|| 5), 5);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> io::Result<Runtime> {
        Runtime::builder().build()
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Number of worker threads.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = gort_runtime::Runtime::builder().workers(3).build()?;
    /// assert_eq!(rt.workers(), 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn workers(&self) -> usize {
        self.shared.workers
    }

    /// Starts a goroutine on this runtime.
    ///
    /// # Panics
    ///
    /// As [`spawn`](crate::spawn): when no stack can be made, or the runtime
    /// has shut down. [`Builder::spawn_on`] returns the error instead.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = gort_runtime::Runtime::builder().workers(1).build()?;
    /// assert_eq!(rt.spawn(|| 9).join().unwrap(), 9);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        Builder::new().spawn_in(&self.shared, f).unwrap_or_else(|e| spawn_failed(e))
    }

    /// Runs `f` as a goroutine of this runtime and blocks the calling
    /// thread (or parks the calling goroutine) until it returns.
    ///
    /// The goroutine gets a main thread's stack, [`MAIN_STACK_SIZE`] (8 MiB
    /// of address space; only touched pages cost memory), since it often
    /// runs a program's whole `main`.
    ///
    /// # Panics
    ///
    /// If `f` panics, the panic is resumed here.
    ///
    /// With Go's message, `all goroutines are asleep - deadlock!` followed
    /// by the goroutine dump, when the goroutine running `f` and every
    /// other goroutine of this runtime are parked and nothing can wake them:
    /// no timer is armed, no goroutine waits for a socket, and every other
    /// thread of the process is known to gort as parked. Any other thread
    /// (one that might still send, a test harness's) keeps it from firing:
    /// there are no false positives. docs/debugging.md has the details.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = gort_runtime::Runtime::builder().workers(2).build()?;
    /// let sum = rt.block_on(|| {
    ///     let hs: Vec<_> = (0..10u64).map(|i| gort_runtime::spawn(move || i * i)).collect();
    ///     hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    /// });
    /// assert_eq!(sum, 285);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn block_on<F, T>(&self, f: F) -> T
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let main =
            Builder::new().stack_size(MAIN_STACK_SIZE).spawn_in(&self.shared, f).unwrap_or_else(|e| spawn_failed(e));
        let g = main.goroutine().clone();
        let block_ons = &self.shared.block_ons;
        block_ons.enter(g.clone());
        let outcome = main.join_unless(|| block_ons.report(&g));
        block_ons.leave(&g);
        match outcome {
            Ok(Ok(v)) => v,
            Ok(Err(p)) => std::panic::resume_unwind(p.into_inner()),
            Err(report) => panic!("{report}"),
        }
    }

    /// The runtime's counters now: goroutines, queues, steals, parks,
    /// spare threads, stacks. See [`RuntimeMetrics`] for each field.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = gort_runtime::Runtime::builder().workers(2).build()?;
    /// rt.block_on(|| {
    ///     let hs: Vec<_> = (0..10).map(|_| gort_runtime::spawn(|| ())).collect();
    ///     hs.into_iter().for_each(|h| h.join().unwrap());
    /// });
    /// let m = rt.metrics();
    /// assert_eq!(m.goroutines_created, 11);
    /// assert!(m.stacks_mapped >= m.stacks_pooled);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn metrics(&self) -> RuntimeMetrics {
        crate::metrics::read(&self.shared)
    }

    /// Live goroutines of this runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = gort_runtime::Runtime::builder().workers(1).build()?;
    /// assert_eq!(rt.num_goroutine(), 0);
    /// assert_eq!(rt.block_on(gort_runtime::num_goroutine), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn num_goroutine(&self) -> usize {
        self.shared.registry.len()
    }

    /// Shuts the runtime down: no new goroutines start, sleeping workers
    /// wake and every worker exits once the goroutine it runs now parks,
    /// yields or returns. Waits up to `timeout` for that. Goroutines that
    /// will never run again are then unwound (their destructors run on this
    /// thread) and their `join` returns an error. If a worker does not stop
    /// in time (a goroutine that never yields), it is left running and the
    /// goroutines are left alone.
    ///
    /// # Panics
    ///
    /// When called from one of this runtime's own goroutines.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = gort_runtime::Runtime::builder().workers(1).build()?;
    /// let parked = rt.spawn(|| gort_runtime::time::sleep(Duration::from_secs(3600)));
    /// rt.shutdown_timeout(Duration::from_secs(5));
    /// assert!(parked.join().is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown_timeout(self, timeout: Duration) {
        self.shutdown(Instant::now().checked_add(timeout));
    }

    fn shutdown(&self, deadline: Option<Instant>) {
        let own = goroutine::with_current(|g| g.is_some_and(|g| Arc::ptr_eq(g.runtime(), &self.shared)));
        assert!(!own, "a gort runtime cannot be shut down from one of its own goroutines");
        let threads = std::mem::take(&mut *self.threads.lock());
        if threads.is_empty() && self.shared.is_shut_down() {
            return;
        }
        self.shared.begin_shutdown();
        if !self.exits.wait(threads.len(), deadline) {
            return;
        }
        for t in threads {
            // A worker's loop catches goroutine panics, so joining only
            // collects an exited thread.
            let _ = t.join();
        }
        self.shared.tear_down();
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown(None);
    }
}

/// The default runtime, started on first use.
pub(crate) fn default_runtime() -> &'static Runtime {
    static DEFAULT: OnceLock<Runtime> = OnceLock::new();
    DEFAULT.get_or_init(|| {
        Runtime::builder().build().unwrap_or_else(|e| panic!("cannot start gort's default runtime: {e}"))
    })
}

/// Calls `f` with the runtime of the running goroutine, else the default
/// runtime.
pub(crate) fn with_current_shared<R>(f: impl FnOnce(&Arc<Shared>) -> R) -> R {
    goroutine::with_current(|g| match g {
        Some(g) => f(g.runtime()),
        None => f(&default_runtime().shared),
    })
}

/// Live goroutines of the current runtime (the running goroutine's, or the
/// default runtime on a plain thread), like Go's `runtime.NumGoroutine`.
///
/// # Examples
///
/// ```
/// let n = gort_runtime::spawn(gort_runtime::num_goroutine).join().unwrap();
/// assert!(n >= 1);
/// ```
pub fn num_goroutine() -> usize {
    with_current_shared(|s| s.registry.len())
}

/// Runs `f` as the main goroutine on the default runtime and blocks this
/// thread until it returns; returns its value. Several threads may call
/// `run` at once: each gets its own main goroutine.
///
/// # Panics
///
/// If `f` panics, the panic is resumed here; on a deadlock, with Go's
/// `all goroutines are asleep - deadlock!` (see [`Runtime::block_on`]).
///
/// # Examples
///
/// ```
/// let v = gort_runtime::run(|| {
///     let h = gort_runtime::spawn(|| 21);
///     h.join().unwrap() * 2
/// });
/// assert_eq!(v, 42);
/// ```
pub fn run<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    default_runtime().block_on(f)
}
