//! Criterion benches of channel operations: a buffered send+recv on one
//! goroutine, an unbuffered ping-pong round trip between two goroutines,
//! `select!` over 2, 4 and 8 arms with one arm ready (and the dynamic
//! `gort::Select` over 8), and `try_recv` on an empty channel.
//! `cargo bench --bench channels`.
//!
//! Every body runs as a goroutine of a 2-worker runtime, as in
//! benches/runtime.rs. In the select benches each iteration first makes the
//! last arm ready with a buffered send, so they include the cost that
//! "buffered send+recv" measures on its own. The side-by-side comparison
//! with Go lives in benches/compare.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use gort::Runtime;
use gort::prelude::*;

fn runtime() -> Runtime {
    Runtime::builder().workers(2).build().expect("start a 2-worker runtime")
}

fn buffered_send_recv(c: &mut Criterion) {
    let rt = runtime();
    c.bench_function("buffered send+recv (one goroutine)", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let ch = chan::<u64>(1);
                let start = Instant::now();
                for i in 0..iters {
                    ch.send(black_box(i));
                    black_box(ch.recv());
                }
                start.elapsed()
            })
        })
    });
}

fn unbuffered_ping_pong(c: &mut Criterion) {
    let rt = runtime();
    c.bench_function("unbuffered ping-pong round trip (two goroutines)", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let (ping, pong) = (chan::<u64>(0), chan::<u64>(0));
                let echo = {
                    let (ping, pong) = (ping.receiver(), pong.sender());
                    go!(move || {
                        for v in &ping {
                            pong.send(v);
                        }
                    })
                };
                let start = Instant::now();
                for i in 0..iters {
                    ping.send(i);
                    black_box(pong.recv());
                }
                let elapsed = start.elapsed();
                ping.close();
                echo.join().unwrap();
                elapsed
            })
        })
    });
}

/// A `select!` over `$n` buffered channels whose last one is ready.
macro_rules! select_bench {
    ($c:expr, $rt:expr, $name:literal, $n:literal, [$($i:literal)*]) => {
        $c.bench_function($name, |b| {
            b.iter_custom(|iters| {
                $rt.block_on(move || {
                    let ch: [Chan<u64>; $n] = std::array::from_fn(|_| chan(1));
                    let start = Instant::now();
                    for i in 0..iters {
                        ch[$n - 1].send(i);
                        black_box(select! { $( recv(&ch[$i]) -> v => v, )* });
                    }
                    start.elapsed()
                })
            })
        });
    };
}

fn select_one_ready(c: &mut Criterion) {
    let rt = runtime();
    select_bench!(c, rt, "select! over 2 arms, one ready", 2, [0 1]);
    select_bench!(c, rt, "select! over 4 arms, one ready", 4, [0 1 2 3]);
    select_bench!(c, rt, "select! over 8 arms, one ready", 8, [0 1 2 3 4 5 6 7]);
    c.bench_function("Select (dynamic) over 8 arms, one ready", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let ch: [Chan<u64>; 8] = std::array::from_fn(|_| chan(1));
                let start = Instant::now();
                for i in 0..iters {
                    ch[7].send(i);
                    let mut sel = gort::Select::new();
                    for (want, arm_ch) in ch.iter().enumerate() {
                        let arm = sel.recv(arm_ch); // arms are numbered in call order
                        debug_assert_eq!(arm, want);
                    }
                    let op = sel.select();
                    let arm = op.index();
                    black_box(op.recv(&ch[arm]));
                }
                start.elapsed()
            })
        })
    });
}

fn try_recv_empty(c: &mut Criterion) {
    let rt = runtime();
    c.bench_function("try_recv on an empty channel", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let ch = chan::<u64>(1);
                let start = Instant::now();
                for _ in 0..iters {
                    let _ = black_box(ch.try_recv());
                }
                start.elapsed()
            })
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = buffered_send_recv, unbuffered_ping_pong, select_one_ready, try_recv_empty
}
criterion_main!(benches);
