//! The census epoch: a counter bumped whenever a thread enters or leaves a
//! state that deadlock detection counts as "cannot act" (a plain thread
//! parked without a deadline, an idle `gort::blocking` thread, the SIGQUIT
//! dumper).
//!
//! The detector reads those counts and the process's thread count at
//! different moments. Reading the epoch before and after, and requiring it
//! unchanged, makes them one snapshot: a thread woken and another parked in
//! between (the counts unchanged, the woken one now free to act) moves the
//! epoch and cancels the verdict.

use std::sync::atomic::{AtomicU64, Ordering};

static EPOCH: AtomicU64 = AtomicU64::new(0);

/// Records a change of a counted state. Call it after changing the count.
pub(crate) fn changed() {
    EPOCH.fetch_add(1, Ordering::SeqCst);
}

/// The epoch now.
pub(crate) fn epoch() -> u64 {
    EPOCH.load(Ordering::SeqCst)
}
