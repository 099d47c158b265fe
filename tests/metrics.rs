//! `Runtime::metrics`: each counter moves when, and only when, what it
//! counts happens. Runtimes have one worker and no spares where a test needs
//! goroutines to stay in a queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gort::Runtime;
use gort::prelude::*;

/// Waits (up to a generous deadline) until `cond` holds.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Spins until `release` is set, or for 10 s at most, so that a failing
/// assertion cannot leave a worker held and the runtime's drop waiting.
fn spin_until(release: &AtomicBool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !release.load(Ordering::SeqCst) && Instant::now() < deadline {
        std::hint::spin_loop();
    }
}

/// A goroutine that holds the only worker until `release` is set.
fn hold_worker(rt: &Runtime, release: &Arc<AtomicBool>, running: &Arc<AtomicBool>) -> gort::JoinHandle<()> {
    let (release, running) = (release.clone(), running.clone());
    rt.spawn(move || {
        running.store(true, Ordering::SeqCst);
        spin_until(&release);
    })
}

/// Spawns `n` goroutines on `rt` that wait to receive from one channel,
/// and waits until all have parked.
fn park_on_a_channel(rt: &Runtime, n: u64) -> (Chan<()>, Vec<gort::JoinHandle<Option<()>>>) {
    let ch = chan::<()>(0);
    let hs = (0..n)
        .map(|_| {
            let ch = ch.clone();
            rt.spawn(move || ch.recv())
        })
        .collect();
    eventually("the goroutines parked", || rt.metrics().parks >= n);
    (ch, hs)
}

#[test]
fn goroutines_created_and_live() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    let m = rt.metrics();
    assert_eq!((m.workers, m.goroutines_created, m.goroutines_live), (2, 0, 0));
    let (ch, hs) = park_on_a_channel(&rt, 10);
    let m = rt.metrics();
    assert_eq!((m.goroutines_created, m.goroutines_live), (10, 10));
    ch.close();
    hs.into_iter().for_each(|h| assert_eq!(h.join().unwrap(), None));
    eventually("all ended", || rt.metrics().goroutines_live == 0);
    assert_eq!(rt.metrics().goroutines_created, 10);
}

#[test]
fn parks_count_each_blocking_operation() {
    let rt = Runtime::builder().workers(1).build().unwrap();
    let before = rt.metrics().parks;
    rt.block_on(|| {
        for _ in 0..5 {
            gort::time::sleep(Duration::from_millis(1));
        }
    });
    // Five sleeps, plus whatever the joining thread's wait costs (nothing:
    // it is a plain thread, not a goroutine).
    assert_eq!(rt.metrics().parks - before, 5);
}

#[test]
fn queue_depths_show_goroutines_waiting_behind_a_busy_worker() {
    let rt = Runtime::builder().workers(1).spare_threads(0).build().unwrap();
    let (release, running) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let busy = hold_worker(&rt, &release, &running);
    eventually("the worker is held", || running.load(Ordering::SeqCst));
    // Spawned from a plain thread: they wait in the global queue.
    let hs: Vec<_> = (0..7).map(|i| rt.spawn(move || i)).collect();
    let m = rt.metrics();
    assert_eq!((m.global_queue_depth, m.queue_depths.clone()), (7, vec![0]), "{m:?}");
    release.store(true, Ordering::SeqCst);
    busy.join().unwrap();
    assert_eq!(hs.into_iter().map(|h| h.join().unwrap()).sum::<i32>(), 21);
    let m = rt.metrics();
    assert_eq!((m.global_queue_depth, m.queue_depths), (0, vec![0]));
}

#[test]
fn local_queue_depth_and_steals() {
    let rt = Runtime::builder().workers(2).spare_threads(0).build().unwrap();
    let (release, running) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let (r, s) = (release.clone(), running.clone());
    // A goroutine queues 5 goroutines on its own worker, then holds it.
    let spawner = rt.spawn(move || {
        let hs: Vec<_> = (0..5).map(|i| gort::spawn(move || i)).collect();
        s.store(true, Ordering::SeqCst);
        spin_until(&r);
        hs
    });
    eventually("the spawner holds its worker", || running.load(Ordering::SeqCst));
    // The other worker steals them (it was woken for the first spawn).
    eventually("the queued goroutines are stolen", || rt.metrics().steals >= 1);
    release.store(true, Ordering::SeqCst);
    let hs = spawner.join().unwrap();
    assert_eq!(hs.into_iter().map(|h| h.join().unwrap()).sum::<i32>(), 10);
    assert_eq!(rt.metrics().queue_depths, vec![0, 0]);
}

#[test]
fn stacks_in_use_are_counted() {
    let rt = Runtime::builder().workers(1).build().unwrap();
    let (ch, hs) = park_on_a_channel(&rt, 100);
    let m = rt.metrics();
    // Each parked goroutine holds a stack: mapped and not pooled.
    assert!(m.stacks_mapped - m.stacks_pooled >= 100, "{m:?}");
    ch.close();
    hs.into_iter().for_each(|h| assert_eq!(h.join().unwrap(), None));
}
