//! The network programs of `examples/` (the Go book's chapter 8 servers
//! and its netcat client, and the benchmark's echo server), run in
//! process: each example's source is included as a module; the test starts
//! a server's `serve` on a listener bound to 127.0.0.1, port 0, and talks
//! to it with real `TcpStream` clients, or runs netcat's `run` against a
//! server of its own.

// The examples include examples/support; loaded together here, a support
// file is loaded once per example that uses it.
#![allow(clippy::duplicate_mod)]

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Cursor, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gort::net::{TcpListener, TcpStream};
use gort::prelude::*;

#[path = "support/limits.rs"]
mod limits;
use limits::within;

#[path = "../examples/chat.rs"]
mod chat;
#[path = "../examples/clock.rs"]
mod clock;
#[path = "../examples/echo.rs"]
mod echo;
#[path = "../examples/netcat.rs"]
mod netcat;
#[path = "../examples/reverb.rs"]
mod reverb;

/// How long any one test may take before it counts as hung (debug builds
/// on a loaded machine included).
const LIMIT: Duration = Duration::from_secs(60);

/// A listener on a free port of the loopback interface, and its address.
fn listen() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port on 127.0.0.1");
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

const DAY: u64 = 24 * 60 * 60;

/// The seconds since midnight, UTC, of `t` (after 1970).
fn seconds_of_day(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).expect("the clock is after 1970").as_secs() % DAY
}

/// Reads a line of the clock, checks that it is `HH:MM:SS\n`, and returns
/// the seconds since midnight it says.
fn read_clock_line(conn: &mut BufReader<TcpStream>) -> u64 {
    let mut line = String::new();
    conn.read_line(&mut line).expect("the clock writes");
    let time = line.strip_suffix('\n').unwrap_or_else(|| panic!("a whole line: {line:?}"));
    let fields: Vec<u64> = time
        .split(':')
        .map(|field| {
            assert!(field.len() == 2 && field.bytes().all(|b| b.is_ascii_digit()), "HH:MM:SS: {line:?}");
            field.parse::<u64>().unwrap()
        })
        .collect();
    assert_eq!(fields.len(), 3, "HH:MM:SS: {line:?}");
    let (hours, minutes, seconds) = (fields[0], fields[1], fields[2]);
    assert!(hours < 24 && minutes < 60 && seconds < 60, "HH:MM:SS: {line:?}");
    hours * 3600 + minutes * 60 + seconds
}

#[test]
fn clock_writes_the_time_to_each_client_every_interval() {
    // The formatting, at known times.
    assert_eq!(clock::clock_time(UNIX_EPOCH), "00:00:00");
    let afternoon = UNIX_EPOCH + Duration::from_secs(19_000 * DAY + 12 * 3600 + 34 * 60 + 56);
    assert_eq!(clock::clock_time(afternoon), "12:34:56");
    assert_eq!(clock::clock_time(UNIX_EPOCH + Duration::from_millis(DAY * 1000 - 1)), "23:59:59");
    assert_eq!(clock::clock_time(UNIX_EPOCH - Duration::from_millis(500)), "23:59:59");
    assert_eq!(clock::clock_time(UNIX_EPOCH - Duration::from_secs(DAY + 3600)), "23:00:00");

    let interval = Duration::from_millis(20);
    within(LIMIT, move || {
        gort::run(move || {
            let (listener, addr) = listen();
            go!(clock::serve(listener, interval));

            let start = Instant::now();
            let first = seconds_of_day(SystemTime::now());
            // Two clients at once: clock2 serves each in its own goroutine
            // (clock1 would serve the second only once the first had left).
            let mut a = BufReader::new(TcpStream::connect(addr).unwrap());
            let mut b = BufReader::new(TcpStream::connect(addr).unwrap());
            let mut times = Vec::new();
            for client in [&mut b, &mut a] {
                for _ in 0..3 {
                    times.push(read_clock_line(client));
                }
            }
            // b's third line comes two intervals after its first.
            assert!(start.elapsed() >= 2 * interval, "3 lines every {interval:?} came in {:?}", start.elapsed());
            let last = seconds_of_day(SystemTime::now());
            // Each line tells a time between the first and the last look
            // at the clock (a second of slack, should the clock step).
            let span = (last + DAY - first) % DAY;
            for t in times {
                assert!((t + DAY + 1 - first) % DAY <= span + 2, "{t} s is not between {first} s and {last} s");
            }

            // The clients leave (their goroutines end at their next write)
            // and the server still serves newcomers.
            drop((a, b));
            let mut c = BufReader::new(TcpStream::connect(addr).unwrap());
            read_clock_line(&mut c);
        });
    });
}

/// Serves each connection in its own goroutine, echoing bytes back until
/// the peer closes: netcat's server.
fn echo_back(listener: TcpListener) {
    loop {
        let Ok((conn, _)) = listener.accept() else { return };
        go!(move || {
            let _ = io::copy(&mut &conn, &mut &conn);
        });
    }
}

#[test]
fn netcat_copies_its_input_to_the_server_and_the_server_to_its_output() {
    // Lines, then bytes that are not UTF-8 (netcat copies bytes).
    let mut input = b"hello\nworld\n".to_vec();
    input.extend((0..65_536u32).map(|i| (i % 253) as u8));
    let expected = input.clone();
    let out = within(LIMIT, move || {
        let (listener, addr) = listen();
        gort::spawn(move || echo_back(listener));
        let mut out = Vec::new();
        netcat::run(&[addr.to_string()], Cursor::new(input), &mut out).expect("netcat ends well");
        out
    });
    // All of it came back: netcat read until the server closed, after its
    // input had ended and it had shut down its side.
    assert!(out == expected, "netcat printed {} bytes, not the {} it sent", out.len(), expected.len());
}

#[test]
fn reverb_echoes_each_shout_three_times_then_closes_its_side() {
    let shouts = ["Hello?", "Is anybody there", "Echo"];
    let (echoed, silent) = within(LIMIT, || {
        gort::run(|| {
            let (listener, addr) = listen();
            go!(reverb::serve(listener, Duration::from_millis(1)));

            // All the shouts at once (one ends with \r\n, the last with no
            // newline), then the end of the input.
            let mut conn = TcpStream::connect(addr).unwrap();
            conn.write_all(b"Hello?\nIs anybody there\r\nEcho").unwrap();
            conn.shutdown(Shutdown::Write).unwrap();
            // Ends when the server shuts down its side, after the last echo.
            let mut echoed = String::new();
            conn.read_to_string(&mut echoed).unwrap();

            // A client that says nothing gets the end of the stream at once.
            let mut quiet = TcpStream::connect(addr).unwrap();
            quiet.shutdown(Shutdown::Write).unwrap();
            let mut silent = String::new();
            quiet.read_to_string(&mut silent).unwrap();
            (echoed, silent)
        })
    });
    assert_eq!(silent, "");
    assert!(echoed.ends_with('\n'), "whole lines: {echoed:?}");
    let lines: Vec<&str> = echoed.lines().collect();
    assert_eq!(lines.len(), 3 * shouts.len(), "three echoes per shout: {echoed:?}");
    for shout in shouts {
        // Go's fmt.Fprintln(c, "\t", shout): a tab, a space, the shout.
        let at = |line: String| {
            lines.iter().position(|l| *l == line).unwrap_or_else(|| panic!("{line:?} is missing from {echoed:?}"))
        };
        let loud = at(format!("\t {}", shout.to_uppercase()));
        let as_is = at(format!("\t {shout}"));
        let quiet = at(format!("\t {}", shout.to_lowercase()));
        assert!(loud < as_is && as_is < quiet, "the echoes of {shout:?} are out of order: {echoed:?}");
    }
}

/// A chat client of the test: its connection, read a line at a time, and
/// its name, the address the server sees.
struct Chatter {
    who: String,
    conn: BufReader<TcpStream>,
}

impl Chatter {
    fn connect(addr: SocketAddr) -> Chatter {
        let conn = TcpStream::connect(addr).unwrap();
        let who = conn.local_addr().unwrap().to_string();
        Chatter { who, conn: BufReader::new(conn) }
    }

    fn say(&mut self, text: &str) {
        self.conn.get_mut().write_all(format!("{text}\n").as_bytes()).unwrap();
    }

    /// The next line, without its newline; `None` at the end of the stream.
    fn line(&mut self) -> Option<String> {
        let mut line = String::new();
        if self.conn.read_line(&mut line).unwrap() == 0 {
            return None;
        }
        assert_eq!(line.pop(), Some('\n'), "{}: a line ends with a newline: {line:?}", self.who);
        Some(line)
    }

    /// The next `n` lines.
    fn lines(&mut self, n: usize) -> Vec<String> {
        let mut lines = Vec::with_capacity(n);
        for _ in 0..n {
            match self.line() {
                Some(line) => lines.push(line),
                None => panic!("{}: the server closed after {} lines of {n}: {lines:?}", self.who, lines.len()),
            }
        }
        lines
    }
}

#[test]
fn chat_broadcasts_every_message_and_every_arrival_and_departure() {
    const CLIENTS: usize = 50;
    const MESSAGES: usize = 3;
    within(LIMIT, || {
        gort::run(|| {
            let (listener, addr) = listen();
            go!(chat::serve(listener));

            // 1. The clients join one at a time. Each says hello and waits
            // for its hello to come back, which the broadcaster sends only
            // once the client is in its set. So client i then sees the
            // arrival and the hello of every later client, and nothing of
            // the earlier ones.
            let mut clients = Vec::new();
            for _ in 0..CLIENTS {
                let mut c = Chatter::connect(addr);
                let greeting = c.line();
                assert_eq!(greeting, Some(format!("You are {}", c.who)));
                c.say("hello");
                let hello = c.line();
                assert_eq!(hello, Some(format!("{}: hello", c.who)));
                clients.push(c);
            }
            let whos: Vec<String> = clients.iter().map(|c| c.who.clone()).collect();

            // 2. All talk at once, each in its own goroutine: each sends
            // its messages, then reads what is left of the joins and every
            // message, its own included (the broadcaster sends to every
            // client).
            let talks: Vec<_> = clients
                .into_iter()
                .enumerate()
                .map(|(i, mut c)| {
                    go!(move || {
                        for m in 0..MESSAGES {
                            c.say(&format!("message {m}"));
                        }
                        let lines = c.lines(2 * (CLIENTS - 1 - i) + CLIENTS * MESSAGES);
                        (c, lines)
                    })
                })
                .collect();
            let mut said = HashMap::new(); // line -> (sender, message number)
            for (k, who) in whos.iter().enumerate() {
                for m in 0..MESSAGES {
                    said.insert(format!("{who}: message {m}"), (k, m));
                }
            }
            let mut clients = Vec::new();
            for (i, talk) in talks.into_iter().enumerate() {
                let (c, lines) = talk.join().expect("a client's goroutine does not panic");
                let (joins, talk) = lines.split_at(2 * (CLIENTS - 1 - i));
                let later: Vec<String> =
                    whos[i + 1..].iter().flat_map(|w| [format!("{w} has arrived"), format!("{w}: hello")]).collect();
                assert_eq!(joins, &later[..], "client {i} sees the later clients join, in order");
                // Every message, each sender's in the order it sent them,
                // whatever the interleaving of the senders.
                let mut next = vec![0; CLIENTS];
                for line in talk {
                    let &(k, m) = said.get(line).unwrap_or_else(|| panic!("client {i} got {line:?}"));
                    assert_eq!(m, next[k], "client {i} got {line:?} out of order");
                    next[k] += 1;
                }
                assert!(next.iter().all(|&n| n == MESSAGES), "client {i} got every message: {next:?}");
                clients.push(c);
            }

            // 3. The clients leave one at a time: each shuts down its side
            // and reads to the end of the stream, which the server closes
            // after "... has left" has gone to the others. So client i has
            // seen the departure of every earlier client, in order.
            for (i, mut c) in clients.into_iter().enumerate() {
                c.conn.get_ref().shutdown(Shutdown::Write).unwrap();
                let mut rest = Vec::new();
                while let Some(line) = c.line() {
                    rest.push(line);
                }
                let earlier: Vec<String> = whos[..i].iter().map(|w| format!("{w} has left")).collect();
                assert_eq!(rest, earlier, "client {i} sees the earlier clients leave, in order, then the end");
            }
        });
    });
}

#[test]
fn echo_sends_every_byte_back_on_each_connection() {
    within(LIMIT, || {
        gort::run(|| {
            let (listener, addr) = listen();
            go!(echo::serve(listener));

            // Round trips of 64 bytes on several connections at once.
            let clients: Vec<_> = (0..10u8)
                .map(|id| {
                    go!(move || {
                        let mut s = TcpStream::connect(addr).unwrap();
                        s.set_nodelay(true).unwrap();
                        for trip in 0..100u8 {
                            let msg = [id ^ trip; 64];
                            s.write_all(&msg).unwrap();
                            let mut back = [0u8; 64];
                            s.read_exact(&mut back).unwrap();
                            assert_eq!(back, msg, "connection {id}, trip {trip}");
                        }
                    })
                })
                .collect();
            for client in clients {
                client.join().expect("a client's goroutine does not panic");
            }

            // A megabyte, written by a goroutine while this one reads it
            // back; the server closes once the client has shut down its
            // side and everything is echoed.
            let s = Arc::new(TcpStream::connect(addr).unwrap());
            let data: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
            let (to, sent) = (Arc::clone(&s), data.clone());
            let writer = go!(move || {
                (&*to).write_all(&sent).unwrap();
                to.shutdown(Shutdown::Write).unwrap();
            });
            let mut back = Vec::new();
            (&*s).read_to_end(&mut back).unwrap();
            writer.join().expect("the writer does not panic");
            assert!(back == data, "{} bytes came back of {}", back.len(), data.len());
        });
    });
}
