//! A goroutine's body between spawn and its first run, stored in the header.
//!
//! A goroutine gets its stack only when it first runs, from the pool of the
//! worker that runs it: a queued goroutine then costs its header alone, and
//! the stack is written and run on one core. Until then the body waits here.
//! Bodies up to [`INLINE_BYTES`] (a few captured pointers and integers: the
//! common case) are stored inline, so spawning allocates nothing; larger or
//! over-aligned ones are boxed.
//!
//! Invariant: `vtable` is `Some` exactly while `buf` holds a live body of
//! the type the vtable was made for.

use std::mem::{self, MaybeUninit};
use std::ptr;

use crate::goroutine::Output;

/// Bytes of inline storage.
pub(crate) const INLINE_BYTES: usize = 48;

#[repr(C, align(16))]
struct Buf([MaybeUninit<u8>; INLINE_BYTES]);

/// How to run or drop the body in `buf`.
struct VTable {
    /// Moves the body out of the buffer and runs it.
    call: unsafe fn(*mut u8) -> Output,
    /// Drops the body in place without running it.
    drop: unsafe fn(*mut u8),
}

/// A goroutine's body, or nothing.
pub(crate) struct Entry {
    buf: Buf,
    vtable: Option<&'static VTable>,
}

impl Default for Entry {
    fn default() -> Entry {
        Entry { buf: Buf([MaybeUninit::uninit(); INLINE_BYTES]), vtable: None }
    }
}

/// Per-type vtables, as constants so they live in static memory.
struct Table<F>(F);

impl<F: FnOnce() -> Output> Table<F> {
    const VTABLE: VTable = VTable { call: Self::call, drop: Self::drop };

    /// # Safety
    ///
    /// `p` points at a live `F`, which this moves out.
    unsafe fn call(p: *mut u8) -> Output {
        // SAFETY: by the contract, `p` holds a live F; reading moves it out.
        let f = unsafe { ptr::read(p.cast::<F>()) };
        f()
    }

    /// # Safety
    ///
    /// `p` points at a live `F`, which this drops.
    unsafe fn drop(p: *mut u8) {
        // SAFETY: by the contract, `p` holds a live F.
        unsafe { ptr::drop_in_place(p.cast::<F>()) }
    }
}

impl Entry {
    /// True while a body waits here.
    pub(crate) fn is_set(&self) -> bool {
        self.vtable.is_some()
    }

    /// Stores `f`; the entry must be empty.
    pub(crate) fn set<F: FnOnce() -> Output + Send + 'static>(&mut self, f: F) {
        debug_assert!(!self.is_set(), "a goroutine body stored over another");
        if mem::size_of::<F>() <= INLINE_BYTES && mem::align_of::<F>() <= mem::align_of::<Buf>() {
            // SAFETY: F fits the buffer in size and alignment, and the
            // buffer is empty (nothing to overwrite).
            unsafe { ptr::write(self.buf.0.as_mut_ptr().cast::<F>(), f) };
            self.vtable = Some(&Table::<F>::VTABLE);
        } else {
            // A Box always fits, and a boxed FnOnce is itself an FnOnce.
            // SAFETY: as above, for a Box<F>.
            unsafe { ptr::write(self.buf.0.as_mut_ptr().cast::<Box<F>>(), Box::new(f)) };
            self.vtable = Some(&Table::<Box<F>>::VTABLE);
        }
    }

    /// Takes the body out and runs it; the entry must be set.
    pub(crate) fn run(&mut self) -> Output {
        let vtable = self.vtable.take().expect("a goroutine body to run");
        // SAFETY: the vtable was set together with the body it describes
        // (the invariant), and taking it first means the body is moved out
        // exactly once.
        unsafe { (vtable.call)(self.buf.0.as_mut_ptr().cast()) }
    }

    /// Drops a body that will never run.
    pub(crate) fn clear(&mut self) {
        if let Some(vtable) = self.vtable.take() {
            // SAFETY: as in `run`: the vtable matches the live body.
            unsafe { (vtable.drop)(self.buf.0.as_mut_ptr().cast()) }
        }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn small_and_large_bodies_run_once_and_drop_once() {
        let token = Arc::new(());
        let mut e = Entry::default();
        let t = token.clone();
        e.set(move || Box::new(Arc::strong_count(&t)) as Output);
        assert_eq!(*e.run().downcast::<usize>().unwrap(), 2);
        assert!(!e.is_set());
        assert_eq!(Arc::strong_count(&token), 1, "the body was dropped after running");

        let big = [7u64; 32];
        let t = token.clone();
        e.set(move || Box::new(big.iter().sum::<u64>() + Arc::strong_count(&t) as u64) as Output);
        assert_eq!(*e.run().downcast::<u64>().unwrap(), 226);

        let t = token.clone();
        e.set(move || Box::new(t) as Output);
        e.clear();
        assert_eq!(Arc::strong_count(&token), 1, "a body that never runs is dropped");
    }
}
