//! Introspection: what every goroutine of a runtime is doing.
//!
//! A snapshot, taken without stopping anything: by the time it is read a
//! goroutine may have moved on. Go's `runtime.Stack(all)` in spirit:
//! [`dump`] prints one header line per goroutine in Go's words, without the
//! stack traces (a parked coroutine's stack is not walked). With
//! `GORT_DUMP_ON_SIGQUIT=1` in the environment, `SIGQUIT` (Ctrl-\\) prints
//! the goroutines of every runtime and exits with status 2, as Go does.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once, Weak};
use std::time::Duration;

use parking_lot::Mutex;

use crate::goroutine::G;
use crate::park::WaitReason;
use crate::runtime::with_current_shared;
use crate::scheduler::Shared;

/// One goroutine, as [`goroutines`] saw it.
///
/// # Examples
///
/// ```
/// let infos = gort_runtime::spawn(gort_runtime::debug::goroutines).join().unwrap();
/// assert!(infos.iter().any(|g| g.wait_reason.is_none()));  // the caller itself is running
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GoroutineInfo {
    /// The goroutine's id.
    pub id: u64,
    /// Its name, if it was given one.
    pub name: Option<String>,
    /// Running on a worker, waiting in a run queue, or parked.
    pub state: GoroutineState,
    /// Why it is parked, or `None` if it is running or runnable.
    pub wait_reason: Option<&'static str>,
    /// How long it has been parked.
    pub waiting_for: Option<Duration>,
}

/// What a goroutine is doing, in Go's terms.
///
/// # Examples
///
/// ```
/// use gort_runtime::debug::{goroutines, GoroutineState};
/// let me = gort_runtime::spawn(|| {
///     let id = gort_runtime::current_id().unwrap();
///     goroutines().into_iter().find(|g| g.id == id).unwrap().state
/// });
/// assert_eq!(me.join().unwrap(), GoroutineState::Running);
/// assert_eq!(GoroutineState::Runnable.as_str(), "runnable");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GoroutineState {
    /// Running on a worker now.
    Running,
    /// Ready to run, waiting for a worker (just spawned, woken, yielded).
    Runnable,
    /// Parked; the wait reason says on what.
    Waiting,
}

impl GoroutineState {
    /// The state as Go's dumps spell it.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(gort_runtime::debug::GoroutineState::Waiting.as_str(), "waiting");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            GoroutineState::Running => "running",
            GoroutineState::Runnable => "runnable",
            GoroutineState::Waiting => "waiting",
        }
    }
}

impl fmt::Display for GoroutineInfo {
    /// Go's traceback header: `goroutine 7 [chan receive, 3s]:`, with the
    /// name after the id when there is one; `[running]` or `[runnable]`
    /// for a goroutine that is not parked.
    ///
    /// # Examples
    ///
    /// ```
    /// let me = gort_runtime::spawn(|| {
    ///     let id = gort_runtime::current_id().unwrap();
    ///     gort_runtime::debug::goroutines().into_iter().find(|g| g.id == id).unwrap()
    /// })
    /// .join()
    /// .unwrap();
    /// assert_eq!(me.to_string(), format!("goroutine {} [running]:", me.id));
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "goroutine {}", self.id)?;
        if let Some(name) = &self.name {
            write!(f, " ({name:?})")?;
        }
        match (self.state, self.wait_reason, self.waiting_for) {
            (GoroutineState::Waiting, Some(reason), Some(d)) => write!(f, " [{reason}, {}]:", Rounded(d)),
            (GoroutineState::Waiting, Some(reason), None) => write!(f, " [{reason}]:"),
            (state, ..) => write!(f, " [{}]:", state.as_str()),
        }
    }
}

/// A wait shown as Go shows it: whole minutes past a minute, else seconds
/// or milliseconds.
struct Rounded(Duration);

impl fmt::Display for Rounded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d >= Duration::from_secs(60) {
            write!(f, "{} minutes", d.as_secs() / 60)
        } else if d >= Duration::from_secs(1) {
            write!(f, "{}s", d.as_secs())
        } else {
            write!(f, "{}ms", d.as_millis())
        }
    }
}

/// Prints every live goroutine of the current runtime to stderr, one
/// [`GoroutineInfo`] header per goroutine, as Go's dump on `SIGQUIT` starts
/// each stack.
///
/// # Examples
///
/// ```
/// gort_runtime::spawn(gort_runtime::debug::dump).join().unwrap();
/// ```
pub fn dump() {
    let mut out = std::io::stderr().lock();
    for g in goroutines() {
        let _ = writeln!(out, "{g}\n");
    }
}

/// Every live goroutine of the current runtime (the running goroutine's, or
/// the default runtime on a plain thread), ordered by id.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let h = gort_runtime::Builder::new()
///     .name("napper")
///     .spawn(|| gort_runtime::time::sleep(Duration::from_millis(200)))
///     .unwrap();
/// std::thread::sleep(Duration::from_millis(50));
/// let all = gort_runtime::debug::goroutines();
/// let napper = all.iter().find(|g| g.id == h.id()).unwrap();
/// assert_eq!(napper.name.as_deref(), Some("napper"));
/// assert_eq!(napper.wait_reason, Some("sleep"));
/// h.join().unwrap();
/// ```
pub fn goroutines() -> Vec<GoroutineInfo> {
    with_current_shared(|s| infos(s))
}

/// The goroutines of runtime `shared`, ordered by id.
pub(crate) fn infos(shared: &Shared) -> Vec<GoroutineInfo> {
    let running: Vec<*const G> =
        shared.slots.iter().map(|s| s.own.running.load(Ordering::Relaxed).cast_const()).collect();
    let mut all: Vec<GoroutineInfo> = shared
        .registry
        .snapshot()
        .iter()
        .map(|g| {
            let state = if running.contains(&Arc::as_ptr(g)) {
                GoroutineState::Running
            } else if g.park.is_parked() {
                GoroutineState::Waiting
            } else {
                GoroutineState::Runnable
            };
            let reason = g.wait_reason().filter(|_| state == GoroutineState::Waiting);
            GoroutineInfo {
                id: g.id,
                name: g.name.as_deref().map(str::to_owned),
                state,
                wait_reason: reason.map(WaitReason::as_str),
                waiting_for: reason.and(g.waiting_for()),
            }
        })
        .collect();
    all.sort_by_key(|g| g.id);
    all
}

/// Threads this module started (the `SIGQUIT` dumper): they never wake a
/// goroutine, so deadlock detection counts them as asleep.
static HELPERS: AtomicUsize = AtomicUsize::new(0);

/// How many threads this module runs.
pub(crate) fn helper_threads() -> usize {
    HELPERS.load(Ordering::SeqCst)
}

/// The runtimes a `SIGQUIT` dump covers.
static DUMPED: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());

/// With `GORT_DUMP_ON_SIGQUIT=1`, makes `SIGQUIT` dump `shared`'s
/// goroutines (and those of every runtime registered so far), then exit
/// with status 2. Called for each runtime as it starts.
pub(crate) fn dump_on_sigquit(shared: &Arc<Shared>) {
    if std::env::var_os("GORT_DUMP_ON_SIGQUIT").is_none_or(|v| v != "1") {
        return;
    }
    DUMPED.lock().push(Arc::downgrade(shared));
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let mut signals = match signal_hook::iterator::Signals::new([libc::SIGQUIT]) {
            Ok(s) => s,
            Err(e) => return eprintln!("gort: GORT_DUMP_ON_SIGQUIT: cannot handle SIGQUIT: {e}"),
        };
        let spawned = std::thread::Builder::new().name("gort-sigquit".into()).spawn(move || {
            if signals.forever().next().is_some() {
                let mut out = std::io::stderr().lock();
                let _ = writeln!(out, "SIGQUIT: quit\n");
                for shared in DUMPED.lock().iter().filter_map(Weak::upgrade) {
                    for g in infos(&shared) {
                        let _ = writeln!(out, "{g}\n");
                    }
                }
                drop(out);
                std::process::exit(2);
            }
        });
        match spawned {
            Ok(_) => {
                HELPERS.fetch_add(1, Ordering::SeqCst);
                crate::scheduler::census::changed();
            }
            Err(e) => eprintln!("gort: GORT_DUMP_ON_SIGQUIT: cannot start its thread: {e}"),
        }
    });
}
