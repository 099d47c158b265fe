//! `TcpListener` and `TcpStream`: std's API, parking goroutines instead of
//! threads.

use std::fmt;
use std::io;
use std::net::{self, Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::poller::Side;
use super::socket::{Socket, out_of_fds, stream_io};

/// How long `accept` backs off when the process is out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(5);

/// A TCP server socket: std's `TcpListener`, but `accept` parks the
/// goroutine (a plain thread blocks), so one goroutine per connection
/// scales as in Go.
///
/// # Examples
///
/// ```
/// use gort_runtime::net::{TcpListener, TcpStream};
/// use std::io::{Read, Write};
///
/// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = listener.local_addr().unwrap();
/// let server = gort_runtime::spawn(move || {
///     let (mut conn, _) = listener.accept().unwrap();
///     let mut buf = [0; 5];
///     conn.read_exact(&mut buf).unwrap();
///     conn.write_all(&buf).unwrap(); // echo
/// });
/// let client = gort_runtime::spawn(move || {
///     let mut s = TcpStream::connect(addr).unwrap();
///     s.write_all(b"hello").unwrap();
///     let mut back = [0; 5];
///     s.read_exact(&mut back).unwrap();
///     back
/// });
/// assert_eq!(&client.join().unwrap(), b"hello");
/// server.join().unwrap();
/// ```
pub struct TcpListener {
    sock: Socket<net::TcpListener>,
    closed: AtomicBool,
}

impl TcpListener {
    /// Binds to `addr` (port 0 picks a free port) and listens.
    ///
    /// # Errors
    ///
    /// As std's `bind`: the address is in use, not local, ...
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort_runtime::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// assert_ne!(l.local_addr().unwrap().port(), 0);
    /// ```
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address to bind to");
        for a in addr.to_socket_addrs()? {
            match listen(&a) {
                Ok(l) => return Ok(TcpListener::from(l)),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Waits for a connection: Go's `l.Accept()`. When the process is out of
    /// file descriptors it backs off and keeps trying, as Go's server loop
    /// does, instead of spinning or failing.
    ///
    /// # Errors
    ///
    /// What `accept(2)` reports, other than running out of descriptors.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort_runtime::net::{TcpListener, TcpStream};
    /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = l.local_addr().unwrap();
    /// let c = std::thread::spawn(move || TcpStream::connect(addr).unwrap());
    /// let (_conn, peer) = l.accept().unwrap();
    /// assert_eq!(peer, c.join().unwrap().local_addr().unwrap());
    /// ```
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        loop {
            // Checked at every attempt: after `close`, accept(2) may report
            // EAGAIN rather than an error.
            let attempt = |l: &net::TcpListener| {
                if self.closed.load(Ordering::Acquire) { Err(closed_listener()) } else { l.accept() }
            };
            match self.sock.retry(Side::Read, None, attempt) {
                Err(_) if self.closed.load(Ordering::Acquire) => return Err(closed_listener()),
                Ok((s, peer)) => {
                    s.set_nonblocking(true)?;
                    return Ok((TcpStream::from_nonblocking(s), peer));
                }
                Err(e) if out_of_fds(&e) => crate::time::sleep(ACCEPT_BACKOFF),
                Err(e) => return Err(e),
            }
        }
    }

    /// Stops listening, as Go's `l.Close()`: goroutines (and threads)
    /// waiting in [`accept`](Self::accept) wake with an error, and later
    /// accepts fail at once. The descriptor itself is closed on drop.
    ///
    /// # Examples
    ///
    /// ```
    /// use gort_runtime::net::TcpListener;
    /// use std::sync::Arc;
    /// let l = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
    /// let l2 = l.clone();
    /// let waiting = gort_runtime::spawn(move || l2.accept().map(|_| ()));
    /// std::thread::sleep(std::time::Duration::from_millis(20));
    /// l.close().unwrap();
    /// assert!(waiting.join().unwrap().is_err());
    /// ```
    pub fn close(&self) -> io::Result<()> {
        self.closed.store(true, Ordering::Release);
        // SAFETY: shutting down our own open socket; on Linux this wakes
        // threads blocked in accept or poll on it.
        let rc = unsafe { libc::shutdown(self.sock.fd(), libc::SHUT_RDWR) };
        self.sock.wake_waiters();
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ENOTCONN) {
                return Err(e);
            }
        }
        Ok(())
    }

    /// The address it listens on.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort_runtime::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// assert!(l.local_addr().unwrap().ip().is_loopback());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.io.local_addr()
    }

    /// Another handle to the same socket (its own file descriptor).
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort_runtime::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let l2 = l.try_clone().unwrap();
    /// assert_eq!(l.local_addr().unwrap(), l2.local_addr().unwrap());
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        Ok(TcpListener::from(self.sock.io.try_clone()?))
    }
}

impl From<net::TcpListener> for TcpListener {
    /// Takes over a std listener, switching it to non-blocking mode.
    ///
    /// # Panics
    ///
    /// If the socket cannot be made non-blocking (a closed descriptor).
    ///
    /// # Examples
    ///
    /// ```
    /// let std_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let l = gort_runtime::net::TcpListener::from(std_l);
    /// assert!(l.local_addr().is_ok());
    /// ```
    fn from(l: net::TcpListener) -> TcpListener {
        l.set_nonblocking(true).expect("cannot switch a TcpListener to non-blocking mode");
        TcpListener { sock: Socket::new(l), closed: AtomicBool::new(false) }
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.fd()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener").field("addr", &self.local_addr().ok()).field("fd", &self.sock.fd()).finish()
    }
}

/// A TCP connection: std's `TcpStream` whose reads, writes and connects
/// park the goroutine (a plain thread blocks). `Read` and `Write` are
/// implemented for the stream and for `&TcpStream`, so one goroutine can
/// read while another writes.
///
/// # Examples
///
/// ```
/// use gort_runtime::net::{TcpListener, TcpStream};
/// use std::io::{Read, Write};
/// let l = TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = l.local_addr().unwrap();
/// let h = gort_runtime::spawn(move || {
///     let mut s = TcpStream::connect(addr).unwrap();
///     s.write_all(b"ping").unwrap();
/// });
/// let (mut conn, _) = l.accept().unwrap();
/// let mut got = String::new();
/// conn.read_to_string(&mut got).unwrap(); // until the peer closes
/// assert_eq!(got, "ping");
/// h.join().unwrap();
/// ```
pub struct TcpStream {
    sock: Socket<net::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr`, trying each address it resolves to in turn.
    ///
    /// # Errors
    ///
    /// The last address's error (refused, unreachable, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort_runtime::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = gort_runtime::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// assert_eq!(s.peer_addr().unwrap(), l.local_addr().unwrap());
    /// ```
    pub fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address to connect to");
        for a in addr.to_socket_addrs()? {
            match TcpStream::connect_one(&a, None) {
                Ok(s) => return Ok(s),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Connects to `addr`, giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// `TimedOut` after `timeout`; else as [`connect`](Self::connect).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let l = gort_runtime::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = l.local_addr().unwrap();
    /// assert!(gort_runtime::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok());
    /// ```
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        TcpStream::connect_one(addr, Instant::now().checked_add(timeout))
    }

    fn connect_one(addr: &SocketAddr, deadline: Option<Instant>) -> io::Result<TcpStream> {
        let domain = if addr.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
        // SAFETY: socket(2) with constant arguments returns a new fd or -1.
        let fd = unsafe { libc::socket(domain, libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new socket nothing else owns.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        let stream = TcpStream::from_nonblocking(net::TcpStream::from(owned));
        let (storage, len) = sockaddr(addr);
        // SAFETY: `storage` holds a valid sockaddr of `len` bytes.
        if unsafe { libc::connect(fd, (&storage as *const libc::sockaddr_storage).cast(), len) } < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINPROGRESS) {
                return Err(e);
            }
            stream.sock.wait(Side::Write, deadline)?;
            if let Some(e) = stream.sock.io.take_error()? {
                return Err(e);
            }
        }
        Ok(stream)
    }

    fn from_nonblocking(s: net::TcpStream) -> TcpStream {
        TcpStream { sock: Socket::new(s) }
    }

    /// The remote address.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort_runtime::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = gort_runtime::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// assert_eq!(s.peer_addr().unwrap(), l.local_addr().unwrap());
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.io.peer_addr()
    }

    /// The local address.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort_runtime::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = gort_runtime::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// assert!(s.local_addr().unwrap().ip().is_loopback());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.io.local_addr()
    }

    /// Shuts down the read, write or both halves (Go's `CloseWrite` is
    /// `shutdown(Shutdown::Write)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Shutdown;
    /// let l = gort_runtime::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = gort_runtime::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// s.shutdown(Shutdown::Write).unwrap();
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.sock.io.shutdown(how)
    }

    /// Sets `TCP_NODELAY` (no Nagle delay for small writes).
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort_runtime::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = gort_runtime::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// s.set_nodelay(true).unwrap();
    /// assert!(s.nodelay().unwrap());
    /// ```
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.sock.io.set_nodelay(on)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort_runtime::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = gort_runtime::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// assert!(!s.nodelay().unwrap());
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.sock.io.nodelay()
    }

    /// Makes each read fail with `TimedOut` after waiting `timeout` (`None`:
    /// wait for ever).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration, as std.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use std::time::Duration;
    /// let l = gort_runtime::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let mut s = gort_runtime::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// s.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    /// let err = s.read(&mut [0; 8]).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// ```
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.sock.set_timeout(Side::Read, timeout)
    }

    /// Makes each write fail with `TimedOut` after waiting `timeout`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration, as std.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let l = gort_runtime::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = gort_runtime::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// s.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    /// assert_eq!(s.write_timeout().unwrap(), Some(Duration::from_secs(1)));
    /// ```
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.sock.set_timeout(Side::Write, timeout)
    }

    /// The read timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort_runtime::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = gort_runtime::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// assert_eq!(s.read_timeout().unwrap(), None);
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.sock.timeout(Side::Read))
    }

    /// The write timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort_runtime::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = gort_runtime::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// assert_eq!(s.write_timeout().unwrap(), None);
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.sock.timeout(Side::Write))
    }

    /// Another handle to the same connection (its own file descriptor), for
    /// example to read in one goroutine and write in another.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = gort_runtime::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = gort_runtime::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// let s2 = s.try_clone().unwrap();
    /// assert_eq!(s.local_addr().unwrap(), s2.local_addr().unwrap());
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        let io = self.sock.io.try_clone()?;
        io.set_nonblocking(true)?;
        Ok(TcpStream { sock: self.sock.clone_with(io) })
    }
}

/// Opens a listening socket on `addr` with the kernel's largest backlog
/// (`net.core.somaxconn`), as Go does: std's 128 drops connection attempts
/// when thousands of clients connect at once, and each costs a 1 s SYN
/// retransmission.
fn listen(addr: &SocketAddr) -> io::Result<net::TcpListener> {
    let domain = if addr.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
    // SAFETY: socket(2) with constant arguments returns a new fd or -1.
    let fd = unsafe { libc::socket(domain, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new socket nothing else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let one: libc::c_int = 1;
    let (storage, len) = sockaddr(addr);
    // SAFETY: plain calls on our own socket with live, correctly sized arguments.
    let rc = unsafe {
        if libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, (&one as *const libc::c_int).cast(), 4) < 0
            || libc::bind(fd, (&storage as *const libc::sockaddr_storage).cast(), len) < 0
        {
            -1
        } else {
            libc::listen(fd, somaxconn())
        }
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(net::TcpListener::from(owned))
}

/// The kernel's listen backlog limit (4096 on current kernels).
fn somaxconn() -> libc::c_int {
    static MAX: std::sync::OnceLock<libc::c_int> = std::sync::OnceLock::new();
    *MAX.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(libc::SOMAXCONN)
    })
}

/// Go's `net.ErrClosed`, for accepts on a closed listener.
fn closed_listener() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "accept on a closed listener (use of closed network connection)")
}

/// `addr` as a C socket address and its length.
fn sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: an all-zero sockaddr_storage is a valid (unspecified) address.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(a.ip().octets()) },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than, and aligned for, sockaddr_in.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr { s6_addr: a.ip().octets() },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than, and aligned for, sockaddr_in6.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
            size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

stream_io!(TcpStream);

impl From<net::TcpStream> for TcpStream {
    /// Takes over a connected std stream, switching it to non-blocking mode.
    ///
    /// # Panics
    ///
    /// If the socket cannot be made non-blocking (a closed descriptor).
    ///
    /// # Examples
    ///
    /// ```
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// let s = gort_runtime::net::TcpStream::from(s);
    /// assert!(s.peer_addr().is_ok());
    /// ```
    fn from(s: net::TcpStream) -> TcpStream {
        s.set_nonblocking(true).expect("cannot switch a TcpStream to non-blocking mode");
        TcpStream::from_nonblocking(s)
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.fd()
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .field("fd", &self.sock.fd())
            .finish()
    }
}
