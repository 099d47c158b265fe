//! One million goroutines parked at once, on default kernel settings.
//!
//! Spawns N goroutines (default 1,000,000; pass another number as the first
//! argument) that all block on one gate, reads the process RSS once they are
//! all parked, then opens the gate and waits for every one to finish.
//!
//! ```text
//! cargo run --release --example million
//! ```

use std::time::Instant;

use gort::prelude::*;
use gort::sync::WaitGroup;

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .expect("VmRSS in /proc/self/status");
    kb * 1024
}

fn main() {
    let n: usize = match std::env::args().nth(1) {
        None => 1_000_000,
        Some(arg) => arg.parse().unwrap_or_else(|_| panic!("the goroutine count must be a number, not {arg:?}")),
    };
    let maps_limit = std::fs::read_to_string("/proc/sys/vm/max_map_count").unwrap_or_default();
    println!("spawning {n} goroutines (vm.max_map_count = {})", maps_limit.trim());
    gort::run(move || {
        let gate = WaitGroup::new();
        gate.add(1);
        let (parked, finished) = (WaitGroup::new(), WaitGroup::new());
        parked.add(n as i64);
        finished.add(n as i64);
        let before = rss_bytes();
        let start = Instant::now();
        for _ in 0..n {
            let (gate, parked, finished) = (gate.clone(), parked.clone(), finished.clone());
            go!(move || {
                parked.done();
                gate.wait();
                finished.done();
            });
        }
        parked.wait();
        let spawned_in = start.elapsed();
        let after = rss_bytes();
        let maps = std::fs::read_to_string("/proc/self/maps").map(|m| m.lines().count()).unwrap_or(0);
        println!(
            "{} goroutines parked at once after {:.2?}: RSS grew {} MiB, {} bytes per goroutine; {maps} memory mappings",
            gort::num_goroutine() - 1,
            spawned_in,
            (after - before) >> 20,
            (after - before) / n as u64,
        );
        let start = Instant::now();
        gate.done();
        finished.wait();
        println!("all {n} released and finished in {:.2?}", start.elapsed());
    });
}
