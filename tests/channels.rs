//! Channels through the public API: unbuffered hand-off, buffering, close,
//! the non-blocking and timed operations, iteration, handles and identity,
//! nil channels, zero-sized and drop-counted values, goroutines and plain
//! threads on either end, and the time channels (after, tick, Timer, Ticker).

use std::any::Any;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use gort::prelude::*;
use gort::time::{Ticker, Timer};
use gort::{JoinHandle, RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};

#[path = "support/limits.rs"]
mod limits;
use limits::within;

/// How long any one test may take before it counts as hung.
const LIMIT: Duration = Duration::from_secs(30);

/// A short time for the timed operations and time channels; long enough
/// that "no earlier than" is measurable, short enough to keep tests quick.
const D: Duration = Duration::from_millis(30);

const CLOSED_SEND: &str = "send on closed channel";

/// Runs `f` as a goroutine and returns the message of the panic it must raise.
fn panic_of<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> String {
    match go!(f()).join() {
        Ok(_) => panic!("expected a panic, but the goroutine returned"),
        Err(p) => p.message().expect("a panic with a message").to_owned(),
    }
}

/// The message of a plain thread's panic payload.
fn thread_panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload.downcast_ref::<&str>().copied().or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

/// Waits until every goroutine of `hs` is parked (blocked in the channel
/// operation it was started for); fails if one finishes instead.
fn wait_parked<T: 'static>(hs: &[JoinHandle<T>]) {
    let ids: HashSet<u64> = hs.iter().map(JoinHandle::id).collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(h) = hs.iter().find(|h| h.is_finished()) {
            panic!("goroutine {} finished instead of blocking", h.id());
        }
        let parked =
            gort::debug::goroutines().iter().filter(|g| ids.contains(&g.id) && g.wait_reason.is_some()).count();
        if parked == ids.len() {
            return;
        }
        assert!(Instant::now() < deadline, "only {parked} of {} goroutines ever parked", ids.len());
        gort::time::sleep(Duration::from_millis(1));
    }
}

/// A value that counts its drops, to see that channels neither leak nor
/// duplicate what they carry.
struct Tracked {
    id: u64,
    drops: Arc<AtomicUsize>,
}

impl Tracked {
    fn new(id: u64, drops: &Arc<AtomicUsize>) -> Tracked {
        Tracked { id, drops: drops.clone() }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// A channel fed by a goroutine with `0..n`, then closed.
fn counting(cap: usize, n: u64) -> Chan<u64> {
    let ch = chan(cap);
    let tx = ch.sender();
    go!(move || {
        for i in 0..n {
            tx.send(i);
        }
        tx.close();
    });
    ch
}

// ---------------------------------------------------------------------------
// Unbuffered and buffered hand-off

#[test]
fn an_unbuffered_send_completes_only_once_a_receiver_took_the_value() {
    within(LIMIT, || {
        let ch = chan::<u32>(0);
        let clock = Arc::new(AtomicUsize::new(0));
        let sender = {
            let (ch, clock) = (ch.clone(), clock.clone());
            go!(move || {
                ch.send(7);
                clock.fetch_add(1, Ordering::SeqCst)
            })
        };
        // With no receiver the sender stays blocked, and nothing is stored.
        wait_parked(std::slice::from_ref(&sender));
        assert_eq!(ch.len(), 0, "an unbuffered channel holds no value");
        let receive_began = clock.fetch_add(1, Ordering::SeqCst);
        assert_eq!(ch.recv(), Some(7));
        let send_returned = sender.join().unwrap();
        assert!(send_returned > receive_began, "the send returned before the receive began");

        // A receiving goroutine waits for its sender.
        let receiver = {
            let ch = ch.clone();
            go!(move || ch.recv())
        };
        wait_parked(std::slice::from_ref(&receiver));
        ch.send(8);
        assert_eq!(receiver.join().unwrap(), Some(8));

        // A plain thread's send blocks the same way.
        let sent = Arc::new(AtomicBool::new(false));
        let t = {
            let (ch, sent) = (ch.clone(), sent.clone());
            thread::spawn(move || {
                ch.send(9);
                sent.store(true, Ordering::SeqCst);
            })
        };
        thread::sleep(Duration::from_millis(50));
        assert!(!sent.load(Ordering::SeqCst), "a plain thread's unbuffered send returned with no receiver");
        assert_eq!(ch.recv(), Some(9));
        t.join().unwrap();
        assert!(sent.load(Ordering::SeqCst));
    });
}

#[test]
fn every_unbuffered_send_returns_after_its_receive_began() {
    within(LIMIT, || {
        let rounds = 1000;
        let ch = chan::<usize>(0);
        let clock = Arc::new(AtomicUsize::new(0));
        let sender = {
            let (ch, clock) = (ch.clone(), clock.clone());
            go!(move || {
                (0..rounds)
                    .map(|i| {
                        ch.send(i);
                        clock.fetch_add(1, Ordering::SeqCst)
                    })
                    .collect::<Vec<_>>()
            })
        };
        let mut began = Vec::with_capacity(rounds);
        for i in 0..rounds {
            began.push(clock.fetch_add(1, Ordering::SeqCst));
            assert_eq!(ch.recv(), Some(i));
        }
        let returned = sender.join().unwrap();
        for i in 0..rounds {
            assert!(
                returned[i] > began[i],
                "send {i} returned at tick {} before its receive began at tick {}",
                returned[i],
                began[i]
            );
        }
    });
}

#[test]
fn a_buffered_channel_is_fifo_and_blocks_only_when_full_or_empty() {
    within(LIMIT, || {
        let ch = chan::<u32>(4);
        for i in 0..4 {
            assert_eq!(ch.try_send(i), Ok(()), "a buffer with room takes a value without a receiver");
        }
        assert_eq!(ch.len(), 4);
        assert_eq!(ch.try_send(4), Err(TrySendError::Full(4)), "at cap the buffer is full");

        // A sender blocks at cap until a receive makes room.
        let sent = Arc::new(AtomicBool::new(false));
        let sender = {
            let (ch, sent) = (ch.clone(), sent.clone());
            go!(move || {
                ch.send(4);
                sent.store(true, Ordering::SeqCst);
            })
        };
        wait_parked(std::slice::from_ref(&sender));
        assert!(!sent.load(Ordering::SeqCst));
        assert_eq!(ch.len(), 4);
        assert_eq!(ch.recv(), Some(0));
        sender.join().unwrap();
        assert!(sent.load(Ordering::SeqCst));
        assert_eq!(ch.len(), 4, "the blocked sender's value took the freed slot");

        // Receives do not block while values are buffered (no sender is left).
        for i in 1..=4 {
            assert_eq!(ch.recv(), Some(i), "FIFO order");
        }
        assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));

        // A receiver blocks on the empty buffer until a value comes.
        let receiver = {
            let ch = ch.clone();
            go!(move || ch.recv())
        };
        wait_parked(std::slice::from_ref(&receiver));
        ch.send(5);
        assert_eq!(receiver.join().unwrap(), Some(5));

        // FIFO under a concurrent producer.
        for cap in [1, 8] {
            let ch = counting(cap, 10_000);
            let mut next = 0;
            for v in &ch {
                assert_eq!(v, next, "out of order on a channel of cap {cap}");
                next += 1;
            }
            assert_eq!(next, 10_000);
        }
    });
}

// ---------------------------------------------------------------------------
// Close

#[test]
fn closing_lets_receivers_drain_the_buffer_then_gives_none() {
    within(LIMIT, || {
        let ch = chan::<i32>(3);
        for i in 1..=3 {
            ch.send(i);
        }
        ch.close();
        assert!(ch.is_closed());
        assert_eq!(ch.len(), 3, "closing keeps the buffered values");
        assert_eq!(ch.try_recv(), Ok(1));
        assert_eq!(ch.recv_timeout(Duration::from_secs(10)), Ok(2));
        assert_eq!(ch.recv(), Some(3));
        assert_eq!(ch.recv(), None);
        assert_eq!(ch.recv(), None, "a closed channel stays closed");
        assert_eq!(ch.try_recv(), Err(TryRecvError::Closed));

        // Several goroutines drain a closed buffer: each value once.
        let ch = chan::<u64>(100);
        for i in 0..100 {
            ch.send(i);
        }
        ch.close();
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let ch = ch.clone();
                go!(move || {
                    let mut got = Vec::new();
                    while let Some(v) = ch.recv() {
                        got.push(v);
                        gort::yield_now();
                    }
                    got
                })
            })
            .collect();
        let mut all: Vec<u64> = hs.into_iter().flat_map(|h| h.join().unwrap()).collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
    });
}

#[test]
fn a_receive_on_a_closed_empty_channel_returns_none_at_once() {
    within(LIMIT, || {
        for cap in [0, 4] {
            let ch = chan::<i32>(cap);
            ch.close();
            let start = Instant::now();
            assert_eq!(ch.recv(), None);
            assert_eq!(ch.recv_timeout(Duration::from_secs(20)), Err(RecvTimeoutError::Closed));
            assert!(ch.recv_timeout(Duration::from_secs(20)).unwrap_err().is_closed());
            assert!(start.elapsed() < Duration::from_secs(5), "a receive on a closed channel waited");
            let on_goroutine = go!(move || (ch.recv(), ch.recv_timeout(Duration::from_secs(20))));
            assert_eq!(on_goroutine.join().unwrap(), (None, Err(RecvTimeoutError::Closed)));
        }
    });
}

#[test]
fn close_wakes_every_parked_receiver_with_none() {
    within(LIMIT, || {
        for cap in [0, 2] {
            let ch = chan::<u32>(cap);
            let gs: Vec<_> = (0..10)
                .map(|_| {
                    let ch = ch.clone();
                    go!(move || ch.recv())
                })
                .collect();
            let ts: Vec<_> = (0..2)
                .map(|_| {
                    let ch = ch.clone();
                    thread::spawn(move || ch.recv())
                })
                .collect();
            wait_parked(&gs);
            thread::sleep(Duration::from_millis(20)); // let the threads block too
            ch.close();
            for g in gs {
                assert_eq!(g.join().unwrap(), None, "cap {cap}");
            }
            for t in ts {
                assert_eq!(t.join().unwrap(), None, "cap {cap}");
            }
        }
    });
}

#[test]
fn close_makes_parked_senders_panic() {
    within(LIMIT, || {
        for cap in [0, 1] {
            let ch = chan::<u32>(cap);
            if cap == 1 {
                ch.send(100); // now full
            }
            let gs: Vec<_> = (0..5)
                .map(|i| {
                    let ch = ch.clone();
                    go!(move || ch.send(i))
                })
                .collect();
            let t = {
                let ch = ch.clone();
                thread::spawn(move || ch.send(99))
            };
            wait_parked(&gs);
            thread::sleep(Duration::from_millis(20)); // let the thread block too
            ch.close();
            for g in gs {
                let p = g.join().expect_err("a sender parked on a channel that closes must panic");
                assert_eq!(p.message(), Some(CLOSED_SEND), "cap {cap}");
            }
            let payload = t.join().expect_err("a blocked thread's send must panic when the channel closes");
            assert_eq!(thread_panic_message(&*payload), Some(CLOSED_SEND));
            // What was buffered before close is delivered; no panicked send's value is.
            if cap == 1 {
                assert_eq!(ch.recv(), Some(100));
            }
            assert_eq!(ch.recv(), None);
        }
    });
}

#[test]
fn misuse_panics_with_gos_messages() {
    within(LIMIT, || {
        let closed = chan::<i32>(1);
        closed.close();
        let c = closed.clone();
        assert_eq!(panic_of(move || c.send(1)), CLOSED_SEND);
        let c = closed.clone();
        assert_eq!(panic_of(move || c.sender().send(1)), CLOSED_SEND);
        // send_timeout reports a closed channel instead, handing the value back.
        assert_eq!(closed.send_timeout(1, Duration::from_secs(1)), Err(SendTimeoutError::Closed(1)));
        let c = closed.clone();
        assert_eq!(panic_of(move || select! { send(&c, 1) => {}, default => {} }), CLOSED_SEND);
        let c = closed.clone();
        assert_eq!(panic_of(move || c.close()), "close of closed channel");
        let c = closed.clone();
        assert_eq!(panic_of(move || c.sender().close()), "close of closed channel");
        assert_eq!(panic_of(|| Chan::<i32>::nil().close()), "close of nil channel");
        assert_eq!(panic_of(|| Chan::<i32>::nil().sender().close()), "close of nil channel");

        // try_send reports a closed channel instead of panicking.
        assert_eq!(closed.try_send(5), Err(TrySendError::Closed(5)));
        // The misuse changed nothing.
        assert!(closed.is_closed());
        assert_eq!(closed.recv(), None);
    });
}

// ---------------------------------------------------------------------------
// State, non-blocking and timed operations

#[test]
fn len_cap_is_empty_and_is_closed_report_the_state() {
    let ch = chan::<i32>(3);
    let (tx, rx) = (ch.sender(), ch.receiver());
    assert_eq!((ch.len(), ch.cap(), ch.is_empty(), ch.is_closed()), (0, 3, true, false));
    assert_eq!((tx.len(), tx.cap(), tx.is_empty(), tx.is_closed()), (0, 3, true, false));
    assert_eq!((rx.len(), rx.cap(), rx.is_empty(), rx.is_closed()), (0, 3, true, false));
    ch.send(1);
    tx.send(2);
    assert_eq!((ch.len(), tx.len(), rx.len()), (2, 2, 2));
    assert!(!ch.is_empty() && !tx.is_empty() && !rx.is_empty());
    tx.close();
    assert!(ch.is_closed() && tx.is_closed() && rx.is_closed());
    assert_eq!(rx.len(), 2);
    assert_eq!(rx.recv(), Some(1));
    assert_eq!(ch.recv(), Some(2));
    assert!(ch.is_empty() && rx.is_empty());
    assert_eq!(ch.cap(), 3, "cap does not change");

    let unbuffered = chan::<i32>(0);
    assert_eq!((unbuffered.len(), unbuffered.cap(), unbuffered.is_empty()), (0, 0, true));

    let nil = Chan::<i32>::nil();
    assert_eq!((nil.len(), nil.cap(), nil.is_closed()), (0, 0, false));
}

#[test]
fn try_send_and_try_recv_never_block() {
    within(LIMIT, || {
        let ch = chan::<i32>(1);
        assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
        assert!(ch.try_recv().unwrap_err().is_empty());
        assert!(!ch.try_recv().unwrap_err().is_closed());
        assert_eq!(ch.try_send(1), Ok(()));
        let full = ch.try_send(2).unwrap_err();
        assert!(full.is_full() && !full.is_closed());
        assert_eq!(full.into_inner(), 2, "the value comes back");
        assert_eq!(ch.try_recv(), Ok(1));
        ch.close();
        let closed = ch.try_send(3).unwrap_err();
        assert!(closed.is_closed() && !closed.is_full());
        assert_eq!(closed.into_inner(), 3);
        assert_eq!(ch.try_recv(), Err(TryRecvError::Closed));
        assert!(ch.try_recv().unwrap_err().is_closed());

        // Unbuffered: nothing happens without a waiting partner ...
        let ch = chan::<i32>(0);
        assert_eq!(ch.try_send(1), Err(TrySendError::Full(1)));
        assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
        // ... and a parked partner completes the operation.
        let receiver = {
            let ch = ch.clone();
            go!(move || ch.recv())
        };
        wait_parked(std::slice::from_ref(&receiver));
        assert_eq!(ch.try_send(5), Ok(()), "a parked receiver takes a try_send");
        assert_eq!(receiver.join().unwrap(), Some(5));
        let sender = {
            let ch = ch.clone();
            go!(move || ch.send(6))
        };
        wait_parked(std::slice::from_ref(&sender));
        assert_eq!(ch.try_recv(), Ok(6), "a try_recv takes a parked sender's value");
        sender.join().unwrap();
        assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));

        // Through the directional handles too.
        let ch = chan::<i32>(1);
        assert_eq!(ch.sender().try_send(7), Ok(()));
        assert_eq!(ch.sender().try_send(8), Err(TrySendError::Full(8)));
        assert_eq!(ch.receiver().try_recv(), Ok(7));
        assert_eq!(ch.receiver().try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn errors_hand_values_back_and_describe_themselves() {
    /// Neither Debug nor PartialEq: the errors' Debug must not need them.
    struct Opaque(u8);

    let e = TrySendError::Full(Opaque(1));
    assert!(!format!("{e:?}").is_empty());
    assert!(!e.to_string().is_empty());
    assert_eq!(e.into_inner().0, 1);
    let e = SendTimeoutError::Timeout(Opaque(2));
    assert!(e.is_timeout() && !e.is_closed());
    assert!(!format!("{e:?}").is_empty());
    assert_eq!(e.into_inner().0, 2);
    let e = SendTimeoutError::Closed(Opaque(3));
    assert!(e.is_closed() && !e.is_timeout());
    assert_eq!(e.into_inner().0, 3);
    assert!(RecvTimeoutError::Timeout.is_timeout() && !RecvTimeoutError::Timeout.is_closed());
    assert!(RecvTimeoutError::Closed.is_closed() && !RecvTimeoutError::Closed.is_timeout());
    assert!(TryRecvError::Empty.is_empty() && TryRecvError::Closed.is_closed());

    // Display tells the variants apart; all are std errors.
    assert_ne!(TrySendError::Full(1).to_string(), TrySendError::Closed(1).to_string());
    assert_ne!(SendTimeoutError::Timeout(1).to_string(), SendTimeoutError::Closed(1).to_string());
    assert_ne!(TryRecvError::Empty.to_string(), TryRecvError::Closed.to_string());
    assert_ne!(RecvTimeoutError::Timeout.to_string(), RecvTimeoutError::Closed.to_string());
    let errors: Vec<Box<dyn std::error::Error>> = vec![
        Box::new(TrySendError::Full(1)),
        Box::new(SendTimeoutError::Timeout(1)),
        Box::new(TryRecvError::Empty),
        Box::new(RecvTimeoutError::Timeout),
    ];
    assert!(errors.iter().all(|e| !e.to_string().is_empty()));
}

#[test]
fn timeouts_wait_at_least_as_asked_and_succeed_when_a_peer_comes() {
    within(LIMIT, || {
        for on_goroutine in [false, true] {
            let body = move || {
                let ch = chan::<i32>(0);
                let start = Instant::now();
                assert_eq!(ch.recv_timeout(D), Err(RecvTimeoutError::Timeout));
                assert!(start.elapsed() >= D, "recv_timeout returned early: {:?}", start.elapsed());

                let start = Instant::now();
                let e = ch.send_timeout(7, D).unwrap_err();
                assert!(start.elapsed() >= D, "send_timeout returned early: {:?}", start.elapsed());
                assert!(e.is_timeout());
                assert_eq!(e.into_inner(), 7);
                assert_eq!(ch.try_recv(), Err(TryRecvError::Empty), "a timed-out send leaves nothing behind");

                let full = chan::<i32>(1);
                full.send(1);
                let start = Instant::now();
                assert_eq!(full.send_timeout(2, D), Err(SendTimeoutError::Timeout(2)));
                assert!(start.elapsed() >= D);
                assert_eq!(full.recv(), Some(1));
                assert_eq!(full.try_recv(), Err(TryRecvError::Empty), "the timed-out value was not buffered");

                // A peer that comes in time completes the operation.
                let peer = {
                    let ch = ch.clone();
                    go!(move || {
                        gort::time::sleep(Duration::from_millis(10));
                        ch.send(8);
                    })
                };
                let start = Instant::now();
                assert_eq!(ch.recv_timeout(Duration::from_secs(20)), Ok(8));
                assert!(start.elapsed() < Duration::from_secs(10));
                peer.join().unwrap();
                let peer = {
                    let ch = ch.clone();
                    go!(move || {
                        gort::time::sleep(Duration::from_millis(10));
                        ch.recv()
                    })
                };
                let start = Instant::now();
                assert_eq!(ch.send_timeout(9, Duration::from_secs(20)), Ok(()));
                assert!(start.elapsed() < Duration::from_secs(10));
                assert_eq!(peer.join().unwrap(), Some(9));

                // A close ends a timed receive early.
                let closer = {
                    let ch = ch.clone();
                    go!(move || {
                        gort::time::sleep(Duration::from_millis(10));
                        ch.close();
                    })
                };
                let start = Instant::now();
                assert_eq!(ch.recv_timeout(Duration::from_secs(20)), Err(RecvTimeoutError::Closed));
                assert!(start.elapsed() < Duration::from_secs(10));
                closer.join().unwrap();
            };
            if on_goroutine { go!(body()).join().unwrap() } else { body() }
        }
    });
}

// ---------------------------------------------------------------------------
// Iteration

#[test]
fn iterators_and_for_loops_range_over_a_channel() {
    within(LIMIT, || {
        let expect: Vec<u64> = (0..100).collect();
        let ch = counting(0, 100);
        assert_eq!(ch.iter().collect::<Vec<_>>(), expect);
        assert!(ch.iter().next().is_none(), "a drained closed channel ends at once");

        let ch = counting(4, 100);
        let mut got = Vec::new();
        for v in &ch {
            got.push(v);
        }
        assert_eq!(got, expect, "for v in &ch");

        let rx = counting(2, 100).receiver();
        let mut got = Vec::new();
        for v in &rx {
            got.push(v);
        }
        assert_eq!(got, expect, "for v in &rx");

        let rx: Receiver<u64> = counting(1, 100).into();
        assert_eq!(rx.iter().collect::<Vec<_>>(), expect, "rx.iter()");

        let rx = counting(3, 100).receiver();
        let mut got = Vec::new();
        for v in rx {
            got.push(v);
        }
        assert_eq!(got, expect, "for v in rx");

        let ch = counting(0, 100);
        let mut got = Vec::new();
        for v in ch {
            got.push(v);
        }
        assert_eq!(got, expect, "for v in ch");

        // try_iter: what is ready now, without waiting and without a close.
        let ch = chan::<u64>(5);
        for i in 0..3 {
            ch.send(i);
        }
        assert_eq!(ch.try_iter().collect::<Vec<_>>(), vec![0, 1, 2]);
        assert_eq!(ch.try_iter().count(), 0);
        assert!(!ch.is_closed());
        ch.send(9);
        assert_eq!(ch.receiver().try_iter().collect::<Vec<_>>(), vec![9]);
        let unbuffered = chan::<u64>(0);
        let start = Instant::now();
        assert_eq!(unbuffered.try_iter().count(), 0);
        assert!(start.elapsed() < Duration::from_secs(5), "try_iter waited");

        // The blocking iterator waits on an open channel.
        let ch = chan::<u64>(0);
        let tx = ch.sender();
        let feeder = go!(move || {
            gort::time::sleep(Duration::from_millis(20));
            tx.send(1);
            gort::time::sleep(Duration::from_millis(20));
            tx.send(2);
            tx.close();
        });
        assert_eq!(ch.iter().collect::<Vec<_>>(), vec![1, 2]);
        feeder.join().unwrap();
    });
}

// ---------------------------------------------------------------------------
// Handles, identity, nil

#[test]
fn handles_compare_by_identity_and_share_one_channel() {
    let ch = chan::<i32>(2);
    let other = chan::<i32>(2);
    assert_eq!(ch, ch.clone());
    assert_ne!(ch, other);
    assert_eq!(ch.sender(), ch.sender());
    assert_eq!(ch.receiver(), ch.clone().receiver());
    assert_ne!(ch.sender(), other.sender());
    assert_ne!(ch.receiver(), other.receiver());
    let tx: Sender<i32> = ch.clone().into();
    let rx = Receiver::from(ch.clone());
    assert_eq!(tx, ch.sender());
    assert_eq!(rx, ch.receiver());
    assert_eq!(tx.clone(), tx);
    assert_eq!(rx.clone(), rx);

    // Two nil channels are equal; a nil channel equals no made one.
    assert_eq!(Chan::<i32>::nil(), Chan::<i32>::nil());
    assert_eq!(Chan::<i32>::nil().sender(), Chan::<i32>::nil().sender());
    assert_eq!(Chan::<i32>::nil().receiver(), Chan::<i32>::nil().receiver());
    assert_ne!(Chan::<i32>::nil(), ch);
    assert_ne!(chan::<i32>(0), chan::<i32>(0), "two made channels are distinct");

    // Every handle reaches the same channel.
    tx.send(5);
    let clone = ch.clone();
    clone.send(6);
    assert_eq!((ch.len(), other.len()), (2, 0));
    assert_eq!(rx.recv(), Some(5));
    assert_eq!(ch.recv(), Some(6));
    assert!(clone.is_empty());
    tx.clone().close();
    assert!(ch.is_closed() && rx.is_closed() && clone.is_closed());
    assert!(!other.is_closed());

    // Handles are cheap: a pointer or two, whatever the element type.
    assert!(std::mem::size_of::<Chan<[u64; 1024]>>() <= 2 * std::mem::size_of::<usize>());
    assert!(std::mem::size_of::<Sender<[u64; 1024]>>() <= 2 * std::mem::size_of::<usize>());
    assert!(std::mem::size_of::<Receiver<[u64; 1024]>>() <= 2 * std::mem::size_of::<usize>());

    for s in [format!("{ch:?}"), format!("{tx:?}"), format!("{rx:?}"), format!("{:?}", Chan::<i32>::nil())] {
        assert!(!s.is_empty());
    }
}

#[test]
fn handles_are_send_and_sync_for_send_values() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Chan<i32>>();
    send_sync::<Sender<i32>>();
    send_sync::<Receiver<i32>>();
    // Send but not Sync values: the channel moves them, never shares them.
    send_sync::<Chan<std::cell::Cell<i32>>>();
    send_sync::<Sender<std::cell::Cell<i32>>>();
    send_sync::<Receiver<std::cell::Cell<i32>>>();
}

#[test]
fn a_nil_channel_is_never_ready() {
    within(LIMIT, || {
        let nil = Chan::<i32>::nil();
        let start = Instant::now();
        assert_eq!(nil.recv_timeout(D), Err(RecvTimeoutError::Timeout));
        assert!(start.elapsed() >= D);
        let start = Instant::now();
        assert_eq!(nil.send_timeout(1, D), Err(SendTimeoutError::Timeout(1)));
        assert!(start.elapsed() >= D);
        assert_eq!(nil.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(nil.receiver().try_recv(), Err(TryRecvError::Empty));
        assert_eq!(nil.try_send(2), Err(TrySendError::Full(2)));
        assert_eq!(nil.try_iter().count(), 0);
        assert!(!nil.is_closed());

        // In select: with default, default is taken ...
        for _ in 0..100 {
            let picked = select! {
                recv(&nil) -> _ => { 1 },
                send(&nil, 3) => { 2 },
                recv(nil.receiver()) -> _ => { 4 },
                default => { 3 },
            };
            assert_eq!(picked, 3);
        }
        // ... next to a ready arm, the ready arm ...
        let ready = chan::<i32>(1);
        for i in 0..100 {
            ready.send(i);
            let picked = select! {
                recv(&nil) -> _ => { None },
                recv(&ready) -> v => { v },
                send(nil.sender(), 0) => { None },
            };
            assert_eq!(picked, Some(i));
        }
        // ... and next to a timeout, the timeout.
        let start = Instant::now();
        let timed_out = select! {
            recv(&nil) -> _ => { false },
            send(&nil, 5) => { false },
            recv(gort::time::after(D)) -> _ => { true },
        };
        assert!(timed_out && start.elapsed() >= D);

        // On a goroutine too.
        let on_goroutine = go!(move || {
            let start = Instant::now();
            (nil.recv_timeout(D), start.elapsed() >= D, nil.try_recv())
        });
        assert_eq!(on_goroutine.join().unwrap(), (Err(RecvTimeoutError::Timeout), true, Err(TryRecvError::Empty)));
    });
}

// ---------------------------------------------------------------------------
// What the channel carries

#[test]
fn zero_sized_values_flow_and_count() {
    within(LIMIT, || {
        let ch = chan::<()>(3);
        for _ in 0..3 {
            assert_eq!(ch.try_send(()), Ok(()));
        }
        assert_eq!(ch.len(), 3);
        assert_eq!(ch.try_send(()), Err(TrySendError::Full(())));
        assert_eq!(ch.recv(), Some(()));
        assert_eq!(ch.len(), 2);
        ch.close();
        assert_eq!(ch.iter().count(), 2);
        assert_eq!(ch.recv(), None);

        for cap in [0, 2] {
            let ch = chan::<()>(cap);
            let tx = ch.sender();
            let g = go!(move || {
                for _ in 0..1000 {
                    tx.send(());
                }
                tx.close();
            });
            assert_eq!(ch.iter().count(), 1000, "cap {cap}");
            g.join().unwrap();
        }

        // A zero-sized type with a destructor: each value dropped once.
        static TOKEN_DROPS: AtomicUsize = AtomicUsize::new(0);
        struct Token;
        impl Drop for Token {
            fn drop(&mut self) {
                TOKEN_DROPS.fetch_add(1, Ordering::SeqCst);
            }
        }
        let ch = chan::<Token>(4);
        for _ in 0..4 {
            ch.send(Token);
        }
        drop(ch.recv());
        assert_eq!(TOKEN_DROPS.load(Ordering::SeqCst), 1);
        drop(ch);
        assert_eq!(TOKEN_DROPS.load(Ordering::SeqCst), 4);
    });
}

#[test]
fn values_are_dropped_exactly_once() {
    within(LIMIT, || {
        let drops = Arc::new(AtomicUsize::new(0));
        let dropped = || drops.load(Ordering::SeqCst);

        // Buffered values outlive every handle but the last.
        let ch = chan::<Tracked>(8);
        for i in 0..5 {
            ch.send(Tracked::new(i, &drops));
        }
        let (tx, rx) = (ch.sender(), ch.receiver());
        let first = rx.recv().unwrap();
        assert_eq!(first.id, 0);
        drop(first);
        assert_eq!(dropped(), 1);
        drop(ch);
        drop(tx);
        assert_eq!(dropped(), 1, "a handle is alive: the buffered values stay");
        assert_eq!(rx.len(), 4);
        drop(rx);
        assert_eq!(dropped(), 5, "the last handle drops what is buffered");

        // The same for a closed channel.
        let ch = chan::<Tracked>(4);
        for i in 0..3 {
            ch.send(Tracked::new(i, &drops));
        }
        ch.close();
        drop(ch);
        assert_eq!(dropped(), 8);

        // Values handed back by the errors belong to the caller.
        let ch = chan::<Tracked>(1);
        ch.send(Tracked::new(10, &drops));
        let back = ch.try_send(Tracked::new(11, &drops)).unwrap_err().into_inner();
        assert_eq!((back.id, dropped()), (11, 8));
        drop(back);
        assert_eq!(dropped(), 9);
        let back = ch.send_timeout(Tracked::new(12, &drops), Duration::from_millis(1)).unwrap_err().into_inner();
        assert_eq!((back.id, dropped()), (12, 9));
        drop(back);
        drop(ch);
        assert_eq!(dropped(), 11);

        // A sender that panics because the channel closed under it: its
        // value is dropped once.
        let ch = chan::<Tracked>(0);
        let sender = {
            let (ch, drops) = (ch.clone(), drops.clone());
            go!(move || ch.send(Tracked::new(20, &drops)))
        };
        wait_parked(std::slice::from_ref(&sender));
        ch.close();
        assert_eq!(sender.join().unwrap_err().message(), Some(CLOSED_SEND));
        assert_eq!(dropped(), 12);

        // Send arms that are not chosen drop their values (they were evaluated).
        let nobody = chan::<Tracked>(0);
        let picked = select! {
            send(&nobody, Tracked::new(30, &drops)) => { 1 },
            send(&nobody, Tracked::new(31, &drops)) => { 2 },
            default => { 3 },
        };
        assert_eq!(picked, 3);
        assert_eq!(dropped(), 14);
        drop((ch, nobody));
        assert_eq!(dropped(), 14);
        assert_eq!(Arc::strong_count(&drops), 1, "no value leaked");
    });
}

#[test]
fn values_in_flight_are_neither_lost_nor_duplicated() {
    within(LIMIT, || {
        let drops = Arc::new(AtomicUsize::new(0));
        let n = 3000u64;
        for cap in [0, 2] {
            let ch = chan::<Tracked>(cap);
            let (tx, d) = (ch.sender(), drops.clone());
            // The sender cycles through send, send_timeout and try_send; the
            // receiver (a plain thread) through try_recv, recv_timeout and
            // recv, paired so that one side of each pair may block.
            let producer = go!(move || {
                for i in 0..n {
                    let mut v = Tracked::new(i, &d);
                    match i % 3 {
                        0 => tx.send(v),
                        1 => loop {
                            match tx.send_timeout(v, Duration::from_micros(50)) {
                                Ok(()) => break,
                                Err(e) => {
                                    assert!(e.is_timeout());
                                    v = e.into_inner();
                                }
                            }
                        },
                        _ => loop {
                            match tx.try_send(v) {
                                Ok(()) => break,
                                Err(e) => {
                                    assert!(e.is_full());
                                    v = e.into_inner();
                                    gort::yield_now();
                                }
                            }
                        },
                    }
                }
                tx.close();
            });
            let mut ids = Vec::with_capacity(n as usize);
            loop {
                let next = match ids.len() % 3 {
                    0 => loop {
                        match ch.try_recv() {
                            Ok(v) => break Some(v),
                            Err(e) if e.is_empty() => thread::yield_now(),
                            Err(_) => break None,
                        }
                    },
                    1 => loop {
                        match ch.recv_timeout(Duration::from_micros(50)) {
                            Ok(v) => break Some(v),
                            Err(e) if e.is_timeout() => {}
                            Err(_) => break None,
                        }
                    },
                    _ => ch.recv(),
                };
                match next {
                    Some(v) => ids.push(v.id),
                    None => break,
                }
            }
            producer.join().unwrap();
            assert_eq!(ids, (0..n).collect::<Vec<_>>(), "cap {cap}");
        }
        assert_eq!(drops.load(Ordering::SeqCst), 2 * n as usize, "each value dropped exactly once");
        assert_eq!(Arc::strong_count(&drops), 1);
    });
}

// ---------------------------------------------------------------------------
// Goroutines and plain threads

#[test]
fn goroutines_and_plain_threads_talk_both_ways() {
    within(LIMIT, || {
        let n = 2000u64;
        let expect: Vec<u64> = (0..n).collect();
        for cap in [0, 1, 8] {
            // Thread to goroutine.
            let ch = chan::<u64>(cap);
            let tx = ch.sender();
            let producer = thread::spawn(move || {
                for i in 0..n {
                    tx.send(i);
                }
                tx.close();
            });
            let rx = ch.receiver();
            let consumer = go!(move || rx.iter().collect::<Vec<_>>());
            assert_eq!(consumer.join().unwrap(), expect, "thread to goroutine, cap {cap}");
            producer.join().unwrap();

            // Goroutine to thread.
            let ch = chan::<u64>(cap);
            let tx = ch.sender();
            let producer = go!(move || {
                for i in 0..n {
                    tx.send(i);
                }
                tx.close();
            });
            let rx = ch.receiver();
            let consumer = thread::spawn(move || rx.iter().collect::<Vec<_>>());
            assert_eq!(consumer.join().unwrap(), expect, "goroutine to thread, cap {cap}");
            producer.join().unwrap();

            // Ping-pong: the thread asks, the goroutine answers.
            let (ping, pong) = (chan::<u64>(cap), chan::<u64>(cap));
            let echo = {
                let (ping, pong) = (ping.clone(), pong.clone());
                go!(move || {
                    for v in &ping {
                        pong.send(v + 1);
                    }
                })
            };
            for i in 0..500 {
                ping.send(2 * i);
                assert_eq!(pong.recv(), Some(2 * i + 1));
            }
            ping.close();
            echo.join().unwrap();
        }
    });
}

#[test]
fn thousands_parked_on_one_channel_leave_the_worker_free() {
    let rt = gort::Runtime::builder().workers(1).build().unwrap();
    within(LIMIT, move || {
        rt.block_on(|| {
            let n = 5000u64;
            let ch = chan::<u64>(0);

            // Receivers park; with one worker, everything after this runs
            // only if they gave the worker back.
            let receivers: Vec<_> = (0..n)
                .map(|_| {
                    let ch = ch.clone();
                    go!(move || ch.recv())
                })
                .collect();
            wait_parked(&receivers);
            let busy: Vec<_> = (0..100u64)
                .map(|i| {
                    go!(move || {
                        gort::yield_now();
                        i
                    })
                })
                .collect();
            assert_eq!(busy.into_iter().map(|h| h.join().unwrap()).sum::<u64>(), 4950);
            for i in 0..n {
                ch.send(i);
            }
            let mut got: Vec<u64> = receivers.into_iter().map(|h| h.join().unwrap().expect("a value")).collect();
            got.sort_unstable();
            assert_eq!(got, (0..n).collect::<Vec<_>>());

            // The same with senders.
            let senders: Vec<_> = (0..n)
                .map(|i| {
                    let ch = ch.clone();
                    go!(move || ch.send(i))
                })
                .collect();
            wait_parked(&senders);
            let busy: Vec<_> = (0..100u64).map(|i| go!(i)).collect();
            assert_eq!(busy.into_iter().map(|h| h.join().unwrap()).sum::<u64>(), 4950);
            let mut got: Vec<u64> = (0..n).map(|_| ch.recv().unwrap()).collect();
            senders.into_iter().for_each(|h| h.join().unwrap());
            got.sort_unstable();
            assert_eq!(got, (0..n).collect::<Vec<_>>());
        })
    });
}

// ---------------------------------------------------------------------------
// Time channels

#[test]
fn after_fires_once_no_earlier_than_asked() {
    within(LIMIT, || {
        // On a plain thread.
        let start = Instant::now();
        let rx = gort::time::after(D);
        let fired = rx.recv().expect("a timer's channel is never closed");
        assert!(start.elapsed() >= D, "after fired early: {:?}", start.elapsed());
        assert!(fired >= start + D, "the value is the time it fired");
        assert_eq!(rx.recv_timeout(3 * D), Err(RecvTimeoutError::Timeout), "after fires once");

        // On goroutines, many at once.
        let hs: Vec<_> = (0..50u64)
            .map(|i| {
                go!(move || {
                    let d = Duration::from_millis(5 + i % 20);
                    let start = Instant::now();
                    let fired = gort::time::after(d).recv().expect("a value");
                    (d, start.elapsed(), fired.saturating_duration_since(start))
                })
            })
            .collect();
        for h in hs {
            let (d, waited, fired_after) = h.join().unwrap();
            assert!(waited >= d && fired_after >= d, "asked {d:?}, waited {waited:?}, fired after {fired_after:?}");
        }
    });
}

/// Receives `count` ticks from `rx`, started at `start` with period `d`:
/// the k-th tick comes no earlier than k periods, and (Go 1.23: a tick
/// carries the time it was due) the values are at least a period apart.
fn check_ticks(rx: &Receiver<Instant>, start: Instant, d: Duration, count: u32) {
    let mut prev: Option<Instant> = None;
    for k in 1..=count {
        let t = rx.recv().expect("a ticker's channel is never closed");
        assert!(Instant::now() >= start + d * k, "tick {k} came early");
        assert!(t >= start + d * k, "tick {k} carries a time before it was due");
        if let Some(prev) = prev {
            assert!(t.saturating_duration_since(prev) >= d, "ticks {:?} apart, period {d:?}", t - prev);
        }
        prev = Some(t);
    }
}

#[test]
fn tick_delivers_values_a_period_apart_and_drops_them_for_slow_receivers() {
    within(LIMIT, || {
        let d = Duration::from_millis(15);
        let start = Instant::now();
        let rx = gort::time::tick(d);
        check_ticks(&rx, start, d, 5);

        // A slow receiver finds at most the one buffered tick, not a backlog.
        thread::sleep(6 * d);
        let backlog = rx.try_iter().count();
        assert!((1..=2).contains(&backlog), "{backlog} ticks waiting after six periods");

        // On a goroutine.
        let on_goroutine = go!(move || {
            let start = Instant::now();
            let rx = gort::time::tick(d);
            check_ticks(&rx, start, d, 4);
        });
        on_goroutine.join().unwrap();
    });
}

#[test]
fn a_timer_stopped_before_firing_never_delivers_and_reset_rearms_it() {
    within(LIMIT, || {
        let t = Timer::new(D);
        assert!(t.stop(), "stopping a pending timer reports that it was pending");
        assert_eq!(t.channel().recv_timeout(4 * D), Err(RecvTimeoutError::Timeout), "a value after stop");
        assert!(!t.stop(), "a stopped timer is not pending");

        // Reset after stop: fires once, no earlier than asked.
        let at = Instant::now();
        assert!(!t.reset(D), "reset of a stopped timer reports that it was not pending");
        let fired = t.channel().recv_timeout(Duration::from_secs(10)).expect("a reset timer fires");
        assert!(at.elapsed() >= D && fired >= at + D);
        assert_eq!(t.channel().recv_timeout(3 * D), Err(RecvTimeoutError::Timeout), "fires once");

        // Reset of a pending timer moves its deadline.
        let at = Instant::now();
        let t = Timer::new(Duration::from_secs(3600));
        assert!(t.reset(D), "reset of a pending timer reports that it was pending");
        let fired = t.channel().recv_timeout(Duration::from_secs(10)).expect("the reset deadline");
        assert!(fired >= at + D);
    });
}

#[test]
fn a_fired_timer_never_delivers_a_stale_value_after_stop_or_reset() {
    within(LIMIT, || {
        // Received, then stopped: it was not pending.
        let t = Timer::new(Duration::from_millis(5));
        t.channel().recv().expect("fires");
        assert!(!t.stop(), "stop after the value was received reports not pending");

        // Fired but not received, then stopped: the value is discarded and,
        // as in Go 1.23, Stop reports the timer as pending.
        let t = Timer::new(Duration::from_millis(5));
        thread::sleep(Duration::from_millis(40));
        assert!(t.stop(), "an unreceived value counts as pending");
        assert_eq!(t.channel().try_recv(), Err(TryRecvError::Empty), "a stale value after stop");
        assert_eq!(t.channel().recv_timeout(3 * D), Err(RecvTimeoutError::Timeout), "a stale value after stop");
        assert!(!t.stop());

        // Fired but not received, then reset: only the new value comes.
        let t = Timer::new(Duration::from_millis(5));
        thread::sleep(Duration::from_millis(40));
        let at = Instant::now();
        t.reset(D);
        let fired = t.channel().recv().expect("fires after the reset");
        assert!(fired >= at + D, "received the stale value from before the reset");
        assert_eq!(t.channel().recv_timeout(3 * D), Err(RecvTimeoutError::Timeout), "fires once");
    });
}

#[test]
fn a_stopped_ticker_delivers_nothing_until_reset() {
    within(LIMIT, || {
        let d = Duration::from_millis(10);
        let start = Instant::now();
        let k = Ticker::new(d);
        check_ticks(k.channel(), start, d, 2);
        k.stop();
        assert_eq!(k.channel().recv_timeout(6 * d), Err(RecvTimeoutError::Timeout), "a tick after stop");

        let at = Instant::now();
        k.reset(d);
        let t = k.channel().recv().expect("ticks again after reset");
        assert!(t >= at + d);
        k.stop();
        assert_eq!(k.channel().recv_timeout(6 * d), Err(RecvTimeoutError::Timeout), "a tick after stop");

        // A stale tick waiting at stop is discarded too (Go 1.23).
        let k = Ticker::new(Duration::from_millis(5));
        thread::sleep(Duration::from_millis(30));
        k.stop();
        assert_eq!(k.channel().try_recv(), Err(TryRecvError::Empty), "a stale tick after stop");
    });
}

#[test]
fn a_ticker_needs_a_positive_interval() {
    let p = go!({
        let _ = Ticker::new(Duration::ZERO);
    })
    .join()
    .unwrap_err();
    assert_eq!(p.message(), Some("non-positive interval for NewTicker"));
}

#[test]
fn time_channels_work_on_goroutines_and_across_to_threads() {
    within(LIMIT, || {
        let on_goroutine = go!(move || {
            let start = Instant::now();
            let fired = gort::time::after(D).recv().expect("fires");
            assert!(start.elapsed() >= D && fired >= start + D);

            let t = Timer::new(D);
            assert!(t.stop());
            assert_eq!(t.channel().recv_timeout(3 * D), Err(RecvTimeoutError::Timeout));
            let at = Instant::now();
            t.reset(D);
            assert!(t.channel().recv().expect("fires after reset") >= at + D);

            let d = Duration::from_millis(10);
            let start = Instant::now();
            let k = Ticker::new(d);
            check_ticks(k.channel(), start, d, 3);
            k.stop();
            assert_eq!(k.channel().recv_timeout(5 * d), Err(RecvTimeoutError::Timeout));
        });
        on_goroutine.join().unwrap();

        // Made on a thread, received on a goroutine.
        let start = Instant::now();
        let rx = gort::time::after(D);
        let fired = go!(move || rx.recv()).join().unwrap().expect("fires");
        assert!(fired >= start + D);

        // Made on a goroutine, received on a thread.
        let start = Instant::now();
        let rx = go!(gort::time::after(D)).join().unwrap();
        assert!(rx.recv().expect("fires") >= start + D);
    });
}

#[test]
fn a_runtime_shut_down_under_parked_goroutines_leaves_their_channels_usable() {
    within(LIMIT, || {
        let (a, b, c, d) = (chan::<u32>(0), chan::<u32>(1), chan::<u32>(0), chan::<u32>(0));
        b.send(0); // full: a send on it parks
        let rt = gort::Runtime::builder().workers(1).build().unwrap();
        let (a2, b2, c2, d2) = (a.clone(), b.clone(), c.clone(), d.clone());
        let hs = rt.block_on(move || {
            let hs = vec![
                go!(move || {
                    a2.recv();
                }),
                go!(move || b2.send(1)),
                go!(move || select! {
                    recv(c2) -> _ => {},
                    send(d2, 2) => {},
                }),
            ];
            wait_parked(&hs);
            hs
        });
        // Shutting down unwinds the three parked goroutines. Their wait
        // records lived on their stacks: they must be out of the queues.
        drop(rt);
        for h in hs {
            assert!(h.join().is_err(), "a torn-down goroutine does not finish normally");
        }
        assert_eq!(a.try_send(1), Err(TrySendError::Full(1)), "no receiver is left on a");
        assert_eq!(b.try_recv(), Ok(0));
        assert_eq!(b.try_recv(), Err(TryRecvError::Empty), "no sender is left on b");
        assert_eq!(c.try_send(3), Err(TrySendError::Full(3)), "no select is left on c");
        assert_eq!(d.try_recv(), Err(TryRecvError::Empty), "no select is left on d");
        for ch in [a, b, c, d] {
            ch.close();
        }
    });
}
