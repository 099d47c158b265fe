//! The HTTP example, examples/http_hello.rs, run in process: its source is
//! included as a module, each test starts its `serve` on a listener bound to
//! 127.0.0.1, port 0, with a context of its own, talks HTTP/1.1 to it over
//! real `TcpStream` connections, checking every byte of every response, and
//! ends by cancelling the context and waiting for `serve` to return.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use gort::JoinHandle;
use gort::context::{self, CancelFunc};
use gort::net::{TcpListener, TcpStream};
use gort::prelude::*;

#[path = "support/limits.rs"]
mod limits;
use limits::within;

#[path = "../examples/http_hello.rs"]
mod http_hello;

/// How long any one test may take before it counts as hung (debug builds
/// on a loaded machine included).
const LIMIT: Duration = Duration::from_secs(60);

/// A plain request, which keeps the connection open.
const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: test\r\n\r\n";

/// A server started on a goroutine: where it listens, how to shut it down,
/// and its goroutine, which ends when `serve` returns.
struct Server {
    addr: SocketAddr,
    cancel: CancelFunc,
    serving: JoinHandle<io::Result<()>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port on 127.0.0.1");
        let addr = listener.local_addr().unwrap();
        let (ctx, cancel) = context::with_cancel(&context::background());
        let serving = go!(http_hello::serve(listener, ctx));
        Server { addr, cancel, serving }
    }

    /// Cancels the server's context and waits for `serve` to return, which
    /// it must do without an error.
    fn stop(self) {
        (self.cancel)();
        let served = self.serving.join().expect("serve does not panic");
        served.expect("serve returns Ok after a shutdown");
    }
}

/// A response as the client reads it.
#[derive(Debug)]
struct Response {
    /// The status line, without its CRLF.
    status: String,
    /// Each header's name and value, in order, the value trimmed.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    /// The value of the header `name` (any case), if there is one, and
    /// only one.
    fn header(&self, name: &str) -> Option<&str> {
        let mut values = self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
        let value = values.next();
        assert_eq!(values.next(), None, "one {name} header at most: {self:?}");
        value
    }

    /// Checks that this is the answer every request gets: `status`, the
    /// plain text type, the length and the body, and the `Connection`
    /// header `connection` (`None`: no such header).
    fn assert_hello(&self, status: &str, connection: Option<&str>, what: &str) {
        assert_eq!(self.status, status, "{what}: the status line of {self:?}");
        assert_eq!(self.header("content-type"), Some("text/plain; charset=utf-8"), "{what}: {self:?}");
        assert_eq!(self.header("content-length"), Some("13"), "{what}: {self:?}");
        assert_eq!(self.header("connection"), connection, "{what}: {self:?}");
        assert_eq!(String::from_utf8_lossy(&self.body), "Hello, World!", "{what}: the body of {self:?}");
    }
}

/// A line read by `read_line`, without its CRLF, which it must end with.
fn without_crlf(mut line: String) -> String {
    assert!(line.ends_with("\r\n"), "a line of the response ends with CRLF: {line:?}");
    line.truncate(line.len() - 2);
    line
}

/// An HTTP client of the test on one connection, which it reads through a
/// buffer.
struct Client {
    conn: BufReader<TcpStream>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let conn = TcpStream::connect(addr).expect("connect to the server");
        // So that each `send` leaves at once, in a segment of its own.
        conn.set_nodelay(true).unwrap();
        Client { conn: BufReader::new(conn) }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.conn.get_mut().write_all(bytes).expect("send to the server");
    }

    /// The next response, `None` if the server closed the connection
    /// instead. `head`: the answer to a HEAD request, which has no body.
    fn read_response(&mut self, head: bool) -> Option<Response> {
        let mut status = String::new();
        if self.conn.read_line(&mut status).expect("read a status line") == 0 {
            return None;
        }
        let status = without_crlf(status);
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            self.conn.read_line(&mut line).expect("read a header line");
            let line = without_crlf(line);
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap_or_else(|| panic!("a header line: {line:?}"));
            headers.push((name.to_string(), value.trim().to_string()));
        }
        let mut response = Response { status, headers, body: Vec::new() };
        if !head {
            let len = response.header("content-length").unwrap_or_else(|| panic!("a Content-Length: {response:?}"));
            let len: usize = len.parse().expect("a Content-Length is a number");
            response.body = vec![0; len];
            self.conn.read_exact(&mut response.body).expect("read the body");
        }
        Some(response)
    }

    /// The next response, which must come.
    fn response(&mut self, what: &str) -> Response {
        self.read_response(false).unwrap_or_else(|| panic!("{what}: the server closed the connection instead"))
    }

    /// Checks that the server closes the connection, with nothing more.
    fn expect_end(&mut self, what: &str) {
        let mut rest = Vec::new();
        self.conn.read_to_end(&mut rest).unwrap_or_else(|e| panic!("{what}: the connection ends with {e}"));
        assert!(rest.is_empty(), "{what}: the server sent more: {:?}", String::from_utf8_lossy(&rest));
    }

    /// Checks that nothing arrives for `wait`.
    fn expect_silence(&mut self, wait: Duration, what: &str) {
        self.conn.get_ref().set_read_timeout(Some(wait)).unwrap();
        let got = self.conn.fill_buf().map(<[u8]>::to_vec);
        self.conn.get_ref().set_read_timeout(None).unwrap();
        match got {
            Err(e) => assert!(
                matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock),
                "{what}: reading failed: {e}"
            ),
            Ok(bytes) => panic!("{what}: the server sent {:?}", String::from_utf8_lossy(&bytes)),
        }
    }
}

#[test]
fn fifty_keep_alive_clients_send_twenty_requests_each_on_one_connection() {
    const CLIENTS: usize = 50;
    const REQUESTS: usize = 20;
    within(LIMIT, || {
        gort::run(|| {
            let server = Server::start();
            let addr = server.addr;
            let clients: Vec<_> = (0..CLIENTS)
                .map(|c| {
                    go!(move || {
                        let mut client = Client::connect(addr);
                        for i in 0..REQUESTS {
                            // The last request closes the connection.
                            let last = i == REQUESTS - 1;
                            let close = if last { "Connection: close\r\n" } else { "" };
                            let request = format!(
                                "GET /client/{c}/request/{i} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: test\r\n{close}\r\n"
                            );
                            client.send(request.as_bytes());
                            let what = format!("client {c}, request {i}");
                            client.response(&what).assert_hello("HTTP/1.1 200 OK", last.then_some("close"), &what);
                        }
                        client.expect_end(&format!("client {c}, after Connection: close"));
                    })
                })
                .collect();
            for client in clients {
                client.join().expect("a client's goroutine does not panic");
            }
            server.stop();
        });
    });
}

#[test]
fn pipelined_requests_in_one_write_are_answered_in_order() {
    within(LIMIT, || {
        gort::run(|| {
            let server = Server::start();
            let mut client = Client::connect(server.addr);
            // Four requests in one write: one with a body (which the server
            // must skip), a HEAD (whose answer has no body), and the last
            // closes the connection.
            client.send(
                concat!(
                    "GET /1 HTTP/1.1\r\nHost: test\r\n\r\n",
                    "POST /2 HTTP/1.1\r\nHost: test\r\nContent-Length: 11\r\n\r\nhello=world",
                    "HEAD /3 HTTP/1.1\r\nHost: test\r\n\r\n",
                    "GET /4 HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
                )
                .as_bytes(),
            );
            client.response("GET /1").assert_hello("HTTP/1.1 200 OK", None, "GET /1");
            client.response("POST /2").assert_hello("HTTP/1.1 200 OK", None, "POST /2, with a body");
            let head = client.read_response(true).expect("an answer to HEAD /3");
            assert_eq!(head.status, "HTTP/1.1 200 OK", "HEAD /3: {head:?}");
            assert_eq!(head.header("content-length"), Some("13"), "HEAD /3: {head:?}");
            // Had the HEAD answer a body, this would read it as the status line.
            client.response("GET /4").assert_hello("HTTP/1.1 200 OK", Some("close"), "GET /4");
            client.expect_end("after four pipelined requests, the last with Connection: close");
            server.stop();
        });
    });
}

#[test]
fn a_request_split_across_three_writes_is_answered_once_whole() {
    within(LIMIT, || {
        gort::run(|| {
            let server = Server::start();
            let mut client = Client::connect(server.addr);
            let request = b"GET /split HTTP/1.1\r\nHost: test\r\nAccept: */*\r\n\r\n";
            // "GET /sp", "lit HTTP/1.1\r\nHost: te", "st\r\nAccept: */*\r\n\r\n".
            let pieces = [&request[..7], &request[7..30], &request[30..]];
            for (i, piece) in pieces.iter().enumerate() {
                client.send(piece);
                if i + 1 < pieces.len() {
                    client.expect_silence(Duration::from_millis(50), &format!("after piece {} of 3", i + 1));
                }
            }
            client.response("the split request").assert_hello("HTTP/1.1 200 OK", None, "the split request");
            // The connection stays open for the next one.
            client.send(GET);
            client.response("the next request").assert_hello("HTTP/1.1 200 OK", None, "the next request");
            drop(client);
            server.stop();
        });
    });
}

#[test]
fn a_malformed_request_gets_400_and_the_connection_closes() {
    within(LIMIT, || {
        gort::run(|| {
            let server = Server::start();

            // After a good request on the same connection.
            let mut client = Client::connect(server.addr);
            client.send(GET);
            client.response("a good request").assert_hello("HTTP/1.1 200 OK", None, "a good request");
            client.send(b"this is not http\r\n\r\n");
            let bad = client.response("a malformed request");
            assert_eq!(bad.status, "HTTP/1.1 400 Bad Request", "{bad:?}");
            assert_eq!(bad.header("connection"), Some("close"), "{bad:?}");
            client.expect_end("after 400 Bad Request");

            // Other malformed requests, each first on its connection.
            let malformed: [&[u8]; 4] = [
                b"GET / HTTP/1.1\r\nNo Colon Here\r\n\r\n",
                b"GET / HTTP/7.0\r\nHost: test\r\n\r\n",
                b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: ten\r\n\r\n",
                b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            ];
            for request in malformed {
                let what = String::from_utf8_lossy(request).into_owned();
                let mut client = Client::connect(server.addr);
                client.send(request);
                let bad = client.response(&what);
                assert_eq!(bad.status, "HTTP/1.1 400 Bad Request", "{what:?}: {bad:?}");
                client.expect_end(&what);
            }
            server.stop();
        });
    });
}

#[test]
fn http_1_0_closes_after_the_response_unless_asked_to_keep_alive() {
    within(LIMIT, || {
        gort::run(|| {
            let server = Server::start();

            let mut client = Client::connect(server.addr);
            client.send(b"GET / HTTP/1.0\r\n\r\n");
            client.response("HTTP/1.0").assert_hello("HTTP/1.0 200 OK", Some("close"), "HTTP/1.0");
            client.expect_end("after an HTTP/1.0 request");

            let mut client = Client::connect(server.addr);
            for i in 0..3 {
                client.send(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
                let what = format!("HTTP/1.0 keep-alive request {i}");
                client.response(&what).assert_hello("HTTP/1.0 200 OK", Some("keep-alive"), &what);
            }
            client.send(b"GET / HTTP/1.0\r\n\r\n");
            client.response("HTTP/1.0, last").assert_hello("HTTP/1.0 200 OK", Some("close"), "HTTP/1.0, last");
            client.expect_end("after the last HTTP/1.0 request");
            server.stop();
        });
    });
}

/// Checks that a connection made during the shutdown gets no answer: the
/// server closes it (or resets it) without a byte.
fn assert_unanswered(mut conn: TcpStream) {
    let _ = conn.write_all(GET); // may fail: the connection may be reset already
    let mut got = Vec::new();
    let read = conn.read_to_end(&mut got);
    assert!(got.is_empty(), "a connection made during the shutdown got {:?}", String::from_utf8_lossy(&got));
    if let Err(e) = read {
        assert!(
            matches!(e.kind(), io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted),
            "a connection made during the shutdown ends with {e}"
        );
    }
}

#[test]
fn shutdown_finishes_the_request_in_flight_refuses_newcomers_and_returns() {
    within(LIMIT, || {
        gort::run(|| {
            let Server { addr, cancel, serving } = Server::start();

            // An idle keep-alive client, whose connection the shutdown closes.
            let mut idle = Client::connect(addr);
            idle.send(GET);
            idle.response("the idle client").assert_hello("HTTP/1.1 200 OK", None, "the idle client");

            // A client that has sent half of its second request (the first
            // answer shows that its connection is being served).
            let mut busy = Client::connect(addr);
            busy.send(GET);
            busy.response("the busy client").assert_hello("HTTP/1.1 200 OK", None, "the busy client");
            let request = b"GET /in-flight HTTP/1.1\r\nHost: test\r\n\r\n";
            busy.send(&request[..20]);
            // Most likely the server reads the half now; it must answer
            // whether it does or not.
            gort::time::sleep(Duration::from_millis(20));

            cancel();

            // Newcomers get no answer, and soon are refused: the listener
            // is closed.
            let refused = loop {
                match TcpStream::connect(addr) {
                    Ok(conn) => {
                        assert_unanswered(conn);
                        gort::time::sleep(Duration::from_millis(5));
                    }
                    Err(e) => break e,
                }
            };
            // A listening socket that was shut down but not yet closed may
            // reset the attempt instead of refusing it.
            assert!(
                matches!(refused.kind(), io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset),
                "a newcomer after the shutdown: {refused}"
            );

            // The client in flight sends the rest and gets its answer, which
            // closes the connection.
            busy.send(&request[20..]);
            let what = "the request in flight at the shutdown";
            busy.response(what).assert_hello("HTTP/1.1 200 OK", Some("close"), what);
            busy.expect_end("after the request in flight");
            drop(busy);

            // The idle connection is closed without a word.
            idle.expect_end("the idle keep-alive connection at the shutdown");

            // And serve returns, every connection's goroutine ended.
            let served = serving.join().expect("serve does not panic");
            served.expect("serve returns Ok after a shutdown");
        });
    });
}
