//! The third pipeline of *The Go Programming Language*, section 8.4.3
//! (gopl.io/ch8/pipeline3), ported to gort: pipeline2 with unidirectional
//! channel types.
//!
//! Three stages are connected by two unbuffered channels: `counter` sends
//! 0 to 99 on `naturals`, `squarer` receives each number and sends its
//! square on `squares`, and `printer` prints the squares, one per line. It
//! shows:
//!
//! - unidirectional channel types: each stage takes a `Sender<i64>` (Go's
//!   `chan<- int`) or a `Receiver<i64>` (`<-chan int`), so a stage cannot
//!   receive from its output, nor send on or close its input;
//! - converting a `Chan` to a direction, which Go does implicitly at the
//!   call: `ch.sender()` and `ch.receiver()` make a new directional handle,
//!   and `ch.into()` turns the handle itself into one;
//! - closing and ranging, as in pipeline2: each stage closes its output
//!   when it is done, and the next stage's `for v in &input` ends.
//!
//! `printer` runs on the thread that called `run`, which owns `out`: a
//! channel's ends can be goroutines or plain threads. In Go it is the main
//! goroutine. `cargo run --release --example pipeline` runs this same
//! program (examples/pipeline.rs includes this file).
//!
//! ```text
//! cargo run --release --example pipeline3
//! ```

use std::io::{self, Write};

use gort::prelude::*;

#[allow(dead_code)] // tests/examples.rs includes this file as a module and calls `run`
fn main() -> io::Result<()> {
    run(&mut io::stdout())
}

/// Runs the program: prints the squares of 0 to 99 on `out`.
pub fn run(out: &mut dyn Write) -> io::Result<()> {
    let naturals: Chan<i64> = chan(0);
    let squares: Chan<i64> = chan(0);

    // Go: go counter(naturals); go squarer(squares, naturals); printer(squares).
    // The handles are made before go!, because go!(f(x)) evaluates f's
    // arguments in the new goroutine (docs/goroutines.md).
    let tx = naturals.sender();
    go!(counter(tx));
    let tx = squares.sender();
    let rx: Receiver<i64> = naturals.into();
    go!(squarer(tx, rx));
    printer(squares.into(), out)
}

/// Sends 0 to 99 on `out`, then closes it.
fn counter(out: Sender<i64>) {
    for x in 0..100 {
        out.send(x);
    }
    out.close();
}

/// Sends the square of every value received on `input` on `out`, and
/// closes `out` once `input` is closed and drained.
fn squarer(out: Sender<i64>, input: Receiver<i64>) {
    for v in &input {
        out.send(v * v);
    }
    out.close();
}

/// Writes every value received on `input` to `out`, one per line, until
/// `input` is closed and drained.
fn printer(input: Receiver<i64>, out: &mut dyn Write) -> io::Result<()> {
    for v in &input {
        writeln!(out, "{v}")?;
    }
    Ok(())
}
