//! An HTTP/1.1 "Hello, World!" server on goroutines, with a graceful
//! shutdown: the gort side of the HTTP comparison (Go's is `go-compare
//! serve-http ADDR` in benches/compare/go/main.go, on net/http).
//!
//! Every request gets `200 OK` and the body `Hello, World!`:
//!
//! ```text
//! $ curl -i http://127.0.0.1:8080/
//! HTTP/1.1 200 OK
//! Content-Type: text/plain; charset=utf-8
//! Content-Length: 13
//!
//! Hello, World!
//! ```
//!
//! It shows:
//!
//! - one goroutine per connection, written as plain blocking code: each
//!   read or write that would block parks the goroutine on the netpoller,
//!   not the worker thread, so thousands of keep-alive connections cost
//!   thousands of small goroutine stacks, not thousands of threads;
//! - HTTP/1.1 framing over a per-connection buffer, parsed with `httparse`:
//!   a request split across reads waits for the rest, several pipelined
//!   requests in one read are answered in order (in one write), bodies
//!   announced by `Content-Length` are skipped, `Connection: close` and
//!   HTTP/1.0 without `Connection: keep-alive` close after the response,
//!   and a malformed request gets `400 Bad Request` and the connection
//!   closes;
//! - a graceful shutdown through a `gort::context::Context`, as Go's
//!   `http.Server.Shutdown`: when the context is cancelled, [`serve`]
//!   stops accepting (it closes the listener, Go's `l.Close()`, which
//!   wakes the accept loop's goroutine with an error), lets every
//!   connection finish the request it is receiving or answering (that
//!   answer says `Connection: close`), closes the idle keep-alive
//!   connections, and returns once every connection's goroutine has ended
//!   (a `WaitGroup`). Connections read with a 100 ms timeout, so that an
//!   idle one notices the cancellation;
//! - signals as channel values: `main` cancels the context when
//!   `gort::signal::notify` delivers SIGINT (^C) or SIGTERM, Go's
//!   `signal.Notify`. A second signal exits at once.
//!
//! It prints the address it listens on to stderr:
//!
//! ```text
//! cargo run --release --example http_hello -- 127.0.0.1:8080   # the default address
//! cargo run --release --example http_hello -- 127.0.0.1:0      # a free port
//! curl -i http://127.0.0.1:8080/
//! curl -v http://127.0.0.1:8080/a http://127.0.0.1:8080/b      # two requests, one connection
//! wrk -t2 -c64 -d10s http://127.0.0.1:8080/                    # load (GORT_WORKERS sets the threads)
//! ```
//!
//! ^C (or `kill PID`) then stops it gracefully: wrk's connections get the
//! answers to the requests they had sent, then are closed.
//!
//! # Embedding
//!
//! `main` runs [`serve`] on gort's default runtime with `gort::run`. A
//! larger program, whose `main` does other things on threads of its own,
//! builds a runtime of its own instead, sized to the share of the machine
//! the server gets, and starts the server on it from any thread:
//!
//! ```rust,no_run
//! # mod http_hello { pub fn serve(_: gort::net::TcpListener, _: gort::context::Context) -> std::io::Result<()> { Ok(()) } }
//! use std::time::Duration;
//!
//! use gort::context;
//! use gort::net::TcpListener;
//!
//! fn main() -> std::io::Result<()> {
//!     let rt = gort::Runtime::builder().workers(4).build()?; // 4 worker threads
//!     let listener = TcpListener::bind("127.0.0.1:8080")?;
//!     let (ctx, cancel) = context::with_cancel(&context::background());
//!     // From this thread or any other: the server runs on rt's workers.
//!     let server = rt.spawn(move || http_hello::serve(listener, ctx));
//!
//!     // ... the rest of the program, on its own threads ...
//!
//!     cancel(); // graceful shutdown
//!     server.join().expect("the server does not panic")?; // blocks this thread
//!     rt.shutdown_timeout(Duration::from_secs(5));
//!     Ok(())
//! }
//! ```
//!
//! When the server is the whole program, `rt.block_on(move ||
//! http_hello::serve(listener, ctx))?` runs it as the runtime's main
//! goroutine and blocks `main` until it returns. docs/servers.md has more.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::context::{self, Context};
use gort::net::{TcpListener, TcpStream};
use gort::prelude::*;
use gort::sync::WaitGroup;

/// What every request gets.
const BODY: &[u8] = b"Hello, World!";

/// The headers of every 200 response, after its status line; the
/// `Content-Length` is `BODY`'s (checked below).
const HELLO_HEADERS: &[u8] = b"Content-Type: text/plain; charset=utf-8\r\nContent-Length: 13\r\n";
const _: () = assert!(BODY.len() == 13, "HELLO_HEADERS states the length of BODY");

/// How long a connection's read waits before it looks at the context: the
/// longest an idle keep-alive connection keeps the shutdown waiting is
/// about twice this.
const POLL: Duration = Duration::from_millis(100);

/// How long a request may take to arrive once it has begun (Go's
/// `ReadHeaderTimeout`); a slower client is disconnected.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// After a response that closes the connection, how long the server keeps
/// reading (and discarding) what the client still sends before it closes:
/// closing with unread input would send a reset, which may destroy the
/// response before the client reads it (Go's `rstAvoidanceDelay`).
const LINGER: Duration = Duration::from_millis(500);

/// The largest request head (request line and headers) accepted.
const MAX_HEAD: usize = 16 * 1024;

/// The most headers a request may have.
const MAX_HEADERS: usize = 64;

/// The largest request body accepted (it is read and discarded).
const MAX_BODY: usize = 1 << 20;

/// How much each read asks for.
const READ_SIZE: usize = 4096;

const BAD_REQUEST: &str = "400 Bad Request";
const CONTENT_TOO_LARGE: &str = "413 Content Too Large";
const HEADERS_TOO_LARGE: &str = "431 Request Header Fields Too Large";
const NOT_IMPLEMENTED: &str = "501 Not Implemented";

#[allow(dead_code)] // tests/http_hello.rs includes this file as a module and calls `serve`
fn main() -> io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| String::from("127.0.0.1:8080"));
    let listener = TcpListener::bind(addr.as_str())?;
    eprintln!("http_hello listening on http://{}", listener.local_addr()?);

    let (ctx, cancel) = context::with_cancel(&context::background());
    // From here on SIGINT and SIGTERM arrive on this channel instead of
    // killing the process.
    let signals = gort::signal::notify(&[libc::SIGINT, libc::SIGTERM]);
    gort::run(move || {
        go!(move || {
            if let Some(sig) = signals.recv() {
                eprintln!("http_hello: signal {sig}: shutting down (again to exit at once)");
                cancel();
            }
            if signals.recv().is_some() {
                eprintln!("http_hello: second signal: exiting");
                std::process::exit(1);
            }
        });
        serve(listener, ctx)
    })?;
    eprintln!("http_hello: every connection has ended");
    Ok(())
}

/// Serves HTTP on `listener` until `ctx` is cancelled, then shuts down
/// gracefully: stops accepting, lets each connection finish the request in
/// flight, closes idle connections, and returns once every connection's
/// goroutine has ended. Call it on a goroutine.
///
/// # Errors
///
/// When accepting fails for a reason other than the shutdown or a client
/// that gave up while it was being accepted. The server then stops as if
/// `ctx` had been cancelled, and the connections already accepted are
/// still waited for.
pub fn serve(listener: TcpListener, ctx: Context) -> io::Result<()> {
    // A context of the server's own: cancelled with `ctx`, and also when the
    // accept loop fails, so that the wait below always ends.
    let (ctx, stop) = context::with_cancel(&ctx);
    let listener = Arc::new(listener);
    let conns = WaitGroup::new();

    let acceptor = {
        let (listener, ctx, conns) = (Arc::clone(&listener), ctx.clone(), conns.clone());
        go!(move || {
            let _stop = Defer(move || stop()); // when the loop ends, even by a panic
            accept_loop(&listener, &ctx, &conns)
        })
    };

    // Wait for the shutdown, then stop accepting: Go's `l.Close()`. The
    // accept loop's goroutine wakes with an error and ends.
    let _ = ctx.done().recv();
    let closed = listener.close();
    let accepted = acceptor.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_inner()));
    // Every `add` was made by the accept loop, which has ended.
    conns.wait();
    accepted.and(closed)
}

/// Accepts connections and serves each in its own goroutine, until
/// accepting fails: because `serve` closed the listener (`Ok`), or for
/// good (`Err`).
fn accept_loop(listener: &TcpListener, ctx: &Context, conns: &WaitGroup) -> io::Result<()> {
    loop {
        match listener.accept() {
            Ok((conn, _)) => {
                conns.add(1);
                let (ctx, conns) = (ctx.clone(), conns.clone());
                go!(move || {
                    let _done = Defer(move || conns.done()); // runs last, after the connection is closed
                    handle_conn(conn, &ctx);
                });
            }
            Err(_) if ctx.is_cancelled() => return Ok(()), // the listener is closed
            // A client that gave up before it was accepted: not the server's failure.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Calls its function when dropped, also when a panic unwinds: Go's
/// `defer`, as in `defer wg.Done()`.
struct Defer<F: FnMut()>(F);

impl<F: FnMut()> Drop for Defer<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// How a conversation with a client ends.
enum End {
    /// The client closed its side, or the connection was idle at shutdown,
    /// or too slow: close it.
    Close,
    /// The last response said `Connection: close`: close gracefully.
    Answered,
}

/// Serves one connection until it ends, then closes it.
fn handle_conn(conn: TcpStream, ctx: &Context) {
    // Accepted after the shutdown began, before the listener was closed:
    // closed without an answer, as if the listener had been closed first.
    if ctx.is_cancelled() {
        return;
    }
    // Go sets TCP_NODELAY too: a response leaves at once, whatever is unacknowledged.
    if conn.set_nodelay(true).is_err() || conn.set_read_timeout(Some(POLL)).is_err() {
        return; // the connection is already gone
    }
    match converse(&conn, ctx) {
        Ok(End::Answered) => linger(&conn),
        // An error (a reset, a broken pipe) ends the connection as its end does.
        Ok(End::Close) | Err(_) => {}
    }
    // `conn` is dropped here, which closes it.
}

/// Reads requests from `conn` into a buffer and answers each, until the
/// client closes, a response closes the connection, or the connection is
/// idle once `ctx` is cancelled.
fn converse(conn: &TcpStream, ctx: &Context) -> io::Result<End> {
    let mut input: Vec<u8> = Vec::with_capacity(READ_SIZE); // received, not yet answered
    let mut output: Vec<u8> = Vec::with_capacity(READ_SIZE); // answers not yet written
    // About when the request at the front of `input` began to arrive.
    let mut since = Instant::now();
    // Whether a whole read timeout has passed with nothing received since
    // the cancellation was seen.
    let mut idle_at_shutdown = false;
    loop {
        // Answer every whole request received: several when the client
        // pipelines them, none when the first is still arriving.
        let shutting_down = ctx.is_cancelled();
        let mut answered = false;
        loop {
            match parse(&input) {
                Parsed::Partial => break,
                Parsed::Request(req) => {
                    // At shutdown, the request in flight is answered, and
                    // the answer says that the connection closes.
                    let keep_alive = req.keep_alive && !shutting_down;
                    hello_response(&mut output, &req, keep_alive);
                    input.drain(..req.len);
                    if !keep_alive {
                        write_all(conn, &output)?;
                        return Ok(End::Answered);
                    }
                    answered = true;
                }
                Parsed::Error(status) => {
                    error_response(&mut output, status);
                    write_all(conn, &output)?;
                    return Ok(End::Answered);
                }
            }
        }
        // Send the answers before waiting for more: the client may be
        // waiting for them.
        if !output.is_empty() {
            write_all(conn, &output)?;
            output.clear();
        }
        if answered || input.is_empty() {
            since = Instant::now();
        }

        match read_more(conn, &mut input) {
            Ok(0) => return Ok(End::Close), // the client closed its side
            Ok(_) => idle_at_shutdown = false,
            Err(e) if is_timeout(&e) => {
                if input.is_empty() && ctx.is_cancelled() {
                    // Idle at shutdown. The first time, read once more: a
                    // request sent before the cancellation but not read
                    // yet still gets its answer.
                    if idle_at_shutdown {
                        return Ok(End::Close);
                    }
                    idle_at_shutdown = true;
                }
                // A request in flight is waited for, at shutdown too.
            }
            Err(e) => return Err(e),
        }
        if !input.is_empty() && since.elapsed() > REQUEST_TIMEOUT {
            return Ok(End::Close); // too slow a client
        }
    }
}

/// What a whole request at the front of the buffer needs of the answer.
struct Request {
    /// Its length in the buffer, head and body.
    len: usize,
    /// 1 for HTTP/1.1, 0 for HTTP/1.0.
    version: u8,
    /// A `HEAD` request: the same headers, no body.
    head: bool,
    /// Whether the client asks to keep the connection open.
    keep_alive: bool,
}

/// The front of a connection's buffer.
enum Parsed {
    /// A request still arriving (or nothing yet).
    Partial,
    /// A whole request.
    Request(Request),
    /// A request that gets this error status, and the connection closes.
    Error(&'static str),
}

/// Parses the request at the front of `input` with httparse.
fn parse(input: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(input) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if input.len() > MAX_HEAD => return Parsed::Error(HEADERS_TOO_LARGE),
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => return Parsed::Error(HEADERS_TOO_LARGE),
        Err(_) => return Parsed::Error(BAD_REQUEST),
    };
    let version = req.version.unwrap_or(1);
    // HTTP/1.1 keeps the connection open unless told otherwise; HTTP/1.0
    // closes it unless told otherwise.
    let mut keep_alive = version == 1;
    let mut body_len: Option<usize> = None;
    for header in req.headers.iter() {
        if header.name.eq_ignore_ascii_case("connection") {
            for option in header.value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                if option.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if option.eq_ignore_ascii_case(b"keep-alive") && version == 0 {
                    keep_alive = true;
                }
            }
        } else if header.name.eq_ignore_ascii_case("content-length") {
            match content_length(header.value) {
                // Two different lengths: which one frames the body is unknowable.
                Some(len) if body_len.is_none_or(|l| l == len) => body_len = Some(len),
                _ => return Parsed::Error(BAD_REQUEST),
            }
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked bodies are beyond this example.
            return Parsed::Error(NOT_IMPLEMENTED);
        }
    }
    let body_len = body_len.unwrap_or(0);
    if body_len > MAX_BODY {
        return Parsed::Error(CONTENT_TOO_LARGE);
    }
    if input.len() - head_len < body_len {
        return Parsed::Partial; // the body is still arriving
    }
    Parsed::Request(Request { len: head_len + body_len, version, head: req.method == Some("HEAD"), keep_alive })
}

/// A `Content-Length` value: digits only.
fn content_length(value: &[u8]) -> Option<usize> {
    let digits = value.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Appends the answer to `req` to `out`.
fn hello_response(out: &mut Vec<u8>, req: &Request, keep_alive: bool) {
    let status: &[u8] = if req.version == 0 { b"HTTP/1.0 200 OK\r\n" } else { b"HTTP/1.1 200 OK\r\n" };
    out.extend_from_slice(status);
    out.extend_from_slice(HELLO_HEADERS);
    if !keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if req.version == 0 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !req.head {
        out.extend_from_slice(BODY);
    }
}

/// Appends an error response with `status` (`"400 Bad Request"`, ...),
/// which closes the connection, to `out`.
fn error_response(out: &mut Vec<u8>, status: &str) {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{status}\n",
        status.len() + 1
    );
    out.extend_from_slice(response.as_bytes());
}

/// Reads what has arrived (waiting up to the read timeout) onto the end of
/// `input`; returns how much, 0 at the end of the client's input.
fn read_more(mut conn: &TcpStream, input: &mut Vec<u8>) -> io::Result<usize> {
    let len = input.len();
    input.resize(len + READ_SIZE, 0);
    let read = conn.read(&mut input[len..]);
    input.truncate(len + read.as_ref().map_or(0, |&n| n));
    read
}

fn write_all(mut conn: &TcpStream, bytes: &[u8]) -> io::Result<()> {
    conn.write_all(bytes)
}

/// Whether a read failed because its timeout passed.
fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock)
}

/// Closes the connection after a response that said so: shuts down the
/// sending side, so that the client reads the whole response and then the
/// end, and discards what the client still sends until it closes too, or
/// for `LINGER` at most (Go's `closeWriteAndWait`).
fn linger(mut conn: &TcpStream) {
    if conn.shutdown(Shutdown::Write).is_err() {
        return;
    }
    let deadline = Instant::now() + LINGER;
    let mut discard = [0u8; 1024];
    while Instant::now() < deadline {
        match conn.read(&mut discard) {
            Ok(0) => return, // the client has closed too
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(_) => return,
        }
    }
}
