//! Faults: goroutine stack overflow and goroutine panics.
//!
//! **Stack overflow.** Each goroutine stack has a guard page below it (see
//! [`crate::stack`]). Running into it raises SIGSEGV on the goroutine's
//! own, exhausted stack, so the handler runs on an alternate signal stack
//! that every worker thread has. The handler looks at the goroutine
//! running on this thread: if the faulting address is in its guard page, it
//! prints `goroutine N ("name") has overflowed its stack` and aborts, as
//! Rust does for threads. Every other fault goes to the handler that was
//! installed before ours (Rust's own, which reports thread stack overflows,
//! or the default action), unchanged.
//!
//! **Panics.** A goroutine's panic is caught at its root and handed to
//! `join`. The panic hook installed here names the goroutine (id and name)
//! instead of the worker thread it happened to run on; panics outside
//! goroutines go to the hook that was installed before.

use std::io::Write;
use std::sync::Once;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

use crate::goroutine;
use crate::spawn::payload_message;
use crate::stack::page_size;

/// Size of the alternate signal stack we give a worker that has none.
const ALT_STACK_SIZE: usize = 64 * 1024;

/// Page size, copied where the signal handler can read it without locks.
static PAGE: AtomicUsize = AtomicUsize::new(4096);

/// The SIGSEGV and SIGBUS handlers that were installed before ours (0 is
/// SIG_DFL), and their flags, for passing foreign faults on.
static PREVIOUS_HANDLER: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];
static PREVIOUS_FLAGS: [AtomicI32; 2] = [AtomicI32::new(0), AtomicI32::new(0)];

const SIGNALS: [libc::c_int; 2] = [libc::SIGSEGV, libc::SIGBUS];

/// Installs the fault handler (once per process) and makes sure this
/// worker thread has an alternate signal stack to run it on.
pub(crate) fn install_on_worker() {
    static HANDLER: Once = Once::new();
    HANDLER.call_once(|| {
        PAGE.store(page_size(), Ordering::Relaxed);
        for (i, &sig) in SIGNALS.iter().enumerate() {
            // SAFETY: zeroed sigaction structs are valid values; the first
            // call only reads the current action, the second installs ours
            // (handler and flags filled in, empty mask).
            unsafe {
                let mut previous: libc::sigaction = std::mem::zeroed();
                libc::sigaction(sig, std::ptr::null(), &mut previous);
                PREVIOUS_HANDLER[i].store(previous.sa_sigaction, Ordering::Relaxed);
                PREVIOUS_FLAGS[i].store(previous.sa_flags, Ordering::Relaxed);
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_fault as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(sig, &action, std::ptr::null_mut());
            }
        }
    });
    ensure_alt_stack();
}

/// Gives this thread an alternate signal stack unless it has one (Rust's
/// runtime gives its threads one; we do not rely on that).
fn ensure_alt_stack() {
    // SAFETY: querying with a null new stack only writes `current`.
    let has_one = unsafe {
        let mut current: libc::stack_t = std::mem::zeroed();
        libc::sigaltstack(std::ptr::null(), &mut current);
        current.ss_flags & libc::SS_DISABLE == 0
    };
    if has_one {
        return;
    }
    // The stack lives as long as the thread may take signals; worker
    // threads end with the process or their runtime, and a 64 KiB leak per
    // ended worker is the price of never freeing a stack a signal may use.
    let memory: &'static mut [u8] = Box::leak(vec![0u8; ALT_STACK_SIZE].into_boxed_slice());
    let stack = libc::stack_t { ss_sp: memory.as_mut_ptr().cast(), ss_flags: 0, ss_size: ALT_STACK_SIZE };
    // SAFETY: `stack` describes memory that stays valid forever.
    unsafe { libc::sigaltstack(&stack, std::ptr::null_mut()) };
}

/// The SIGSEGV/SIGBUS handler. Async-signal-safe: it reads a const
/// thread-local and immutable goroutine fields, writes with `write(2)`, and
/// either aborts or hands over to the previous handler.
extern "C" fn on_fault(sig: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    let g = goroutine::running();
    // SAFETY: a non-null RUNNING points at the goroutine this thread is
    // running, kept alive by its worker for the whole resume.
    if let Some(g) = unsafe { g.as_ref() } {
        let guard_end = g.stack_bottom.get();
        let guard_start = guard_end - PAGE.load(Ordering::Relaxed);
        if (guard_start..guard_end).contains(&addr) {
            report_overflow(g.id, g.name.as_deref());
        }
    }
    let index = if sig == libc::SIGSEGV { 0 } else { 1 };
    let handler = PREVIOUS_HANDLER[index].load(Ordering::Relaxed);
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
        // Restore the default action and return: the faulting instruction
        // runs again and the kernel takes the default action (a core dump).
        // SAFETY: resetting a signal to SIG_DFL is always valid.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    } else if PREVIOUS_FLAGS[index].load(Ordering::Relaxed) & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous handler was installed as a SA_SIGINFO handler
        // with exactly this signature.
        unsafe {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) = std::mem::transmute(handler);
            f(sig, info, context);
        }
    } else {
        // SAFETY: the previous handler was installed as a plain handler.
        unsafe {
            let f: extern "C" fn(libc::c_int) = std::mem::transmute(handler);
            f(sig);
        }
    }
}

/// Prints the overflow message with `write(2)` (no allocation) and aborts.
fn report_overflow(id: u64, name: Option<&str>) -> ! {
    let mut buf = [0u8; 512];
    let mut out = Cursor { buf: &mut buf, len: 0 };
    out.push(b"\ngoroutine ");
    let mut digits = [0u8; 20];
    let mut n = id;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push(&digits[i..]);
    out.push(b" (\"");
    out.push(name.unwrap_or("<unnamed>").as_bytes());
    out.push(b"\") has overflowed its stack\nfatal runtime error: stack overflow, aborting\n");
    // SAFETY: writing a valid buffer to stderr.
    unsafe { libc::write(2, out.buf.as_ptr().cast(), out.len) };
    std::process::abort()
}

/// A fixed buffer that silently truncates.
struct Cursor<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Cursor<'_> {
    fn push(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }
}

/// Installs, once, a panic hook that names the goroutine that panicked.
pub(crate) fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let who = goroutine::with_current(|g| g.map(|g| (g.id, g.name.clone())));
            let Some((id, name)) = who else {
                return previous(info);
            };
            let msg = payload_message(info.payload()).unwrap_or("Box<dyn Any>");
            let location = info.location().map(|l| format!(" at {l}")).unwrap_or_default();
            let name = name.as_deref().unwrap_or("<unnamed>");
            let backtrace = std::backtrace::Backtrace::capture();
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "\ngoroutine {id} (\"{name}\") panicked{location}:\n{msg}");
            let _ = match backtrace.status() {
                std::backtrace::BacktraceStatus::Captured => writeln!(err, "stack backtrace:\n{backtrace}"),
                _ => writeln!(err, "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace"),
            };
        }));
    });
}
