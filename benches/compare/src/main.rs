//! The comparison workloads of `shared/bench/WORKLOADS.md`, written with gort.
//!
//! `gort-compare <workload> [size]` runs one workload inside `gort::run`
//! (the main goroutine) and prints one line:
//! `<workload> <size> <ns_per_op> [key=value,...]`. Each workload checks its
//! own result and exits 1 with a message when the check fails. Workloads
//! that need parts of gort not built yet exit 3 ("not implemented yet"),
//! which `run.sh` reports as n/a. The Go twin is `go/main.go`.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gort::prelude::*;
use gort::sync::WaitGroup;

/// What a workload measured: nanoseconds (or bytes) per op, and extras.
struct Outcome {
    per_op: f64,
    extra: String,
}

type Workload = fn(usize) -> Result<Outcome, String>;

/// Name, default size, body.
const WORKLOADS: &[(&str, usize, Option<Workload>)] = &[
    ("spawn", 1_000_000, Some(spawn)),
    ("pingpong", 1_000_000, Some(pingpong)),
    ("prodcons", 4_000_000, Some(prodcons)),
    ("chain", 100_000, Some(chain)),
    ("select", 1_000_000, Some(select_loop)),
    ("parked", 100_000, Some(parked)),
    ("timers", 100_000, Some(timers)),
    ("mutex", 1_000_000, Some(mutex)),
];

/// prodcons: this many producers and as many consumers share one channel
/// of capacity [`PRODCONS_CAP`] (the numbers of WORKLOADS.md).
const PRODCONS_WORKERS: usize = 4;

/// The capacity of prodcons's one channel (WORKLOADS.md).
const PRODCONS_CAP: usize = 128;

/// How long `parked` lets the goroutines settle before reading RSS (as Go's side).
const PARK_SETTLE: Duration = Duration::from_millis(10);

fn per_op(elapsed: Duration, n: usize) -> f64 {
    elapsed.as_nanos() as f64 / n as f64
}

/// Shared flags, one per goroutine, set when it did its part.
///
/// Workload state is leaked to `&'static` (once per process) so goroutines
/// capture plain references, as Go's closures capture pointers: an `Arc`
/// clone per goroutine would measure reference counting, which Go does not
/// pay, rather than the runtime.
fn flags(n: usize) -> &'static [AtomicBool] {
    Vec::leak((0..n).map(|_| AtomicBool::new(false)).collect())
}

/// A WaitGroup that goroutines capture by reference (see [`flags`]).
fn wait_group() -> &'static WaitGroup {
    Box::leak(Box::new(WaitGroup::new()))
}

/// A channel that goroutines capture by reference (see [`flags`]), as Go's
/// closures capture the channel pointer.
fn channel<T: Send + 'static>(cap: usize) -> &'static Chan<T> {
    Box::leak(Box::new(chan(cap)))
}

/// One slot per goroutine for a number it stores once, at its end (see
/// [`flags`]).
fn slots(n: usize) -> &'static [AtomicU64] {
    Vec::leak((0..n).map(|_| AtomicU64::new(0)).collect())
}

/// Splits 0..n into `parts` contiguous ranges as evenly as possible and
/// returns the bounds `(lo, hi)` of range `i` (Go's `share`).
fn share(n: usize, parts: usize, i: usize) -> (u64, u64) {
    ((i * n / parts) as u64, ((i + 1) * n / parts) as u64)
}

/// 0 + 1 + ... + (n-1).
fn sum_below(n: usize) -> u64 {
    let n = n as u64;
    n * n.saturating_sub(1) / 2
}

fn count_set(flags: &[AtomicBool]) -> usize {
    flags.iter().filter(|f| f.load(Ordering::Relaxed)).count()
}

/// spawn: n goroutines from one goroutine, each only signals completion.
fn spawn(n: usize) -> Result<Outcome, String> {
    let (ran, wg) = (flags(n), wait_group());
    let start = Instant::now();
    wg.add(n as i64);
    for flag in ran {
        go!(move || {
            flag.store(true, Ordering::Relaxed);
            wg.done();
        });
    }
    wg.wait();
    let elapsed = start.elapsed();
    match count_set(ran) {
        got if got == n => Ok(Outcome { per_op: per_op(elapsed, n), extra: String::new() }),
        got => Err(format!("{got} of {n} goroutines ran")),
    }
}

/// pingpong: main sends i on c1, an echo goroutine receives it and sends it
/// back on c2, main receives it; n round trips on unbuffered channels.
fn pingpong(n: usize) -> Result<Outcome, String> {
    let (c1, c2, echo_done) = (channel::<u64>(0), channel::<u64>(0), channel::<()>(0));
    let start = Instant::now();
    go!(move || {
        for v in c1 {
            c2.send(v);
        }
        echo_done.close();
    });
    for i in 0..n as u64 {
        c1.send(i);
        match c2.recv() {
            Some(v) if v == i => {}
            got => return Err(format!("round trip {i} came back as {got:?}")),
        }
    }
    c1.close();
    let _ = echo_done.recv(); // Go: <-echoDone
    Ok(Outcome { per_op: per_op(start.elapsed(), n), extra: String::new() })
}

/// prodcons: [`PRODCONS_WORKERS`] producers send the values 0..n (a quarter
/// each) on one buffered channel; main closes it once the producers are
/// done; as many consumers range over it, summing what they receive.
fn prodcons(n: usize) -> Result<Outcome, String> {
    let ch = channel::<u64>(PRODCONS_CAP);
    let (sums, counts) = (slots(PRODCONS_WORKERS), slots(PRODCONS_WORKERS));
    let (producers, consumers) = (wait_group(), wait_group());
    let start = Instant::now();
    for p in 0..PRODCONS_WORKERS {
        let (lo, hi) = share(n, PRODCONS_WORKERS, p);
        producers.add(1);
        go!(move || {
            for v in lo..hi {
                ch.send(v);
            }
            producers.done();
        });
    }
    for (sum_slot, count_slot) in sums.iter().zip(counts) {
        consumers.add(1);
        go!(move || {
            let (mut sum, mut count) = (0u64, 0u64);
            for v in ch {
                sum += v;
                count += 1;
            }
            sum_slot.store(sum, Ordering::Relaxed);
            count_slot.store(count, Ordering::Relaxed);
            consumers.done();
        });
    }
    producers.wait();
    ch.close();
    consumers.wait();
    let elapsed = start.elapsed();
    let sum: u64 = sums.iter().map(|s| s.load(Ordering::Relaxed)).sum();
    let count: u64 = counts.iter().map(|c| c.load(Ordering::Relaxed)).sum();
    if count != n as u64 || sum != sum_below(n) {
        return Err(format!("consumers got {count} messages summing to {sum}, want {n} summing to {}", sum_below(n)));
    }
    Ok(Outcome { per_op: per_op(elapsed, n), extra: String::new() })
}

/// chain: Pike's "whispers". k goroutines are linked by k+1 unbuffered
/// channels; each receives x from its left and sends x+1 to its right. main
/// sends 1 into the leftmost channel and receives k+1 from the rightmost.
/// The time includes making the channels and spawning the goroutines.
///
/// The channels are made up front in one leaked array, and each goroutine
/// borrows its two neighbours from it: Go passes the channel pointers, and
/// a `Sender` and a `Receiver` handle per goroutine would add a reference
/// count that Go does not pay (see [`flags`]).
fn chain(k: usize) -> Result<Outcome, String> {
    let start = Instant::now();
    let chans: &'static [Chan<u64>] = Vec::leak((0..=k).map(|_| chan(0)).collect());
    for pair in chans.windows(2) {
        let (left, right) = (&pair[0], &pair[1]);
        go!(whisper(left, right));
    }
    chans[0].send(1);
    let got = chans[k].recv();
    let elapsed = start.elapsed();
    match got {
        Some(v) if v == k as u64 + 1 => Ok(Outcome { per_op: per_op(elapsed, k), extra: String::new() }),
        got => Err(format!("received {got:?} from the end of the chain, want {}", k + 1)),
    }
}

/// Passes on one value from left to right, plus one (Go's `whisper`, which
/// takes `<-chan int` and `chan<- int`). A closed `left` counts as 0, Go's
/// zero value.
fn whisper(left: &Chan<u64>, right: &Chan<u64>) {
    right.send(1 + left.recv().unwrap_or_default());
}

/// select: four senders each send their quarter of 0..n on their own
/// unbuffered channel; main selects over the four channels until it has
/// received n values.
fn select_loop(n: usize) -> Result<Outcome, String> {
    let chans: [&'static Chan<u64>; 4] = std::array::from_fn(|_| channel(0));
    let mut sum = 0u64;
    let mut counts = [0u64; 4];
    let start = Instant::now();
    for (s, &ch) in chans.iter().enumerate() {
        let (lo, hi) = share(n, chans.len(), s);
        go!(move || {
            for v in lo..hi {
                ch.send(v);
            }
        });
    }
    for _ in 0..n {
        let (s, v) = select! {
            recv(chans[0]) -> v => (0, v),
            recv(chans[1]) -> v => (1, v),
            recv(chans[2]) -> v => (2, v),
            recv(chans[3]) -> v => (3, v),
        };
        let Some(v) = v else { return Err(format!("sender {s}'s channel was closed")) };
        sum += v;
        counts[s] += 1;
    }
    let elapsed = start.elapsed();
    for (s, &got) in counts.iter().enumerate() {
        let (lo, hi) = share(n, chans.len(), s);
        if got != hi - lo {
            return Err(format!("received {got} values from sender {s}, want {}", hi - lo));
        }
    }
    if sum != sum_below(n) {
        return Err(format!("received values sum to {sum}, want {}", sum_below(n)));
    }
    Ok(Outcome { per_op: per_op(elapsed, n), extra: String::new() })
}

/// The resident set size of this process, in bytes.
fn vm_rss() -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| format!("/proc/self/status: {e}"))?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).ok_or("no VmRSS in /proc/self/status")?;
    let kb: u64 = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).ok_or("unreadable VmRSS")?;
    Ok(kb * 1024)
}

/// parked: k goroutines all block receiving on one channel that never gets a
/// value. Once all are parked, VmRSS growth divided by k is the cost of one
/// parked goroutine (reported in the ns_per_op column, in bytes). Then the
/// channel is closed and all are joined, each having seen it closed.
fn parked(k: usize) -> Result<Outcome, String> {
    let block = channel::<()>(0); // never sent on; closed to release everyone
    let (released, ready, done) = (flags(k), wait_group(), wait_group());
    let before = vm_rss()?;
    ready.add(k as i64);
    done.add(k as i64);
    for flag in released {
        go!(move || {
            ready.done();
            flag.store(block.recv().is_none(), Ordering::Relaxed);
            done.done();
        });
    }
    ready.wait();
    gort::time::sleep(PARK_SETTLE);
    let after = vm_rss()?;
    block.close();
    done.wait();
    let outcome = Outcome {
        per_op: after.saturating_sub(before) as f64 / k as f64,
        extra: format!("rss_before_kb={},rss_after_kb={}", before / 1024, after / 1024),
    };
    match count_set(released) {
        got if got == k => Ok(outcome),
        got => Err(format!("{got} of {k} parked goroutines saw the channel closed")),
    }
}

/// timers: goroutine i sleeps (i % 10 + 1) ms, then signals; wait for all.
fn timers(k: usize) -> Result<Outcome, String> {
    let (woke, wg) = (flags(k), wait_group());
    let start = Instant::now();
    wg.add(k as i64);
    for (i, flag) in woke.iter().enumerate() {
        go!(move || {
            gort::time::sleep(Duration::from_millis((i % 10 + 1) as u64));
            flag.store(true, Ordering::Relaxed);
            wg.done();
        });
    }
    wg.wait();
    let elapsed = start.elapsed();
    let got = count_set(woke);
    if got != k {
        return Err(format!("{got} of {k} sleepers woke"));
    }
    let longest = Duration::from_millis(k.min(10) as u64);
    if elapsed < longest {
        return Err(format!("all sleepers done after {elapsed:?}, before the longest sleep ({longest:?})"));
    }
    Ok(Outcome { per_op: per_op(elapsed, k), extra: String::new() })
}

/// Goroutines contending for the `mutex` workload's lock (as Go's side).
const MUTEX_GOROUTINES: usize = 8;

/// mutex: 8 goroutines share n lock/increment/unlock of one counter.
fn mutex(n: usize) -> Result<Outcome, String> {
    let (counter, wg) = (Box::leak(Box::new(gort::sync::Mutex::new(0usize))), wait_group());
    let counter: &'static gort::sync::Mutex<usize> = counter;
    let start = Instant::now();
    for g in 0..MUTEX_GOROUTINES {
        let (lo, hi) = share(n, MUTEX_GOROUTINES, g);
        wg.add(1);
        go!(move || {
            for _ in lo..hi {
                *counter.lock() += 1;
            }
            wg.done();
        });
    }
    wg.wait();
    let elapsed = start.elapsed();
    match *counter.lock() {
        got if got == n => Ok(Outcome { per_op: per_op(elapsed, n), extra: String::new() }),
        got => Err(format!("counter is {got}, want {n}")),
    }
}

// The servers of examples/echo.rs and examples/http_hello.rs, for
// `serve-echo` and `serve-http`. Hidden from this binary's docs: the
// examples' own docs link within the examples.
#[path = "../../../examples/echo.rs"]
#[allow(dead_code)] // its `main` is the example's, not ours
#[doc(hidden)]
mod echo;
#[path = "../../../examples/http_hello.rs"]
#[allow(dead_code)] // as above
#[doc(hidden)]
mod http_hello;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let names: Vec<&str> = WORKLOADS.iter().map(|w| w.0).collect();
    let Some(name) = args.get(1) else {
        eprintln!(
            "usage: gort-compare <workload> [size]\n       gort-compare serve-echo|serve-http ADDR\nworkloads: {}",
            names.join(" ")
        );
        return ExitCode::from(2);
    };
    if name == "serve-echo" || name == "serve-http" {
        let Some(addr) = args.get(2).cloned() else {
            eprintln!("usage: gort-compare {name} ADDR");
            return ExitCode::from(2);
        };
        let http = name == "serve-http";
        let mode = name.clone();
        let served = gort::run(move || {
            let listener = gort::net::TcpListener::bind(&addr)?;
            eprintln!("gort-compare: {mode} listening on {}", listener.local_addr()?);
            if http {
                http_hello::serve(listener, gort::context::background())
            } else {
                echo::serve(listener);
                Ok(())
            }
        });
        if let Err(e) = served {
            eprintln!("gort-compare: {name}: {e}");
            return ExitCode::from(1);
        }
        return ExitCode::SUCCESS;
    }
    let Some(&(name, default_size, body)) = WORKLOADS.iter().find(|w| w.0 == name) else {
        eprintln!("unknown workload {name:?}; workloads: {}", names.join(" "));
        return ExitCode::from(2);
    };
    let size = match args.get(2).map(|s| s.parse::<usize>()) {
        None => default_size,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("size must be a positive integer, not {:?}", args[2]);
            return ExitCode::from(2);
        }
    };
    let Some(body) = body else {
        eprintln!("workload {name} is not implemented yet in gort");
        return ExitCode::from(3);
    };
    match gort::run(move || body(size)) {
        Ok(o) if o.extra.is_empty() => println!("{name} {size} {:.1}", o.per_op),
        Ok(o) => println!("{name} {size} {:.1} {}", o.per_op, o.extra),
        Err(e) => {
            eprintln!("{name}: check failed: {e}");
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}
