//! Synchronisation that parks goroutines rather than worker threads.

mod waitgroup;

pub use waitgroup::WaitGroup;
