//! The echo server with reverb of *The Go Programming Language*, section
//! 8.3 (gopl.io/ch8/reverb2), ported to gort, with exercise 8.4 done.
//!
//! For each line a client shouts, it answers three times, after a delay
//! each time: louder, as is, then quieter:
//!
//! ```text
//! $ cargo run --release --example netcat
//! Hello?
//!      HELLO?
//!      Hello?
//!      hello?
//! Is there anybody there?
//!      IS THERE ANYBODY THERE?
//! Yooo-hooo!
//!      Is there anybody there?
//!      YOOO-HOOO!
//!      is there anybody there?
//!      Yooo-hooo!
//!      yooo-hooo!
//! ^D
//! ```
//!
//! It shows:
//!
//! - a goroutine per connection, and within it a goroutine per shout, so
//!   that the echoes of several shouts overlap (the book's reverb1 echoes
//!   one shout at a time);
//! - several goroutines writing to one connection: each writes through a
//!   shared `&TcpStream` (`Write` is implemented for it), one whole line per
//!   `write_all`;
//! - a `WaitGroup` counting the shouts still echoing (exercise 8.4): when
//!   the client's input has ended and the count is zero, the server closes
//!   its write half, `shutdown(Shutdown::Write)` (Go's `CloseWrite`), and
//!   the client reads the end of the stream after the last echo. The book's
//!   reverb2 closes the whole connection at the end of the input instead,
//!   which cuts the echoes still to come.
//!
//! The lines are Go's `fmt.Fprintln(c, "\t", shout)`: a tab, a space, the
//! shout. The optional second argument, the delay in milliseconds, is this
//! port's, so that a test does not wait seconds.
//!
//! ```text
//! cargo run --release --example reverb                        # localhost:8000, 1 s delays
//! cargo run --release --example reverb -- 127.0.0.1:9000 200  # 200 ms delays
//! cargo run --release --example netcat                        # in another terminal
//! ```

use std::io::{self, BufReader, Write};
use std::net::Shutdown;
use std::sync::Arc;
use std::time::Duration;

use gort::net::{TcpListener, TcpStream};
use gort::prelude::*;
use gort::sync::WaitGroup;

#[path = "support/lines.rs"]
mod lines;
use lines::scan_line;

#[allow(dead_code)] // tests/net_examples.rs includes this file as a module and calls `serve`
fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    run(&args)
}

/// Runs the server. `args` is `[ADDR [DELAY_MS]]`: the address to listen
/// on (`localhost:8000` if absent) and the delay between the three echoes
/// of a shout in milliseconds (1000 if absent). It serves until the process
/// is killed.
#[allow(dead_code)] // the tests call `serve` with a listener of their own
pub fn run(args: &[String]) -> io::Result<()> {
    let addr = args.first().map_or("localhost:8000", String::as_str);
    let delay = match args.get(1) {
        None => Duration::from_secs(1),
        Some(arg) => match arg.parse::<u64>() {
            Ok(ms) => Duration::from_millis(ms),
            Err(_) => return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("DELAY_MS: {arg:?}"))),
        },
    };
    let listener = TcpListener::bind(addr)?;
    gort::run(move || serve(listener, delay));
    Ok(())
}

/// Go's `main` after `net.Listen`: accepts connections for ever and
/// serves each in its own goroutine, echoing shouts with `delay` between
/// the echoes. Call it on a goroutine.
pub fn serve(listener: TcpListener, delay: Duration) {
    loop {
        match listener.accept() {
            Ok((conn, _)) => {
                go!(handle_conn(conn, delay));
            }
            Err(err) => eprintln!("reverb: {err}"), // e.g., connection aborted
        }
    }
}

/// Starts an echo goroutine for each line `c` receives; once the input has
/// ended and every echo is done, closes the write half of `c`.
fn handle_conn(c: TcpStream, delay: Duration) {
    // Shared by the echo goroutines, which write, and this goroutine,
    // which reads; the socket closes when the last of them drops it.
    let c = Arc::new(c);
    let shouting = WaitGroup::new(); // the echo goroutines still running
    let mut input = BufReader::new(&*c);
    while let Some(shout) = scan_line(&mut input) {
        shouting.add(1);
        let (conn, wg) = (Arc::clone(&c), shouting.clone());
        go!(move || {
            echo(&conn, &shout, delay);
            wg.done();
        });
    }
    // NOTE: like Go's program, a read error ends the input as its end does.
    shouting.wait();
    let _ = c.shutdown(Shutdown::Write); // Go: c.(*net.TCPConn).CloseWrite(); fails only if the peer is gone
}

/// Writes `shout` to `c` three times, upper case, as is, then lower case,
/// waiting `delay` in between.
fn echo(c: &TcpStream, shout: &str, delay: Duration) {
    write_line(c, &shout.to_uppercase());
    gort::time::sleep(delay);
    write_line(c, shout);
    gort::time::sleep(delay);
    write_line(c, &shout.to_lowercase());
}

/// Go's `fmt.Fprintln(c, "\t", text)`: the whole line in one `write_all`,
/// so that the lines of concurrent echoes do not mix. Errors are ignored,
/// as in Go: a client that has gone away misses its echoes.
fn write_line(mut c: &TcpStream, text: &str) {
    let _ = c.write_all(format!("\t {text}\n").as_bytes());
}
