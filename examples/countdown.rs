//! The rocket launch countdown of *The Go Programming Language*, section
//! 8.7 (gopl.io/ch8/countdown3), ported to gort.
//!
//! It counts down from 10, one tick a second, and launches, unless return
//! is pressed first; then it aborts:
//!
//! ```text
//! Commencing countdown.  Press return to abort.
//! 10
//! 9
//! Launch aborted!
//! ```
//!
//! It shows:
//!
//! - `select!` multiplexing two channels, a `gort::time::Ticker`'s and the
//!   abort channel: whichever is ready first decides;
//! - a blocking read on a plain thread that talks to the goroutines over a
//!   channel. Go reads stdin in a goroutine; in gort a blocking read would
//!   hold a worker thread, so a `std::thread::spawn` thread reads, and
//!   sends on `abort` as a goroutine would;
//! - a `Ticker` stopped when the countdown ends, early or not, where Go's
//!   program uses `time.Tick`, which the book warns leaks when the loop
//!   ends early.
//!
//! One difference from Go: at the end of the input (for example with
//! `</dev/null`), Go's `os.Stdin.Read` returns at once and the launch
//! aborts. Here only a byte read aborts, so the end of the input means "no
//! abort".
//!
//! ```text
//! cargo run --release --example countdown            # 10 ticks of 1 s
//! cargo run --release --example countdown -- 3 200   # 3 ticks of 200 ms
//! ```

use std::io::{self, BufRead, Write};
use std::str::FromStr;
use std::time::Duration;

use gort::prelude::*;
use gort::time::Ticker;

#[path = "support/run_main.rs"]
mod support;
use support::run_main;

#[allow(dead_code)] // tests/examples.rs includes this file as a module and calls `run`
fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    run(&args, io::BufReader::new(io::stdin()), &mut io::stdout())
}

/// Runs the program. `args` is `[COUNT [TICK_MS]]`: where the countdown
/// starts (10 if absent) and the time between ticks in milliseconds (1000
/// if absent). A byte read from `input` aborts the launch.
pub fn run(args: &[String], input: impl BufRead + Send + 'static, out: &mut dyn Write) -> io::Result<()> {
    let count: u32 = arg(args, 0, 10)?;
    let tick_ms: u64 = arg(args, 1, 1000)?;
    if tick_ms == 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "TICK_MS must be at least 1"));
    }
    let period = Duration::from_millis(tick_ms);
    run_main(out, move |stdout| countdown(count, period, input, &stdout))
}

/// Go's `main`.
fn countdown(count: u32, period: Duration, input: impl BufRead + Send + 'static, stdout: &Sender<String>) {
    // Room for one value, so that the reader never waits on a countdown
    // that has ended (Go's is unbuffered).
    let abort = chan::<()>(1);
    let tx = abort.sender();
    std::thread::spawn(move || {
        let mut input = input;
        if let Ok(1) = io::Read::read(&mut input, &mut [0u8]) {
            // read a single byte
            tx.send(());
        }
    });

    stdout.send("Commencing countdown.  Press return to abort.\n".to_string());
    let ticker = Ticker::new(period);
    for countdown in (1..=count).rev() {
        stdout.send(format!("{countdown}\n"));
        select! {
            recv(ticker.channel()) -> _ => {} // do nothing
            recv(&abort) -> _ => {
                ticker.stop();
                stdout.send("Launch aborted!\n".to_string());
                return;
            }
        }
    }
    ticker.stop();
    launch(stdout);
}

fn launch(stdout: &Sender<String>) {
    stdout.send("Lift off!\n".to_string());
}

/// The `i`th argument, or `default` if there are fewer.
fn arg<T: FromStr>(args: &[String], i: usize, default: T) -> io::Result<T> {
    match args.get(i) {
        None => Ok(default),
        Some(arg) => {
            arg.parse().map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, format!("not a number: {arg:?}")))
        }
    }
}
