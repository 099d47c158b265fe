//! What every gort socket shares: a non-blocking std socket, its netpoller
//! registration (made at the first wait on a goroutine, with that
//! goroutine's runtime), and the retry loop that turns `WouldBlock` into a
//! park.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::poller::{PollDesc, Side, wait_thread};
use crate::goroutine;
use crate::scheduler::Shared;

/// A registration: the runtime whose poller watches the socket.
struct Registration {
    shared: Arc<Shared>,
    pd: &'static PollDesc,
}

/// A non-blocking socket `S` that parks goroutines (and blocks threads)
/// instead of returning `WouldBlock`.
pub(crate) struct Socket<S: AsRawFd> {
    pub(crate) io: S,
    reg: OnceLock<io::Result<Registration>>,
}

impl<S: AsRawFd> Socket<S> {
    /// Wraps `io`, which must already be in non-blocking mode.
    pub(crate) fn new(io: S) -> Socket<S> {
        Socket { io, reg: OnceLock::new() }
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }

    /// Runs `op` until it does not return `WouldBlock`, waiting for `side`
    /// in between; fails with `TimedOut` after `timeout`.
    pub(crate) fn retry<R>(
        &self,
        side: Side,
        timeout: Option<Duration>,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            match op(&self.io) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait(side, deadline)?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                done => return done,
            }
        }
    }

    /// Waits until `side` may be ready: parks a goroutine on the netpoller,
    /// blocks a plain thread in `poll(2)`.
    pub(crate) fn wait(&self, side: Side, deadline: Option<Instant>) -> io::Result<()> {
        let Some(shared) = goroutine::with_current(|g| g.map(|g| g.runtime().clone())) else {
            return wait_thread(self.fd(), side, deadline);
        };
        let reg = self.reg.get_or_init(|| {
            let pd = shared.poller()?.register(self.fd())?;
            Ok(Registration { shared, pd })
        });
        match reg {
            Ok(reg) => reg.shared.poller()?.wait(reg.pd, side, deadline),
            Err(e) => Err(io::Error::new(e.kind(), format!("cannot register the socket with the netpoller: {e}"))),
        }
    }
}

impl<S: AsRawFd> Socket<S> {
    /// Wakes every goroutine waiting on this socket (they retry their
    /// operation); threads in `poll(2)` are woken by the kernel.
    pub(crate) fn wake_waiters(&self) {
        if let Some(Ok(reg)) = self.reg.get()
            && let Ok(poller) = reg.shared.poller()
        {
            poller.wake_all(reg.pd);
        }
    }
}

impl<S: AsRawFd> Drop for Socket<S> {
    fn drop(&mut self) {
        if let Some(Ok(reg)) = self.reg.get()
            && let Ok(poller) = reg.shared.poller()
        {
            // Before the fd closes (the fields drop after this).
            poller.deregister(self.io.as_raw_fd(), reg.pd);
        }
    }
}

/// Whether `e` means the process or system ran out of file descriptors.
pub(crate) fn out_of_fds(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM))
}
