//! Channel stress: many senders and receivers on one channel, close racing
//! with blocked senders and receivers, `select!` loops racing on shared
//! channels, and the dynamic `gort::Select`. Each checks that every value
//! arrives exactly once. Sizes shrink in unoptimised builds (`scaled`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use gort::prelude::*;

#[path = "support/limits.rs"]
mod limits;
#[path = "support/rng.rs"]
mod rng;
use limits::{scaled, within};
use rng::Rng;

/// How long a stress test may take before it counts as hung.
const LIMIT: Duration = Duration::from_secs(120);

const CLOSED_SEND: &str = "send on closed channel";

/// One counter per value: how often it was received.
fn counters(n: usize) -> Arc<Vec<AtomicU8>> {
    Arc::new((0..n).map(|_| AtomicU8::new(0)).collect())
}

/// Fails unless every counter is exactly one, naming a few that are not.
fn assert_each_once(seen: &[AtomicU8]) {
    let wrong: Vec<(usize, u8)> = seen
        .iter()
        .enumerate()
        .map(|(i, c)| (i, c.load(Ordering::Relaxed)))
        .filter(|&(_, c)| c != 1)
        .take(10)
        .collect();
    assert!(wrong.is_empty(), "values received other than once, (value, times): {wrong:?}");
}

/// Keeps the close race's expected "send on closed channel" panics out of
/// the output; every other panic still reaches the previous hook.
fn quiet_closed_send_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        // gort installs its hook when the first runtime starts: start one
        // first, then wrap that hook.
        gort::run(|| ());
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let msg = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
            if msg != Some(CLOSED_SEND) {
                previous(info);
            }
        }));
    });
}

/// A value that counts its drops.
struct Tracked {
    id: u64,
    drops: Arc<AtomicUsize>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------
// Many senders, many receivers

/// 8 senders and 8 receivers move `scaled(1_000_000)` distinct values over
/// one channel of capacity `cap`, with random yields and some timed and
/// non-blocking operations mixed in; every value must arrive exactly once.
fn many_to_many(cap: usize) {
    const SENDERS: usize = 8;
    const RECEIVERS: usize = 8;
    let n = scaled(1_000_000);
    let (received, sum, timeouts) = within(LIMIT, move || {
        gort::run(move || {
            let ch = chan::<u64>(cap);
            let seen = counters(n);
            let senders: Vec<_> = (0..SENDERS)
                .map(|s| {
                    let tx = ch.sender();
                    go!(move || {
                        let mut rng = Rng::new(s as u64 + 1);
                        let mut timeouts = 0usize;
                        for v in (s..n).step_by(SENDERS) {
                            let mut v = v as u64;
                            if rng.one_in(64) {
                                loop {
                                    match tx.send_timeout(v, rng.micros(100)) {
                                        Ok(()) => break,
                                        Err(e) => {
                                            assert!(e.is_timeout(), "the channel is open");
                                            timeouts += 1;
                                            v = e.into_inner();
                                        }
                                    }
                                }
                            } else {
                                tx.send(v);
                            }
                            if rng.one_in(32) {
                                gort::yield_now();
                            }
                        }
                        timeouts
                    })
                })
                .collect();
            let receivers: Vec<_> = (0..RECEIVERS)
                .map(|r| {
                    let (rx, seen) = (ch.receiver(), seen.clone());
                    go!(move || {
                        let mut rng = Rng::new(1000 + r as u64);
                        let (mut count, mut sum, mut timeouts) = (0usize, 0u64, 0usize);
                        loop {
                            let v = match rng.below(64) {
                                0 => match rx.recv_timeout(rng.micros(100)) {
                                    Ok(v) => v,
                                    Err(e) if e.is_timeout() => {
                                        timeouts += 1;
                                        continue;
                                    }
                                    Err(_) => break,
                                },
                                1 => match rx.try_recv() {
                                    Ok(v) => v,
                                    Err(e) if e.is_empty() => {
                                        gort::yield_now();
                                        continue;
                                    }
                                    Err(_) => break,
                                },
                                _ => match rx.recv() {
                                    Some(v) => v,
                                    None => break,
                                },
                            };
                            seen[v as usize].fetch_add(1, Ordering::Relaxed);
                            count += 1;
                            sum += v;
                            if rng.one_in(32) {
                                gort::yield_now();
                            }
                        }
                        (count, sum, timeouts)
                    })
                })
                .collect();
            let mut timeouts: usize = senders.into_iter().map(|h| h.join().unwrap()).sum();
            ch.close();
            let (mut count, mut sum) = (0, 0);
            for h in receivers {
                let (c, s, t) = h.join().unwrap();
                count += c;
                sum += s;
                timeouts += t;
            }
            assert_each_once(&seen);
            assert_eq!(ch.recv(), None, "drained");
            (count, sum, timeouts)
        })
    });
    assert_eq!(received, n, "values received");
    assert_eq!(sum, (n as u64 - 1) * n as u64 / 2, "sum of the values received");
    // Not asserted (it depends on timing); printed for whoever tunes this.
    println!("cap {cap}: {timeouts} timed operations timed out");
}

#[test]
fn eight_senders_and_eight_receivers_on_a_buffered_channel_deliver_each_value_once() {
    many_to_many(16);
}

#[test]
fn eight_senders_and_eight_receivers_on_an_unbuffered_channel_deliver_each_value_once() {
    many_to_many(0);
}

// ---------------------------------------------------------------------------
// Close racing with blocked senders and receivers

#[test]
fn close_racing_with_blocked_senders_and_receivers_loses_and_invents_nothing() {
    const SENDERS: usize = 4;
    const PER_SENDER: usize = 8;
    const VALUES: usize = SENDERS * PER_SENDER;
    quiet_closed_send_panics();
    let rounds = scaled(2000);
    let (accepted, panicked) = within(LIMIT, move || {
        gort::run(move || {
            let mut rng = Rng::new(42);
            let (mut total_accepted, mut total_panicked) = (0usize, 0usize);
            for round in 0..rounds {
                let cap = [0, 0, 1, 4][rng.below(4) as usize];
                let ch = chan::<u64>(cap);
                // accepted[v] is set once v's send has returned.
                let accepted = counters(VALUES);
                let senders: Vec<_> = (0..SENDERS)
                    .map(|s| {
                        let (tx, accepted) = (ch.sender(), accepted.clone());
                        let seed = rng.next();
                        go!(move || {
                            let mut rng = Rng::new(seed);
                            for j in 0..PER_SENDER {
                                let id = (s * PER_SENDER + j) as u64;
                                if rng.one_in(3) {
                                    let mut v = id;
                                    loop {
                                        match tx.send_timeout(v, rng.micros(50)) {
                                            Ok(()) => break,
                                            // Closed: end as a plain send would.
                                            Err(e) if e.is_closed() => panic!("send on closed channel"),
                                            Err(e) => v = e.into_inner(),
                                        }
                                    }
                                } else {
                                    tx.send(id);
                                }
                                accepted[id as usize].store(1, Ordering::SeqCst);
                                if rng.one_in(3) {
                                    gort::yield_now();
                                }
                            }
                        })
                    })
                    .collect();
                // Zero to three receivers, each yielding often so senders block.
                let receivers: Vec<_> = (0..rng.below(4))
                    .map(|_| {
                        let rx = ch.receiver();
                        let seed = rng.next();
                        go!(move || {
                            let mut rng = Rng::new(seed);
                            let mut got = Vec::new();
                            loop {
                                let v = if rng.one_in(4) {
                                    match rx.recv_timeout(rng.micros(50)) {
                                        Ok(v) => Some(v),
                                        Err(e) if e.is_timeout() => continue,
                                        Err(_) => None,
                                    }
                                } else {
                                    rx.recv()
                                };
                                match v {
                                    Some(v) => got.push(v),
                                    None => break,
                                }
                                if rng.one_in(2) {
                                    gort::yield_now();
                                }
                            }
                            got
                        })
                    })
                    .collect();
                // Close after a random moment.
                for _ in 0..rng.below(16) {
                    gort::yield_now();
                }
                if rng.one_in(4) {
                    gort::time::sleep(rng.micros(200));
                }
                ch.close();

                for h in senders {
                    if let Err(p) = h.join() {
                        assert_eq!(p.message(), Some(CLOSED_SEND), "round {round}: a sender panicked otherwise");
                        total_panicked += 1;
                    }
                }
                let mut received = [0u8; VALUES];
                for h in receivers {
                    for v in h.join().unwrap() {
                        received[v as usize] += 1;
                    }
                }
                // Values accepted into the buffer that no receiver took.
                for v in ch.try_iter() {
                    received[v as usize] += 1;
                }
                assert_eq!(ch.recv(), None, "round {round}: closed and drained");
                for v in 0..VALUES {
                    let was_accepted = accepted[v].load(Ordering::SeqCst);
                    assert_eq!(
                        received[v], was_accepted,
                        "round {round} (cap {cap}): value {v} accepted {was_accepted} times, received {} times",
                        received[v]
                    );
                    total_accepted += was_accepted as usize;
                }
            }
            (total_accepted, total_panicked)
        })
    });
    assert!(accepted > 0, "no send ever completed: the race was not exercised");
    assert!(panicked > 0, "no sender was ever caught by the close: the race was not exercised");
}

// ---------------------------------------------------------------------------
// select! racing on shared channels

/// What one pass of a worker's select did.
#[derive(Clone, Copy)]
enum Step {
    Sent(usize),
    Got(usize, Option<u64>),
    Default,
    Timeout,
}

/// Indices of the three shared channels in the tallies.
const A: usize = 0;
const B: usize = 1;
const C: usize = 2;

/// Per-worker counts of what the selects did.
#[derive(Default, Debug)]
struct Tally {
    sent: [usize; 3],
    got: [usize; 3],
    defaults: usize,
    timeouts: usize,
    left: usize,
}

#[test]
fn selects_racing_on_shared_channels_lose_and_duplicate_nothing() {
    const WORKERS: usize = 6;
    let n = scaled(100_000);
    let tally = within(LIMIT, move || {
        gort::run(move || {
            // a: unbuffered, b: one slot, c: four slots. Never closed while
            // the workers run.
            let (a, b, c) = (chan::<u64>(0), chan::<u64>(1), chan::<u64>(4));
            let seen = counters(n);
            let sunk = Arc::new(AtomicUsize::new(0));
            let deadline = Instant::now() + Duration::from_secs(60);
            let workers: Vec<_> = (0..WORKERS)
                .map(|w| {
                    let (a, b, c, seen, sunk) = (a.clone(), b.clone(), c.clone(), seen.clone(), sunk.clone());
                    go!(move || {
                        let mut rng = Rng::new(w as u64 + 7);
                        // Messages this worker still has to pass on: its share
                        // of the ids at first, then what it chose to forward.
                        let mut carry: VecDeque<u64> = (w..n).step_by(WORKERS).map(|i| i as u64).collect();
                        let mut tally = Tally::default();
                        // A worker with a message always has a ready arm or a
                        // partner: b (one slot) can be sent to or received from,
                        // and a parked select on a offers both directions. So
                        // the blocking selects cannot all wait at once.
                        while sunk.load(Ordering::SeqCst) < n && Instant::now() < deadline {
                            let step = match carry.front().copied() {
                                None => select! {
                                    recv(&a) -> v => Step::Got(A, v),
                                    recv(&b) -> v => Step::Got(B, v),
                                    recv(&c) -> v => Step::Got(C, v),
                                    recv(gort::time::after(Duration::from_millis(1))) -> _ => Step::Timeout,
                                },
                                Some(id) => match rng.below(10) {
                                    // A send and a receive arm on the same
                                    // channel: a select must never pair with itself.
                                    0..=2 => select! {
                                        send(&a, id) => Step::Sent(A),
                                        recv(&a) -> v => Step::Got(A, v),
                                        recv(&b) -> v => Step::Got(B, v),
                                        recv(&c) -> v => Step::Got(C, v),
                                    },
                                    // Everything, with operands by value.
                                    3..=5 => select! {
                                        send(a.clone(), id) => Step::Sent(A),
                                        send(b.sender(), id) => Step::Sent(B),
                                        send(&c, id) => Step::Sent(C),
                                        recv(a.receiver()) -> v => Step::Got(A, v),
                                        recv(&b) -> v => Step::Got(B, v),
                                        recv(c.clone()) -> v => Step::Got(C, v),
                                    },
                                    6..=8 => select! {
                                        send(&a, id) => Step::Sent(A),
                                        recv(&a) -> v => Step::Got(A, v),
                                        recv(&b) -> v => Step::Got(B, v),
                                        default => Step::Default,
                                    },
                                    _ => select! {
                                        send(&c, id) => Step::Sent(C),
                                        recv(&b) -> v => Step::Got(B, v),
                                        recv(gort::time::after(rng.micros(200))) -> _ => Step::Timeout,
                                    },
                                },
                            };
                            match step {
                                Step::Sent(k) => {
                                    carry.pop_front();
                                    tally.sent[k] += 1;
                                }
                                Step::Got(k, v) => {
                                    let id = v.expect("the shared channels are never closed while workers run");
                                    tally.got[k] += 1;
                                    if rng.one_in(2) {
                                        seen[id as usize].fetch_add(1, Ordering::Relaxed);
                                        sunk.fetch_add(1, Ordering::SeqCst);
                                    } else {
                                        carry.push_back(id);
                                    }
                                }
                                Step::Default => {
                                    tally.defaults += 1;
                                    gort::yield_now();
                                }
                                Step::Timeout => tally.timeouts += 1,
                            }
                        }
                        tally.left = carry.len();
                        tally
                    })
                })
                .collect();
            let mut total = Tally::default();
            for h in workers {
                let t = h.join().unwrap();
                for k in [A, B, C] {
                    total.sent[k] += t.sent[k];
                    total.got[k] += t.got[k];
                }
                total.defaults += t.defaults;
                total.timeouts += t.timeouts;
                total.left += t.left;
            }
            assert_eq!(
                (total.left, b.len(), c.len()),
                (0, 0, 0),
                "messages still held or buffered when the workers stopped (60 s deadline?): {total:?}"
            );
            assert_eq!(sunk.load(Ordering::SeqCst), n, "messages consumed: {total:?}");
            assert_each_once(&seen);
            total
        })
    });
    // Every message sent on a channel was received from that channel.
    assert_eq!(tally.sent, tally.got, "sent vs received per channel: {tally:?}");
    assert!(tally.sent.iter().all(|&s| s > 0), "every channel carried messages: {tally:?}");
    assert!(tally.defaults > 0, "the default arm was taken: {tally:?}");
}

// ---------------------------------------------------------------------------
// Dynamic select

#[test]
fn dynamic_select_over_eight_receivers_gets_every_value_once_and_in_order() {
    const CHANNELS: usize = 8;
    let per = scaled(20_000) as u64;
    let (blocking, tried, timed) = within(LIMIT, move || {
        gort::run(move || {
            // Capacities 0, 1, 4, 0, 1, 4, ...
            let chs: Vec<Chan<u64>> = (0..CHANNELS).map(|i| chan([0, 1, 4][i % 3])).collect();
            let producers: Vec<_> = chs
                .iter()
                .enumerate()
                .map(|(i, ch)| {
                    let tx = ch.sender();
                    go!(move || {
                        let mut rng = Rng::new(i as u64 + 3);
                        for k in 0..per {
                            tx.send(i as u64 * per + k);
                            if rng.one_in(16) {
                                gort::yield_now();
                            }
                        }
                        tx.close();
                    })
                })
                .collect();

            let mut rng = Rng::new(99);
            let mut open: Vec<usize> = (0..CHANNELS).collect();
            let mut next = [0u64; CHANNELS];
            let (mut blocking, mut tried, mut timed) = (0usize, 0usize, 0usize);
            while !open.is_empty() {
                let mut sel = gort::Select::new();
                let arms: Vec<usize> = open.iter().map(|&i| sel.recv(&chs[i])).collect();
                assert_eq!(arms, (0..open.len()).collect::<Vec<_>>(), "arm indices follow call order");
                let op = match rng.below(4) {
                    0 => match sel.try_select() {
                        Some(op) => {
                            tried += 1;
                            op
                        }
                        None => {
                            gort::yield_now();
                            continue;
                        }
                    },
                    1 => match sel.select_timeout(rng.micros(200)) {
                        Some(op) => {
                            timed += 1;
                            op
                        }
                        None => continue,
                    },
                    _ => {
                        blocking += 1;
                        sel.select()
                    }
                };
                let arm = op.index();
                assert!(arm < open.len(), "arm {arm} of {}", open.len());
                let i = open[arm];
                match op.recv(&chs[i]) {
                    Some(v) => {
                        assert_eq!(v, i as u64 * per + next[i], "channel {i}: lost, duplicated or reordered");
                        next[i] += 1;
                    }
                    None => {
                        assert_eq!(next[i], per, "channel {i} reported closed before its last value");
                        open.swap_remove(arm);
                    }
                }
            }
            producers.into_iter().for_each(|h| h.join().unwrap());
            assert!(next.iter().all(|&k| k == per), "values per channel: {next:?}");
            (blocking, tried, timed)
        })
    });
    assert!(blocking > 0 && tried > 0 && timed > 0, "each way of selecting was used: {blocking} {tried} {timed}");
}

#[test]
fn dynamic_select_send_arms_deliver_only_the_chosen_value() {
    const CHANNELS: usize = 8;
    let n = scaled(20_000) as u64;
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let created = within(LIMIT, move || {
        gort::run(move || {
            let outs: Vec<Chan<Tracked>> = (0..CHANNELS).map(|i| chan(i % 2)).collect();
            let workers: Vec<_> = outs
                .iter()
                .map(|ch| {
                    let rx = ch.receiver();
                    go!(move || rx.iter().map(|t| t.id).collect::<Vec<_>>())
                })
                .collect();
            let mut rng = Rng::new(5);
            let mut created = 0usize;
            let mut id = 0;
            while id < n {
                // Every arm gets its own copy of the value; one is sent, the
                // others are dropped with the Select.
                let mut sel = gort::Select::new();
                for ch in &outs {
                    sel.send(ch, Tracked { id, drops: d.clone() });
                }
                created += CHANNELS;
                let op = if rng.one_in(4) { sel.try_select() } else { Some(sel.select()) };
                if let Some(op) = op {
                    assert!(op.index() < CHANNELS);
                    id += 1;
                } else {
                    gort::yield_now();
                }
            }
            for ch in &outs {
                ch.close();
            }
            let mut all = Vec::new();
            for (w, h) in workers.into_iter().enumerate() {
                let ids = h.join().unwrap();
                assert!(!ids.is_empty(), "worker {w} never chosen: the choice is not random");
                assert!(ids.windows(2).all(|p| p[0] < p[1]), "worker {w} got values out of order");
                all.extend(ids);
            }
            all.sort_unstable();
            assert_eq!(all, (0..n).collect::<Vec<_>>(), "each value delivered exactly once");
            created
        })
    });
    assert_eq!(drops.load(Ordering::SeqCst), created, "every copy, sent or not, dropped exactly once");
    assert_eq!(Arc::strong_count(&drops), 1);
}
