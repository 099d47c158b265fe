//! Blocking calls don't stall other goroutines: a worker stuck in one
//! goroutine (a blocking system call, a loop that never parks) has its
//! queued goroutines taken over, by the other workers or by spare threads
//! the monitor starts, and `gort::blocking` keeps its worker free.
//!
//! Each test counts the round trips a ping-pong pair makes *while* the
//! blocking goroutines block, measured by the blockers themselves.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gort::prelude::*;
use gort::{JoinHandle, Runtime};

const BLOCK: Duration = Duration::from_millis(200);

/// Round trips a pair must make in [`BLOCK`]: a small fraction of what it
/// makes unhindered (tens of thousands), far more than none.
const ENOUGH: u64 = 100;

/// Starts a ping-pong pair on `rt`; returns the round-trip counter and a
/// flag that stops it.
fn ping_pong(rt: &Runtime) -> (Arc<AtomicU64>, Arc<AtomicBool>) {
    let (trips, stop) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
    let (ping, pong) = (chan::<u64>(0), chan::<u64>(0));
    let (ping2, pong2) = (ping.clone(), pong.clone());
    rt.spawn(move || {
        while let Some(v) = ping2.recv() {
            pong2.send(v);
        }
    });
    let (t, s) = (trips.clone(), stop.clone());
    rt.spawn(move || {
        while !s.load(Ordering::Relaxed) {
            ping.send(1);
            pong.recv();
            t.fetch_add(1, Ordering::Relaxed);
        }
        ping.close();
    });
    while trips.load(Ordering::Relaxed) == 0 {
        std::thread::yield_now();
    }
    (trips, stop)
}

/// Spawns `n` goroutines that each run `block`, all at once (each holds a
/// worker until all have started), and return how many round trips were
/// made meanwhile.
fn blockers(rt: &Runtime, n: usize, trips: &Arc<AtomicU64>, block: fn()) -> Vec<JoinHandle<u64>> {
    let started = Arc::new(AtomicUsize::new(0));
    (0..n)
        .map(|_| {
            let (trips, started) = (trips.clone(), started.clone());
            rt.spawn(move || {
                started.fetch_add(1, Ordering::SeqCst);
                while started.load(Ordering::SeqCst) < n {
                    std::hint::spin_loop();
                }
                let before = trips.load(Ordering::Relaxed);
                block();
                trips.load(Ordering::Relaxed) - before
            })
        })
        .collect()
}

fn sleep() {
    std::thread::sleep(BLOCK);
}

fn spin() {
    let end = Instant::now() + BLOCK;
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}

/// Runs `n` blockers beside a ping-pong pair on 2 workers; returns the
/// fewest round trips any blocker saw, and the runtime.
fn progress_while_blocked(n: usize, spares: usize, block: fn()) -> (u64, Runtime) {
    let rt = Runtime::builder().workers(2).spare_threads(spares).build().unwrap();
    let (trips, stop) = ping_pong(&rt);
    let seen = blockers(&rt, n, &trips, block).into_iter().map(|h| h.join().unwrap()).min().unwrap();
    stop.store(true, Ordering::Relaxed);
    (seen, rt)
}

#[test]
fn a_sleeping_goroutine_does_not_stall_a_ping_pong_pair() {
    let (trips, _rt) = progress_while_blocked(1, 2, sleep);
    assert!(trips >= ENOUGH, "only {trips} round trips while one goroutine slept");
}

#[test]
fn a_spinning_goroutine_does_not_stall_a_ping_pong_pair() {
    let (trips, rt) = progress_while_blocked(1, 2, spin);
    assert!(trips >= ENOUGH, "only {trips} round trips while one goroutine spun");
    // The other worker took the queue: a spare would only have competed
    // for the two CPUs.
    assert_eq!(rt.metrics().spare_threads_started, 0);
}

#[test]
fn spare_threads_stand_in_when_every_worker_spins() {
    let (trips, rt) = progress_while_blocked(2, 2, spin);
    assert!(trips >= ENOUGH, "only {trips} round trips while both workers spun");
    assert!(rt.metrics().spare_threads_started >= 1);
}

#[test]
fn spare_threads_stand_in_when_every_worker_is_stuck() {
    let (trips, rt) = progress_while_blocked(2, 2, sleep);
    assert!(trips >= ENOUGH, "only {trips} round trips while both workers slept");
    let m = rt.metrics();
    assert!(m.spare_threads_started >= 1 && m.spare_threads_started <= 2, "{m:?}");
    // Unwanted spares retire once they run dry.
    let deadline = Instant::now() + Duration::from_secs(10);
    while rt.metrics().spare_threads_active > 0 {
        assert!(Instant::now() < deadline, "spares still active: {:?}", rt.metrics());
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn blocking_keeps_the_only_worker_free() {
    let rt = Runtime::builder().workers(1).spare_threads(0).build().unwrap();
    let (trips, stop) = ping_pong(&rt);
    let h = blockers(&rt, 1, &trips, || gort::blocking(sleep)).pop().unwrap();
    let seen = h.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    assert!(seen >= ENOUGH, "only {seen} round trips during gort::blocking");
    assert_eq!(rt.metrics().spare_threads_started, 0);
}

#[test]
fn blocking_returns_the_value_and_resumes_panics() {
    let rt = Runtime::builder().workers(1).build().unwrap();
    assert_eq!(rt.block_on(|| gort::blocking(|| 6 * 7)), 42);
    let h = rt.spawn(|| gort::blocking(|| -> u8 { panic!("disk on fire") }));
    assert_eq!(h.join().unwrap_err().message(), Some("disk on fire"));
    // On a plain thread it just runs.
    assert_eq!(gort::blocking(|| std::thread::current().id()), std::thread::current().id());
}

#[test]
fn the_monitor_polls_the_network_when_no_worker_can() {
    let rt = Runtime::builder().workers(1).spare_threads(0).build().unwrap();
    let listener = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = rt.spawn(move || listener.accept().map(|_| ()).is_ok());
    let deadline = Instant::now() + Duration::from_secs(10);
    while rt.metrics().parks == 0 {
        assert!(Instant::now() < deadline, "the acceptor never parked");
        std::thread::yield_now();
    }
    // The only worker spins, so only the monitor can see the connection.
    let (release, spinning) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let (r, s) = (release.clone(), spinning.clone());
    let spinner = rt.spawn(move || {
        s.store(true, Ordering::SeqCst);
        while !r.load(Ordering::SeqCst) {
            std::hint::spin_loop();
        }
    });
    while !spinning.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    let _conn = std::net::TcpStream::connect(addr).unwrap();
    // The monitor polls and queues the woken acceptor for the busy worker.
    while rt.metrics().global_queue_depth == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    let polled = rt.metrics().global_queue_depth == 1;
    release.store(true, Ordering::SeqCst);
    assert!(polled, "nobody polled the network: {:?}", rt.metrics());
    spinner.join().unwrap();
    assert!(acceptor.join().unwrap());
}

#[test]
fn many_blocking_calls_at_once_all_complete() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    let total = rt.block_on(|| {
        let hs: Vec<_> = (0..64u64)
            .map(|i| {
                gort::spawn(move || {
                    (0..20)
                        .map(|j| {
                            gort::blocking(move || {
                                std::thread::sleep(Duration::from_micros(200));
                                i * j
                            })
                        })
                        .sum::<u64>()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(total, (0..64u64).sum::<u64>() * (0..20u64).sum::<u64>());
}

#[test]
fn a_timer_armed_on_a_spare_fires_after_the_spare_retires() {
    // One worker spins; the monitor starts a spare, which takes the other
    // goroutine. That one waits until the worker has gone to sleep with no
    // timer to wake for, then sleeps on a timer on the spare's heap, and the
    // spare retires: the worker must still wake for the timer.
    let rt = Runtime::builder().workers(1).spare_threads(1).build().unwrap();
    let spun = Arc::new(AtomicBool::new(false));
    let on_spare = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    for _ in 0..2 {
        let (spun, on_spare, tx) = (spun.clone(), on_spare.clone(), tx.clone());
        rt.spawn(move || {
            let here = std::thread::current().name().unwrap_or_default().starts_with("gort-spare");
            if here {
                on_spare.store(true, Ordering::SeqCst);
                while !spun.load(Ordering::SeqCst) {
                    std::hint::spin_loop();
                }
                std::thread::sleep(Duration::from_millis(5));
                gort::time::sleep(Duration::from_millis(30));
            } else {
                spin();
                spun.store(true, Ordering::SeqCst);
            }
            tx.send(()).unwrap();
        });
    }
    for _ in 0..2 {
        rx.recv_timeout(Duration::from_secs(10)).expect("a goroutine's timer never fired");
    }
    assert!(on_spare.load(Ordering::SeqCst), "no goroutine ran on a spare: {:?}", rt.metrics());
}
