//! A TCP echo server: the gort side of the Go vs gort network comparison
//! (Go's is `go-compare serve-echo ADDR` in benches/compare/go/main.go).
//!
//! It accepts connections for ever and runs one goroutine per connection
//! that copies every byte it reads back to the peer, until the peer closes
//! its side:
//!
//! ```text
//! $ nc localhost 8000
//! hello
//! hello
//! ```
//!
//! It shows the smallest goroutine-per-connection server: the copy is
//! plain blocking code, `io::copy(&mut &conn, &mut &conn)` (Go's
//! `io.Copy(conn, conn)`), and each read or write that would block parks
//! the goroutine on the netpoller while the worker thread runs the others.
//! `Read` and `Write` are implemented for `&TcpStream`, so the one
//! connection is both the source and the destination. Each connection sets
//! `TCP_NODELAY`, so that small echoes leave at once instead of waiting for
//! Nagle's algorithm (Go sets it by default).
//!
//! It prints the address it listens on to stderr, which helps with port 0:
//!
//! ```text
//! cargo run --release --example echo                      # localhost:8000
//! cargo run --release --example echo -- 127.0.0.1:0       # a free port
//! GORT_WORKERS=2 cargo run --release --example echo -- 127.0.0.1:9000
//! ```

use std::io;

use gort::net::{TcpListener, TcpStream};
use gort::prelude::*;

#[allow(dead_code)] // tests/net_examples.rs includes this file as a module and calls `serve`
fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    run(&args)
}

/// Runs the server. `args` is `[ADDR]`, the address to listen on
/// (`localhost:8000` if absent). It serves until the process is killed.
#[allow(dead_code)] // the tests call `serve` with a listener of their own
pub fn run(args: &[String]) -> io::Result<()> {
    let addr = args.first().map_or("localhost:8000", String::as_str);
    let listener = TcpListener::bind(addr)?;
    eprintln!("echo server listening on {}", listener.local_addr()?);
    gort::run(move || serve(listener));
    Ok(())
}

/// Accepts connections for ever and echoes each in its own goroutine.
/// Call it on a goroutine.
pub fn serve(listener: TcpListener) {
    loop {
        match listener.accept() {
            Ok((conn, _)) => {
                go!(handle_conn(conn));
            }
            Err(err) => eprintln!("echo: {err}"), // e.g., connection aborted
        }
    }
}

/// Copies what `conn` reads back to it, until the peer closes its side or
/// the connection fails; then `conn` is dropped, which closes it.
fn handle_conn(conn: TcpStream) {
    if conn.set_nodelay(true).is_err() {
        return; // the connection is already gone
    }
    let _ = io::copy(&mut &conn, &mut &conn); // ends with the connection, however it ends
}
