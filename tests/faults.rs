//! Faults that end the process: a goroutine that overflows its stack is
//! reported by id and name, a goroutine that would park while unwinding a
//! panic aborts with a clear message, and other faults go to the default
//! action. Each runs in a child process (this same test binary,
//! re-executed with an environment variable).

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus};

const CHILD: &str = "GORT_TEST_FAULT_CHILD";

/// Runs the test `name` alone in a child process that takes the faulting
/// branch; returns its stderr and exit status.
fn run_child(name: &str) -> (String, ExitStatus) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    (String::from_utf8_lossy(&out.stderr).into_owned(), out.status)
}

/// Recurses until `limit`, far beyond any goroutine stack.
#[inline(never)]
fn recurse(n: u64, limit: u64) -> u64 {
    let frame = std::hint::black_box([n; 64]);
    if n == limit { frame[7] } else { recurse(n + 1, limit) + frame[7] }
}

#[test]
fn stack_overflow_names_the_goroutine_and_aborts() {
    if std::env::var_os(CHILD).is_some() {
        let h = gort::Builder::new().name("deep-thought").spawn(|| recurse(0, u64::MAX)).unwrap();
        let _ = h.join();
        unreachable!("the overflow must abort the process");
    }
    let (stderr, status) = run_child("stack_overflow_names_the_goroutine_and_aborts");
    assert!(
        stderr.contains("(\"deep-thought\") has overflowed its stack"),
        "stderr should name the goroutine:\n{stderr}"
    );
    assert!(stderr.lines().any(|l| l.starts_with("goroutine ") && l.contains("has overflowed its stack")));
    assert_eq!(status.signal(), Some(libc::SIGABRT), "the process aborts: {status:?}");
}

#[test]
fn stacks_carved_late_in_a_slab_are_guarded_too() {
    if std::env::var_os(CHILD).is_some() {
        // Hold 300 stacks (guards are installed in batches of 128), then
        // overflow the next one.
        let (hold, ready) = (gort::chan::<()>(0), gort::chan::<()>(300));
        let holders: Vec<_> = (0..300)
            .map(|_| {
                let (h, r) = (hold.clone(), ready.clone());
                gort::spawn(move || {
                    r.send(());
                    h.recv()
                })
            })
            .collect();
        for _ in 0..300 {
            ready.recv();
        }
        let h = gort::Builder::new().name("late").spawn(|| recurse(0, u64::MAX)).unwrap();
        let _ = h.join();
        drop(holders);
        unreachable!("the overflow must abort the process");
    }
    let (stderr, status) = run_child("stacks_carved_late_in_a_slab_are_guarded_too");
    assert!(stderr.contains("(\"late\") has overflowed its stack"), "stderr should name the goroutine:\n{stderr}");
    assert_eq!(status.signal(), Some(libc::SIGABRT), "the process aborts: {status:?}");
}

#[test]
fn faults_outside_guard_pages_are_passed_on() {
    if std::env::var_os(CHILD).is_some() {
        gort::spawn(|| ()).join().unwrap(); // installs gort's handler
        // SAFETY: none; this deliberately dereferences a bad address to
        // check that the fault reaches the default action.
        unsafe { std::ptr::read_volatile(16 as *const u8) };
        unreachable!();
    }
    let (stderr, status) = run_child("faults_outside_guard_pages_are_passed_on");
    assert!(!stderr.contains("overflowed"), "not an overflow:\n{stderr}");
    assert_eq!(status.signal(), Some(libc::SIGSEGV), "default SIGSEGV action: {status:?}");
}

/// Sends on an unbuffered channel nobody receives from, in its destructor.
struct SendsOnDrop(gort::Chan<()>);
impl Drop for SendsOnDrop {
    fn drop(&mut self) {
        self.0.send(());
    }
}

#[test]
fn blocking_in_a_destructor_during_shutdown_aborts_with_a_message() {
    if std::env::var_os(CHILD).is_some() {
        let rt = gort::Runtime::builder().workers(1).build().unwrap();
        let (never, ready) = (gort::chan::<()>(0), gort::chan::<()>(1));
        let (n, r) = (never.clone(), ready.clone());
        rt.spawn(move || {
            let _guard = SendsOnDrop(n.clone());
            r.send(());
            n.recv();
        });
        ready.recv();
        std::thread::sleep(std::time::Duration::from_millis(50)); // let it park in recv
        drop(rt); // unwinds it; its destructor's send can never complete
        unreachable!("blocking during the teardown must abort the process");
    }
    let (stderr, status) = run_child("blocking_in_a_destructor_during_shutdown_aborts_with_a_message");
    assert!(
        stderr.contains("tried to block (chan send) in a destructor while its runtime was shutting down"),
        "stderr:\n{stderr}"
    );
    assert_eq!(status.signal(), Some(libc::SIGABRT), "the process aborts: {status:?}");
}

/// Parks in its destructor, which runs while the goroutine unwinds.
struct ParksOnDrop;
impl Drop for ParksOnDrop {
    fn drop(&mut self) {
        gort::time::sleep(std::time::Duration::from_millis(1));
    }
}

#[test]
fn parking_while_unwinding_a_panic_aborts_with_a_message() {
    if std::env::var_os(CHILD).is_some() {
        let h = gort::spawn(|| {
            let _guard = ParksOnDrop;
            panic!("first failure");
        });
        let _ = h.join();
        unreachable!("parking during the unwind must abort the process");
    }
    let (stderr, status) = run_child("parking_while_unwinding_a_panic_aborts_with_a_message");
    assert!(stderr.contains("tried to park (sleep) while unwinding a panic"), "stderr:\n{stderr}");
    assert_eq!(status.signal(), Some(libc::SIGABRT), "the process aborts: {status:?}");
}
