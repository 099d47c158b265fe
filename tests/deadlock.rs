//! Deadlock detection: each scenario runs in a child process (this binary
//! again, with the scenario's name in `GORT_DEADLOCK_SCENARIO`) whose only
//! threads are its main thread and gort's, as in a real program; a test
//! harness's own threads would rightly keep detection from firing. The
//! parent checks each child's exit and output.
//!
//! Deadlocks must be reported with Go's message and the goroutine dump;
//! programs that wait on a timer, a socket, a plain thread or a blocking
//! call must not be.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use gort::prelude::*;
use gort::sync::WaitGroup;

const SCENARIO: &str = "GORT_DEADLOCK_SCENARIO";
const MESSAGE: &str = "all goroutines are asleep - deadlock!";

/// How long the non-deadlocked scenarios keep the runtime asleep: long
/// enough for the monitor to look many times (it looks every few ms).
const ASLEEP: Duration = Duration::from_millis(300);

/// A child still running after this has hung.
const HANG: Duration = Duration::from_secs(30);

/// The scenarios a child can run: name, body.
const SCENARIOS: &[(&str, fn())] = &[
    ("recv_nobody_sends", recv_nobody_sends),
    ("waitgroup_never_done", waitgroup_never_done),
    ("two_wait_on_each_other", two_wait_on_each_other),
    ("deadlock_after_blocking_call", deadlock_after_blocking_call),
    ("waits_on_timer", waits_on_timer),
    ("waits_on_plain_thread", waits_on_plain_thread),
    ("waits_on_socket", waits_on_socket),
    ("waits_on_blocking_call", waits_on_blocking_call),
];

fn recv_nobody_sends() {
    gort::run(|| {
        let ch = chan::<i32>(0);
        ch.recv();
    });
}

fn waitgroup_never_done() {
    gort::run(|| {
        let wg = WaitGroup::new();
        wg.add(1);
        wg.wait();
    });
}

fn two_wait_on_each_other() {
    gort::run(|| {
        let (a, b) = (chan::<i32>(0), chan::<i32>(0));
        let (a2, b2) = (a.clone(), b.clone());
        let first = go!(move || {
            a2.recv();
            b2.send(1);
        });
        go!(move || {
            b.recv();
            a.send(1);
        });
        first.join().unwrap();
    });
}

fn deadlock_after_blocking_call() {
    gort::run(|| {
        // Leaves an idle pool thread behind, which must count as asleep.
        gort::blocking(|| std::thread::sleep(Duration::from_millis(20)));
        chan::<()>(0).recv();
    });
}

fn waits_on_timer() {
    let v = gort::run(|| {
        let ch = chan::<i32>(0);
        let tx = ch.sender();
        go!(move || {
            gort::time::sleep(ASLEEP);
            tx.send(7);
        });
        ch.recv()
    });
    assert_eq!(v, Some(7));
    println!("ok");
}

fn waits_on_plain_thread() {
    let ch = chan::<i32>(0);
    let tx = ch.sender();
    let t = std::thread::spawn(move || {
        std::thread::sleep(ASLEEP);
        tx.send(7);
    });
    assert_eq!(gort::run(move || ch.recv()), Some(7));
    t.join().unwrap();
    println!("ok");
}

/// Prints its address; the parent connects after a while.
fn waits_on_socket() {
    gort::run(|| {
        let listener = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
        println!("{}", listener.local_addr().unwrap());
        listener.accept().unwrap();
    });
    println!("ok");
}

fn waits_on_blocking_call() {
    gort::run(|| gort::blocking(|| std::thread::sleep(ASLEEP)));
    println!("ok");
}

/// Runs scenario `name` in a child process.
fn child(name: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env(SCENARIO, name).env("GORT_WORKERS", "2").stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A child's output; kills it if it runs for over [`HANG`], so a missed
/// detection fails the test instead of hanging it.
fn output(mut cmd: Command) -> Output {
    let mut c = cmd.spawn().unwrap();
    let deadline = Instant::now() + HANG;
    while c.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            c.kill().unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    c.wait_with_output().unwrap()
}

/// Runs `name`, which must deadlock; returns its stderr.
fn expect_deadlock(name: &str) -> String {
    let out = output(child(name));
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{name}: a deadlock must fail the program\n{stderr}");
    assert!(stderr.contains(MESSAGE), "{name}: stderr lacks Go's message:\n{stderr}");
    stderr
}

/// Runs `name`, which must finish normally.
fn expect_no_deadlock(name: &str) {
    let out = output(child(name));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success() && stdout.ends_with("ok\n"), "{name}: reported or failed:\n{stdout}\n{stderr}");
    assert!(!stderr.contains(MESSAGE), "{name}: false deadlock:\n{stderr}");
}

fn socket_is_not_a_deadlock() {
    let mut c = child("waits_on_socket").spawn().unwrap();
    let mut lines = BufReader::new(c.stdout.take().unwrap()).lines();
    let addr = lines.next().unwrap().unwrap();
    std::thread::sleep(ASLEEP);
    let _conn = std::net::TcpStream::connect(addr).unwrap();
    assert_eq!(lines.next().unwrap().unwrap(), "ok");
    let out = c.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success() && !stderr.contains(MESSAGE), "waits_on_socket: {stderr}");
}

fn main() {
    if let Ok(name) = std::env::var(SCENARIO) {
        let (_, body) = SCENARIOS.iter().find(|(n, _)| *n == name).expect("a known scenario");
        return body();
    }
    let started = Instant::now();
    let stderr = expect_deadlock("recv_nobody_sends");
    assert!(stderr.contains("goroutine") && stderr.contains("[chan receive"), "the dump names the wait:\n{stderr}");

    let stderr = expect_deadlock("waitgroup_never_done");
    assert!(stderr.contains("[sync.WaitGroup.Wait"), "the dump names the wait:\n{stderr}");

    let stderr = expect_deadlock("two_wait_on_each_other");
    assert_eq!(stderr.matches("[chan receive").count(), 2, "both goroutines wait to receive:\n{stderr}");
    assert!(stderr.contains("[join"), "main waits for the first:\n{stderr}");

    expect_deadlock("deadlock_after_blocking_call");

    expect_no_deadlock("waits_on_timer");
    expect_no_deadlock("waits_on_plain_thread");
    expect_no_deadlock("waits_on_blocking_call");
    socket_is_not_a_deadlock();
    println!("deadlock: 8 scenarios passed in {:.1?}", started.elapsed());
}
