//! Faults the runtime recovers from: a panic inside a select arm (an arm's
//! body, a value being evaluated for a send arm, the dynamic `Select`
//! between choosing and taking the value), a value whose `Drop` panics when
//! a goroutine drops the last handle of the buffered channel holding it,
//! and a goroutine that panics while holding a gort `Mutex` others wait for.
//! Each fault comes out of `join` as `Err` with its message; afterwards the
//! channels involved carry values again (no waiter of the dead goroutine
//! is left behind in them), every value is dropped exactly once, the Mutex
//! is free with the data as written, and the runtime runs new goroutines,
//! channels and timers with `num_goroutine` back to its baseline.
//!
//! A `Drop` that panics while a channel is dropped: the panic leaves the
//! goroutine that dropped the last handle (its `join` returns the `Drop`'s
//! message), and every other value still buffered is dropped exactly once,
//! before and after the panicking one and on both sides of the ring
//! buffer's wrap (std's `VecDeque` goes on dropping after a panicking
//! element).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::thread;
use std::time::{Duration, Instant};

use gort::prelude::*;
use gort::sync::{Mutex, WaitGroup};
use gort::{JoinHandle, Runtime};

#[path = "support/limits.rs"]
mod limits;
use limits::within;

/// How long a test may take before it counts as hung.
const LIMIT: Duration = Duration::from_secs(60);

/// How long a helper polls for a state before failing.
const POLL_LIMIT: Duration = Duration::from_secs(10);

fn runtime() -> Runtime {
    Runtime::builder().workers(2).build().expect("a two-worker runtime")
}

/// Drop counts, one per value id.
struct Drops(Vec<AtomicUsize>);

impl Drops {
    fn new(n: usize) -> Arc<Drops> {
        Arc::new(Drops((0..n).map(|_| AtomicUsize::new(0)).collect()))
    }

    fn of(&self, id: usize) -> usize {
        self.0[id].load(SeqCst)
    }

    /// Fails unless each value in `ids` was dropped exactly once.
    fn assert_once(&self, ids: impl IntoIterator<Item = usize>) {
        let wrong: Vec<(usize, usize)> = ids.into_iter().map(|id| (id, self.of(id))).filter(|&(_, n)| n != 1).collect();
        assert!(wrong.is_empty(), "values dropped other than once, (id, drops): {wrong:?}");
    }
}

/// A value that counts its drops; one made with `panicking` panics when
/// dropped.
struct Tracked {
    id: usize,
    drops: Arc<Drops>,
    panics: bool,
}

impl Tracked {
    fn new(id: usize, drops: &Arc<Drops>) -> Tracked {
        Tracked { id, drops: drops.clone(), panics: false }
    }

    fn panicking(id: usize, drops: &Arc<Drops>) -> Tracked {
        Tracked { id, drops: drops.clone(), panics: true }
    }
}

impl std::fmt::Debug for Tracked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tracked({})", self.id)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.0[self.id].fetch_add(1, SeqCst);
        if self.panics {
            panic!("drop of value {}", self.id);
        }
    }
}

/// The message of the panic `h`'s goroutine must have ended with.
fn panic_of<T: std::fmt::Debug + 'static>(h: JoinHandle<T>) -> String {
    match h.join() {
        Ok(v) => panic!("expected a panic, but the goroutine returned {v:?}"),
        Err(p) => p.message().expect("a panic with a message").to_owned(),
    }
}

/// Parks (inside a goroutine) until goroutine `id` is parked with `reason`.
fn wait_parked(id: u64, reason: &str) {
    let deadline = Instant::now() + POLL_LIMIT;
    while !gort::debug::goroutines().iter().any(|g| g.id == id && g.wait_reason == Some(reason)) {
        assert!(Instant::now() < deadline, "goroutine {id} never parked in {reason}");
        gort::time::sleep(Duration::from_millis(1));
    }
}

/// Spawns a goroutine running `f`; returns its id (as it reports it
/// first) and its handle.
fn spawn_reporting_id<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> (u64, JoinHandle<T>) {
    let ids = chan::<u64>(1);
    let tx = ids.sender();
    let h = go!(move || {
        tx.send(gort::current_id().expect("on a goroutine"));
        f()
    });
    (ids.recv().expect("the goroutine reports its id"), h)
}

/// Proves the runtime of the calling goroutine still works: a hundred new
/// goroutines pass values over a channel, a WaitGroup and a timer work,
/// and `num_goroutine` comes back to `baseline`.
fn assert_usable(baseline: usize) {
    let ch = chan::<u64>(0);
    let wg = WaitGroup::new();
    wg.add(100);
    for i in 0..100 {
        let (tx, wg) = (ch.sender(), wg.clone());
        go!(move || {
            tx.send(i);
            wg.done();
        });
    }
    let sum: u64 = (0..100).map(|_| ch.recv().expect("open")).sum();
    wg.wait();
    assert_eq!(sum, 4950, "every value of the hundred goroutines arrived");
    let fired = select! {
        recv(gort::time::after(Duration::from_millis(1))) -> t => t.is_some(),
    };
    assert!(fired, "a timer fires");
    let deadline = Instant::now() + POLL_LIMIT;
    while gort::num_goroutine() != baseline {
        assert!(Instant::now() < deadline, "num_goroutine {} never came back to {baseline}", gort::num_goroutine());
        gort::time::sleep(Duration::from_millis(1));
    }
}

/// Passes a value over `ch` to a new goroutine, which hands it back on a
/// channel of its own.
fn round_trip(ch: &Chan<Tracked>, drops: &Arc<Drops>, id: usize) {
    let back = chan::<Tracked>(0);
    let echo = {
        let (ch, back) = (ch.clone(), back.clone());
        go!(move || back.send(ch.recv().expect("open")))
    };
    ch.send(Tracked::new(id, drops));
    assert_eq!(back.recv().expect("open").id, id, "the value came back");
    echo.join().unwrap();
}

// ---------------------------------------------------------------------------
// A panic inside a select arm

#[test]
fn a_panic_in_a_select_arm_body_leaves_its_channels_clean() {
    within(LIMIT, || {
        let rt = runtime();
        rt.block_on(|| {
            let baseline = gort::num_goroutine();
            let drops = Drops::new(16);

            // The recv arm is ready (a sender is parked on `a`), the send arm
            // is not (`b` is full): the recv arm runs, and panics.
            let (a, b) = (chan::<Tracked>(0), chan::<Tracked>(1));
            b.send(Tracked::new(2, &drops));
            let (sender_id, sender) = {
                let (a, d) = (a.clone(), drops.clone());
                spawn_reporting_id(move || a.send(Tracked::new(0, &d)))
            };
            wait_parked(sender_id, "chan send");
            let chooser = {
                let (a, b, d) = (a.clone(), b.clone(), drops.clone());
                go!(move || {
                    select! {
                        recv(a) -> v => panic!("arm body, holding value {}", v.expect("open").id),
                        send(b, Tracked::new(1, &d)) => unreachable!("b is full"),
                        recv(gort::time::after(Duration::from_secs(30))) -> _ => unreachable!("a is ready"),
                    }
                })
            };
            assert_eq!(panic_of(chooser), "arm body, holding value 0");
            sender.join().expect("the sender's value was taken");
            drops.assert_once([0, 1]);
            assert_eq!(b.len(), 1, "the unchosen send arm sent nothing");
            assert_eq!(b.recv().expect("open").id, 2, "b still holds its own value");

            // A select parked on three channels, woken by `c`, panics in the
            // arm's body. It must have left the wait queues of `d` and `e`:
            // else a receiver record of a dead goroutine would take `d`'s
            // next value, or its offer of value 4 would still be on `e`.
            let (c, d, e) = (chan::<Tracked>(0), chan::<Tracked>(0), chan::<Tracked>(0));
            let (parked_id, parked) = {
                let (c, d, e, dr) = (c.clone(), d.clone(), e.clone(), drops.clone());
                spawn_reporting_id(move || {
                    select! {
                        recv(c) -> v => panic!("woken arm body, holding value {}", v.expect("open").id),
                        recv(d) -> _ => unreachable!("nothing is sent on d"),
                        send(e, Tracked::new(4, &dr)) => unreachable!("nobody receives from e"),
                    }
                })
            };
            wait_parked(parked_id, "select");
            c.send(Tracked::new(3, &drops));
            assert_eq!(panic_of(parked), "woken arm body, holding value 3");
            drops.assert_once([3, 4]);
            assert!(d.try_send(Tracked::new(5, &drops)).unwrap_err().is_full(), "no receiver left waiting on d");
            assert!(e.try_recv().unwrap_err().is_empty(), "no sender left waiting on e");
            drops.assert_once([5]);

            for (i, ch) in [&a, &b, &c, &d, &e].into_iter().enumerate() {
                round_trip(ch, &drops, 6 + i);
            }
            drops.assert_once(6..11);
            assert_usable(baseline);
        });
    });
}

/// Builds a value to send, but panics first.
fn exploding(what: &str) -> Tracked {
    panic!("{what}")
}

#[test]
fn a_panic_while_a_select_evaluates_its_arms_sends_nothing() {
    within(LIMIT, || {
        let rt = runtime();
        rt.block_on(|| {
            let baseline = gort::num_goroutine();
            let drops = Drops::new(8);
            // A receiver is parked on `a`, so `a`'s send arm would be ready;
            // the second arm's value panics while the arms are evaluated
            // (in source order, before any is chosen), so value 0 must be
            // dropped, never delivered.
            let (a, b) = (chan::<Tracked>(0), chan::<Tracked>(0));
            let (receiver_id, receiver) = {
                let a = a.clone();
                spawn_reporting_id(move || a.recv().expect("open").id)
            };
            wait_parked(receiver_id, "chan receive");
            let evaluator = {
                let (a, b, d) = (a.clone(), b.clone(), drops.clone());
                go!(move || {
                    select! {
                        send(a, Tracked::new(0, &d)) => unreachable!("never chosen"),
                        send(b, exploding("evaluating the second send arm")) => unreachable!("never chosen"),
                    }
                })
            };
            assert_eq!(panic_of(evaluator), "evaluating the second send arm");
            drops.assert_once([0]);
            a.send(Tracked::new(1, &drops));
            assert_eq!(receiver.join().unwrap(), 1, "the parked receiver got the next real value, not value 0");
            round_trip(&a, &drops, 2);
            round_trip(&b, &drops, 3);
            drops.assert_once(0..4);
            assert_usable(baseline);
        });
    });
}

#[test]
fn a_panic_between_a_dynamic_select_and_taking_its_value_drops_the_value_once() {
    within(LIMIT, || {
        let rt = runtime();
        rt.block_on(|| {
            let baseline = gort::num_goroutine();
            let drops = Drops::new(8);
            let (a, b, other) = (chan::<Tracked>(1), chan::<Tracked>(0), chan::<Tracked>(0));
            a.send(Tracked::new(0, &drops));
            let h = {
                let (a, b, other) = (a.clone(), b.clone(), other.clone());
                go!(move || {
                    let mut sel = gort::Select::new();
                    sel.recv(&a);
                    sel.recv(&b);
                    let op = sel.select();
                    assert_eq!(op.index(), 0, "only a is ready");
                    // The wrong channel: SelectedOp::recv panics with the value
                    // still in the arm.
                    op.recv(&other).map(|v| v.id)
                })
            };
            assert_eq!(panic_of(h), "SelectedOp::recv: arm 0 is not a receive on this channel");
            drops.assert_once([0]);
            assert!(a.is_empty(), "the value was taken from a");
            assert!(b.try_send(Tracked::new(1, &drops)).unwrap_err().is_full(), "no receiver left waiting on b");
            drops.assert_once([1]);
            round_trip(&a, &drops, 2);
            round_trip(&b, &drops, 3);
            drops.assert_once(0..4);
            assert_usable(baseline);
        });
    });
}

// ---------------------------------------------------------------------------
// A panic in a value's Drop while its channel is dropped

/// A channel of capacity 8 whose ring buffer has wrapped, holding values
/// 4 to 11 (4 to 7 at the end of the ring, 8 to 11 at its start), value
/// `bad` panicking when dropped. Values 0 to 3 went through and are gone.
fn wrapped_channel(drops: &Arc<Drops>, bad: usize) -> Chan<Tracked> {
    let ch = chan::<Tracked>(8);
    let value = |id| if id == bad { Tracked::panicking(id, drops) } else { Tracked::new(id, drops) };
    for id in 0..8 {
        ch.send(value(id));
    }
    for id in 0..4 {
        assert_eq!(ch.recv().expect("open").id, id);
    }
    for id in 8..12 {
        ch.send(value(id));
    }
    assert_eq!(ch.len(), 8);
    ch
}

#[test]
fn a_panicking_drop_of_a_buffered_value_ends_only_the_goroutine_that_dropped_the_channel() {
    within(LIMIT, || {
        let rt = runtime();
        rt.block_on(|| {
            let baseline = gort::num_goroutine();

            // The last handle dropped explicitly; the panicking value sits
            // mid-way in the ring's first part, so values follow it in that
            // part and in the wrapped one.
            let drops = Drops::new(12);
            let ch = wrapped_channel(&drops, 5);
            let h = go!(move || {
                drop(ch);
                unreachable!("dropping the channel panics");
            });
            assert_eq!(panic_of::<()>(h), "drop of value 5");
            drops.assert_once(0..12);

            // The last handle released as the goroutine's closure returns,
            // the panicking value in the wrapped part.
            let drops = Drops::new(12);
            let ch = wrapped_channel(&drops, 9);
            let rx = ch.receiver();
            drop(ch);
            let h = go!(move || {
                assert_eq!(rx.len(), 8);
                rx.cap()
            });
            assert_eq!(panic_of(h), "drop of value 9");
            drops.assert_once(0..12);

            // A sender and a receiver handle in two goroutines; the one that
            // ends last drops the values, whichever it is.
            let drops = Drops::new(12);
            let ch = wrapped_channel(&drops, 11);
            let (tx, rx) = (ch.sender(), ch.receiver());
            drop(ch);
            let go_on = chan::<()>(0);
            let first = {
                let go_on = go_on.clone();
                go!(move || {
                    go_on.recv();
                    drop(tx);
                })
            };
            let second = go!(move || {
                go_on.send(());
                drop(rx);
            });
            let (r1, r2) = (first.join(), second.join());
            let messages: Vec<Option<String>> =
                [r1.err(), r2.err()].into_iter().map(|p| p.map(|p| p.message().unwrap_or("").to_owned())).collect();
            assert_eq!(
                messages.iter().flatten().collect::<Vec<_>>(),
                ["drop of value 11"],
                "exactly one of the two goroutines dropped the channel, and panicked: {messages:?}"
            );
            drops.assert_once(0..12);

            let drops = Drops::new(4);
            let ch = chan::<Tracked>(2);
            round_trip(&ch, &drops, 0);
            drops.assert_once([0]);
            assert_usable(baseline);
        });
    });
}

// ---------------------------------------------------------------------------
// A panic while holding a gort Mutex

#[test]
fn a_goroutine_that_panics_holding_the_mutex_releases_it_to_goroutines_and_threads() {
    const WAITERS: usize = 8;
    within(LIMIT, || {
        let rt = Arc::new(runtime());
        let m = Arc::new(Mutex::new((0u64, 0u64)));
        let (baseline, holder, waiters, thread) = {
            let m = m.clone();
            rt.block_on(move || {
                let baseline = gort::num_goroutine();
                let (held, resume) = (chan::<()>(0), chan::<()>(0));
                // The holder parks on a channel with the guard held, then
                // panics halfway through an update: field 0 written, field 1
                // not.
                let (holder_id, holder) = {
                    let (m, held, resume) = (m.clone(), held.clone(), resume.clone());
                    spawn_reporting_id(move || {
                        let mut g = m.lock();
                        held.send(());
                        resume.recv();
                        g.0 += 1;
                        if g.0 == 1 {
                            panic!("holder panicked mid-update");
                        }
                        g.1 += 1;
                    })
                };
                held.recv();
                let mut waiter_ids = Vec::new();
                let mut waiters = Vec::new();
                for _ in 0..WAITERS {
                    let m = m.clone();
                    let (id, h) = spawn_reporting_id(move || {
                        let mut g = m.lock();
                        g.0 += 1;
                        g.1 += 1;
                    });
                    waiter_ids.push(id);
                    waiters.push(h);
                }
                for &id in &waiter_ids {
                    wait_parked(id, "sync.Mutex.Lock");
                }
                // A plain thread waits for the lock too.
                let thread = {
                    let m = m.clone();
                    thread::spawn(move || {
                        let mut g = m.lock();
                        g.0 += 1;
                        g.1 += 1;
                    })
                };
                // Held this long with waiters parked, the Mutex hands off
                // directly (Go's starvation mode) when the unwind unlocks it.
                gort::time::sleep(Duration::from_millis(5));
                wait_parked(holder_id, "chan receive");
                resume.send(());
                (baseline, holder, waiters, thread)
            })
        };
        rt.block_on(move || {
            assert_eq!(panic_of(holder), "holder panicked mid-update");
            for h in waiters {
                h.join().expect("each waiter got the lock");
            }
        });
        thread.join().expect("the thread got the lock");
        let (written, completed) = *m.try_lock().expect("free: a panic does not poison or keep the lock");
        let others = WAITERS as u64 + 1;
        assert_eq!(
            (written, completed),
            (others + 1, others),
            "every waiter's update counted, and the holder's half-update is there as written (no poisoning)"
        );
        let m2 = m.clone();
        rt.block_on(move || {
            let contenders: Vec<_> = (0..4)
                .map(|_| {
                    let m = m2.clone();
                    go!(move || {
                        for _ in 0..100 {
                            let mut g = m.lock();
                            let seen = g.1;
                            gort::yield_now();
                            g.1 = seen + 1;
                        }
                    })
                })
                .collect();
            for h in contenders {
                h.join().unwrap();
            }
            assert_eq!(m2.lock().1, others + 400, "the Mutex still excludes");
            assert_usable(baseline);
        });
    });
}

// ---------------------------------------------------------------------------
// A panic in the Drop of a detached goroutine's result

/// Runs `f` on its own thread; fails, naming `what`, if it panics or does
/// not finish in `limit`.
fn finish_in<T: Send + 'static>(limit: Duration, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("{what} did not finish in {limit:?}"),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
    }
}

/// A detached goroutine's result is dropped by the runtime, not by a
/// goroutine: here it is a buffered channel holding a value whose `Drop`
/// panics. The panic must not take a worker thread with it.
#[test]
fn a_panicking_drop_of_a_detached_goroutines_result_leaves_the_runtime_running() {
    let rt = Arc::new(Runtime::builder().workers(1).build().expect("a one-worker runtime"));
    let drops = Drops::new(1);
    {
        let (rt, d) = (rt.clone(), drops.clone());
        finish_in(LIMIT, "spawning the detached goroutine", move || {
            rt.block_on(move || {
                let detached = go!(move || {
                    let ch = chan::<Tracked>(1);
                    ch.send(Tracked::panicking(0, &d));
                    ch
                });
                drop(detached);
            })
        });
    }
    // The worker drops the result when it retires the goroutine (at the
    // latest before it goes to sleep).
    let deadline = Instant::now() + POLL_LIMIT;
    while drops.of(0) == 0 {
        assert!(Instant::now() < deadline, "the detached goroutine's result was never dropped");
        thread::sleep(Duration::from_millis(1));
    }
    let after = {
        let rt = rt.clone();
        finish_in(Duration::from_secs(10), "a goroutine started after the panicking drop", move || rt.block_on(|| 7))
    };
    assert_eq!(after, 7);
    drops.assert_once([0]);
    let rt = Arc::try_unwrap(rt).unwrap_or_else(|_| panic!("the runtime is shared with nothing else"));
    finish_in(Duration::from_secs(10), "dropping the runtime", move || drop(rt));
}
