//! `gort::debug`: every parked goroutine shows Go's wait reason, and the
//! dump header reads like Go's.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::prelude::*;
use gort::sync::{Mutex, Semaphore, WaitGroup};

#[path = "support/limits.rs"]
mod limits;
use limits::within;

#[test]
fn parked_goroutines_show_gos_wait_reasons() {
    within(Duration::from_secs(30), || {
        let rt = gort::Runtime::builder().workers(2).build().unwrap();
        rt.block_on(|| {
            let (rx, tx, full) = (chan::<u8>(0), chan::<u8>(0), chan::<u8>(0));
            let lock = Arc::new(Mutex::new(()));
            let held = lock.try_lock().unwrap();
            let sem = Arc::new(Semaphore::new(1));
            sem.acquire(1);
            let wg = WaitGroup::new();
            wg.add(1);
            let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
                gort::Builder::new().name(name).spawn(f).unwrap();
            };
            let r = rx.clone();
            spawn(
                "recv",
                Box::new(move || {
                    r.recv();
                }),
            );
            let t = full.clone();
            spawn("send", Box::new(move || t.send(1)));
            let (a, b) = (rx.clone(), tx.clone());
            spawn("select", Box::new(move || select! { recv(a) -> _ => {}, recv(b) -> _ => {} }));
            spawn("forever", Box::new(|| select! {}));
            spawn(
                "nil",
                Box::new(|| {
                    Chan::<u8>::nil().recv();
                }),
            );
            spawn("sleep", Box::new(|| gort::time::sleep(Duration::from_secs(60))));
            let l = lock.clone();
            spawn("mutex", Box::new(move || drop(l.lock())));
            let s = sem.clone();
            spawn("sem", Box::new(move || s.acquire(1)));
            let w = wg.clone();
            spawn("wg", Box::new(move || w.wait()));
            let want: HashMap<&str, &str> = [
                ("recv", "chan receive"),
                ("send", "chan send"),
                ("select", "select"),
                ("forever", "select (no cases)"),
                ("nil", "chan receive (nil chan)"),
                ("sleep", "sleep"),
                ("mutex", "sync.Mutex.Lock"),
                ("sem", "semacquire"),
                ("wg", "sync.WaitGroup.Wait"),
            ]
            .into();
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let seen: HashMap<String, gort::debug::GoroutineInfo> =
                    gort::debug::goroutines().into_iter().filter_map(|g| Some((g.name.clone()?, g))).collect();
                let done =
                    want.iter().all(|(name, reason)| seen.get(*name).is_some_and(|g| g.wait_reason == Some(reason)));
                if done {
                    let g = &seen["recv"];
                    let header = g.to_string();
                    assert!(header.starts_with(&format!("goroutine {} (\"recv\") [chan receive, ", g.id)), "{header}");
                    assert!(header.ends_with("]:"), "{header}");
                    break;
                }
                assert!(Instant::now() < deadline, "not all parked with Go's reasons: {seen:?}");
                gort::time::sleep(Duration::from_millis(5));
            }
            drop(held);
            sem.release(1);
            wg.done();
        });
        // The rest stay parked for ever; the runtime's shutdown unwinds them.
        drop(rt);
    });
}

#[test]
fn sigquit_dumps_every_goroutine_and_exits_2_when_asked() {
    const CHILD: &str = "GORT_TEST_SIGQUIT_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let rt = gort::Runtime::builder().workers(1).build().unwrap();
        let h = gort::Builder::new()
            .name("waiting")
            .spawn_on(&rt, || {
                Chan::<u8>::nil().recv();
            })
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        // SAFETY: raising a signal in our own process; the runtime handles it.
        unsafe { libc::raise(libc::SIGQUIT) };
        std::thread::sleep(Duration::from_secs(10));
        drop(h);
        unreachable!("SIGQUIT must end the process");
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "sigquit_dumps_every_goroutine_and_exits_2_when_asked", "--nocapture"])
        .env(CHILD, "1")
        .env("GORT_DUMP_ON_SIGQUIT", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "exit status 2, as Go: {stderr}");
    assert!(stderr.contains("SIGQUIT: quit"), "{stderr}");
    assert!(stderr.contains("(\"waiting\") [chan receive (nil chan)"), "{stderr}");
}

#[test]
fn running_and_runnable_goroutines_are_told_apart() {
    use gort::debug::GoroutineState;
    use std::sync::atomic::{AtomicBool, Ordering};
    let rt = gort::Runtime::builder().workers(1).spare_threads(0).build().unwrap();
    let (release, running) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let (r, s) = (release.clone(), running.clone());
    // Holds the only worker, so the next goroutine cannot run.
    let busy = rt.spawn(move || {
        s.store(true, Ordering::SeqCst);
        // Bounded, so a missed release cannot hold the worker for good.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !r.load(Ordering::SeqCst) && Instant::now() < deadline {
            std::hint::spin_loop();
        }
        gort::debug::goroutines()
    });
    while !running.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    let queued = rt.spawn(|| ());
    release.store(true, Ordering::SeqCst);
    let infos = busy.join().unwrap();
    let state = |id| infos.iter().find(|g| g.id == id).unwrap().state;
    assert_eq!(state(queued.id()), GoroutineState::Runnable);
    let me = infos.iter().find(|g| g.state == GoroutineState::Running).expect("the caller runs");
    assert_eq!(me.to_string(), format!("goroutine {} [running]:", me.id));
    let queued_line = infos.iter().find(|g| g.id == queued.id()).unwrap().to_string();
    assert_eq!(queued_line, format!("goroutine {} [runnable]:", queued.id()));
    queued.join().unwrap();
}
