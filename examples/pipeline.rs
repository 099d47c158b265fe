//! The pipeline of *The Go Programming Language*, section 8.4.3
//! (gopl.io/ch8/pipeline3), ported to gort.
//!
//! Three goroutines are connected by two unbuffered channels: `counter`
//! sends 0, 1, ..., 99 on `naturals`, `squarer` receives each number and
//! sends its square on `squares`, and `printer`, on the main goroutine,
//! prints the squares one per line. It shows:
//!
//! - unidirectional channel types: each stage takes a `Sender<i64>` (Go's
//!   `chan<- int`) or a `Receiver<i64>` (`<-chan int`), so a stage cannot
//!   receive from its output, nor send on or close its input;
//! - closing a channel to tell the next stage that no more values come, and
//!   ranging over a channel (`for v in &input`) until it is closed and
//!   drained;
//! - unbuffered channels: every send waits until the next stage has taken
//!   the value, so the three stages run in lock step.
//!
//! ```text
//! cargo run --release --example pipeline
//! ```

use gort::prelude::*;

/// Sends 0..100 on `out`, then closes it.
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

/// Prints every value received on `input`, until it is closed and drained.
fn printer(input: Receiver<i64>) {
    for v in &input {
        println!("{v}");
    }
}

fn main() {
    gort::run(|| {
        let naturals: Chan<i64> = chan(0);
        let squares: Chan<i64> = chan(0);

        // Go converts `chan int` to `chan<- int` or `<-chan int` at the call.
        // In gort, sender() and receiver() make a directional handle to the
        // same channel, and into() turns a `Chan` handle into one. The
        // handles are made before go!, because go!(f(x)) evaluates its
        // arguments in the new goroutine (docs/goroutines.md).
        let out = naturals.sender();
        go!(counter(out));
        let out = squares.sender();
        let input: Receiver<i64> = naturals.into();
        go!(squarer(out, input));
        printer(squares.into());
    });
}
