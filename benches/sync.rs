//! Criterion benches of `gort::sync`: WaitGroup add/done/wait with N
//! goroutines, an uncontended Mutex lock+unlock, a contended Mutex (8
//! goroutines on 2 workers, time per lock), and RwLock reads, uncontended
//! and with 8 readers. `cargo bench --bench sync`.
//!
//! Every body runs as a goroutine of a 2-worker runtime, as in
//! benches/runtime.rs and benches/channels.rs.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use gort::Runtime;
use gort::sync::{Mutex, RwLock, WaitGroup};

/// Goroutines in the contended benches.
const CONTENDERS: u64 = 8;

fn runtime() -> Runtime {
    Runtime::builder().workers(2).build().expect("start a 2-worker runtime")
}

/// One round: `wg.add(n)`, `n` goroutines each call `done`, `wg.wait()`.
/// The cost includes spawning the `n` goroutines, as a Go program using a
/// WaitGroup would pay; `n = 0` is the bare add/done/wait on one goroutine.
fn waitgroup(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("WaitGroup add/done/wait");
    group.bench_function("no goroutines (add(1), done, wait on one goroutine)", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let wg = WaitGroup::new();
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(&wg).add(1);
                    black_box(&wg).done();
                    black_box(&wg).wait();
                }
                start.elapsed()
            })
        })
    });
    for n in [1u64, 8, 64] {
        group.bench_with_input(BenchmarkId::new("goroutines (spawn included)", n), &n, |b, &n| {
            b.iter_custom(|iters| {
                rt.block_on(move || {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let wg = WaitGroup::new();
                        wg.add(n as i64);
                        for _ in 0..n {
                            let wg = wg.clone();
                            drop(gort::spawn(move || wg.done()));
                        }
                        wg.wait();
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

fn mutex_uncontended(c: &mut Criterion) {
    let rt = runtime();
    c.bench_function("Mutex lock+unlock (uncontended, one goroutine)", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let m = Mutex::new(0u64);
                let start = Instant::now();
                for _ in 0..iters {
                    *black_box(&m).lock() += 1;
                }
                let elapsed = start.elapsed();
                assert_eq!(m.into_inner(), iters);
                elapsed
            })
        })
    });
}

/// `CONTENDERS` goroutines share `iters` lock+unlock pairs on one mutex;
/// criterion divides the elapsed time by `iters`: time per lock, with the
/// critical section a single increment.
fn mutex_contended(c: &mut Criterion) {
    let rt = runtime();
    c.bench_function("Mutex lock+unlock (8 goroutines contending, 2 workers), per lock", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let per = iters.div_ceil(CONTENDERS);
                let m = Arc::new(Mutex::new(0u64));
                let start = Instant::now();
                let hs: Vec<_> = (0..CONTENDERS)
                    .map(|_| {
                        let m = m.clone();
                        gort::spawn(move || {
                            for _ in 0..per {
                                *m.lock() += 1;
                            }
                        })
                    })
                    .collect();
                for h in hs {
                    h.join().unwrap();
                }
                let elapsed = start.elapsed();
                assert_eq!(*m.lock(), per * CONTENDERS);
                elapsed
            })
        })
    });
}

fn rwlock_read_uncontended(c: &mut Criterion) {
    let rt = runtime();
    c.bench_function("RwLock read+unlock (uncontended, one goroutine)", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let l = RwLock::new(7u64);
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(*black_box(&l).read());
                }
                start.elapsed()
            })
        })
    });
}

/// Readers never exclude each other, but every `read()` takes the lock's
/// internal state lock: this shows what that costs when 8 goroutines on 2
/// workers read at once.
fn rwlock_read_shared(c: &mut Criterion) {
    let rt = runtime();
    c.bench_function("RwLock read+unlock (8 goroutines reading, 2 workers), per read", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let per = iters.div_ceil(CONTENDERS);
                let l = Arc::new(RwLock::new(7u64));
                let start = Instant::now();
                let hs: Vec<_> = (0..CONTENDERS)
                    .map(|_| {
                        let l = l.clone();
                        gort::spawn(move || {
                            for _ in 0..per {
                                black_box(*l.read());
                            }
                        })
                    })
                    .collect();
                for h in hs {
                    h.join().unwrap();
                }
                start.elapsed()
            })
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = waitgroup, mutex_uncontended, mutex_contended, rwlock_read_uncontended, rwlock_read_shared
}
criterion_main!(benches);
