//! Goroutine-aware sockets (Go's `net`), on the runtime's netpoller.
//!
//! The types have std's API. An operation that would block parks the
//! goroutine on the netpoller (`poller`) and the worker runs others; on a
//! plain thread it blocks the thread. So a server is plain blocking code,
//! one goroutine per connection, as in Go.

pub(crate) mod poller;
mod socket;
mod tcp;
mod udp;
mod unix;

pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};
