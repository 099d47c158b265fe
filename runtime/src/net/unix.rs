//! `UnixListener` and `UnixStream`: std's Unix-domain sockets, parking
//! goroutines instead of threads.

use std::fmt;
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{self, SocketAddr};
use std::path::Path;
use std::time::Duration;

use super::poller::Side;
use super::socket::{Socket, out_of_fds, stream_io};

/// A Unix-domain server socket whose `accept` parks the goroutine.
///
/// # Examples
///
/// ```
/// use gort_runtime::net::{UnixListener, UnixStream};
/// use std::io::{Read, Write};
/// let path = std::env::temp_dir().join(format!("gort-doc-{}.sock", std::process::id()));
/// let _ = std::fs::remove_file(&path);
/// let listener = UnixListener::bind(&path).unwrap();
/// let p = path.clone();
/// let client = gort_runtime::spawn(move || {
///     let mut s = UnixStream::connect(&p).unwrap();
///     s.write_all(b"hi").unwrap();
/// });
/// let (mut conn, _) = listener.accept().unwrap();
/// let mut got = String::new();
/// conn.read_to_string(&mut got).unwrap();
/// assert_eq!(got, "hi");
/// client.join().unwrap();
/// std::fs::remove_file(&path).unwrap();
/// ```
pub struct UnixListener {
    sock: Socket<net::UnixListener>,
}

impl UnixListener {
    /// Binds to `path` and listens.
    ///
    /// # Errors
    ///
    /// As std's `bind` (the path exists, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("gort-doc-bind-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let l = gort_runtime::net::UnixListener::bind(&path).unwrap();
    /// assert!(l.local_addr().unwrap().as_pathname().is_some());
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        Ok(UnixListener::from(net::UnixListener::bind(path)?))
    }

    /// Waits for a connection; backs off when out of file descriptors.
    ///
    /// # Errors
    ///
    /// What `accept(2)` reports, other than running out of descriptors.
    ///
    /// # Examples
    ///
    /// See [`UnixListener`].
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        loop {
            match self.sock.retry(Side::Read, None, |l| l.accept()) {
                Ok((s, addr)) => return Ok((UnixStream::from(s), addr)),
                Err(e) if out_of_fds(&e) => crate::time::sleep(Duration::from_millis(5)),
                Err(e) => return Err(e),
            }
        }
    }

    /// The address it listens on.
    ///
    /// # Examples
    ///
    /// See [`UnixListener::bind`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.io.local_addr()
    }
}

impl From<net::UnixListener> for UnixListener {
    /// Takes over a std listener, switching it to non-blocking mode.
    ///
    /// # Panics
    ///
    /// If the socket cannot be made non-blocking (a closed descriptor).
    ///
    /// # Examples
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("gort-doc-from-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let l = gort_runtime::net::UnixListener::from(std::os::unix::net::UnixListener::bind(&path).unwrap());
    /// assert!(l.local_addr().is_ok());
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    fn from(l: net::UnixListener) -> UnixListener {
        l.set_nonblocking(true).expect("cannot switch a UnixListener to non-blocking mode");
        UnixListener { sock: Socket::new(l) }
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.fd()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener").field("fd", &self.sock.fd()).finish()
    }
}

/// A Unix-domain connection whose reads and writes park the goroutine.
/// `Read` and `Write` are implemented for the stream and for `&UnixStream`.
///
/// # Examples
///
/// ```
/// use gort_runtime::net::UnixStream;
/// use std::io::{Read, Write};
/// let (mut a, mut b) = UnixStream::pair().unwrap();
/// let h = gort_runtime::spawn(move || {
///     let mut buf = [0; 4];
///     b.read_exact(&mut buf).unwrap();
///     buf
/// });
/// a.write_all(b"pair").unwrap();
/// assert_eq!(&h.join().unwrap(), b"pair");
/// ```
pub struct UnixStream {
    sock: Socket<net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket at `path`.
    ///
    /// # Errors
    ///
    /// As std's `connect` (no such socket, refused, ...).
    ///
    /// # Examples
    ///
    /// See [`UnixListener`].
    pub fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        Ok(UnixStream::from(net::UnixStream::connect(path)?))
    }

    /// A connected pair of streams.
    ///
    /// # Examples
    ///
    /// See [`UnixStream`].
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = net::UnixStream::pair()?;
        Ok((UnixStream::from(a), UnixStream::from(b)))
    }

    /// Shuts down the read, write or both halves.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// let (a, mut b) = gort_runtime::net::UnixStream::pair().unwrap();
    /// a.shutdown(std::net::Shutdown::Write).unwrap();
    /// assert_eq!(b.read(&mut [0; 4]).unwrap(), 0);
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.sock.io.shutdown(how)
    }

    /// Makes each read fail with `TimedOut` after waiting `timeout`.
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
    /// let (mut a, _b) = gort_runtime::net::UnixStream::pair().unwrap();
    /// a.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    /// assert_eq!(a.read(&mut [0; 4]).unwrap_err().kind(), std::io::ErrorKind::TimedOut);
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
    /// let (a, _b) = gort_runtime::net::UnixStream::pair().unwrap();
    /// a.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    /// ```
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.sock.set_timeout(Side::Write, timeout)
    }

    /// Another handle to the same connection (its own file descriptor).
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = gort_runtime::net::UnixStream::pair().unwrap();
    /// assert!(a.try_clone().is_ok());
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        let io = self.sock.io.try_clone()?;
        io.set_nonblocking(true)?;
        Ok(UnixStream { sock: self.sock.clone_with(io) })
    }
}

stream_io!(UnixStream);

impl From<net::UnixStream> for UnixStream {
    /// Takes over a std stream, switching it to non-blocking mode.
    ///
    /// # Panics
    ///
    /// If the socket cannot be made non-blocking (a closed descriptor).
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let _a = gort_runtime::net::UnixStream::from(a);
    /// ```
    fn from(s: net::UnixStream) -> UnixStream {
        s.set_nonblocking(true).expect("cannot switch a UnixStream to non-blocking mode");
        UnixStream { sock: Socket::new(s) }
    }
}

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.fd()
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream").field("fd", &self.sock.fd()).finish()
    }
}
