//! Starting goroutines and waiting for them: `spawn`, `Builder`,
//! `JoinHandle`, `Panic`.

use std::any::Any;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::goroutine::{G, Output};
use crate::park::{WaitReason, Waiter, park};
use crate::runtime::{Runtime, with_current_shared};
use crate::scheduler::Shared;

/// Starts a goroutine running `f` and returns a handle to join it.
///
/// Inside a goroutine, the new one runs on the same runtime and is queued
/// on the current worker; on a plain thread it goes to the default runtime,
/// which starts on first use. This is what `go!` calls.
///
/// # Panics
///
/// Panics if no stack can be made for the goroutine (the message says why,
/// e.g. the kernel's `vm.max_map_count`); use [`Builder::spawn`] to get the
/// error instead.
///
/// # Examples
///
/// ```
/// let h = gort_runtime::spawn(|| 6 * 7);
/// assert_eq!(h.join().unwrap(), 42);
/// ```
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new().spawn(f).unwrap_or_else(|e| spawn_failed(e))
}

/// The panic of the spawn functions that do not return an `io::Result`.
#[cold]
pub(crate) fn spawn_failed(e: io::Error) -> ! {
    panic!("cannot start a goroutine: {e}")
}

/// Configures a goroutine before it starts: its name and stack size.
///
/// # Examples
///
/// ```
/// let h = gort_runtime::Builder::new()
///     .name("worker-1")
///     .stack_size(256 * 1024)
///     .spawn(|| 1 + 1)
///     .unwrap();
/// assert_eq!(h.name(), Some("worker-1"));
/// assert_eq!(h.join().unwrap(), 2);
/// ```
#[derive(Debug, Default, Clone)]
#[must_use = "a Builder does nothing until you call spawn"]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
}

impl Builder {
    /// A builder with no name and the runtime's default stack size.
    ///
    /// # Examples
    ///
    /// ```
    /// let h = gort_runtime::Builder::new().spawn(|| ()).unwrap();
    /// h.join().unwrap();
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the goroutine; the name shows in panic messages and dumps.
    ///
    /// # Examples
    ///
    /// ```
    /// let h = gort_runtime::Builder::new().name("fetcher").spawn(|| ()).unwrap();
    /// assert_eq!(h.name(), Some("fetcher"));
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Sets the usable stack size in bytes (rounded up to whole pages, at
    /// least 16 KiB). Stacks do not grow: size them for the deepest call
    /// chain the goroutine makes. Default: the runtime's
    /// ([`DEFAULT_STACK_SIZE`](crate::DEFAULT_STACK_SIZE) unless changed).
    ///
    /// # Examples
    ///
    /// ```
    /// fn depth(n: u32) -> u32 { if n == 0 { 0 } else { 1 + depth(n - 1) } }
    /// let h = gort_runtime::Builder::new()
    ///     .stack_size(1 << 20)
    ///     .spawn(|| depth(10_000))
    ///     .unwrap();
    /// assert_eq!(h.join().unwrap(), 10_000);
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// Starts the goroutine (as [`spawn`] does), or says why it could not.
    ///
    /// # Errors
    ///
    /// When no stack can be made (address space or the kernel's mapping
    /// limit exhausted) or the runtime has shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// let h = gort_runtime::Builder::new().spawn(|| "done")?;
    /// assert_eq!(h.join().unwrap(), "done");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        with_current_shared(|shared| self.spawn_in(shared, f))
    }

    /// Starts the goroutine on `rt` rather than the current runtime.
    ///
    /// # Errors
    ///
    /// As for [`spawn`](Self::spawn).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = gort_runtime::Runtime::builder().workers(1).build()?;
    /// let h = gort_runtime::Builder::new().name("on-rt").spawn_on(&rt, || 3)?;
    /// assert_eq!(h.join().unwrap(), 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn_on<F, T>(self, rt: &Runtime, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.spawn_in(rt.shared(), f)
    }

    pub(crate) fn spawn_in<F, T>(self, shared: &Arc<Shared>, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let name = self.name.map(String::into_boxed_str);
        let g = shared.spawn(name, self.stack_size, move || Box::new(f()) as Output)?;
        Ok(JoinHandle { g, _result: PhantomData })
    }
}

/// An owned permission to wait for a goroutine and take its result.
///
/// Dropping the handle detaches the goroutine: it keeps running.
///
/// # Examples
///
/// ```
/// let h = gort_runtime::spawn(|| "hello".to_string());
/// assert_eq!(h.join().unwrap(), "hello");
/// ```
pub struct JoinHandle<T> {
    g: Arc<G>,
    _result: PhantomData<fn() -> T>,
}

impl<T: 'static> JoinHandle<T> {
    /// Waits for the goroutine to finish: parks the calling goroutine, or
    /// blocks the calling thread. Returns its value, or [`Panic`] if it
    /// panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// let ok = gort_runtime::spawn(|| 1);
    /// assert_eq!(ok.join().unwrap(), 1);
    /// let bad = gort_runtime::spawn(|| -> i32 { panic!("boom") });
    /// assert_eq!(bad.join().unwrap_err().message(), Some("boom"));
    /// ```
    pub fn join(self) -> Result<T, Panic> {
        match self.join_unless(|| None::<std::convert::Infallible>) {
            Ok(result) => result,
            Err(never) => match never {},
        }
    }

    /// Joins, unless `stop` says otherwise first: it is asked, under the
    /// goroutine's join lock, before each park (a finished goroutine's
    /// result wins). Whoever makes `stop` return
    /// `Some` must then take and unpark the join slot's waiter.
    pub(crate) fn join_unless<E>(self, mut stop: impl FnMut() -> Option<E>) -> Result<Result<T, Panic>, E> {
        loop {
            let mut slot = self.g.join.lock();
            if slot.done {
                let outcome = slot.outcome.take().expect("a goroutine's result is taken once");
                return Ok(match outcome {
                    Ok(value) => Ok(*value.downcast::<T>().expect("JoinHandle<T> of a goroutine returning T")),
                    Err(payload) => Err(Panic(payload)),
                });
            }
            if let Some(e) = stop() {
                return Err(e);
            }
            slot.waiter = Some(Waiter::current());
            park(WaitReason::Join, None, slot);
        }
    }

    /// The goroutine this handle joins.
    pub(crate) fn goroutine(&self) -> &Arc<G> {
        &self.g
    }

    /// True once the goroutine has returned or panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// let h = gort_runtime::spawn(|| ());
    /// while !h.is_finished() {
    ///     std::thread::yield_now();
    /// }
    /// h.join().unwrap();
    /// ```
    pub fn is_finished(&self) -> bool {
        self.g.join.lock().done
    }

    /// The goroutine's id (as [`current_id`](crate::current_id) reports inside it).
    ///
    /// # Examples
    ///
    /// ```
    /// let h = gort_runtime::spawn(gort_runtime::current_id);
    /// let id = h.id();
    /// assert_eq!(h.join().unwrap(), Some(id));
    /// ```
    pub fn id(&self) -> u64 {
        self.g.id
    }

    /// The goroutine's name, if it was given one.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(gort_runtime::spawn(|| ()).name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.g.name.as_deref()
    }
}

impl<T> Drop for JoinHandle<T> {
    /// Detaches the goroutine: a result it has already returned is dropped
    /// here, one it returns later is dropped by the goroutine itself.
    fn drop(&mut self) {
        let outcome = {
            let mut slot = self.g.join.lock();
            slot.detached = true;
            slot.outcome.take()
        };
        drop(outcome);
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").field("id", &self.g.id).field("name", &self.g.name).finish()
    }
}

/// A goroutine's panic, as returned by [`JoinHandle::join`].
///
/// # Examples
///
/// ```
/// let disk = 3;
/// let p = gort_runtime::spawn(move || panic!("disk {disk} failed")).join().unwrap_err();
/// assert_eq!(p.message(), Some("disk 3 failed"));
/// let payload: Box<dyn std::any::Any + Send> = p.into_inner();
/// assert!(payload.is::<String>());
/// ```
pub struct Panic(Box<dyn Any + Send>);

impl Panic {
    /// The panic message, when the payload is a `&str` or `String` (as
    /// `panic!` with a message makes).
    ///
    /// # Examples
    ///
    /// ```
    /// let p = gort_runtime::spawn(|| panic!("boom")).join().unwrap_err();
    /// assert_eq!(p.message(), Some("boom"));
    /// ```
    pub fn message(&self) -> Option<&str> {
        payload_message(&*self.0)
    }

    /// The payload, for `std::panic::resume_unwind` or a downcast.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = gort_runtime::spawn(|| std::panic::panic_any(7u8)).join().unwrap_err();
    /// assert_eq!(*p.into_inner().downcast::<u8>().unwrap(), 7);
    /// ```
    pub fn into_inner(self) -> Box<dyn Any + Send> {
        self.0
    }
}

impl fmt::Debug for Panic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.message() {
            Some(msg) => f.debug_tuple("Panic").field(&msg).finish(),
            None => f.debug_tuple("Panic").field(&format_args!("<non-string payload>")).finish(),
        }
    }
}

impl fmt::Display for Panic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.message() {
            Some(msg) => write!(f, "goroutine panicked: {msg}"),
            None => f.write_str("goroutine panicked"),
        }
    }
}

impl std::error::Error for Panic {}

/// The message of a panic payload, when it has one.
pub(crate) fn payload_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload.downcast_ref::<&'static str>().copied().or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}
