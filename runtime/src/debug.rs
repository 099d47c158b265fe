//! Introspection: what every goroutine of a runtime is doing.
//!
//! A snapshot, taken without stopping anything: by the time it is read a
//! goroutine may have moved on. Go's `runtime.Stack(all)` in spirit; the
//! full dump format comes with the diagnostics work.

use std::time::Duration;

use crate::park::WaitReason;
use crate::runtime::with_current_shared;

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
    /// Why it is parked, or `None` if it is running or runnable.
    pub wait_reason: Option<&'static str>,
    /// How long it has been parked.
    pub waiting_for: Option<Duration>,
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
    let mut all: Vec<GoroutineInfo> = with_current_shared(|s| s.registry.snapshot())
        .iter()
        .map(|g| {
            let reason = g.wait_reason();
            GoroutineInfo {
                id: g.id,
                name: g.name.as_deref().map(str::to_owned),
                wait_reason: reason.map(WaitReason::as_str),
                waiting_for: reason.and(g.waiting_for()),
            }
        })
        .collect();
    all.sort_by_key(|g| g.id);
    all
}
