//! Shared by the examples that print from goroutines: [`run_main`].
//!
//! Each example includes it with `#[path = "support/run_main.rs"] mod
//! support;`. It lives in a directory so that Cargo does not take it for an
//! example of its own.

use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};

use gort::prelude::*;

/// Runs `program` as the main goroutine, with `gort::run`, and writes what
/// it prints to `out`.
///
/// `out` is borrowed, and a goroutine may outlive any borrow, so `out`
/// cannot go into one. The program prints by sending text on its stdout, a
/// `Sender<String>`; this thread, which owns `out`, writes the text as it
/// comes, until the main goroutine returns. `main` passes the process's
/// stdout, the test a `Vec<u8>`.
pub fn run_main<F>(out: &mut dyn Write, program: F) -> io::Result<()>
where
    F: FnOnce(Sender<String>) + Send + 'static,
{
    let stdout = chan::<String>(0);
    let (printer, closer) = (stdout.sender(), stdout.sender());
    let main_thread = std::thread::spawn(move || {
        let ended = panic::catch_unwind(AssertUnwindSafe(|| gort::run(move || program(printer))));
        closer.close(); // the main goroutine returned (or panicked): nothing more to print
        ended
    });
    let mut written = Ok(());
    for text in &stdout {
        if written.is_ok() {
            written = out.write_all(text.as_bytes()).and_then(|()| out.flush());
        }
    }
    if let Ok(Err(payload)) = main_thread.join() {
        panic::resume_unwind(payload);
    }
    written
}
