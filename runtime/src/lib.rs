//! gort's runtime: goroutines on a work-stealing M:N scheduler.
//!
//! This crate owns everything below the channels: goroutines and their
//! stacks, the scheduler (Go's G-M-P, with workers as Ps), the parking seam
//! that every blocking operation uses, timers, and runtimes. Most programs
//! use it through the `gort` facade (`go!`, `gort::run`, ...).
//!
//! | module | owns |
//! |---|---|
//! | `goroutine` | the goroutine header and its coroutine |
//! | `entry` | a goroutine's body until its first run |
//! | `stack` | slab-carved, guarded, pooled stacks |
//! | `scheduler` | run queues, workers, idle/spinning protocol, registry |
//! | [`park`] | park the current waiter / unpark it from anywhere |
//! | `timer` | per-worker timer heaps |
//! | [`net`] | the netpoller and goroutine-aware sockets |
//! | `runtime` | [`Runtime`], its builder, the default runtime |
//! | `fault` | stack overflow reports, the panic hook |
//! | [`time`], [`sync`] | sleeping, `WaitGroup` |
//! | [`debug`] | snapshots of the live goroutines |
//!
//! # Examples
//!
//! ```
//! let hs: Vec<_> = (0..100u64).map(|i| gort_runtime::spawn(move || i * 2)).collect();
//! let total: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
//! assert_eq!(total, 9900);
//! ```

#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

mod blocking;
pub mod debug;
mod entry;
mod fault;
mod goroutine;
mod local;
mod metrics;
pub mod net;
pub mod park;
mod rng;
mod runtime;
mod scheduler;
mod spawn;
mod stack;
pub mod sync;
pub mod time;
mod timer;

pub use blocking::blocking;
pub use goroutine::{current_id, yield_now};
pub use local::LocalKey;
pub use metrics::RuntimeMetrics;
pub use runtime::{MAIN_STACK_SIZE, Runtime, RuntimeBuilder, num_goroutine, run};
pub use spawn::{Builder, JoinHandle, Panic, spawn};
pub use stack::DEFAULT_STACK_SIZE;
