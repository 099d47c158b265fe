//! The comparison workloads of `shared/bench/WORKLOADS.md`, written with gort.
//!
//! `gort-compare <workload> [size]` runs one workload inside `gort::run`
//! (the main goroutine) and prints one line:
//! `<workload> <size> <ns_per_op> [key=value,...]`. Each workload checks its
//! own result and exits 1 with a message when the check fails. Workloads
//! that need parts of gort not built yet exit 3 ("not implemented yet"),
//! which `run.sh` reports as n/a. The Go twin is `go/main.go`.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
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
    ("pingpong", 1_000_000, None),
    ("prodcons", 4_000_000, None),
    ("chain", 100_000, None),
    ("select", 1_000_000, None),
    ("parked", 100_000, Some(parked)),
    ("timers", 100_000, Some(timers)),
    ("mutex", 1_000_000, None),
];

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

/// The resident set size of this process, in bytes.
fn vm_rss() -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| format!("/proc/self/status: {e}"))?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).ok_or("no VmRSS in /proc/self/status")?;
    let kb: u64 = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).ok_or("unreadable VmRSS")?;
    Ok(kb * 1024)
}

/// parked: k goroutines block on one gate that opens only after RSS is read.
/// Until channels land, the gate is a WaitGroup (same parking seam).
fn parked(k: usize) -> Result<Outcome, String> {
    let (released, gate, ready, done) = (flags(k), wait_group(), wait_group(), wait_group());
    gate.add(1);
    let before = vm_rss()?;
    ready.add(k as i64);
    done.add(k as i64);
    for flag in released {
        go!(move || {
            ready.done();
            gate.wait();
            flag.store(true, Ordering::Relaxed);
            done.done();
        });
    }
    ready.wait();
    gort::time::sleep(PARK_SETTLE);
    let after = vm_rss()?;
    gate.done();
    done.wait();
    let outcome = Outcome {
        per_op: after.saturating_sub(before) as f64 / k as f64,
        extra: format!("rss_before_kb={},rss_after_kb={}", before / 1024, after / 1024),
    };
    match count_set(released) {
        got if got == k => Ok(outcome),
        got => Err(format!("{got} of {k} parked goroutines were released")),
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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let names: Vec<&str> = WORKLOADS.iter().map(|w| w.0).collect();
    let Some(name) = args.get(1) else {
        eprintln!("usage: gort-compare <workload> [size]\nworkloads: {}", names.join(" "));
        return ExitCode::from(2);
    };
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
