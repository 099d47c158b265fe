//! The concurrent clock server of *The Go Programming Language*, section
//! 8.2 (gopl.io/ch8/clock2), ported to gort.
//!
//! It listens on a TCP address and writes the time to every client, once
//! a second, until the client goes away:
//!
//! ```text
//! $ nc localhost 8000
//! 13:58:54
//! 13:58:55
//! 13:58:56
//! ^C
//! ```
//!
//! It shows:
//!
//! - a server loop over `gort::net::TcpListener::accept`, which parks the
//!   goroutine until a client connects, not the thread;
//! - one goroutine per connection, `go!(handle_conn(conn, interval))`, so
//!   that many clients are served at once. Without the `go!` (the book's
//!   clock1) a second client waits until the first has left;
//! - a write error ending a connection's goroutine: when the client goes
//!   away, the next write fails (std ignores `SIGPIPE` and writes with
//!   `MSG_NOSIGNAL`, so the process does not die).
//!
//! Go's program formats the local time; this one prints UTC, computed from
//! `SystemTime` without a time zone database. The optional second argument,
//! the time between lines in milliseconds, is this port's, so that a test
//! does not wait seconds.
//!
//! ```text
//! cargo run --release --example clock                       # localhost:8000, every second
//! cargo run --release --example clock -- 127.0.0.1:9000 100 # every 100 ms
//! cargo run --release --example netcat                      # in another terminal (or nc localhost 8000)
//! ```

use std::io::{self, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gort::net::{TcpListener, TcpStream};
use gort::prelude::*;

#[allow(dead_code)] // tests/net_examples.rs includes this file as a module and calls `serve`
fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    run(&args)
}

/// Runs the server. `args` is `[ADDR [INTERVAL_MS]]`: the address to
/// listen on (`localhost:8000` if absent) and the time between two lines in
/// milliseconds (1000 if absent). It serves until the process is killed.
#[allow(dead_code)] // the tests call `serve` with a listener of their own
pub fn run(args: &[String]) -> io::Result<()> {
    let addr = args.first().map_or("localhost:8000", String::as_str);
    let interval = match args.get(1) {
        None => Duration::from_secs(1),
        Some(arg) => match arg.parse::<u64>() {
            Ok(ms) if ms > 0 => Duration::from_millis(ms),
            _ => return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("INTERVAL_MS: {arg:?}"))),
        },
    };
    let listener = TcpListener::bind(addr)?;
    gort::run(move || serve(listener, interval));
    Ok(())
}

/// Go's `main` after `net.Listen`: accepts connections for ever and
/// serves each in its own goroutine, writing the time every `interval`.
/// Call it on a goroutine.
pub fn serve(listener: TcpListener, interval: Duration) {
    loop {
        match listener.accept() {
            Ok((conn, _)) => {
                go!(handle_conn(conn, interval)); // handle connections concurrently
            }
            Err(err) => eprintln!("clock: {err}"), // e.g., connection aborted
        }
    }
}

/// Writes the time to `c` every `interval`, until a write fails.
fn handle_conn(mut c: TcpStream, interval: Duration) {
    loop {
        let line = format!("{}\n", clock_time(SystemTime::now()));
        if c.write_all(line.as_bytes()).is_err() {
            return; // e.g., client disconnected
        }
        gort::time::sleep(interval);
    }
    // c is closed when dropped (Go: defer c.Close()).
}

/// The time of day of `t` in UTC, as `HH:MM:SS` (Go's
/// `t.UTC().Format("15:04:05")`).
pub fn clock_time(t: SystemTime) -> String {
    const DAY: u64 = 24 * 60 * 60;
    let seconds_of_day = match t.duration_since(UNIX_EPOCH) {
        Ok(since) => since.as_secs() % DAY,
        Err(before) => {
            // Before 1970: count back from midnight, rounding down to the
            // second as the clock does after 1970 (0.5 s before is 23:59:59).
            let before = before.duration();
            let back = before.as_secs() + u64::from(before.subsec_nanos() > 0);
            (DAY - back % DAY) % DAY
        }
    };
    let (hours, minutes, seconds) = (seconds_of_day / 3600, seconds_of_day % 3600 / 60, seconds_of_day % 60);
    format!("{hours:02}:{minutes:02}:{seconds:02}")
}
