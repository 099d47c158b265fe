//! Synchronisation that parks goroutines rather than worker threads: Go's
//! `sync` package (and `x/sync/semaphore`), with std's shapes.
//!
//! Every primitive works on goroutines (they park; the worker runs others)
//! and on plain threads (they block). Blocked waiters are records on their
//! own stacks in FIFO queues (`queue`), woken with Go's hand-off rules.

mod cond;
mod mutex;
mod once;
mod queue;
mod rwlock;
mod semaphore;
mod waitgroup;

pub use cond::Cond;
pub use mutex::{Mutex, MutexGuard};
pub use once::Once;
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::Semaphore;
pub use waitgroup::WaitGroup;
