//! Goroutine-local storage: `goroutine_local!` and [`LocalKey`].
//!
//! A goroutine may resume on another worker thread after any park, so a
//! `thread_local!` read inside a goroutine can give a different value
//! before and after a channel operation. Goroutine-locals follow the
//! goroutine instead: each goroutine carries a small map from key to value,
//! created on first use and dropped when the goroutine ends. On a plain OS
//! thread the same key is simply per-thread.

use std::any::Any;
use std::cell::UnsafeCell;

use crate::goroutine;

/// The values of one goroutine's (or thread's) locals, keyed by the address
/// of their `static` [`LocalKey`]. A handful of entries: a vector is fastest.
#[derive(Default)]
pub(crate) struct LocalMap {
    entries: Vec<(usize, Box<dyn Any>)>,
}

impl LocalMap {
    /// A pointer to the value of `key`, created by `init` if missing. The
    /// value stays at that address until [`clear`](Self::clear).
    fn get_or_init<T: 'static>(&mut self, key: usize, init: fn() -> T) -> *const T {
        if let Some((_, v)) = self.entries.iter().find(|(k, _)| *k == key) {
            return v.downcast_ref::<T>().expect("one type per goroutine_local key");
        }
        let value: Box<dyn Any> = Box::new(init());
        let ptr: *const T = value.downcast_ref::<T>().expect("just made");
        self.entries.push((key, value));
        ptr
    }

    /// Drops every value (when the goroutine ends).
    pub(crate) fn clear(&mut self) {
        // Take them out first: a value's destructor may use locals again.
        drop(std::mem::take(&mut self.entries));
    }
}

/// A goroutine-local key, made by [`goroutine_local!`](crate::goroutine_local).
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// gort_runtime::goroutine_local! { static HITS: Cell<u32> = Cell::new(0); }
///
/// HITS.with(|h| h.set(5));
/// let other = gort_runtime::spawn(|| HITS.with(Cell::get)).join().unwrap();
/// assert_eq!(other, 0);                  // a new goroutine starts afresh
/// assert_eq!(HITS.with(Cell::get), 5);   // this thread kept its own
/// ```
pub struct LocalKey<T: 'static> {
    init: fn() -> T,
}

impl<T: 'static> LocalKey<T> {
    #[doc(hidden)]
    pub const fn new(init: fn() -> T) -> LocalKey<T> {
        LocalKey { init }
    }

    /// Calls `f` with this goroutine's value (on a plain thread, this
    /// thread's), initialising it on first use.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::RefCell;
    /// gort_runtime::goroutine_local! { static LOG: RefCell<Vec<u8>> = RefCell::new(Vec::new()); }
    /// let n = gort_runtime::spawn(|| {
    ///     LOG.with(|l| l.borrow_mut().push(1));
    ///     gort_runtime::yield_now();           // may move to another thread ...
    ///     LOG.with(|l| l.borrow().len())       // ... the value follows the goroutine
    /// }).join().unwrap();
    /// assert_eq!(n, 1);
    /// ```
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        let key = self as *const LocalKey<T> as usize;
        let value = goroutine::with_current(|g| match g {
            // SAFETY: only the running goroutine touches its own map, and
            // no other borrow of it is live (we hold none across `f`).
            Some(g) => unsafe { (*g.locals.get()).get_or_init(key, self.init) },
            None => THREAD_LOCALS.with(|m| {
                // SAFETY: as above, for this thread's map.
                unsafe { (*m.get()).get_or_init(key, self.init) }
            }),
        });
        // SAFETY: values are boxed and only dropped when their goroutine or
        // thread ends, which cannot happen while it runs `f`.
        f(unsafe { &*value })
    }
}

thread_local! {
    /// Goroutine-locals of plain threads.
    static THREAD_LOCALS: UnsafeCell<LocalMap> = UnsafeCell::new(LocalMap::default());
}

/// Declares goroutine-local statics: like `thread_local!`, but per goroutine.
///
/// Inside a goroutine each goroutine sees its own value, even after it
/// moves to another worker thread; on a plain OS thread the value is per
/// thread. Values are dropped when the goroutine ends.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// gort_runtime::goroutine_local! {
///     /// The id of the request this goroutine serves.
///     pub static REQUEST_ID: Cell<u64> = Cell::new(0);
/// }
/// let seen = gort_runtime::spawn(|| {
///     REQUEST_ID.with(|id| id.set(7));
///     gort_runtime::yield_now();
///     REQUEST_ID.with(Cell::get)
/// }).join().unwrap();
/// assert_eq!(seen, 7);
/// ```
#[macro_export]
macro_rules! goroutine_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        $(#[$attr])* $vis static $name: $crate::LocalKey<$t> = $crate::LocalKey::new({
            fn __gort_init() -> $t { $init }
            __gort_init
        });
        $crate::goroutine_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr) => {
        $crate::goroutine_local!($(#[$attr])* $vis static $name: $t = $init;);
    };
}
