//! The chat server of *The Go Programming Language*, section 8.10
//! (gopl.io/ch8/chat), ported to gort.
//!
//! Every line a client sends goes to every client, prefixed with the
//! sender's address; clients are told who arrives and who leaves:
//!
//! ```text
//! $ cargo run --release --example netcat
//! You are 127.0.0.1:64208               $ cargo run --release --example netcat
//! 127.0.0.1:64211 has arrived           You are 127.0.0.1:64211
//! Hi!
//! 127.0.0.1:64208: Hi!                  127.0.0.1:64208: Hi!
//!                                       Hi yourself.
//! 127.0.0.1:64211: Hi yourself.         127.0.0.1:64211: Hi yourself.
//! ^D
//!                                       127.0.0.1:64208 has left
//! ```
//!
//! It shows:
//!
//! - a broadcaster goroutine that owns the set of clients, so that no lock
//!   guards it: the other goroutines talk to it over three channels,
//!   `entering`, `leaving` and `messages`, and it `select!`s over them;
//! - channels of channels: a client is its outgoing message channel, a
//!   `Sender<String>` (Go's `chan<- string`), sent to the broadcaster on
//!   `entering` and `leaving`;
//! - per connection, a goroutine that reads the client's lines and a
//!   client-writer goroutine that writes what the broadcaster sends it, so
//!   that a client receives while it types. The broadcaster closes a
//!   leaving client's channel, which ends its writer's `for` loop.
//!
//! Differences from Go's program:
//!
//! - the three channels are made by `serve` rather than being package
//!   variables, so that each server (each test) has its own;
//! - the broadcaster keeps its clients in a `Vec`: gort channels compare
//!   by identity (`==`) but cannot be hashed, and Go's map only serves as
//!   a set;
//! - a connection's goroutine waits for its writer to end before it closes
//!   the connection, so that a leaving client gets every message sent to it
//!   (Go closes at once, and may cut the last ones).
//!
//! As in the book, one slow client slows everyone: the broadcaster waits
//! on each client's unbuffered channel in turn (exercise 8.15 is about it).
//!
//! ```text
//! cargo run --release --example chat                    # localhost:8000
//! cargo run --release --example chat -- 127.0.0.1:9000
//! cargo run --release --example netcat                  # in other terminals
//! ```

use std::io::{self, BufReader, Write};
use std::sync::Arc;

use gort::net::{TcpListener, TcpStream};
use gort::prelude::*;

#[path = "support/lines.rs"]
mod lines;
use lines::scan_line;

/// A client: its outgoing message channel (Go: `type client chan<- string`).
type Client = Sender<String>;

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
    gort::run(move || serve(listener));
    Ok(())
}

/// Go's `main` after `net.Listen`: starts the broadcaster, then accepts
/// connections for ever and serves each in its own goroutine. Call it on a
/// goroutine.
pub fn serve(listener: TcpListener) {
    let entering = chan::<Client>(0);
    let leaving = chan::<Client>(0);
    let messages = chan::<String>(0); // all incoming client messages

    // The handles are made before go!, which evaluates its call's
    // arguments in the new goroutine.
    let (e, l, m) = (entering.receiver(), leaving.receiver(), messages.receiver());
    go!(broadcaster(e, l, m));
    loop {
        match listener.accept() {
            Ok((conn, _)) => {
                let (e, l, m) = (entering.sender(), leaving.sender(), messages.sender());
                go!(handle_conn(conn, e, l, m));
            }
            Err(err) => eprintln!("chat: {err}"), // e.g., connection aborted
        }
    }
}

/// Owns the clients: adds those `entering`, removes (and closes) those
/// `leaving`, and sends every one of `messages` to every client.
fn broadcaster(entering: Receiver<Client>, leaving: Receiver<Client>, messages: Receiver<String>) {
    let mut clients: Vec<Client> = Vec::new(); // all connected clients
    loop {
        select! {
            recv(&messages) -> msg => {
                let Some(msg) = msg else { return }; // closed: no server left (never, in this program)
                // Broadcast incoming message to all clients' outgoing
                // message channels.
                for cli in &clients {
                    cli.send(msg.clone());
                }
            }
            recv(&entering) -> cli => {
                if let Some(cli) = cli {
                    clients.push(cli);
                }
            }
            recv(&leaving) -> cli => {
                if let Some(cli) = cli {
                    clients.retain(|c| *c != cli); // the same channel: == is identity
                    cli.close();
                }
            }
        }
    }
}

/// Serves one client: announces it, forwards its lines to the broadcaster
/// until its input ends, then announces its departure.
fn handle_conn(conn: TcpStream, entering: Sender<Client>, leaving: Sender<Client>, messages: Sender<String>) {
    // Go takes the address after starting the writer; here it comes first,
    // so that a connection already gone leaves no writer waiting for ever.
    let who = match conn.peer_addr() {
        Ok(addr) => addr.to_string(),
        Err(_) => return,
    };
    // Shared by this goroutine, which reads, and the writer; the socket
    // closes when both have dropped it.
    let conn = Arc::new(conn);
    let ch = chan::<String>(0); // outgoing client messages
    let (out, rx) = (Arc::clone(&conn), ch.receiver());
    let writer = go!(client_writer(out, rx));

    ch.send(format!("You are {who}"));
    messages.send(format!("{who} has arrived"));
    entering.send(ch.sender());

    let mut input = BufReader::new(&*conn);
    while let Some(line) = scan_line(&mut input) {
        messages.send(format!("{who}: {line}"));
    }
    // NOTE: like Go's program, a read error ends the input as its end does.

    leaving.send(ch.sender());
    messages.send(format!("{who} has left"));
    // The broadcaster has closed ch: the writer ends once it has written
    // what was sent to it. Then conn is dropped, which closes it.
    let _ = writer.join();
}

/// Writes each message of `ch` to `conn`, one per line, until `ch` is
/// closed.
fn client_writer(conn: Arc<TcpStream>, ch: Receiver<String>) {
    for msg in &ch {
        // NOTE: ignoring network errors. The loop goes on: the broadcaster
        // would wait for ever on a writer that stopped receiving.
        let _ = (&*conn).write_all(format!("{msg}\n").as_bytes());
    }
}
