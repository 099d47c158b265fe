//! gort: Go's concurrency model for Rust.
//!
//! Goroutines are stackful coroutines run by a work-stealing M:N scheduler
//! on a pool of worker threads; blocking operations park the goroutine, not
//! the thread. A Go programmer ports `go f(x)` as `go!(f(x))`.
//!
//! ```
//! use gort::prelude::*;
//!
//! fn fib(n: u64) -> u64 { if n < 2 { n } else { fib(n - 1) + fib(n - 2) } }
//!
//! let h = go!(fib(20));                       // go fib(20), but joinable
//! let x = 21;
//! let g = go!(move || x * 2);                 // closure form
//! let b = go!({ let y = x + 1; y });          // block form (captures by move)
//! assert_eq!(h.join().unwrap(), 6765);
//! assert_eq!(g.join().unwrap(), 42);
//! assert_eq!(b.join().unwrap(), 22);
//! ```
//!
//! Channels and `select!` are Go's:
//!
//! ```
//! use gort::prelude::*;
//!
//! let ch = chan::<u64>(0);                    // make(chan uint64)
//! let tx = ch.sender();                       // chan<- uint64
//! go!(move || {
//!     for i in 1..=10 { tx.send(i); }         // ch <- i
//!     tx.close();                             // close(ch)
//! });
//! let sum: u64 = ch.iter().sum();             // for v := range ch
//! assert_eq!(sum, 55);
//! ```
//!
//! The crate is a facade over `gort-runtime` (goroutines, scheduler,
//! parking, timers) and `gort-channels` (channels, select, time channels).

#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

pub use gort_channels::{
    Chan, IntoIter, Iter, Receiver, RecvTimeoutError, Select, SelectedOp, SendTimeoutError, Sender, TryIter,
    TryRecvError, TrySendError, chan, select,
};
pub use gort_runtime::{
    Builder, DEFAULT_STACK_SIZE, JoinHandle, LocalKey, MAIN_STACK_SIZE, Panic, Runtime, RuntimeBuilder, RuntimeMetrics,
    blocking, current_id, goroutine_local, num_goroutine, run, spawn, yield_now,
};

/// Snapshots of what the goroutines are doing.
pub mod debug {
    pub use gort_runtime::debug::{GoroutineInfo, GoroutineState, dump, goroutines};
}

/// Time: sleeping goroutines and time channels (Go's `time` package).
pub mod time {
    pub use gort_channels::time::{Ticker, Timer, after, tick};
    pub use gort_runtime::time::sleep;
}

/// Goroutine-aware sockets (Go's `net`): std's API, parking goroutines.
pub mod net {
    pub use gort_runtime::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
}

/// Signals as channel values (Go's `os/signal`).
pub mod signal {
    pub use gort_channels::signal::notify;
}

/// Cancellation trees (Go's `context`).
pub mod context {
    pub use gort_channels::context::{
        CancelFunc, Context, Error, background, with_cancel, with_deadline, with_timeout,
    };
}

/// Synchronisation that parks goroutines, not threads (Go's `sync`).
pub mod sync {
    pub use gort_runtime::sync::{
        Cond, Mutex, MutexGuard, Once, RwLock, RwLockReadGuard, RwLockWriteGuard, Semaphore, WaitGroup,
    };
}

/// The parking seam that channels, sync and net are built on; for
/// libraries that add their own blocking primitives.
pub mod park {
    pub use gort_runtime::park::{WaitReason, Waiter, Wake, Wakeup, park};
}

/// `use gort::prelude::*;` brings `go!`, `select!` and the channel types
/// into scope.
pub mod prelude {
    pub use crate::go;
    pub use gort_channels::{Chan, Receiver, Sender, chan, select};
}

/// Starts a goroutine, like Go's `go` statement, and returns its
/// [`JoinHandle`].
///
/// Three forms:
///
/// - `go!(f(x))`: a call (any expression); the arguments are evaluated in
///   the new goroutine, captured by move.
/// - `go!(move || body)` or `go!(|| body)`: a closure, run as is.
/// - `go!({ block })`: a block, captured by move.
///
/// Inside a goroutine the new one runs on the same runtime; on a plain
/// thread it starts the default runtime if needed.
///
/// # Panics
///
/// When no stack can be made for the goroutine; the message says why (for
/// example the kernel's `vm.max_map_count`). Use [`Builder::spawn`] to get
/// an `io::Error` instead.
///
/// # Examples
///
/// ```
/// use gort::prelude::*;
/// let v = vec![1, 2, 3];
/// let sum = go!(v.iter().sum::<i32>());
/// assert_eq!(sum.join().unwrap(), 6);
/// ```
#[macro_export]
macro_rules! go {
    (move | $($rest:tt)*) => {
        $crate::spawn(move | $($rest)*)
    };
    (move || $($rest:tt)*) => {
        $crate::spawn(move || $($rest)*)
    };
    (|| $($rest:tt)*) => {
        $crate::spawn(|| $($rest)*)
    };
    (| $($rest:tt)*) => {
        $crate::spawn(| $($rest)*)
    };
    ($e:expr) => {
        $crate::spawn(move || $e)
    };
}

/// The guide's pages, compiled and run as doc tests so their snippets stay true.
#[cfg(doctest)]
mod guide {
    #[doc = include_str!("../docs/goroutines.md")]
    mod goroutines {}
    #[doc = include_str!("../docs/channels.md")]
    mod channels {}
    #[doc = include_str!("../docs/unbuffered.md")]
    mod unbuffered {}
    #[doc = include_str!("../docs/pipelines.md")]
    mod pipelines {}
    #[doc = include_str!("../docs/unidirectional.md")]
    mod unidirectional {}
    #[doc = include_str!("../docs/buffered.md")]
    mod buffered {}
    #[doc = include_str!("../docs/parallel.md")]
    mod parallel {}
    #[doc = include_str!("../docs/select.md")]
    mod select {}
    #[doc = include_str!("../docs/cancellation.md")]
    mod cancellation {}
    #[doc = include_str!("../docs/from-go.md")]
    mod from_go {}
    #[doc = include_str!("../docs/safety.md")]
    mod safety {}
    #[doc = include_str!("../docs/servers.md")]
    mod servers {}
    #[doc = include_str!("../docs/debugging.md")]
    mod debugging {}
}
