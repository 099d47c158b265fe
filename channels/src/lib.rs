//! gort's channels: Go's `chan T`, `select`, time channels and context.
//!
//! This crate builds on the parking seam of `gort-runtime`
//! ([`gort_runtime::park`]): a blocked send or receive registers the
//! current waiter in the channel's wait queue and parks it. The channels
//! themselves land with the channels issue; for now the crate re-exports
//! the seam it will use.
//!
//! # Examples
//!
//! ```
//! use gort_channels::park::{Waiter, WaitReason};
//! assert_eq!(WaitReason::ChanSend.as_str(), "chan send");
//! assert!(Waiter::current().is_thread());
//! ```

pub use gort_runtime::park;
