//! The second pipeline of *The Go Programming Language*, section 8.4.2
//! (gopl.io/ch8/pipeline2), ported to gort.
//!
//! The counter sends 0 to 99 on `naturals` and closes it; the squarer
//! ranges over `naturals`, sends each square on `squares`, and closes
//! `squares` when `naturals` is closed and drained; the printer ranges over
//! `squares`. So every stage, and the program, ends. It shows:
//!
//! - closing a channel to tell the receivers that no more values will
//!   come: `close()` is Go's `close(ch)`;
//! - ranging over a channel, `for x in &ch`, Go's `for x := range ch`: the
//!   loop ends once the channel is closed and drained;
//! - the stages as closures moved into `go!`, each with its own handles to
//!   the channels (a `Chan` handle clones cheaply, and the clones are the
//!   same channel).
//!
//! The printer runs on the thread that called `run`, which owns `out`: a
//! channel's ends can be goroutines or plain threads. In Go it is the main
//! goroutine.
//!
//! ```text
//! cargo run --release --example pipeline2
//! ```

use std::io::{self, Write};

use gort::prelude::*;

#[allow(dead_code)] // tests/examples.rs includes this file as a module and calls `run`
fn main() -> io::Result<()> {
    run(&mut io::stdout())
}

/// Runs the program: prints the squares of 0 to 99 on `out`.
pub fn run(out: &mut dyn Write) -> io::Result<()> {
    let naturals = chan::<i64>(0);
    let squares = chan::<i64>(0);

    // Counter
    let tx = naturals.clone();
    go!(move || {
        for x in 0..100 {
            tx.send(x);
        }
        tx.close();
    });

    // Squarer: `naturals` itself moves in, as only the squarer uses it now.
    let (rx, tx) = (naturals, squares.clone());
    go!(move || {
        for x in &rx {
            tx.send(x * x);
        }
        tx.close();
    });

    // Printer (on this thread; in Go, in the main goroutine)
    for x in &squares {
        writeln!(out, "{x}")?;
    }
    Ok(())
}
