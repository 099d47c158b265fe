//! The first pipeline of *The Go Programming Language*, section 8.4.2
//! (gopl.io/ch8/pipeline1), ported to gort.
//!
//! Three stages are connected by two unbuffered channels: the counter
//! sends 0, 1, 2, ... on `naturals`, the squarer receives each number and
//! sends its square on `squares`, and the printer prints the squares, one
//! per line. Nothing is closed and nothing stops: as in Go, the program
//! prints squares until it is interrupted. It shows:
//!
//! - channels as the connections between goroutines;
//! - unbuffered channels: every send waits until the next stage has taken
//!   the value, so the three stages run in lock step;
//! - the two ends of a channel on a goroutine and on a plain thread: the
//!   printer runs on the thread that called `run`, which owns `out`. In Go
//!   it is the main goroutine.
//!
//! An optional argument stops the printer after that many squares. The
//! counter and the squarer then stay parked in a send for good, as they
//! would in Go when `main` returns; gopl.io/ch8/pipeline2
//! (examples/pipeline2.rs) closes the channels so that every stage ends.
//!
//! ```text
//! cargo run --release --example pipeline1          # for ever: Ctrl-C stops it
//! cargo run --release --example pipeline1 -- 10    # the first 10 squares
//! ```

use std::io::{self, Write};

use gort::prelude::*;

#[allow(dead_code)] // tests/examples.rs includes this file as a module and calls `run`
fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    run(&args, &mut io::stdout())
}

/// Runs the program. `args` is `[LIMIT]`: how many squares to print (no
/// limit if absent).
pub fn run(args: &[String], out: &mut dyn Write) -> io::Result<()> {
    let limit: u64 = match args.first() {
        Some(arg) => arg
            .parse::<u64>()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, format!("LIMIT must be a number, not {arg:?}")))?,
        None => u64::MAX, // Go's `for { ... }`: no end in sight
    };
    let naturals = chan::<i64>(0);
    let squares = chan::<i64>(0);

    // Counter
    let tx = naturals.clone();
    go!(counter(tx));

    // Squarer
    let (rx, tx) = (naturals, squares.clone());
    go!(squarer(rx, tx));

    // Printer (on this thread; in Go, in the main goroutine)
    for _ in 0..limit {
        let x = squares.recv().unwrap_or_default(); // Go: <-squares
        writeln!(out, "{x}")?;
    }
    Ok(())
}

/// Sends 0, 1, 2, ... on `naturals`, for ever.
fn counter(naturals: Chan<i64>) {
    for x in 0.. {
        naturals.send(x);
    }
}

/// Receives numbers on `naturals` and sends their squares on `squares`,
/// for ever.
fn squarer(naturals: Chan<i64>, squares: Chan<i64>) {
    loop {
        // Go's `x := <-naturals`. The channel is never closed, so recv()
        // always returns Some; Go's zero value would be 0.
        let x = naturals.recv().unwrap_or_default();
        squares.send(x.wrapping_mul(x)); // Go's int multiplication wraps
    }
}
