//! Goroutines, the scheduler and the parking seam, through the public API.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use gort::park::{WaitReason, Waiter, park};
use gort::prelude::*;
use gort::sync::WaitGroup;
use gort::{Builder, Runtime};

#[path = "support/limits.rs"]
mod limits;
use limits::{scaled, within};

#[test]
fn a_million_goroutines_spawn_and_join() {
    let n = 1_000_000;
    let total = gort::run(move || {
        let hs: Vec<_> = (0..n as u64).map(|i| go!(i)).collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(total, (n as u64 - 1) * n as u64 / 2);
}

#[test]
fn a_hundred_thousand_goroutines_park_at_once_then_all_wake() {
    let n = 100_000;
    let rt = Runtime::builder().workers(2).build().unwrap();
    let gate = WaitGroup::new();
    gate.add(1);
    let parked = Arc::new(AtomicUsize::new(0));
    let finished = WaitGroup::new();
    for _ in 0..n {
        let (gate, parked, finished) = (gate.clone(), parked.clone(), finished.clone());
        finished.add(1);
        rt.spawn(move || {
            parked.fetch_add(1, Ordering::Relaxed);
            gate.wait();
            finished.done();
        });
    }
    while parked.load(Ordering::Relaxed) < n {
        thread::sleep(Duration::from_millis(5));
    }
    // Each counted itself just before parking: the last ones may still be
    // on their way into `wait`.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let waiting = rt.block_on(gort::debug::goroutines).iter().filter(|g| g.wait_reason.is_some()).count();
        if waiting == n {
            break;
        }
        assert!(Instant::now() < deadline, "only {waiting} of {n} goroutines ever parked on the gate");
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(rt.num_goroutine(), n);
    gate.done();
    finished.wait();
    while rt.num_goroutine() > 0 {
        thread::yield_now();
    }
}

#[test]
fn a_panicking_goroutine_is_isolated() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    let bad = Builder::new().name("bad").spawn_on(&rt, || -> u32 { panic!("kaboom") }).unwrap();
    let good: Vec<_> = (0..100u32).map(|i| rt.spawn(move || i)).collect();
    let p = bad.join().unwrap_err();
    assert_eq!(p.message(), Some("kaboom"));
    assert_eq!(good.into_iter().map(|h| h.join().unwrap()).sum::<u32>(), 4950);
    assert_eq!(rt.block_on(|| 7), 7, "the runtime keeps running after a panic");
}

#[test]
fn recursion_that_fits_the_stack_works() {
    #[inline(never)]
    fn depth(n: u64) -> u64 {
        let pad = std::hint::black_box([n; 16]);
        if n == 0 { 0 } else { 1 + depth(n - 1) + pad[0] - n }
    }
    let h = Builder::new().stack_size(8 << 20).spawn(|| depth(20_000)).unwrap();
    assert_eq!(h.join().unwrap(), 20_000);
    // The main goroutine has a main thread's stack.
    assert_eq!(gort::run(|| depth(5_000)), 5_000);
    // The default stack holds a modest recursion too, even unoptimised.
    assert_eq!(go!(depth(50)).join().unwrap(), 50);
}

#[test]
fn go_works_from_threads_goroutines_and_nested() {
    let from_threads: Vec<_> =
        (0..4u64).map(|t| thread::spawn(move || go!(t * 10).join().unwrap())).map(|t| t.join().unwrap()).collect();
    assert_eq!(from_threads, vec![0, 10, 20, 30]);

    let nested = go!(move || {
        let inner = go!(move || {
            let innermost = go!({ gort::current_id().unwrap() });
            innermost.join().unwrap()
        });
        inner.join().unwrap()
    });
    assert!(nested.join().unwrap() > 0);

    let outer = go!(move || go!(|| 5).join().unwrap() + 1);
    assert_eq!(outer.join().unwrap(), 6);
}

#[test]
fn block_on_from_four_threads_at_once() {
    let rt = Arc::new(Runtime::builder().workers(2).build().unwrap());
    let ts: Vec<_> = (0..4u64)
        .map(|t| {
            let rt = rt.clone();
            thread::spawn(move || {
                rt.block_on(move || {
                    let hs: Vec<_> = (0..1000u64).map(|i| go!(i + t)).collect();
                    hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
                })
            })
        })
        .collect();
    let sums: Vec<u64> = ts.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(sums, (0..4).map(|t| 499_500 + 1000 * t).collect::<Vec<_>>());
}

#[test]
fn run_from_several_threads_gives_each_its_own_main() {
    let ts: Vec<_> = (0..4).map(|_| thread::spawn(|| gort::run(|| gort::current_id().unwrap()))).collect();
    let mut ids: Vec<u64> = ts.into_iter().map(|t| t.join().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 4);
}

/// Counts drops, to see that shutdown unwinds parked goroutines' stacks.
struct DropCounter(Arc<AtomicUsize>);
impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn shutdown_with_parked_goroutines_neither_hangs_nor_leaks() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let never = WaitGroup::new();
    never.add(1);
    let rt = Runtime::builder().workers(2).build().unwrap();
    let n = 1000;
    let started = WaitGroup::new();
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (guard, never, started) = (DropCounter(dropped.clone()), never.clone(), started.clone());
            started.add(1);
            rt.spawn(move || {
                let _guard = guard;
                started.done();
                if i % 2 == 0 {
                    never.wait();
                } else {
                    gort::time::sleep(Duration::from_secs(3600));
                }
            })
        })
        .collect();
    started.wait();
    within(Duration::from_secs(30), move || rt.shutdown_timeout(Duration::from_secs(10)));
    assert_eq!(dropped.load(Ordering::SeqCst), n, "every parked goroutine's stack was unwound");
    for h in handles {
        assert!(h.join().is_err(), "a goroutine torn down at shutdown reports an error");
    }
    assert_eq!(Arc::strong_count(&dropped), 1, "no goroutine kept its captures alive");
}

#[path = "support/baton.rs"]
mod baton;

#[test]
fn two_goroutines_waking_each_other_do_not_starve_a_third() {
    let rt = Arc::new(Runtime::builder().workers(1).build().unwrap());
    let rt2 = rt.clone();
    within(Duration::from_secs(30), move || {
        rt2.block_on(|| {
            let baton = Arc::new(baton::Baton::default());
            let stop = Arc::new(AtomicBool::new(false));
            let rounds = Arc::new(AtomicUsize::new(0));
            let player = |me: usize| {
                let (baton, stop, rounds) = (baton.clone(), stop.clone(), rounds.clone());
                go!(move || {
                    while !stop.load(Ordering::SeqCst) && baton.take_turn(me) {
                        rounds.fetch_add(1, Ordering::Relaxed);
                    }
                    baton.close();
                })
            };
            let (ha, hb) = (player(0), player(1));
            // Let the pair start, then queue behind them: with one worker,
            // this goroutine runs again only if the pair yields the worker.
            gort::yield_now();
            stop.store(true, Ordering::SeqCst);
            ha.join().unwrap();
            hb.join().unwrap();
            assert!(rounds.load(Ordering::Relaxed) > 2, "the pair did ping-pong");
        })
    });
}

#[test]
fn goroutines_queued_behind_a_busy_worker_run_on_an_idle_one() {
    // A goroutine queues two others (one in `runnext`, one in its queue),
    // then keeps its worker until both have run. Thieves leave a short
    // queue and `runnext` alone for a grace period, since their owner is
    // usually about to run them; after it they must take them.
    let rt = Runtime::builder().workers(2).spare_threads(0).build().unwrap();
    let busy = rt.spawn(|| {
        let ran = Arc::new(AtomicUsize::new(0));
        for _ in 0..2 {
            let ran = ran.clone();
            go!(move || ran.fetch_add(1, Ordering::SeqCst));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while ran.load(Ordering::SeqCst) < 2 {
            assert!(Instant::now() < deadline, "queued goroutines never ran elsewhere");
            std::hint::spin_loop();
        }
    });
    busy.join().unwrap();
}

#[test]
fn sleep_never_returns_early() {
    let hs: Vec<_> = (0..200)
        .map(|_| {
            go!(move || {
                let start = Instant::now();
                gort::time::sleep(Duration::from_millis(10));
                start.elapsed()
            })
        })
        .collect();
    for h in hs {
        assert!(h.join().unwrap() >= Duration::from_millis(10));
    }
    let start = Instant::now();
    gort::time::sleep(Duration::from_millis(10));
    assert!(start.elapsed() >= Duration::from_millis(10), "on a plain thread too");
}

#[test]
fn park_with_deadline_times_out_and_unpark_beats_it() {
    let timed_out = go!(|| {
        let deadline = Instant::now() + Duration::from_millis(20);
        let mut wake = gort::park::Wake::Unparked;
        while Instant::now() < deadline {
            wake = park(WaitReason::Select, Some(deadline), ());
        }
        wake
    });
    assert_eq!(timed_out.join().unwrap(), gort::park::Wake::TimedOut);

    let slot: Arc<parking_lot::Mutex<Option<Waiter>>> = Arc::default();
    let s = slot.clone();
    let sleeper = go!(move || {
        let mut guard = s.lock();
        *guard = Some(Waiter::current());
        park(WaitReason::ChanReceive, Some(Instant::now() + Duration::from_secs(60)), guard)
    });
    let w = loop {
        if let Some(w) = slot.lock().take() {
            break w;
        }
        thread::yield_now();
    };
    assert!(w.unpark());
    assert!(!w.unpark(), "a second unpark of the same park does nothing");
    assert_eq!(sleeper.join().unwrap(), gort::park::Wake::Unparked);
}

#[test]
fn unpark_from_many_threads_wakes_exactly_once() {
    for _ in 0..scaled(2000) {
        let slot: Arc<parking_lot::Mutex<Option<Waiter>>> = Arc::default();
        let s = slot.clone();
        let g = go!(move || {
            let mut guard = s.lock();
            *guard = Some(Waiter::current());
            park(WaitReason::ChanReceive, None, guard);
        });
        let w = loop {
            if let Some(w) = slot.lock().clone() {
                break w;
            }
            thread::yield_now();
        };
        let wins = Arc::new(AtomicUsize::new(0));
        let ts: Vec<_> = (0..3)
            .map(|_| {
                let (w, wins) = (w.clone(), wins.clone());
                thread::spawn(move || {
                    if w.unpark() {
                        wins.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        ts.into_iter().for_each(|t| t.join().unwrap());
        g.join().unwrap();
        assert_eq!(wins.load(Ordering::SeqCst), 1);
    }
}

#[test]
fn several_runtimes_keep_their_goroutines() {
    let a = Runtime::builder().workers(1).thread_name("rt-a").build().unwrap();
    let b = Runtime::builder().workers(1).thread_name("rt-b").build().unwrap();
    let thread_of = || thread::current().name().unwrap().to_owned();
    let on_a = a.block_on(move || go!(move || thread_of()).join().unwrap());
    let on_b = b.block_on(move || go!(move || thread_of()).join().unwrap());
    assert!(on_a.starts_with("rt-a"), "{on_a}");
    assert!(on_b.starts_with("rt-b"), "{on_b}");
}

#[test]
fn goroutine_locals_follow_the_goroutine() {
    use std::cell::Cell;
    gort::goroutine_local! { static ID: Cell<u64> = Cell::new(0); }
    let hs: Vec<_> = (1..=50u64)
        .map(|i| {
            go!(move || {
                ID.with(|v| v.set(i));
                for _ in 0..10 {
                    gort::yield_now();
                    gort::time::sleep(Duration::from_micros(10));
                    assert_eq!(ID.with(Cell::get), i);
                }
            })
        })
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
}

#[test]
fn num_goroutine_counts_live_goroutines() {
    let rt = Runtime::builder().workers(1).build().unwrap();
    let gate = WaitGroup::new();
    gate.add(1);
    let hs: Vec<_> = (0..10)
        .map(|_| {
            let gate = gate.clone();
            rt.spawn(move || gate.wait())
        })
        .collect();
    assert_eq!(rt.num_goroutine(), 10);
    assert_eq!(rt.block_on(gort::num_goroutine), 11, "ten parked plus the caller");
    gate.done();
    hs.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(rt.num_goroutine(), 0);
}

#[test]
fn recycled_goroutines_start_afresh_and_ended_ones_leave_dumps() {
    let rt = Runtime::builder().workers(1).build().unwrap();
    for _ in 0..200 {
        drop(Builder::new().name("old").spawn_on(&rt, || ()).unwrap());
    }
    while rt.num_goroutine() > 0 {
        thread::yield_now();
    }
    let fresh = rt.spawn(gort::current_id);
    assert_eq!(fresh.name(), None, "a recycled header must not keep the old name");
    let id = fresh.id();
    assert_eq!(fresh.join().unwrap(), Some(id));
    let seen = rt.block_on(gort::debug::goroutines);
    assert_eq!(seen.len(), 1, "only the caller is alive: {seen:?}");
    assert_eq!(seen[0].name, None);
}

#[test]
fn handles_and_runtimes_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<gort::JoinHandle<u32>>();
    send_sync::<Runtime>();
    send_sync::<WaitGroup>();
    send_sync::<Waiter>();
}
