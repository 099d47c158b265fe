//! The netcat client of *The Go Programming Language*, section 8.4.1
//! (gopl.io/ch8/netcat3), ported to gort, with exercise 8.3 done.
//!
//! It connects to a TCP server, copies its input to the connection and the
//! connection to its output, at the same time, until both are done. It is
//! the client for the clock, reverb, chat and echo examples:
//!
//! ```text
//! $ cargo run --release --example netcat -- localhost:8000
//! Hello?
//!      HELLO?
//!      Hello?
//!      hello?
//! ^D
//! ```
//!
//! It shows:
//!
//! - two copies running at once, one per direction: a goroutine copies the
//!   connection to the output (Go's `io.Copy(os.Stdout, conn)`) while the
//!   input is copied to the connection;
//! - a `done` channel: the copying goroutine sends on it when the server
//!   has closed its side, and the main goroutine waits for that before it
//!   returns, so that no output is lost;
//! - a half close (exercise 8.3): at the end of the input the main
//!   goroutine shuts down the write half of the connection,
//!   `shutdown(Shutdown::Write)` (Go's `CloseWrite`), and keeps reading
//!   what the server still sends, such as reverb's late echoes. The book's
//!   netcat3 closes the whole connection instead, which drops them;
//! - a blocking read on a plain thread: reading stdin blocks its thread,
//!   and in gort that would hold a worker, so a `std::thread::spawn` thread
//!   copies the input to the connection (a gort `TcpStream` works on plain
//!   threads too: it blocks them) and sends the result on a channel to the
//!   main goroutine, which waits on it as it would on a goroutine.
//!
//! The connection carries bytes, which need not be UTF-8, so the output is
//! not sent as text through `support/run_main.rs` as in the other examples:
//! `run` has its own small loop that writes byte chunks to `out`. Go's
//! program also logs `done` to stderr when the server closes; this one
//! does not.
//!
//! ```text
//! cargo run --release --example netcat                    # to localhost:8000
//! cargo run --release --example netcat -- 127.0.0.1:9000
//! ```

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use gort::net::TcpStream;
use gort::prelude::*;

#[allow(dead_code)] // tests/net_examples.rs includes this file as a module and calls `run`
fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    run(&args, io::stdin(), &mut io::stdout())
}

/// Runs the program. `args` is `[ADDR]`, the server's address
/// (`localhost:8000` if absent). It copies `input` to the server and what
/// the server sends to `out`, and returns once the input has ended and the
/// server has closed its side.
///
/// The program runs as the main goroutine of `gort::run` on a thread of
/// its own, and sends what it prints to this thread, which owns `out` and
/// writes it as it comes.
pub fn run(args: &[String], input: impl Read + Send + 'static, out: &mut dyn Write) -> io::Result<()> {
    let addr = args.first().cloned().unwrap_or_else(|| "localhost:8000".to_string());
    let stdout = chan::<Vec<u8>>(0);
    let (printer, closer) = (stdout.sender(), stdout.sender());
    let main_thread = std::thread::spawn(move || {
        let ended = panic::catch_unwind(AssertUnwindSafe(|| gort::run(move || netcat(&addr, input, printer))));
        closer.close(); // the main goroutine returned (or panicked): nothing more to print
        ended
    });
    let mut written = Ok(());
    for bytes in &stdout {
        if written.is_ok() {
            written = out.write_all(&bytes).and_then(|()| out.flush());
        }
    }
    match main_thread.join() {
        Ok(Ok(result)) => result.and(written),
        Ok(Err(payload)) | Err(payload) => panic::resume_unwind(payload),
    }
}

/// Go's `main`.
fn netcat(addr: &str, input: impl Read + Send + 'static, stdout: Sender<Vec<u8>>) -> io::Result<()> {
    let conn = Arc::new(TcpStream::connect(addr)?);

    let done = chan::<()>(0);
    let (from, signal) = (Arc::clone(&conn), done.sender());
    go!(move || {
        let _ = io::copy(&mut &*from, &mut Stdout(stdout)); // NOTE: ignoring errors
        signal.send(()); // signal the main goroutine
    });

    // Go: mustCopy(conn, os.Stdin), here on a plain thread, which reports
    // how the copy ended on a channel (room for it, so the thread never
    // waits for the main goroutine).
    let copied = chan::<io::Result<u64>>(1);
    let (to, report) = (Arc::clone(&conn), copied.sender());
    std::thread::spawn(move || {
        let mut input = input;
        report.send(io::copy(&mut input, &mut &*to));
    });
    let copied = copied.recv().expect("the copying thread reports how the copy ended");

    let result = match copied {
        // Go (exercise 8.3): conn.(*net.TCPConn).CloseWrite(). It fails
        // only if the connection is already gone, and then the goroutine's
        // copy is over too.
        Ok(_) => {
            let _ = conn.shutdown(Shutdown::Write);
            Ok(())
        }
        // Go's mustCopy exits the program. Here the whole connection is
        // shut down, which ends the goroutine's copy, and the error is
        // returned once it has.
        Err(err) => {
            let _ = conn.shutdown(Shutdown::Both);
            Err(err)
        }
    };
    done.recv(); // wait for background goroutine to finish
    result
}

/// The program's standard output as a `Write`: each write sends its bytes
/// to the thread that writes `out` (Go's `os.Stdout`).
struct Stdout(Sender<Vec<u8>>);

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.send(buf.to_vec());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
