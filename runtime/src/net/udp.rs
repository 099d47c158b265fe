//! `UdpSocket`: std's API, parking goroutines instead of threads.

use std::fmt;
use std::io;
use std::net::{self, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use super::poller::Side;
use super::socket::Socket;

/// A UDP socket whose sends and receives park the goroutine (a plain
/// thread blocks): std's `UdpSocket` on the netpoller.
///
/// # Examples
///
/// ```
/// use gort_runtime::net::UdpSocket;
/// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
/// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
/// let to = b.local_addr().unwrap();
/// let h = gort_runtime::spawn(move || {
///     let mut buf = [0; 16];
///     let (n, _from) = b.recv_from(&mut buf).unwrap();
///     buf[..n].to_vec()
/// });
/// a.send_to(b"datagram", to).unwrap();
/// assert_eq!(h.join().unwrap(), b"datagram");
/// ```
pub struct UdpSocket {
    sock: Socket<net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr` (port 0 picks a free port).
    ///
    /// # Errors
    ///
    /// As std's `bind`.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort_runtime::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert_ne!(s.local_addr().unwrap().port(), 0);
    /// ```
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        Ok(UdpSocket::from(net::UdpSocket::bind(addr)?))
    }

    /// Receives one datagram and its sender, waiting for one to arrive.
    ///
    /// # Errors
    ///
    /// `TimedOut` after the read timeout; what `recvfrom(2)` reports.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = gort_runtime::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    /// assert_eq!(s.recv_from(&mut [0; 8]).unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// ```
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.sock.io(Side::Read, |s| s.recv_from(buf))
    }

    /// Sends `buf` to `addr`, waiting while the send buffer is full.
    ///
    /// # Errors
    ///
    /// `TimedOut` after the write timeout; what `sendto(2)` reports.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort_runtime::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let me = s.local_addr().unwrap();
    /// assert_eq!(s.send_to(b"hi", me).unwrap(), 2);
    /// ```
    pub fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let addr = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to send to"))?;
        self.sock.io(Side::Write, |s| s.send_to(buf, addr))
    }

    /// Sets the default peer for [`send`](Self::send) and
    /// [`recv`](Self::recv), and filters what is received to it.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = gort_runtime::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let b = gort_runtime::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// a.connect(b.local_addr().unwrap()).unwrap();
    /// a.send(b"x").unwrap();
    /// assert_eq!(b.recv(&mut [0; 4]).unwrap(), 1);
    /// ```
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        self.sock.io.connect(addr)
    }

    /// Sends to the connected peer.
    ///
    /// # Errors
    ///
    /// As [`send_to`](Self::send_to); also when not connected.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort_runtime::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.connect(s.local_addr().unwrap()).unwrap();
    /// assert_eq!(s.send(b"me").unwrap(), 2);
    /// ```
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.sock.io(Side::Write, |s| s.send(buf))
    }

    /// Receives from the connected peer.
    ///
    /// # Errors
    ///
    /// As [`recv_from`](Self::recv_from).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort_runtime::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.connect(s.local_addr().unwrap()).unwrap();
    /// s.send(b"loop").unwrap();
    /// assert_eq!(s.recv(&mut [0; 8]).unwrap(), 4);
    /// ```
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.io(Side::Read, |s| s.recv(buf))
    }

    /// The local address.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort_runtime::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(s.local_addr().unwrap().ip().is_loopback());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.io.local_addr()
    }

    /// Makes each receive fail with `TimedOut` after waiting `timeout`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration, as std.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = gort_runtime::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(s.set_read_timeout(Some(Duration::ZERO)).is_err());
    /// ```
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.sock.set_timeout(Side::Read, timeout)
    }

    /// Makes each send fail with `TimedOut` after waiting `timeout`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration, as std.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = gort_runtime::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    /// ```
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.sock.set_timeout(Side::Write, timeout)
    }

    /// Another handle to the same socket (its own file descriptor).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = gort_runtime::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert_eq!(s.try_clone().unwrap().local_addr().unwrap(), s.local_addr().unwrap());
    /// ```
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        let io = self.sock.io.try_clone()?;
        io.set_nonblocking(true)?;
        Ok(UdpSocket { sock: self.sock.clone_with(io) })
    }
}

impl From<net::UdpSocket> for UdpSocket {
    /// Takes over a std socket, switching it to non-blocking mode.
    ///
    /// # Panics
    ///
    /// If the socket cannot be made non-blocking (a closed descriptor).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let s = gort_runtime::net::UdpSocket::from(s);
    /// assert!(s.local_addr().is_ok());
    /// ```
    fn from(s: net::UdpSocket) -> UdpSocket {
        s.set_nonblocking(true).expect("cannot switch a UdpSocket to non-blocking mode");
        UdpSocket { sock: Socket::new(s) }
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.fd()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket").field("addr", &self.local_addr().ok()).field("fd", &self.sock.fd()).finish()
    }
}
