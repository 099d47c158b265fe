//! Criterion benches of the runtime's hot paths: spawn+join, a yield round
//! trip, and park/unpark between two goroutines. `cargo bench --bench runtime`.
//! The side-by-side comparison with Go lives in benches/compare.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use gort::Runtime;

fn runtime() -> Runtime {
    Runtime::builder().workers(2).build().expect("start a 2-worker runtime")
}

fn spawn_join(c: &mut Criterion) {
    let rt = runtime();
    c.bench_function("spawn+join (from a goroutine)", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let start = Instant::now();
                for _ in 0..iters {
                    gort::spawn(|| 1u32).join().unwrap();
                }
                start.elapsed()
            })
        })
    });
}

fn yield_round_trip(c: &mut Criterion) {
    let rt = runtime();
    c.bench_function("yield_now", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let start = Instant::now();
                for _ in 0..iters {
                    gort::yield_now();
                }
                start.elapsed()
            })
        })
    });
}

#[path = "../tests/support/baton.rs"]
mod baton;

fn park_unpark(c: &mut Criterion) {
    let rt = runtime();
    c.bench_function("park/unpark round trip (two goroutines)", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let baton = Arc::new(baton::Baton::default());
                let partner = {
                    let baton = baton.clone();
                    gort::spawn(move || {
                        for _ in 0..iters {
                            baton.take_turn(1);
                        }
                    })
                };
                let start = Instant::now();
                for _ in 0..iters {
                    baton.take_turn(0);
                }
                partner.join().unwrap();
                let elapsed = start.elapsed();
                baton.close();
                elapsed
            })
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = spawn_join, yield_round_trip, park_unpark
}
criterion_main!(benches);
