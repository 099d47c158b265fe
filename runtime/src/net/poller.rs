//! The netpoller: one epoll instance per runtime, run by the scheduler
//! (Go's `netpoll_epoll.go` with `findrunnable`'s use of it).
//!
//! - A socket is registered once, edge-triggered, for reading and writing,
//!   with a [`PollDesc`] as its epoll data. An operation that would block
//!   parks its goroutine on the descriptor's read or write side; an event
//!   marks the side ready and wakes whoever waits there.
//! - Nobody polls on a thread of its own. A worker about to sleep while
//!   goroutines wait for I/O blocks in `epoll_wait` instead, no longer than
//!   its next timer; new work interrupts it through an eventfd. Busy workers
//!   poll without blocking when they run out of local work, and every 61st
//!   scheduling round, so I/O is noticed while every worker is busy.
//! - Descriptors are never freed, only recycled (Go's `pollCache`): an
//!   event already taken out of epoll for a socket that was just closed
//!   then lands on a recycled descriptor as a spurious readiness, which
//!   costs its next user one `EAGAIN`, instead of on freed memory.
//!
//! On a plain thread (outside any goroutine), sockets wait with `poll(2)`
//! on their own file descriptor instead: the thread blocks, as std's do.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::park::{WaitReason, Waiter, Wake, Wakeup, park};

/// Events handled per `epoll_wait`.
const EVENTS: usize = 128;

/// Which side of a socket waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Read,
    Write,
}

/// One side's state: an event seen and not yet consumed, and who waits
/// (several goroutines may wait on one side, as acceptors on one listener:
/// an event wakes them all and the losers wait again).
#[derive(Default)]
struct SideState {
    ready: bool,
    waiters: Vec<Waiter>,
}

#[derive(Default)]
struct DescState {
    read: SideState,
    write: SideState,
}

impl DescState {
    fn side(&mut self, side: Side) -> &mut SideState {
        match side {
            Side::Read => &mut self.read,
            Side::Write => &mut self.write,
        }
    }
}

/// A registered socket's readiness and waiters (Go's `pollDesc`).
pub(crate) struct PollDesc {
    state: Mutex<DescState>,
}

impl PollDesc {
    /// Marks the sides an event reported ready and takes their waiters.
    fn notify(&self, read: bool, write: bool, wakeups: &mut Vec<Wakeup>) {
        let mut st = self.state.lock();
        for (hit, side) in [(read, Side::Read), (write, Side::Write)] {
            if hit {
                let s = st.side(side);
                s.ready = true;
                wakeups.extend(s.waiters.drain(..).filter_map(|w| w.unpark_deferred()));
            }
        }
    }
}

/// One runtime's epoll instance.
pub(crate) struct Poller {
    epoll: OwnedFd,
    /// Written to interrupt a worker blocked in `epoll_wait`.
    event: OwnedFd,
    /// Goroutines parked on a descriptor: nobody polls when there are none.
    waiters: AtomicUsize,
    /// 1 + the index of the worker blocked in `epoll_wait`, or 0.
    blocked: AtomicUsize,
    /// Descriptors no socket uses, for reuse.
    free: Mutex<Vec<&'static PollDesc>>,
    /// When `poll` last returned, in nanoseconds since `made`.
    polled_at: AtomicU64,
    made: Instant,
}

fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(rc) }
}

impl Poller {
    pub(crate) fn new() -> io::Result<Poller> {
        // SAFETY: epoll_create1 and eventfd take flags and return a new fd or -1.
        let epoll = unsafe { OwnedFd::from_raw_fd(cvt(libc::epoll_create1(libc::EPOLL_CLOEXEC))?) };
        // SAFETY: as above.
        let event = unsafe { OwnedFd::from_raw_fd(cvt(libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK))?) };
        let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32 | libc::EPOLLET as u32, u64: 0 };
        // SAFETY: both fds are ours and open; `ev` outlives the call.
        cvt(unsafe { libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, event.as_raw_fd(), &mut ev) })?;
        Ok(Poller {
            epoll,
            event,
            waiters: AtomicUsize::new(0),
            blocked: AtomicUsize::new(0),
            free: Mutex::default(),
            polled_at: AtomicU64::new(0),
            made: Instant::now(),
        })
    }

    /// Registers `fd` for edge-triggered read and write readiness.
    pub(crate) fn register(&self, fd: RawFd) -> io::Result<&'static PollDesc> {
        let pd = self.free.lock().pop().unwrap_or_else(|| Box::leak(Box::new(PollDesc { state: Mutex::default() })));
        *pd.state.lock() = DescState::default();
        let events = libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET;
        let mut ev = libc::epoll_event { events: events as u32, u64: pd as *const PollDesc as u64 };
        // SAFETY: `fd` is an open socket its owner keeps open until
        // `deregister`; `ev` outlives the call.
        match cvt(unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) }) {
            Ok(_) => Ok(pd),
            Err(e) => {
                self.free.lock().push(pd);
                Err(e)
            }
        }
    }

    /// Removes `fd` (about to be closed) and recycles its descriptor, waking
    /// anyone still waiting on it (they see the socket closed).
    pub(crate) fn deregister(&self, fd: RawFd, pd: &'static PollDesc) {
        // SAFETY: `fd` is still open; a null event is allowed for DEL.
        unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut()) };
        self.wake_all(pd);
        self.free.lock().push(pd);
    }

    /// Marks both sides of `pd` ready and wakes their waiters (a socket
    /// being closed under them: they retry and see the error).
    pub(crate) fn wake_all(&self, pd: &PollDesc) {
        let mut wakeups = Vec::new();
        pd.notify(true, true, &mut wakeups);
        drop(wakeups);
    }

    /// True when some goroutine waits for I/O (so polling can find work).
    pub(crate) fn has_waiters(&self) -> bool {
        self.waiters.load(Ordering::Acquire) > 0
    }

    /// Collects ready sockets and wakes their waiters; blocks up to
    /// `timeout` (`None`: until an event or [`interrupt`](Self::interrupt)).
    /// Returns how many goroutines it woke.
    pub(crate) fn poll(&self, timeout: Option<Duration>) -> usize {
        let ms = match timeout {
            None => -1,
            Some(t) => t.as_millis().min(i32::MAX as u128) as i32 + i32::from(t.subsec_nanos() % 1_000_000 != 0),
        };
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; EVENTS];
        // SAFETY: `events` has room for EVENTS entries.
        let n = unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), events.as_mut_ptr(), EVENTS as i32, ms) };
        let mut wakeups = Vec::new();
        for ev in &events[..n.max(0) as usize] {
            let (flags, data) = (ev.events, ev.u64);
            if data == 0 {
                self.drain_interrupts();
                continue;
            }
            // SAFETY: epoll data is a descriptor from `register`; they are
            // never freed, so even a stale event points at a live one.
            let pd = unsafe { &*(data as *const PollDesc) };
            let hangup = flags & (libc::EPOLLHUP | libc::EPOLLERR | libc::EPOLLRDHUP) as u32 != 0;
            let read = flags & libc::EPOLLIN as u32 != 0 || hangup;
            let write = flags & libc::EPOLLOUT as u32 != 0 || hangup;
            pd.notify(read, write, &mut wakeups);
        }
        let woke = wakeups.len();
        drop(wakeups);
        self.polled_at.store(self.made.elapsed().as_nanos() as u64, Ordering::Relaxed);
        woke
    }

    /// How long nobody has polled as of `now`: zero while a worker is
    /// blocked in `epoll_wait`.
    pub(crate) fn unpolled_for(&self, now: Instant) -> Duration {
        if self.blocked.load(Ordering::SeqCst) != 0 {
            return Duration::ZERO;
        }
        let at = self.made + Duration::from_nanos(self.polled_at.load(Ordering::Relaxed));
        now.saturating_duration_since(at)
    }

    /// Marks worker `index` as (about to be) blocked in `epoll_wait`; false
    /// if another worker is already.
    pub(crate) fn start_blocking(&self, index: usize) -> bool {
        self.blocked.compare_exchange(0, index + 1, Ordering::SeqCst, Ordering::SeqCst).is_ok()
    }

    pub(crate) fn stop_blocking(&self) {
        self.blocked.store(0, Ordering::SeqCst);
    }

    /// Interrupts `epoll_wait` if worker `index` (or, with `None`, any
    /// worker) is blocked in it.
    pub(crate) fn interrupt_if_blocked(&self, index: Option<usize>) {
        let blocked = self.blocked.load(Ordering::SeqCst);
        if blocked != 0 && index.is_none_or(|i| blocked == i + 1) {
            let one: u64 = 1;
            // SAFETY: writing 8 bytes from a live u64 to our eventfd.
            unsafe { libc::write(self.event.as_raw_fd(), (&one as *const u64).cast(), 8) };
        }
    }

    fn drain_interrupts(&self) {
        let mut buf: u64 = 0;
        // SAFETY: reading 8 bytes into a live u64 from our non-blocking eventfd.
        unsafe { libc::read(self.event.as_raw_fd(), (&mut buf as *mut u64).cast(), 8) };
    }

    /// Parks the current goroutine until `side` of `pd` may be ready, or
    /// `deadline` passes (`Err(TimedOut)`). Returns at the first wake-up:
    /// the caller retries its operation, which tells whether it can go on
    /// (another waiter may have used the readiness, or the socket may be
    /// closing).
    pub(crate) fn wait(&self, pd: &PollDesc, side: Side, deadline: Option<Instant>) -> io::Result<()> {
        let mut st = pd.state.lock();
        if std::mem::take(&mut st.side(side).ready) {
            return Ok(());
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(io::ErrorKind::TimedOut.into());
        }
        let me = Waiter::current();
        st.side(side).waiters.push(me.clone());
        self.waiters.fetch_add(1, Ordering::AcqRel);
        let wake = park(WaitReason::IoWait, deadline, st);
        self.waiters.fetch_sub(1, Ordering::AcqRel);
        let mut st = pd.state.lock();
        let s = st.side(side);
        // Gone already if an event woke us; still there after a time-out.
        s.waiters.retain(|w| !w.same_waiter(&me));
        let ready = std::mem::take(&mut s.ready);
        if wake == Wake::TimedOut && !ready {
            return Err(io::ErrorKind::TimedOut.into());
        }
        Ok(())
    }
}

/// Blocks this plain thread until `fd` is ready for `side` or `deadline`.
pub(crate) fn wait_thread(fd: RawFd, side: Side, deadline: Option<Instant>) -> io::Result<()> {
    let events = match side {
        Side::Read => libc::POLLIN,
        Side::Write => libc::POLLOUT,
    };
    loop {
        let ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                left.as_millis().clamp(1, i32::MAX as u128) as i32
            }
        };
        let mut pfd = libc::pollfd { fd, events, revents: 0 };
        // SAFETY: one live pollfd.
        match unsafe { libc::poll(&mut pfd, 1, ms) } {
            n if n > 0 => return Ok(()),
            0 => continue,
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
}
