//! The spinner of *The Go Programming Language*, section 8.1
//! (gopl.io/ch8/spinner), ported to gort.
//!
//! The main goroutine computes the 45th Fibonacci number the slow way,
//! while a second goroutine animates a spinner, `-\|/`, at the start of the
//! line. Then the result replaces the spinner:
//!
//! ```text
//! Fibonacci(45) = 1134903170
//! ```
//!
//! It shows:
//!
//! - `go!` starting a goroutine that runs alongside the main goroutine of
//!   `gort::run`;
//! - that gort does not preempt: `fib` never parks, so it keeps its worker
//!   thread for the whole computation, and the spinner runs because another
//!   worker takes it. With `GORT_WORKERS=1` it never spins (Go would, as it
//!   preempts);
//! - stopping a goroutine by closing a channel. Go's program ends the
//!   spinner by exiting. This `run` is also called by a test, so the main
//!   goroutine closes `done`, the spinner returns, and the main goroutine
//!   joins it before it prints the result.
//!
//! An optional argument replaces 45. `fib(45)` takes a few seconds in a
//! release build and much longer in a debug build.
//!
//! ```text
//! cargo run --release --example spinner
//! cargo run --release --example spinner -- 40
//! ```
//!
//! The program prints through `run_main` (at the end of the file), as all
//! the examples that print from goroutines do: `run` writes to a borrowed
//! `out`, which no goroutine can hold, so the goroutines send their text to
//! the calling thread over a channel.

use std::io::{self, Write};
use std::time::Duration;

use gort::prelude::*;

#[path = "support/run_main.rs"]
mod support;
use support::run_main;

#[allow(dead_code)] // tests/examples.rs includes this file as a module and calls `run`
fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    run(&args, &mut io::stdout())
}

/// Runs the program. `args` is `[N]`: which Fibonacci number to compute
/// (45 if absent).
pub fn run(args: &[String], out: &mut dyn Write) -> io::Result<()> {
    let n: u32 = match args.first() {
        Some(arg) => arg.parse::<u32>().map_err(|_| invalid(format!("N must be a number, not {arg:?}")))?,
        None => 45,
    };
    run_main(out, move |stdout| {
        let done = chan::<()>(0);
        // The handles are made before go!: go!(f(x)) evaluates f's
        // arguments in the new goroutine (docs/goroutines.md).
        let (stop, spinner_out) = (done.receiver(), stdout.clone());
        let spinning = go!(spinner(Duration::from_millis(100), stop, spinner_out));
        let fib_n = fib(n); // slow
        done.close(); // Go's program exits instead, and that ends the spinner
        spinning.join().expect("the spinner does not panic");
        stdout.send(format!("\rFibonacci({n}) = {fib_n}\n"));
    })
}

/// Draws `-`, `\`, `|`, `/` in turn at the start of the line, one every
/// `delay`, until `done` is closed.
fn spinner(delay: Duration, done: Receiver<()>, stdout: Sender<String>) {
    loop {
        for r in ['-', '\\', '|', '/'] {
            stdout.send(format!("\r{r}"));
            // Go: time.Sleep(delay). Selecting on `done` as well makes the
            // sleep end early when the main goroutine is finished.
            select! {
                recv(gort::time::after(delay)) -> _ => {}
                recv(&done) -> _ => return,
            }
        }
    }
}

/// The `x`th Fibonacci number, computed the slow way on purpose.
fn fib(x: u32) -> u64 {
    if x < 2 { u64::from(x) } else { fib(x - 1) + fib(x - 2) }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}
