//! `gort::net` on the netpoller: echo servers with a goroutine per
//! connection, timeouts, peers that go away, and plain threads as clients.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use gort::net::{TcpListener, TcpStream};
use gort::prelude::*;
use gort::sync::WaitGroup;

#[path = "support/limits.rs"]
mod limits;
use limits::{scaled, within};

const LIMIT: Duration = Duration::from_secs(60);

/// Serves each connection in its own goroutine, echoing bytes back until
/// the peer closes.
fn echo_server(listener: TcpListener) {
    go!(move || {
        loop {
            let Ok((conn, _)) = listener.accept() else { return };
            go!(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match (&conn).read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if (&conn).write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
}

/// `trips` round trips of 64 bytes on one connection; returns the bytes echoed.
fn client(addr: std::net::SocketAddr, id: u64, trips: usize) -> io::Result<usize> {
    let mut s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    let mut total = 0;
    for t in 0..trips {
        let msg = [(id as u8) ^ (t as u8); 64];
        s.write_all(&msg)?;
        let mut back = [0u8; 64];
        s.read_exact(&mut back)?;
        assert_eq!(back, msg, "connection {id} trip {t} got someone else's bytes");
        total += back.len();
    }
    Ok(total)
}

/// Raises the soft open-files limit to the hard one: each connection costs
/// two descriptors here (both ends live in this process).
fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: reading and setting this process's own limit.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
    }
    lim.rlim_cur
}

#[test]
fn ten_thousand_concurrent_connections_echo_on_goroutines() {
    let limit = raise_fd_limit();
    let conns = scaled(10_000).min((limit as usize).saturating_sub(100) / 2);
    assert!(conns >= scaled(10_000) / 2, "the open-files limit ({limit}) is too low for this test");
    let total = within(LIMIT, move || {
        gort::run(move || {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            echo_server(listener);
            let hs: Vec<_> = (0..conns as u64).map(|id| go!(move || client(addr, id, 10))).collect();
            hs.into_iter().map(|h| h.join().unwrap().unwrap()).sum::<usize>()
        })
    });
    assert_eq!(total, conns * 10 * 64);
}

#[test]
fn plain_threads_talk_to_goroutine_servers() {
    within(LIMIT, || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        gort::spawn(move || echo_server(listener)).join().unwrap();
        let hs: Vec<_> = (0..8).map(|id| std::thread::spawn(move || client(addr, id, 20).unwrap())).collect();
        for h in hs {
            assert_eq!(h.join().unwrap(), 20 * 64);
        }
    });
}

#[test]
fn a_read_timeout_fires_and_the_worker_keeps_running_others() {
    within(LIMIT, || {
        gort::run(|| {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let _silent = go!(move || listener.accept().map(|(c, _)| {
                gort::time::sleep(Duration::from_millis(300));
                drop(c);
            }));
            let s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
            let ticks = go!(|| (0..20).map(|_| gort::time::sleep(Duration::from_millis(1))).count());
            let start = Instant::now();
            let err = (&s).read(&mut [0u8; 16]).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::TimedOut);
            assert!(start.elapsed() >= Duration::from_millis(50), "timed out early: {:?}", start.elapsed());
            assert_eq!(ticks.join().unwrap(), 20, "other goroutines ran while one waited on a socket");
        });
    });
}

#[test]
fn a_peer_that_closes_mid_read_gives_eof_and_the_goroutine_ends() {
    within(LIMIT, || {
        gort::run(|| {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let reader = go!(move || {
                let (mut conn, _) = listener.accept().unwrap();
                let mut got = Vec::new();
                conn.read_to_end(&mut got).map(|_| got)
            });
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"partial").unwrap();
            gort::time::sleep(Duration::from_millis(20));
            s.shutdown(Shutdown::Both).unwrap();
            drop(s);
            assert_eq!(reader.join().unwrap().unwrap(), b"partial");
        });
    });
}

#[test]
fn a_reset_connection_is_an_error_not_a_panic() {
    within(LIMIT, || {
        gort::run(|| {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = go!(move || {
                let (conn, _) = listener.accept().unwrap();
                let mut buf = [0u8; 1];
                // The client resets; reads and writes report errors.
                let r = (&conn).read(&mut buf);
                let mut w = Ok(0);
                for _ in 0..100 {
                    w = (&conn).write(&[0u8; 1024]);
                    if w.is_err() {
                        break;
                    }
                    gort::time::sleep(Duration::from_millis(1));
                }
                (r.is_ok(), w.is_err())
            });
            let s = std::net::TcpStream::connect(addr).unwrap();
            // SO_LINGER 0: close sends a reset.
            let linger = libc::linger { l_onoff: 1, l_linger: 0 };
            // SAFETY: setting a plain option on our own open socket.
            let rc = unsafe {
                libc::setsockopt(
                    std::os::fd::AsRawFd::as_raw_fd(&s),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&linger as *const libc::linger).cast(),
                    size_of::<libc::linger>() as libc::socklen_t,
                )
            };
            assert_eq!(rc, 0);
            drop(s);
            let (_read_ok, write_failed) = server.join().unwrap();
            assert!(write_failed, "writing to a reset connection fails");
        });
    });
}

#[test]
fn closing_a_listener_wakes_every_accept_with_an_error() {
    within(LIMIT, || {
        let listener = std::sync::Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let goroutines: Vec<_> = (0..3)
            .map(|_| {
                let l = listener.clone();
                go!(move || l.accept().map(|_| ()))
            })
            .collect();
        let l = listener.clone();
        let thread = std::thread::spawn(move || l.accept().map(|_| ()));
        std::thread::sleep(Duration::from_millis(50));
        listener.close().unwrap();
        for h in goroutines {
            let err = h.join().unwrap().unwrap_err();
            assert!(err.to_string().contains("closed"), "{err}");
        }
        assert!(thread.join().unwrap().is_err());
        assert!(listener.accept().is_err(), "a closed listener accepts nothing");
    });
}

#[test]
fn udp_datagrams_between_goroutines_and_threads() {
    within(LIMIT, || {
        let server = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let n = 200;
        let echo = go!(move || {
            let mut buf = [0u8; 64];
            for _ in 0..n {
                let (len, from) = server.recv_from(&mut buf).unwrap();
                server.send_to(&buf[..len], from).unwrap();
            }
        });
        let client = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        client.connect(addr).unwrap();
        client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        for i in 0..n as u32 {
            client.send(&i.to_le_bytes()).unwrap();
            let mut buf = [0u8; 4];
            assert_eq!(client.recv(&mut buf).unwrap(), 4);
            assert_eq!(u32::from_le_bytes(buf), i);
        }
        echo.join().unwrap();
    });
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let err = gort::spawn(move || TcpStream::connect(port).unwrap_err()).join().unwrap();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
}

#[test]
fn one_goroutine_reads_while_another_writes_the_same_stream() {
    within(LIMIT, || {
        gort::run(|| {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            echo_server(listener);
            let s = std::sync::Arc::new(TcpStream::connect(addr).unwrap());
            let n = 1_000usize;
            let wg = WaitGroup::new();
            wg.add(1);
            let (w, wgw) = (s.clone(), wg.clone());
            go!(move || {
                for i in 0..n {
                    (&*w).write_all(&(i as u32).to_le_bytes()).unwrap();
                }
                wgw.done();
            });
            let mut buf = [0u8; 4];
            for i in 0..n {
                (&*s).read_exact(&mut buf).unwrap();
                assert_eq!(u32::from_le_bytes(buf), i as u32);
            }
            wg.wait();
        });
    });
}

#[test]
fn unix_sockets_echo_between_goroutines() {
    within(LIMIT, || {
        let path = std::env::temp_dir().join(format!("gort-test-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = gort::net::UnixListener::bind(&path).unwrap();
        let server = go!(move || {
            for _ in 0..20 {
                let (conn, _) = listener.accept().unwrap();
                go!(move || {
                    let mut buf = [0u8; 256];
                    while let Ok(n @ 1..) = (&conn).read(&mut buf) {
                        (&conn).write_all(&buf[..n]).unwrap();
                    }
                });
            }
        });
        let clients: Vec<_> = (0..20u8)
            .map(|i| {
                let p = path.clone();
                go!(move || {
                    let mut s = gort::net::UnixStream::connect(&p).unwrap();
                    for t in 0..50u8 {
                        s.write_all(&[i, t]).unwrap();
                        let mut back = [0u8; 2];
                        s.read_exact(&mut back).unwrap();
                        assert_eq!(back, [i, t]);
                    }
                })
            })
            .collect();
        for c in clients {
            c.join().unwrap();
        }
        server.join().unwrap();
        std::fs::remove_file(&path).unwrap();
    });
}
