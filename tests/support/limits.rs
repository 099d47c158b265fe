//! Shared by the integration tests: a time limit that turns a hang into a
//! failure, and stress sizes scaled to the build.
//!
//! Each test binary includes it with `#[path = "support/limits.rs"] mod
//! limits;` and uses what it needs, hence the `dead_code` allowances.

use std::panic;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// Stress sizes shrink in unoptimised builds, where each goroutine costs
/// tens of times more; the behaviour under test is the same.
#[allow(dead_code)]
pub const fn scaled(n: usize) -> usize {
    if cfg!(debug_assertions) { n / 10 } else { n }
}

/// Runs `f` on its own thread and fails the test if it does not finish in
/// `limit` (a hang is a failure, not a stuck CI job). A panic in `f` is
/// resumed here, with its message.
#[allow(dead_code)]
pub fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let t = thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Disconnected) => match t.join() {
            Err(payload) => panic::resume_unwind(payload),
            Ok(()) => unreachable!("the thread sent its result"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("did not finish in {limit:?}: hung or starved"),
    }
}
