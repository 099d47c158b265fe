//! gort's channels: Go's `chan T`, `select`, time channels and `context`.
//!
//! A channel is Go's `hchan`: one lock, a ring buffer, a queue of blocked
//! senders and one of blocked receivers. A blocked operation puts a record
//! on the queue and parks through `gort_runtime::park`: a goroutine parks
//! (its worker runs others), a plain thread blocks, and the two can be the
//! ends of one channel.
//!
//! | module | owns |
//! |---|---|
//! | `handles` | [`chan`], [`Chan`], [`Sender`], [`Receiver`] |
//! | `core` | the channel's state and every operation on it |
//! | `queue` | wait records (`sudog`) and wait queues |
//! | `select`, `select_macro`, `operand` | the select engine and [`select!`] |
//! | `dynamic` | [`Select`], a select built at run time |
//! | [`time`] | `after`, `tick`, `Timer`, `Ticker` |
//! | [`context`] | cancellation trees (Go's `context`) |
//! | [`signal`] | signals as channel values (Go's `signal.Notify`) |
//! | `error`, `iter` | error types, iterators |
//!
//! # Examples
//!
//! ```
//! use gort_channels::{chan, select};
//!
//! let jobs = chan::<u32>(0);
//! let results = chan::<u32>(4);
//! let (j, r) = (jobs.receiver(), results.sender());
//! let worker = gort_runtime::spawn(move || {
//!     for n in &j {
//!         r.send(n * n);
//!     }
//!     r.close();
//! });
//! for n in 1..=3 {
//!     jobs.send(n);
//! }
//! jobs.close();
//! worker.join().unwrap();
//! let total: u32 = results.iter().sum();
//! assert_eq!(total, 14);
//! # let _ = select! { recv(results) -> v => v, default => None };
//! ```

#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

pub mod context;
mod core;
mod dynamic;
mod error;
mod handles;
mod iter;
mod operand;
mod queue;
mod select;
mod select_macro;
pub mod signal;
pub mod time;

pub use dynamic::{Select, SelectedOp};
pub use error::{RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
pub use handles::{Chan, Receiver, Sender, chan};
pub use iter::{IntoIter, Iter, TryIter};

/// Items the `select!` macro expands to; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::operand::{RecvOperand, SendOperand};
    pub use crate::select::{Arm, Block, block_forever, select};
}
