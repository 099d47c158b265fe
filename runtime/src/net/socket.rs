//! What every gort socket shares: a non-blocking std socket, its netpoller
//! registration (made at the first wait on a goroutine, with that
//! goroutine's runtime), its read and write timeouts, and the retry loop
//! that turns `WouldBlock` into a park. `stream_io!` gives a stream type
//! `Read` and `Write` for itself and for `&` of it.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

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
    read_timeout: Mutex<Option<Duration>>,
    write_timeout: Mutex<Option<Duration>>,
}

impl<S: AsRawFd> Socket<S> {
    /// Wraps `io`, which must already be in non-blocking mode.
    pub(crate) fn new(io: S) -> Socket<S> {
        Socket { io, reg: OnceLock::new(), read_timeout: Mutex::new(None), write_timeout: Mutex::new(None) }
    }

    fn timeout_slot(&self, side: Side) -> &Mutex<Option<Duration>> {
        match side {
            Side::Read => &self.read_timeout,
            Side::Write => &self.write_timeout,
        }
    }

    /// How long one operation on `side` may wait (`None`: for ever).
    pub(crate) fn timeout(&self, side: Side) -> Option<Duration> {
        *self.timeout_slot(side).lock()
    }

    /// Sets [`timeout`](Self::timeout); a zero duration is `InvalidInput`, as std.
    pub(crate) fn set_timeout(&self, side: Side, timeout: Option<Duration>) -> io::Result<()> {
        if timeout == Some(Duration::ZERO) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "cannot set a 0 duration timeout"));
        }
        *self.timeout_slot(side).lock() = timeout;
        Ok(())
    }

    /// Wraps a clone of `io` with this socket's timeouts.
    pub(crate) fn clone_with(&self, io: S) -> Socket<S> {
        let s = Socket::new(io);
        *s.read_timeout.lock() = self.timeout(Side::Read);
        *s.write_timeout.lock() = self.timeout(Side::Write);
        s
    }

    /// [`retry`](Self::retry) with the side's timeout.
    pub(crate) fn io<R>(&self, side: Side, op: impl FnMut(&S) -> io::Result<R>) -> io::Result<R> {
        self.retry(side, self.timeout(side), op)
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

/// `Read` and `Write` for a stream type `$t` (with a `sock: Socket<_>`
/// field whose std type reads and writes through `&`), and for `&$t`, so
/// one goroutine can read while another writes.
macro_rules! stream_io {
    ($t:ty) => {
        impl std::io::Read for &$t {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.sock.io(crate::net::poller::Side::Read, |mut s| std::io::Read::read(&mut s, buf))
            }
        }

        impl std::io::Write for &$t {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.sock.io(crate::net::poller::Side::Write, |mut s| std::io::Write::write(&mut s, buf))
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        impl std::io::Read for $t {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                std::io::Read::read(&mut &*self, buf)
            }
        }

        impl std::io::Write for $t {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                std::io::Write::write(&mut &*self, buf)
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
    };
}

pub(crate) use stream_io;
