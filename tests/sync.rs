//! `gort::sync` through the facade: Mutex (contention on the default and a
//! two-worker runtime, Go's starvation hand-off, guards held across parks,
//! try_lock, threads and goroutines contending, unlock on panic), RwLock
//! (readers share, writers exclude, writers are not starved), Once,
//! Semaphore (weighted bound, FIFO, misuse panics), Cond (signal wakes one,
//! broadcast all, a bounded queue), WaitGroup misuse, and what happens to
//! waiters whose runtime shuts down. Stress sizes shrink in unoptimised
//! builds (`scaled`).

use std::collections::VecDeque;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use gort::prelude::*;
use gort::sync::{Cond, Mutex, Once, RwLock, Semaphore, WaitGroup};
use gort::{Builder, Runtime};

#[path = "support/limits.rs"]
mod limits;
#[path = "support/rng.rs"]
mod rng;
use limits::{scaled, within};
use rng::Rng;

/// How long any one test may take before it counts as hung.
const LIMIT: Duration = Duration::from_secs(120);

/// How long a helper polls for a state (parked, counted) before failing.
const POLL_LIMIT: Duration = Duration::from_secs(10);

/// Runs `f` as a goroutine and returns the message of the panic it must raise.
fn panic_of<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> String {
    match go!(f()).join() {
        Ok(_) => panic!("expected a panic, but the goroutine returned"),
        Err(p) => p.message().expect("a panic with a message").to_owned(),
    }
}

/// Polls `cond` (parking between looks) until it holds; fails after
/// [`POLL_LIMIT`].
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + POLL_LIMIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        gort::time::sleep(Duration::from_millis(1));
    }
}

/// Waits until every goroutine in `ids` of the *current* runtime (the
/// calling goroutine's, or the default one on a plain thread) is parked
/// with wait reason `reason` (Go's spelling, e.g. "sync.Mutex.Lock").
fn wait_parked(ids: &[u64], reason: &str) {
    let deadline = Instant::now() + POLL_LIMIT;
    loop {
        let parked =
            gort::debug::goroutines().iter().filter(|g| ids.contains(&g.id) && g.wait_reason == Some(reason)).count();
        if parked == ids.len() {
            return;
        }
        assert!(Instant::now() < deadline, "only {parked} of {} goroutines ever parked in {reason}", ids.len());
        gort::time::sleep(Duration::from_millis(1));
    }
}

/// Waits, from a plain thread, until goroutine `id` of `rt` is parked with
/// wait reason `reason`.
fn wait_parked_on(rt: &Runtime, id: u64, reason: &str) {
    let deadline = Instant::now() + POLL_LIMIT;
    loop {
        let parked = rt.block_on(gort::debug::goroutines).iter().any(|g| g.id == id && g.wait_reason == Some(reason));
        if parked {
            return;
        }
        assert!(Instant::now() < deadline, "goroutine {id} never parked in {reason}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Busy-waits for `d` without parking or yielding.
fn spin_for(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

// ---------------------------------------------------------------------------
// Mutex

/// `goroutines` goroutines each lock, increment and unlock `per` times; an
/// atomic "holders" count checks that nobody is inside together. Now and
/// then a holder yields inside the critical section, so the others park
/// behind a holder that is not running. Returns the final count.
fn hammer_mutex(goroutines: usize, per: usize) -> u64 {
    let m = Arc::new(Mutex::new(0u64));
    let holders = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..goroutines)
        .map(|_| {
            let (m, holders) = (m.clone(), holders.clone());
            go!(move || {
                for i in 0..per {
                    let mut g = m.lock();
                    assert_eq!(holders.fetch_add(1, Ordering::Relaxed), 0, "two goroutines held the mutex at once");
                    // A read-modify-write the compiler cannot fuse: a lost
                    // update shows in the total.
                    let v = black_box(*g);
                    if i % 1024 == 0 {
                        gort::yield_now();
                    }
                    *g = v + 1;
                    holders.fetch_sub(1, Ordering::Relaxed);
                    drop(g);
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }

    *m.lock()
}

#[test]
fn mutex_contention_stress_on_the_default_runtime() {
    let per = scaled(100_000);
    let total = within(LIMIT, move || gort::run(move || hammer_mutex(64, per)));
    assert_eq!(total, 64 * per as u64);
}

#[test]
fn mutex_contention_stress_on_two_workers() {
    let per = scaled(100_000);
    let total = within(LIMIT, move || {
        let rt = Runtime::builder().workers(2).build().unwrap();
        rt.block_on(move || hammer_mutex(64, per))
    });
    assert_eq!(total, 64 * per as u64);
}

/// Go's starvation mode: a goroutine that re-locks at once after every
/// unlock, never yielding, would win every race against a woken waiter
/// (which must first be scheduled). After the waiter has waited 1 ms the
/// unlock hands it the lock directly, so it gets in long before the greedy
/// loop ends.
#[test]
fn mutex_starvation_mode_hands_the_lock_to_a_long_waiter() {
    const HOLD: Duration = Duration::from_micros(20);
    const GREEDY_FOR: Duration = Duration::from_millis(500);
    const BOUND: Duration = Duration::from_millis(200);
    let (asked, got, greedy_end, rounds) = within(Duration::from_secs(30), || {
        let rt = Runtime::builder().workers(2).build().unwrap();
        rt.block_on(|| {
            let m = Arc::new(Mutex::new(()));
            let started = chan::<()>(1);
            let greedy = {
                let (m, started) = (m.clone(), started.clone());
                go!(move || {
                    let begin = Instant::now();
                    let mut rounds = 0u64;
                    while begin.elapsed() < GREEDY_FOR {
                        let g = m.lock();
                        if rounds == 0 {
                            started.send(()); // buffered: does not park
                        }
                        spin_for(HOLD);
                        drop(g);
                        rounds += 1;
                    }
                    (Instant::now(), rounds)
                })
            };
            started.recv().expect("the greedy goroutine started");
            let waiter = {
                let m = m.clone();
                go!(move || {
                    let asked = Instant::now();
                    let g = m.lock();
                    let got = Instant::now();
                    drop(g);
                    (asked, got)
                })
            };
            let (greedy_end, rounds) = greedy.join().unwrap();
            let (asked, got) = waiter.join().unwrap();
            (asked, got, greedy_end, rounds)
        })
    });
    assert!(
        asked < greedy_end,
        "the waiter only ran after the greedy loop ended: the scheduler never gave it the second worker \
         (a scheduling problem, not the mutex's)"
    );
    assert!(rounds > 100, "the greedy goroutine barely looped ({rounds} rounds): nothing was contended");
    let waited = got.saturating_duration_since(asked);
    assert!(
        got < greedy_end && waited < BOUND,
        "the waiter waited {waited:?} for a lock held {HOLD:?} at a time: it was starved (no hand-off after 1 ms)"
    );
}

#[test]
fn mutex_guard_held_across_a_park_keeps_the_others_out() {
    within(LIMIT, || {
        gort::run(|| {
            let m = Arc::new(Mutex::new(Vec::<usize>::new()));
            let (held, release) = (chan::<()>(0), chan::<()>(0));
            let holder = {
                let (m, held, release) = (m.clone(), held.clone(), release.clone());
                go!(move || {
                    let mut g = m.lock();
                    held.send(());
                    release.recv(); // parks with the lock held
                    g.push(0);
                })
            };
            held.recv();
            let waiters: Vec<_> = (1..=8)
                .map(|i| {
                    let m = m.clone();
                    go!(move || {
                        m.lock().push(i);
                    })
                })
                .collect();
            let ids: Vec<u64> = waiters.iter().map(|h| h.id()).collect();
            wait_parked(&ids, "sync.Mutex.Lock");
            assert!(m.try_lock().is_none(), "the holder is parked but still holds the lock");
            release.send(());
            holder.join().unwrap();
            for h in waiters {
                h.join().unwrap();
            }
            let order = m.lock().clone();
            assert_eq!(order.first(), Some(&0), "a waiter got in while the parked holder held the lock: {order:?}");
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..=8).collect::<Vec<_>>(), "every locker got in exactly once");
        })
    });
}

#[test]
fn mutex_try_lock_get_mut_and_into_inner() {
    let mut m = Mutex::new(1);
    {
        let g = m.try_lock().expect("a free mutex locks without waiting");
        assert_eq!(*g, 1);
        assert!(m.try_lock().is_none(), "a held mutex cannot be try-locked");
        let other = thread::scope(|s| s.spawn(|| m.try_lock().is_none()).join().unwrap());
        assert!(other, "nor from another thread");
    }
    *m.get_mut() = 2;
    *m.try_lock().expect("free again after the guard dropped") += 1;
    assert_eq!(m.into_inner(), 3);

    // From a goroutine while a plain thread holds it.
    let m = Arc::new(Mutex::new(0));
    let g = m.lock();
    let m2 = m.clone();
    assert!(go!(move || m2.try_lock().is_none()).join().unwrap());
    drop(g);
    let m2 = m.clone();
    assert!(go!(move || m2.try_lock().is_some()).join().unwrap());
}

/// Increments `m` `n` times; `holders` checks exclusion. Every 64th time
/// the holder yields (goroutine or thread) inside the critical section.
fn bump(m: &Mutex<u64>, holders: &AtomicUsize, n: usize) {
    for i in 0..n {
        let mut g = m.lock();
        assert_eq!(holders.fetch_add(1, Ordering::Relaxed), 0, "two holders at once");
        let v = black_box(*g);
        if i % 64 == 0 {
            gort::yield_now();
        }
        *g = v + 1;
        holders.fetch_sub(1, Ordering::Relaxed);
        drop(g);
    }
}

#[test]
fn goroutines_and_plain_threads_contend_for_one_mutex() {
    let per = scaled(50_000);
    within(LIMIT, move || {
        let m = Arc::new(Mutex::new(0u64));
        let holders = Arc::new(AtomicUsize::new(0));
        let gs: Vec<_> = (0..4)
            .map(|_| {
                let (m, holders) = (m.clone(), holders.clone());
                go!(move || bump(&m, &holders, per))
            })
            .collect();
        let ts: Vec<_> = (0..2)
            .map(|_| {
                let (m, holders) = (m.clone(), holders.clone());
                thread::spawn(move || bump(&m, &holders, per))
            })
            .collect();
        gs.into_iter().for_each(|h| h.join().unwrap());
        ts.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(*m.lock(), 6 * per as u64);
    });

    // A thread blocks while a goroutine holds the lock across a sleep ...
    within(LIMIT, || {
        let m = Arc::new(Mutex::new(0u32));
        let (tx, rx) = mpsc::channel();
        let holder = {
            let m = m.clone();
            go!(move || {
                let mut g = m.lock();
                tx.send(()).unwrap();
                gort::time::sleep(Duration::from_millis(20));
                *g = 1;
            })
        };
        rx.recv().unwrap();
        let seen = *m.lock();
        assert_eq!(seen, 1, "the thread got the lock while the goroutine still held it");
        holder.join().unwrap();
    });

    // ... and a goroutine parks while a thread holds it.
    within(LIMIT, || {
        let m = Arc::new(Mutex::new(0u32));
        let held = chan::<()>(1);
        let holder = {
            let (m, held) = (m.clone(), held.clone());
            thread::spawn(move || {
                let mut g = m.lock();
                held.send(());
                thread::sleep(Duration::from_millis(20));
                *g = 2;
            })
        };
        held.recv();
        let m2 = m.clone();
        let seen = go!(move || { *m2.lock() }).join().unwrap();
        assert_eq!(seen, 2, "the goroutine got the lock while the thread still held it");
        holder.join().unwrap();
    });
}

#[test]
fn a_panic_while_holding_the_guard_unlocks_the_mutex() {
    within(LIMIT, || {
        let m = Arc::new(Mutex::new(5));
        let held = chan::<()>(1);
        let panicker = {
            let (m, held) = (m.clone(), held.clone());
            go!(move || {
                let mut g = m.lock();
                *g = 6;
                held.send(());
                // Let the waiter below park behind us first.
                gort::time::sleep(Duration::from_millis(20));
                if *g == 6 {
                    panic!("boom while holding the lock");
                }
            })
        };
        held.recv();
        let waiter = {
            let m = m.clone();
            go!(move || { *m.lock() })
        };
        let p = panicker.join().unwrap_err();
        assert_eq!(p.message(), Some("boom while holding the lock"));
        assert_eq!(waiter.join().unwrap(), 6, "the waiter gets the lock the unwind released, with the value written");
        assert_eq!(*m.try_lock().expect("no poisoning: the mutex is free and usable"), 6);
    });
}

// ---------------------------------------------------------------------------
// RwLock

#[test]
fn rwlock_readers_share_the_lock() {
    within(Duration::from_secs(30), || {
        gort::run(|| {
            let l = Arc::new(RwLock::new(7));
            let (to_b, to_a) = (chan::<i32>(0), chan::<i32>(0));
            // Each exchange below happens while *both* hold a read guard: if
            // readers excluded each other, this would deadlock.
            let a = {
                let (l, to_b, to_a) = (l.clone(), to_b.clone(), to_a.clone());
                go!(move || {
                    let g = l.read();
                    to_b.send(*g);
                    let seen = to_a.recv().unwrap();
                    drop(g);
                    seen
                })
            };
            let b = {
                let (l, to_b, to_a) = (l.clone(), to_b.clone(), to_a.clone());
                go!(move || {
                    let g = l.read();
                    let seen = to_b.recv().unwrap();
                    to_a.send(*g);
                    drop(g);
                    seen
                })
            };
            assert_eq!(a.join().unwrap(), 7);
            assert_eq!(b.join().unwrap(), 7);
            assert!(l.try_write().is_some(), "both read guards were released");
        })
    });
}

#[test]
fn rwlock_writer_excludes_readers_and_a_queued_writer_holds_back_new_readers() {
    within(LIMIT, || {
        gort::run(|| {
            let l = Arc::new(RwLock::new(0));
            let mut w = l.write();
            let readers: Vec<_> = (0..4)
                .map(|_| {
                    let l = l.clone();
                    go!(move || { *l.read() })
                })
                .collect();
            let ids: Vec<u64> = readers.iter().map(|h| h.id()).collect();
            wait_parked(&ids, "sync.RWMutex.RLock");
            assert!(l.try_read().is_none(), "a writer holds it");
            assert!(l.try_write().is_none(), "a writer holds it");
            *w = 1;
            drop(w);
            for r in readers {
                assert_eq!(r.join().unwrap(), 1, "a reader got in before the writer finished");
            }

            // A writer queued behind a reader keeps later readers out.
            let r0 = l.read();
            let writer = {
                let l = l.clone();
                go!(move || {
                    *l.write() = 2;
                })
            };
            wait_parked(&[writer.id()], "sync.RWMutex.Lock");
            assert!(l.try_read().is_none(), "a reader arriving after a queued writer must wait behind it");
            let late = {
                let l = l.clone();
                go!(move || { *l.read() })
            };
            wait_parked(&[late.id()], "sync.RWMutex.RLock");
            assert_eq!(*r0, 1);
            drop(r0);
            writer.join().unwrap();
            assert_eq!(late.join().unwrap(), 2, "the late reader was served after the queued writer");
        })
    });
}

/// Readers keep overlapping read locks for 300 ms (each holds across a
/// spin and a yield, so the reader count never drops to zero by itself). A
/// writer arriving in the middle must get in well before the stream ends.
#[test]
fn rwlock_writer_is_not_starved_by_a_stream_of_readers() {
    const STREAM: Duration = Duration::from_millis(300);
    const BOUND: Duration = Duration::from_millis(100);
    let (waited, reads_before, write_done, stream_ends) = within(Duration::from_secs(30), || {
        let rt = Runtime::builder().workers(2).build().unwrap();
        rt.block_on(|| {
            let l = Arc::new(RwLock::new(0u64));
            let reads = Arc::new(AtomicUsize::new(0));
            let readers: Vec<_> = (0..4)
                .map(|_| {
                    let (l, reads) = (l.clone(), reads.clone());
                    go!(move || {
                        let start = Instant::now();
                        while start.elapsed() < STREAM {
                            let g = l.read();
                            black_box(*g);
                            spin_for(Duration::from_micros(20));
                            gort::yield_now();
                            drop(g);
                            reads.fetch_add(1, Ordering::Relaxed);
                        }
                        Instant::now()
                    })
                })
                .collect();
            gort::time::sleep(Duration::from_millis(50));
            let reads_before = reads.load(Ordering::Relaxed);
            let asked = Instant::now();
            *l.write() += 1;
            let write_done = Instant::now();
            let stream_ends: Vec<Instant> = readers.into_iter().map(|h| h.join().unwrap()).collect();
            assert_eq!(*l.read(), 1);
            (write_done - asked, reads_before, write_done, stream_ends)
        })
    });
    assert!(reads_before > 0, "the reader stream had not started when the writer came");
    assert!(waited < BOUND, "the writer waited {waited:?} under a stream of readers: starved");
    assert!(
        stream_ends.iter().all(|&end| end > write_done),
        "the writer got in only once a reader had stopped: it did not cut into the stream"
    );
}

#[test]
fn rwlock_try_read_and_try_write() {
    let mut l = RwLock::new(String::from("a"));
    {
        let w = l.try_write().expect("free: try_write succeeds");
        assert!(l.try_read().is_none(), "write held: no reader");
        assert!(l.try_write().is_none(), "write held: no second writer");
        drop(w);
    }
    {
        let r1 = l.try_read().expect("free: try_read succeeds");
        let r2 = l.try_read().expect("readers share");
        assert!(l.try_write().is_none(), "read held: no writer");
        assert_eq!((r1.as_str(), r2.as_str()), ("a", "a"));
    }
    l.get_mut().push('b');
    l.try_write().expect("all guards dropped").push('c');
    assert_eq!(l.into_inner(), "abc");
}

// ---------------------------------------------------------------------------
// Once

#[test]
fn once_runs_exactly_once_and_every_caller_sees_its_effect() {
    within(LIMIT, || {
        gort::run(|| {
            let once = Arc::new(Once::new());
            let runs = Arc::new(AtomicUsize::new(0));
            // Written by the function after a park, read by every caller
            // with Relaxed: only the Once orders the two.
            let value = Arc::new(AtomicUsize::new(0));
            let gate = WaitGroup::new();
            gate.add(1);
            let hs: Vec<_> = (0..100)
                .map(|_| {
                    let (once, runs, value, gate) = (once.clone(), runs.clone(), value.clone(), gate.clone());
                    go!(move || {
                        gate.wait();
                        once.call_once(|| {
                            runs.fetch_add(1, Ordering::SeqCst);
                            gort::time::sleep(Duration::from_millis(20)); // the others arrive and wait
                            value.store(42, Ordering::Relaxed);
                        });
                        value.load(Ordering::Relaxed)
                    })
                })
                .collect();
            gate.done();
            for h in hs {
                assert_eq!(h.join().unwrap(), 42, "a caller returned before the function had completed");
            }
            assert_eq!(runs.load(Ordering::SeqCst), 1, "the function ran more than once");
            assert!(once.is_completed());
        })
    });
}

#[test]
fn once_whose_function_panicked_counts_as_done() {
    within(LIMIT, || {
        gort::run(|| {
            let once = Arc::new(Once::new());
            let started = chan::<()>(1);
            let first = {
                let (once, started) = (once.clone(), started.clone());
                go!(move || {
                    once.call_once(|| {
                        started.send(());
                        gort::time::sleep(Duration::from_millis(20));
                        panic!("init failed");
                    })
                })
            };
            started.recv();
            assert!(!once.is_completed(), "still running");
            let waiter_ran = Arc::new(AtomicBool::new(false));
            let waiter = {
                let (once, ran) = (once.clone(), waiter_ran.clone());
                go!(move || once.call_once(|| ran.store(true, Ordering::SeqCst)))
            };
            assert_eq!(first.join().unwrap_err().message(), Some("init failed"));
            waiter.join().expect("a caller waiting on a function that panicked returns normally");
            assert!(once.is_completed(), "a panicking function counts as done");
            let mut ran_again = false;
            once.call_once(|| ran_again = true);
            assert!(!ran_again, "a later call ran the function again");
            assert!(!waiter_ran.load(Ordering::SeqCst), "the waiter ran its function");
        })
    });
}

// ---------------------------------------------------------------------------
// Semaphore

#[test]
fn semaphore_never_hands_out_more_than_its_size() {
    const SIZE: u64 = 5;
    let per = scaled(20_000);
    let max = within(LIMIT, move || {
        let rt = Runtime::builder().workers(2).build().unwrap();
        rt.block_on(move || {
            let sem = Arc::new(Semaphore::new(SIZE));
            let (in_use, max) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
            let hs: Vec<_> = (0..16u64)
                .map(|i| {
                    let (sem, in_use, max) = (sem.clone(), in_use.clone(), max.clone());
                    go!(move || {
                        let mut rng = Rng::new(i + 1);
                        for _ in 0..per {
                            let w = 1 + rng.below(3);
                            sem.acquire(w);
                            let now = in_use.fetch_add(w, Ordering::SeqCst) + w;
                            assert!(now <= SIZE, "{now} units in use of a semaphore of {SIZE}");
                            max.fetch_max(now, Ordering::SeqCst);
                            if rng.below(4) == 0 {
                                gort::yield_now();
                            }
                            in_use.fetch_sub(w, Ordering::SeqCst);
                            sem.release(w);
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            assert!(sem.try_acquire(SIZE), "every unit came back");
            max.load(Ordering::SeqCst)
        })
    });
    assert!(max <= SIZE);
    assert!(max >= 4, "units were never shared between holders (max in use {max}): nothing was tested");
}

#[test]
fn semaphore_serves_a_large_request_before_smaller_later_ones() {
    within(LIMIT, || {
        gort::run(|| {
            let sem = Arc::new(Semaphore::new(4));
            sem.acquire(4);
            let got = Arc::new(Mutex::new(Vec::<&'static str>::new()));
            let let_big_go = chan::<()>(0);
            let big = {
                let (sem, got, let_big_go) = (sem.clone(), got.clone(), let_big_go.clone());
                go!(move || {
                    sem.acquire(3);
                    got.lock().push("big");
                    let_big_go.recv();
                    sem.release(3);
                })
            };
            wait_parked(&[big.id()], "semacquire");
            let small = |name: &'static str| {
                let (sem, got) = (sem.clone(), got.clone());
                let h = go!(move || {
                    sem.acquire(1);
                    got.lock().push(name);
                });
                wait_parked(&[h.id()], "semacquire");
                h
            };
            let small1 = small("small1");
            let small2 = small("small2");

            // One unit free: enough for a small request, not for the large
            // one at the head. Nobody may overtake it.
            sem.release(1);
            assert!(!sem.try_acquire(1), "a newcomer overtook the queue");
            gort::time::sleep(Duration::from_millis(30));
            let early = got.lock().clone();
            assert!(early.is_empty(), "a small request overtook the large one: {early:?}");

            // Four free: the large one and the next small one fit, the last does not.
            sem.release(3);
            wait_until("the large and the first small request are served", || {
                let n = got.lock().len();
                n >= 2
            });
            gort::time::sleep(Duration::from_millis(30));
            let mut served = got.lock().clone();
            served.sort_unstable();
            assert_eq!(served, ["big", "small1"], "served out of order");
            wait_parked(&[small2.id()], "semacquire");

            let_big_go.send(());
            big.join().unwrap();
            small1.join().unwrap();
            small2.join().unwrap();
            assert_eq!(got.lock().last(), Some(&"small2"));
            sem.release(2); // the small ones' units, released on their behalf
            assert!(sem.try_acquire(4), "every unit came back");
        })
    });
}

#[test]
fn semaphore_misuse_panics_with_gos_messages() {
    let msg = panic_of(|| Semaphore::new(2).acquire(3));
    assert!(msg.contains("exceeds the semaphore's size"), "{msg}");

    let sem = Arc::new(Semaphore::new(2));
    sem.acquire(1);
    let s = sem.clone();
    assert_eq!(panic_of(move || s.release(2)), "semaphore: released more than held");
    // The failed release changed nothing: one unit is still held.
    assert!(sem.try_acquire(1));
    assert!(!sem.try_acquire(1));
}

// ---------------------------------------------------------------------------
// Cond

#[test]
fn cond_signal_wakes_exactly_one_waiter_and_broadcast_wakes_all() {
    const N: usize = 4;
    within(LIMIT, || {
        gort::run(|| {
            let pair = Arc::new((Mutex::new(0usize), Cond::new()));
            let woken = Arc::new(AtomicUsize::new(0));
            // One wait each, no predicate loop: this counts wake-ups.
            let wait_once = |pair: Arc<(Mutex<usize>, Cond)>, woken: Arc<AtomicUsize>| {
                go!(move || {
                    let (m, c) = &*pair;
                    let mut g = m.lock();
                    *g += 1;
                    let g = c.wait(g);
                    drop(g);
                    woken.fetch_add(1, Ordering::SeqCst);
                })
            };
            let hs: Vec<_> = (0..N).map(|_| wait_once(pair.clone(), woken.clone())).collect();
            // A waiter queues on the Cond before it unlocks the mutex, so
            // once all have counted themselves (under the mutex) all queued.
            wait_until("every waiter queued", || {
                let n = *pair.0.lock();
                n == N
            });
            for expected in 1..=2 {
                pair.1.signal();
                wait_until("a signalled waiter returns", || woken.load(Ordering::SeqCst) >= expected);
                gort::time::sleep(Duration::from_millis(50));
                assert_eq!(woken.load(Ordering::SeqCst), expected, "signal woke more than one waiter");
            }
            pair.1.broadcast();
            for h in hs {
                h.join().unwrap();
            }
            assert_eq!(woken.load(Ordering::SeqCst), N, "broadcast woke every waiter");

            // A signal with nobody waiting is not remembered.
            pair.1.signal();
            let late = wait_once(pair.clone(), woken.clone());
            wait_parked(&[late.id()], "sync.Cond.Wait");
            gort::time::sleep(Duration::from_millis(20));
            assert!(!late.is_finished(), "an earlier signal with no waiter woke a later waiter");
            pair.1.broadcast();
            late.join().unwrap();
        })
    });
}

/// A bounded queue on Mutex + two Conds.
struct Bounded {
    items: VecDeque<u64>,
    closed: bool,
}

#[test]
fn cond_producer_consumer_queue_delivers_every_item_exactly_once() {
    const CAP: usize = 16;
    const PRODUCERS: u64 = 2;
    let n = scaled(100_000) as u64;
    let all = within(LIMIT, move || {
        gort::run(move || {
            let shared =
                Arc::new((Mutex::new(Bounded { items: VecDeque::new(), closed: false }), Cond::new(), Cond::new()));
            let producers: Vec<_> = (0..PRODUCERS)
                .map(|p| {
                    let shared = shared.clone();
                    go!(move || {
                        let (m, not_empty, not_full) = &*shared;
                        let mut v = p;
                        while v < n {
                            let mut q = m.lock();
                            while q.items.len() == CAP {
                                q = not_full.wait(q);
                            }
                            q.items.push_back(v);
                            drop(q);
                            not_empty.signal();
                            v += PRODUCERS;
                        }
                    })
                })
                .collect();
            let consumers: Vec<_> = (0..3)
                .map(|_| {
                    let shared = shared.clone();
                    go!(move || {
                        let (m, not_empty, not_full) = &*shared;
                        let mut got = Vec::new();
                        let mut q = m.lock();
                        loop {
                            if let Some(v) = q.items.pop_front() {
                                drop(q);
                                not_full.signal();
                                got.push(v);
                                q = m.lock();
                            } else if q.closed {
                                return got;
                            } else {
                                q = not_empty.wait(q);
                            }
                        }
                    })
                })
                .collect();
            for p in producers {
                p.join().unwrap();
            }
            shared.0.lock().closed = true;
            shared.1.broadcast();
            let mut all: Vec<u64> = consumers.into_iter().flat_map(|c| c.join().unwrap()).collect();
            all.sort_unstable();
            all
        })
    });
    assert_eq!(all.len() as u64, n, "items lost or duplicated");
    assert!(all.iter().copied().eq(0..n), "some item was lost and another delivered twice");
}

// ---------------------------------------------------------------------------
// WaitGroup

#[test]
fn waitgroup_negative_counter_panics() {
    assert_eq!(panic_of(|| WaitGroup::new().done()), "sync: negative WaitGroup counter");
    let wg = WaitGroup::new();
    wg.add(1);
    let w = wg.clone();
    assert_eq!(panic_of(move || w.add(-2)), "sync: negative WaitGroup counter");
}

// ---------------------------------------------------------------------------
// Waiters whose runtime shuts down

#[test]
fn shutdown_removes_a_goroutine_parked_in_mutex_lock() {
    within(LIMIT, || {
        let m = Arc::new(Mutex::new(0u32));
        let guard = m.lock(); // this thread holds it and outlives the runtime
        let rt = Runtime::builder().workers(2).build().unwrap();
        let h = {
            let m = m.clone();
            rt.spawn(move || {
                *m.lock() += 1;
            })
        };
        wait_parked_on(&rt, h.id(), "sync.Mutex.Lock");
        drop(rt);
        assert!(h.join().is_err(), "the parked goroutine was torn down");
        // The unlock must not find the torn-down goroutine's record.
        drop(guard);
        assert_eq!(*m.lock(), 0, "the torn-down goroutine never got the lock");
        assert!(m.try_lock().is_some());
        assert_eq!(Arc::strong_count(&m), 1, "the torn-down goroutine released its captures");
    });
}

#[test]
fn shutdown_removes_a_goroutine_parked_in_semaphore_acquire() {
    within(LIMIT, || {
        let sem = Arc::new(Semaphore::new(2));
        sem.acquire(2);
        let rt = Runtime::builder().workers(2).build().unwrap();
        let h = {
            let sem = sem.clone();
            rt.spawn(move || {
                sem.acquire(1);
                sem.release(1);
            })
        };
        wait_parked_on(&rt, h.id(), "semacquire");
        drop(rt);
        assert!(h.join().is_err(), "the parked goroutine was torn down");
        sem.release(2);
        assert!(sem.try_acquire(2), "the torn-down waiter's request was neither left queued nor served");
        sem.release(2);
        sem.acquire(1);
    });
}

#[test]
fn shutdown_removes_a_goroutine_parked_in_rwlock_read() {
    within(LIMIT, || {
        let l = Arc::new(RwLock::new(0u32));
        let w = l.write();
        let rt = Runtime::builder().workers(2).build().unwrap();
        let h = {
            let l = l.clone();
            rt.spawn(move || *l.read())
        };
        wait_parked_on(&rt, h.id(), "sync.RWMutex.RLock");
        drop(rt);
        assert!(h.join().is_err(), "the parked goroutine was torn down");
        drop(w);
        assert!(l.try_write().is_some(), "nobody holds it: the torn-down reader was not handed a read lock");
        assert!(l.try_read().is_some());
    });
}

#[test]
fn shutdown_removes_a_goroutine_parked_in_cond_wait() {
    within(LIMIT, || {
        let pair = Arc::new((Mutex::new(0u32), Cond::new()));
        let rt = Runtime::builder().workers(2).build().unwrap();
        let h = {
            let pair = pair.clone();
            rt.spawn(move || {
                let (m, c) = &*pair;
                let g = m.lock();
                drop(c.wait(g));
            })
        };
        wait_parked_on(&rt, h.id(), "sync.Cond.Wait");
        drop(rt);
        assert!(h.join().is_err(), "the parked goroutine was torn down");
        // A plain thread waits now: one signal must reach it, not the
        // torn-down goroutine's record.
        let t = {
            let pair = pair.clone();
            thread::spawn(move || {
                let (m, c) = &*pair;
                let mut g = m.lock();
                *g = 1;
                let g = c.wait(g);
                *g
            })
        };
        wait_until("the thread waits on the Cond", || {
            let v = *pair.0.lock();
            v == 1
        });
        pair.1.signal();
        assert_eq!(t.join().unwrap(), 1);
    });
}

#[test]
fn a_goroutine_torn_down_while_holding_a_mutex_releases_it() {
    within(LIMIT, || {
        let m = Arc::new(Mutex::new(0u32));
        let rt = Runtime::builder().workers(1).build().unwrap();
        let h = {
            let m = m.clone();
            rt.spawn(move || {
                let mut g = m.lock();
                *g = 1;
                gort::time::sleep(Duration::from_secs(3600)); // parks holding the lock
                *g = 2;
            })
        };
        wait_parked_on(&rt, h.id(), "sleep");
        assert!(m.try_lock().is_none(), "the sleeping goroutine holds it");
        drop(rt);
        assert!(h.join().is_err(), "the parked goroutine was torn down");
        assert_eq!(*m.try_lock().expect("the guard's drop during the unwind released it"), 1);
    });
}

/// Parks `blocked` (a goroutine of a one-worker runtime) in a sync
/// primitive (wait reason `reason`); then occupies the only worker with a
/// goroutine that blocks its thread until shutdown begins, runs `grant` on
/// this thread (which hands the primitive to the parked goroutine: it is
/// made runnable but cannot run), and drops the runtime, which tears the
/// granted goroutine down before it ever runs again. Returns whether it
/// ran to its end anyway.
fn grant_then_shut_down(reason: &str, blocked: impl FnOnce() + Send + 'static, grant: impl FnOnce()) -> bool {
    let rt = Runtime::builder().workers(1).build().unwrap();
    let g = rt.spawn(blocked);
    wait_parked_on(&rt, g.id(), reason);
    let busy = Arc::new(AtomicBool::new(false));
    let occupier = {
        let busy = busy.clone();
        rt.spawn(move || {
            busy.store(true, Ordering::SeqCst);
            // Blocks the worker's thread (no park, no yield) until shutdown
            // has begun, which makes spawning fail.
            while Builder::new().spawn(|| ()).is_ok() {
                thread::sleep(Duration::from_millis(1));
            }
        })
    };
    while !busy.load(Ordering::SeqCst) {
        thread::yield_now();
    }
    // Past the mutex's 1 ms starvation threshold: an unlock now hands the
    // lock over rather than releasing it.
    thread::sleep(Duration::from_millis(5));
    grant();
    drop(rt);
    occupier.join().expect("the occupier returns once shutdown begins");
    g.join().is_ok()
}

// The three tests below check that what an unlock or release *handed* to a
// waiter is given back when that waiter is torn down before it could run
// (its runtime shut down in between). A goroutine torn down while holding
// a guard releases it (test above); a grant it never saw should not leak
// either.

#[test]
fn a_mutex_handed_to_a_goroutine_torn_down_before_it_ran_is_released() {
    within(LIMIT, || {
        let m = Arc::new(Mutex::new(0u32));
        let guard = m.lock();
        let ran = {
            let m = m.clone();
            grant_then_shut_down(
                "sync.Mutex.Lock",
                move || {
                    *m.lock() += 1;
                },
                move || drop(guard),
            )
        };
        assert!(!ran, "test premise: the granted goroutine was torn down before it ran");
        assert!(
            m.try_lock().is_some(),
            "the lock was handed to a goroutine torn down before it ran, and nobody released it"
        );
    });
}

#[test]
fn semaphore_units_granted_to_a_goroutine_torn_down_before_it_ran_come_back() {
    within(LIMIT, || {
        let sem = Arc::new(Semaphore::new(1));
        sem.acquire(1);
        let ran = {
            let s = sem.clone();
            grant_then_shut_down(
                "semacquire",
                move || {
                    s.acquire(1);
                    s.release(1);
                },
                || sem.release(1),
            )
        };
        assert!(!ran, "test premise: the granted goroutine was torn down before it ran");
        assert!(sem.try_acquire(1), "the unit granted to a goroutine torn down before it ran never came back");
    });
}

#[test]
fn a_read_lock_handed_to_a_goroutine_torn_down_before_it_ran_is_released() {
    within(LIMIT, || {
        let l = Arc::new(RwLock::new(0u32));
        let w = l.write();
        let ran = {
            let l = l.clone();
            grant_then_shut_down(
                "sync.RWMutex.RLock",
                move || {
                    black_box(*l.read());
                },
                move || drop(w),
            )
        };
        assert!(!ran, "test premise: the granted goroutine was torn down before it ran");
        assert!(
            l.try_write().is_some(),
            "the read lock handed to a goroutine torn down before it ran was never released"
        );
    });
}

// ---------------------------------------------------------------------------
// Many waiters released at once

#[test]
fn a_thousand_goroutines_blocked_on_a_cond_all_leave_after_broadcast() {
    const N: usize = 1000;
    within(LIMIT, || {
        let rt = Runtime::builder().workers(2).build().unwrap();
        rt.block_on(|| {
            let baseline = gort::num_goroutine();
            // (waiting, released)
            let state = Arc::new((Mutex::new((0usize, false)), Cond::new()));
            let exited = Arc::new(AtomicUsize::new(0));
            for _ in 0..N {
                let (state, exited) = (state.clone(), exited.clone());
                // Detached: nobody joins them; they must leave on their own.
                drop(go!(move || {
                    let (m, c) = &*state;
                    let mut g = m.lock();
                    g.0 += 1;
                    while !g.1 {
                        g = c.wait(g);
                    }
                    drop(g);
                    exited.fetch_add(1, Ordering::SeqCst);
                }));
            }
            wait_until("every goroutine waits on the Cond", || {
                let waiting = state.0.lock().0;
                waiting == N
            });
            assert_eq!(gort::num_goroutine(), baseline + N);
            wait_until("every goroutine is parked in Cond::wait", || {
                let parked =
                    gort::debug::goroutines().iter().filter(|g| g.wait_reason == Some("sync.Cond.Wait")).count();
                parked == N
            });
            state.0.lock().1 = true;
            state.1.broadcast();
            wait_until("the goroutine count is back to its baseline", || gort::num_goroutine() == baseline);
            assert_eq!(exited.load(Ordering::SeqCst), N, "every waiter returned from wait and exited");
        })
    });
}
