//! Signals as channel values: Go's `signal.Notify`.
//!
//! The signal handler itself (installed by the signal-hook crate) only
//! writes to a pipe; one forwarding thread per [`notify`] call reads it and
//! offers each signal to the channel without blocking, so a slow receiver
//! drops signals rather than stalling the process, as Go's does.

use signal_hook::iterator::Signals;

use crate::handles::{Receiver, chan};

/// A channel that receives each of `signals` (e.g. `libc::SIGINT`) as it
/// arrives: Go's `signal.Notify(c, sigs...)`. The handlers stay installed
/// for the life of the process. The channel holds one pending value per
/// signal listed; further arrivals are dropped until it is drained.
///
/// # Panics
///
/// When a handler cannot be installed: a signal that cannot be caught
/// (`SIGKILL`, `SIGSTOP`) or that the runtime itself uses (`SIGSEGV`).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let sigs = gort_channels::signal::notify(&[libc::SIGUSR1]);
/// // SAFETY: raising a signal in our own process; SIGUSR1 is handled above.
/// unsafe { libc::raise(libc::SIGUSR1) };
/// assert_eq!(sigs.recv_timeout(Duration::from_secs(5)), Ok(libc::SIGUSR1));
/// ```
#[track_caller]
pub fn notify(signals: &[i32]) -> Receiver<i32> {
    let mut iter =
        Signals::new(signals).unwrap_or_else(|e| panic!("signal: cannot notify of signals {signals:?}: {e}"));
    let ch = chan(signals.len().max(1));
    let tx = ch.sender();
    std::thread::Builder::new()
        .name("gort-signals".into())
        .spawn(move || {
            for sig in iter.forever() {
                // Full: the receiver has not caught up; drop it, as Go does.
                let _ = tx.try_send(sig);
            }
        })
        .unwrap_or_else(|e| panic!("signal: cannot start the signal forwarding thread: {e}"));
    ch.receiver()
}
