//! Why a channel operation that may not wait, or may wait only so long,
//! did not happen. Send errors hand the value back.

use std::fmt;

/// Why [`try_send`](crate::Chan::try_send) did not send; holds the value.
///
/// # Examples
///
/// ```
/// use gort_channels::{chan, TrySendError};
/// let ch = chan(1);
/// ch.try_send(1).unwrap();
/// assert_eq!(ch.try_send(2), Err(TrySendError::Full(2)));
/// ch.close();
/// assert_eq!(ch.try_send(3).unwrap_err().into_inner(), 3);
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The buffer is full, or nobody is receiving on an unbuffered channel
    /// (or the channel is nil).
    Full(T),
    /// The channel is closed.
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = gort_channels::TrySendError::Full("x");
    /// assert_eq!(e.into_inner(), "x");
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Closed(v) => v,
        }
    }

    /// True for [`TrySendError::Full`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(gort_channels::TrySendError::Full(1).is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }

    /// True for [`TrySendError::Closed`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(gort_channels::TrySendError::Closed(1).is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, TrySendError::Closed(_))
    }
}

/// Why [`try_recv`](crate::Chan::try_recv) got nothing.
///
/// # Examples
///
/// ```
/// use gort_channels::{chan, TryRecvError};
/// let ch = chan::<i32>(1);
/// assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
/// ch.close();
/// assert_eq!(ch.try_recv(), Err(TryRecvError::Closed));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing is ready (or the channel is nil).
    Empty,
    /// The channel is closed and drained.
    Closed,
}

impl TryRecvError {
    /// True for [`TryRecvError::Empty`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(gort_channels::TryRecvError::Empty.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        *self == TryRecvError::Empty
    }

    /// True for [`TryRecvError::Closed`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(gort_channels::TryRecvError::Closed.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        *self == TryRecvError::Closed
    }
}

/// Why [`send_timeout`](crate::Chan::send_timeout) did not send; holds
/// the value.
///
/// # Examples
///
/// ```
/// use gort_channels::{chan, SendTimeoutError};
/// use std::time::Duration;
/// let ch = chan(0);
/// assert_eq!(ch.send_timeout(7, Duration::from_millis(1)), Err(SendTimeoutError::Timeout(7)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SendTimeoutError<T> {
    /// Nobody took the value in time.
    Timeout(T),
    /// The channel is closed (before or while waiting).
    Closed(T),
}

impl<T> SendTimeoutError<T> {
    /// The value that was not sent.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(gort_channels::SendTimeoutError::Timeout(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            SendTimeoutError::Timeout(v) | SendTimeoutError::Closed(v) => v,
        }
    }

    /// True for [`SendTimeoutError::Timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(gort_channels::SendTimeoutError::Timeout(3).is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, SendTimeoutError::Timeout(_))
    }

    /// True for [`SendTimeoutError::Closed`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(gort_channels::SendTimeoutError::Closed(3).is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, SendTimeoutError::Closed(_))
    }
}

/// Why [`recv_timeout`](crate::Chan::recv_timeout) got nothing.
///
/// # Examples
///
/// ```
/// use gort_channels::{chan, RecvTimeoutError};
/// use std::time::Duration;
/// let ch = chan::<i32>(0);
/// assert_eq!(ch.recv_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Timeout));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvTimeoutError {
    /// Nothing arrived in time.
    Timeout,
    /// The channel is closed and drained.
    Closed,
}

impl RecvTimeoutError {
    /// True for [`RecvTimeoutError::Timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(gort_channels::RecvTimeoutError::Timeout.is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        *self == RecvTimeoutError::Timeout
    }

    /// True for [`RecvTimeoutError::Closed`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(gort_channels::RecvTimeoutError::Closed.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        *self == RecvTimeoutError::Closed
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_full() { "Full(..)" } else { "Closed(..)" })
    }
}

impl<T> fmt::Debug for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_timeout() { "Timeout(..)" } else { "Closed(..)" })
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_full() { "sending on a full channel" } else { "sending on a closed channel" })
    }
}

impl<T> fmt::Display for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_timeout() { "timed out sending on a channel" } else { "sending on a closed channel" })
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryRecvError::Empty => "receiving on an empty channel",
            TryRecvError::Closed => "receiving on a closed channel",
        })
    }
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecvTimeoutError::Timeout => "timed out receiving on a channel",
            RecvTimeoutError::Closed => "receiving on a closed channel",
        })
    }
}

impl<T> std::error::Error for TrySendError<T> {}
impl<T> std::error::Error for SendTimeoutError<T> {}
impl std::error::Error for TryRecvError {}
impl std::error::Error for RecvTimeoutError {}
