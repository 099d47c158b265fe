//! Go's channel conformance programs, ported: `go/test/chan/*.go`, the
//! channel tests of `go/src/runtime/chan_test.go`, and a few neighbours
//! (`go/test/closedchan.go`, `go/test/chanlinear.go`, `go/test/ken/chan1.go`).
//!
//! One module per Go file, one `#[test]` per Go test function; a Go
//! program's `main` becomes the test `main`. Go's logic and checks are kept.
//! Where Go panics in a goroutine, the port either joins that goroutine or
//! leaves the waiting side blocked, which `within` turns into a failure.
//! Stress sizes shrink in debug builds (`scaled`). `runtime.Gosched` is
//! `gort::yield_now`, `time.After` is `gort::time::after`, and a Go `main`
//! runs as gort's main goroutine (`go_main`); some tests drive channels from
//! the plain test thread instead, which gort supports too.
//!
//! Like their Go originals, several programs leave goroutines parked for
//! good (infinite generators, operations on nil channels). Parked
//! goroutines cost no CPU.

use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

use gort::prelude::*;

#[path = "support/limits.rs"]
mod limits;
use limits::{scaled, within};

/// Runs `f` as the main goroutine of a Go program (`gort::run`), within
/// `limit`.
fn go_main<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    within(limit, move || gort::run(f))
}

/// Runs `f`; returns its panic message if it panicked (Go's `recover()`).
fn panic_message(f: impl FnOnce()) -> Option<String> {
    let payload = panic::catch_unwind(AssertUnwindSafe(f)).err()?;
    Some(match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => payload.downcast_ref::<&str>().map_or_else(String::new, |s| (*s).to_owned()),
    })
}

/// Asserts that `f` panics with a message containing `want`.
fn expect_panic(want: &str, f: impl FnOnce()) {
    match panic_message(f) {
        Some(msg) => assert!(msg.contains(want), "panicked with {msg:?}, want {want:?}"),
        None => panic!("did not panic, want a panic with {want:?}"),
    }
}

/// The primes below 100, which both sieves must produce.
const PRIMES: [i32; 25] =
    [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97];

// go/test/chan/sieve1.go
mod sieve1 {
    //! Primes up to 100 from a linear chain of divisibility filters,
    //! equivalent to trial-dividing each n by all primes p ≤ n.
    use super::*;

    /// Sends the sequence 2, 3, 4, ... to `ch`.
    fn generate(ch: Sender<i32>) {
        let mut i = 2;
        loop {
            ch.send(i);
            i += 1;
        }
    }

    /// Copies the values from `input` to `out`, removing those divisible by
    /// `prime`.
    fn filter(input: Receiver<i32>, out: Sender<i32>, prime: i32) {
        for i in &input {
            if i % prime != 0 {
                out.send(i);
            }
        }
    }

    /// The prime sieve: daisy-chains filter goroutines together.
    fn sieve(primes: Sender<i32>) {
        let mut ch = chan::<i32>(0);
        let tx = ch.sender();
        go!(generate(tx));
        loop {
            // ch is a different channel on each iteration.
            let prime = ch.recv().expect("never closed");
            primes.send(prime);
            let ch1 = chan::<i32>(0);
            let (input, out) = (ch.receiver(), ch1.sender());
            go!(filter(input, out, prime));
            ch = ch1;
        }
    }

    #[test]
    fn main() {
        go_main(Duration::from_secs(30), || {
            let primes = chan::<i32>(0);
            let tx = primes.sender();
            go!(sieve(tx));
            for want in PRIMES {
                assert_eq!(primes.recv(), Some(want));
            }
        });
    }
}

// go/test/chan/sieve2.go
mod sieve2 {
    //! Primes up to 100 from an Eratosthenes-like sieve that merges the
    //! channels of multiples of each prime through a heap, with a feedback
    //! loop buffered by a proxy goroutine.
    use super::*;
    use std::cmp::Ordering;
    use std::collections::{BinaryHeap, VecDeque};

    /// Sends `n`, `n + step`, `n + 2 * step`, ... on `out`.
    fn count_from(out: Chan<i32>, mut n: i32, step: i32) {
        loop {
            out.send(n);
            n += step;
        }
    }

    /// A channel of the odd numbers, starting from 5.
    fn odds() -> Chan<i32> {
        let out = chan::<i32>(50);
        let tx = out.clone();
        go!(count_from(tx, 5, 2));
        out
    }

    /// A channel of the odd multiples of the prime `p`, starting from p*p.
    fn multiples(p: i32) -> Chan<i32> {
        let out = chan::<i32>(10);
        let tx = out.clone();
        go!(count_from(tx, p * p, 2 * p));
        out
    }

    /// A channel and the value at its head.
    struct PeekCh {
        head: i32,
        ch: Chan<i32>,
    }

    // Ordered by head, reversed: std's BinaryHeap is a max-heap and Go's
    // container/heap a min-heap.
    impl Ord for PeekCh {
        fn cmp(&self, other: &Self) -> Ordering {
            other.head.cmp(&self.head)
        }
    }
    impl PartialOrd for PeekCh {
        fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
            Some(self.cmp(other))
        }
    }
    impl PartialEq for PeekCh {
        fn eq(&self, other: &Self) -> bool {
            self.head == other.head
        }
    }
    impl Eq for PeekCh {}

    /// A channel that serves as a sending proxy to `out`: a goroutine keeps
    /// what is sent in an expanding queue, so sending never blocks for long.
    fn sendproxy(out: Sender<i32>) -> Sender<i32> {
        let proxy = chan::<i32>(10);
        let rx = proxy.receiver();
        go!(proxy_loop(rx, out));
        proxy.sender()
    }

    fn proxy_loop(proxy: Receiver<i32>, out: Sender<i32>) {
        let mut queue = VecDeque::<i32>::new(); // Go: a container/ring it grows
        loop {
            let (c, e) = match queue.front() {
                Some(&e) => (out.clone(), e),
                // queue empty: disable output
                None => (Sender::from(Chan::<i32>::nil()), 0),
            };
            select! {
                recv(&proxy) -> v => queue.push_back(v.expect("never closed")),
                send(c, e) => {
                    queue.pop_front();
                },
            }
        }
    }

    /// Merges the channels of multiples of `primes` into `composites`.
    fn merge(primes: Chan<i32>, composites: Chan<i32>) {
        let mut h = BinaryHeap::<PeekCh>::new();
        let mut min = 15;
        loop {
            let m = multiples(primes.recv().expect("never closed"));
            let head = m.recv().expect("never closed");
            while min < head {
                composites.send(min);
                let mut minchan = h.pop().expect("a channel to merge");
                min = minchan.head;
                minchan.head = minchan.ch.recv().expect("never closed");
                h.push(minchan);
            }
            while min == head {
                let mut minchan = h.pop().expect("a channel to merge");
                min = minchan.head;
                minchan.head = minchan.ch.recv().expect("never closed");
                h.push(minchan);
            }
            composites.send(head);
            h.push(PeekCh { head: m.recv().expect("never closed"), ch: m });
        }
    }

    /// Sieves `composites` out of the candidates.
    fn sift(primes: Sender<i32>, composites: Chan<i32>, out: Chan<i32>) {
        // In order to generate the nth prime we only need multiples of
        // primes ≤ sqrt(nth prime). Thus, the merging goroutine will
        // receive from 'primes' much slower than this goroutine will send
        // to it, making the buffer accumulate and block this goroutine from
        // sending, causing a deadlock. The solution is to use a proxy
        // goroutine to do automatic buffering.
        let primes = sendproxy(primes);
        let candidates = odds();
        let mut p = candidates.recv().expect("never closed");
        loop {
            let c = composites.recv().expect("never closed");
            while p < c {
                primes.send(p);
                out.send(p);
                p = candidates.recv().expect("never closed");
            }
            if p == c {
                p = candidates.recv().expect("never closed");
            }
        }
    }

    /// A channel of the primes.
    fn sieve() -> Receiver<i32> {
        // The output values.
        let out = chan::<i32>(10);
        out.send(2);
        out.send(3);
        // The channel of all composites to be eliminated in increasing order.
        let composites = chan::<i32>(50);
        // The feedback loop.
        let primes = chan::<i32>(10);
        primes.send(3);
        let (p, c) = (primes.clone(), composites.clone());
        go!(merge(p, c));
        let (p, o) = (primes.sender(), out.clone());
        go!(sift(p, composites, o));
        out.receiver()
    }

    #[test]
    fn main() {
        go_main(Duration::from_secs(30), || {
            let primes = sieve();
            for want in PRIMES {
                assert_eq!(primes.recv(), Some(want));
            }
        });
    }
}

// go/test/chan/doubleselect.go
mod doubleselect {
    //! The case where two arms of one select could both run
    //! (http://codereview.appspot.com/180068).
    use super::*;
    use std::collections::HashSet;

    /// Sends a counter to one of four channels. If two arms both ran in
    /// one iteration, the same value would go to two channels.
    fn sender(n: usize, c1: Sender<usize>, c2: Sender<usize>, c3: Sender<usize>, c4: Sender<usize>) {
        for i in 0..n {
            select! {
                send(&c1, i) => {},
                send(&c2, i) => {},
                send(&c3, i) => {},
                send(&c4, i) => {},
            }
        }
        // Go: deferred closes.
        c4.close();
        c3.close();
        c2.close();
        c1.close();
    }

    /// Forwards the values from `input` to `out`.
    fn mux(out: Sender<usize>, input: Receiver<usize>, done: Sender<bool>) {
        for v in &input {
            out.send(v);
        }
        done.send(true);
    }

    /// Receives the values from the four muxes and checks for duplicates.
    fn recver(input: Receiver<usize>) -> usize {
        let mut seen = HashSet::new();
        for v in &input {
            assert!(seen.insert(v), "got duplicate value: {v}");
        }
        seen.len()
    }

    #[test]
    fn main() {
        let iterations = scaled(100_000);
        go_main(Duration::from_secs(60), move || {
            let cs = [chan::<usize>(0), chan(0), chan(0), chan(0)];
            let done = chan::<bool>(0);
            let cmux = chan::<usize>(0);
            let [s1, s2, s3, s4] = [cs[0].sender(), cs[1].sender(), cs[2].sender(), cs[3].sender()];
            go!(sender(iterations, s1, s2, s3, s4));
            for c in &cs {
                let (out, input, done) = (cmux.sender(), c.receiver(), done.sender());
                go!(mux(out, input, done));
            }
            let (d, m) = (done.clone(), cmux.clone());
            go!(move || {
                for _ in 0..4 {
                    let _ = d.recv();
                }
                m.close();
            });
            // Not in Go: every value arrives, too.
            assert_eq!(recver(cmux.receiver()), iterations);
        });
    }
}

// go/test/chan/fifo.go
mod fifo {
    //! Unbuffered channels act as pure FIFOs.
    use super::*;

    const N: i32 = 10;

    #[test]
    fn asynch_fifo() {
        within(Duration::from_secs(10), || {
            let ch = chan::<i32>(N as usize);
            for i in 0..N {
                ch.send(i);
            }
            for i in 0..N {
                assert_eq!(ch.recv(), Some(i), "bad receive");
            }
        });
    }

    fn chain(ch: Receiver<i32>, val: i32, input: Receiver<i32>, out: Sender<i32>) {
        let _ = input.recv();
        assert_eq!(ch.recv(), Some(val));
        out.send(1);
    }

    /// Threads together a daisy chain to read the elements in sequence.
    #[test]
    fn synch_fifo() {
        go_main(Duration::from_secs(10), || {
            let ch = chan::<i32>(0);
            let mut input = chan::<i32>(0);
            let start = input.clone();
            for i in 0..N {
                let out = chan::<i32>(0);
                let (c, inp, o) = (ch.receiver(), input.receiver(), out.sender());
                go!(chain(c, i, inp, o));
                input = out;
            }
            start.send(0);
            for i in 0..N {
                ch.send(i);
            }
            assert_eq!(input.recv(), Some(1));
        });
    }
}

// go/test/chan/goroutines.go
mod goroutines {
    //! Makes a lot of goroutines, threaded together, and tears them down
    //! cleanly.
    use super::*;

    fn f(left: Sender<i32>, right: Receiver<i32>) {
        left.send(right.recv().expect("never closed"));
    }

    #[test]
    fn main() {
        go_main(Duration::from_secs(60), || {
            let n = 10_000;
            let leftmost = chan::<i32>(0);
            let mut left = leftmost.clone();
            for _ in 0..n {
                let right = chan::<i32>(0);
                let (l, r) = (left.sender(), right.receiver());
                go!(f(l, r));
                left = right;
            }
            // `left` is now the rightmost channel.
            let right = left.sender();
            go!(move || right.send(1));
            assert_eq!(leftmost.recv(), Some(1));
        });
    }
}

// go/test/chan/nonblock.go
mod nonblock {
    //! Channel operations that test for blocking, with several sizes and
    //! types of operands.
    use super::*;
    use gort::time::Ticker;
    use std::fmt::Debug;

    const MAX_TRIES: usize = 10_000; // Go: up to 100ms per test.

    fn sleep(ticker: &Ticker) {
        let _ = ticker.channel().recv();
        let _ = ticker.channel().recv();
        gort::yield_now();
        gort::yield_now();
        gort::yield_now();
    }

    /// Go's i32receiver/i32sender pair and its siblings for i64, bool and
    /// string, made generic: the receiver expects `to_receiver`, the sender
    /// sends `from_sender`. A goroutine reports on `strobe` whether it got
    /// the value it expected.
    fn check<T>(buffer: usize, strobe: &Chan<bool>, ticker: &Ticker, to_receiver: T, from_sender: T, what: &'static str)
    where
        T: Clone + PartialEq + Debug + Send + 'static,
    {
        let c = chan::<T>(buffer);

        select! {
            recv(&c) -> _ => panic!("blocked {what}sender"),
            default => {},
        }

        // The receiver goroutine.
        {
            let (c, strobe, want) = (c.clone(), strobe.clone(), to_receiver.clone());
            go!(move || strobe.send(c.recv() == Some(want)));
        }
        let mut tries = 0;
        loop {
            select! {
                send(&c, to_receiver.clone()) => break,
                default => {
                    tries += 1;
                    assert!(tries <= MAX_TRIES, "{what}receiver buffer={buffer}");
                    sleep(ticker);
                },
            }
        }
        assert_eq!(strobe.recv(), Some(true), "{what} value");

        // The sender goroutine.
        {
            let (c, strobe, v) = (c.clone(), strobe.clone(), from_sender.clone());
            go!(move || {
                c.send(v);
                strobe.send(true);
            });
        }
        if buffer > 0 {
            assert_eq!(strobe.recv(), Some(true));
        }
        tries = 0;
        let got = loop {
            select! {
                recv(&c) -> v => break v,
                default => {
                    tries += 1;
                    assert!(tries <= MAX_TRIES, "{what}sender buffer={buffer}");
                    sleep(ticker);
                },
            }
        };
        assert_eq!(got, Some(from_sender), "{what}sender value");
        if buffer == 0 {
            assert_eq!(strobe.recv(), Some(true));
        }
    }

    #[test]
    fn main() {
        go_main(Duration::from_secs(60), || {
            let ticker = Ticker::new(Duration::from_micros(10));
            let strobe = chan::<bool>(0);
            for buffer in 0..2 {
                check(buffer, &strobe, &ticker, 123i32, 234i32, "i32");
                check(buffer, &strobe, &ticker, 123456i64, 234567i64, "i64");
                check(buffer, &strobe, &ticker, true, true, "b");
                check(buffer, &strobe, &ticker, "hello".to_owned(), "hello again".to_owned(), "s");
            }
            ticker.stop();
        });
    }
}

// go/test/chan/select.go
mod select {
    //! Send arms: nil channels disable an arm, default ends the loop, and
    //! every send value is evaluated each time, chosen or not.
    use super::*;
    use std::cell::Cell;

    #[derive(Default)]
    struct Values {
        counter: Cell<u32>,
        shift: Cell<u32>,
    }

    impl Values {
        fn get_value(&self) -> u32 {
            self.counter.set(self.counter.get() + 1);
            1 << self.shift.get()
        }
    }

    /// Go's `Send`.
    fn send_all(v: &Values, mut a: Chan<u32>, mut b: Chan<u32>) -> i32 {
        let mut i = 0;
        loop {
            select! {
                send(a.clone(), v.get_value()) => {
                    i += 1;
                    a = Chan::nil();
                },
                send(b.clone(), v.get_value()) => {
                    i += 1;
                    b = Chan::nil();
                },
                default => break,
            }
            v.shift.set(v.shift.get() + 1);
        }
        i
    }

    #[test]
    fn main() {
        within(Duration::from_secs(10), || {
            let v = Values::default();
            let a = chan::<u32>(1);
            let b = chan::<u32>(1);
            assert_eq!(send_all(&v, a.clone(), b.clone()), 2, "Send returned != 2");
            let (av, bv) = (a.recv().unwrap(), b.recv().unwrap());
            assert_eq!(av | bv, 3, "bad values {av} {bv}");
            assert_eq!(send_all(&v, a.clone(), Chan::nil()), 1, "Send returned != 1");
            assert_eq!(v.counter.get(), 10, "counter");
        });
    }
}

// go/test/chan/select2.go
mod select2 {
    //! Many selects in a row (Go also measures that the second batch
    //! allocates nothing; the port keeps the behaviour, not the
    //! measurement).
    use super::*;

    fn sender(c: Sender<i32>, n: usize) {
        for _ in 0..n {
            c.send(1);
        }
    }

    fn receiver(c: &Chan<i32>, dummy: &Chan<i32>, n: usize) {
        for _ in 0..n {
            select! {
                recv(c) -> v => assert_eq!(v, Some(1)),
                recv(dummy) -> _ => panic!("dummy"),
            }
        }
    }

    #[test]
    fn main() {
        let n = scaled(100_000);
        go_main(Duration::from_secs(60), move || {
            let c = chan::<i32>(0);
            let dummy = chan::<i32>(0);
            // warm up
            let tx = c.sender();
            let h = go!(sender(tx, n));
            receiver(&c, &dummy, n);
            h.join().unwrap();
            // second time (Go: shouldn't increase footprint by much)
            let tx = c.sender();
            let h = go!(sender(tx, n));
            receiver(&c, &dummy, n);
            h.join().unwrap();
        });
    }
}

// go/test/chan/select3.go
mod select3 {
    //! The semantics of select for basic empty/non-empty cases: what
    //! blocks, what does not, what panics.
    use super::*;
    use gort::TryRecvError;

    fn unreachable() -> ! {
        panic!("control flow shouldn't reach here")
    }

    /// Go's `var nilch chan int`.
    fn nilch() -> Chan<i32> {
        Chan::nil()
    }

    /// Calls `f` and checks that it panics with a message containing `want`
    /// (Some), or does not panic (None).
    fn test_panic(want: Option<&str>, f: impl FnOnce()) {
        match (want, panic_message(f)) {
            (None, None) => {}
            (Some(want), Some(got)) => assert!(got.contains(want), "panicked with {got:?}, want {want:?}"),
            (want, got) => panic!("want panic {want:?}, got {got:?}"),
        }
    }

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Blocks {
        Always,
        Never,
    }
    use Blocks::{Always, Never};

    /// Calls `f` in a goroutine and empirically checks that it always or
    /// never blocks. "Always" means still blocked after 20 ms (Go waits
    /// 100 ms); "never" means it returned, without panicking, well within
    /// ten seconds (nothing else touches these channels, so a blocked
    /// operation never completes).
    fn test_block(signal: Blocks, what: &str, f: impl FnOnce() + Send + 'static) {
        let c = chan::<bool>(1);
        let tx = c.clone();
        go!(move || tx.send(panic_message(f).is_none()));
        let limit = match signal {
            Always => Duration::from_millis(20),
            Never => Duration::from_secs(10),
        };
        let returned = select! {
            recv(&c) -> ok => Some(ok == Some(true)),
            recv(gort::time::after(limit)) -> _ => None,
        };
        match (signal, returned) {
            (Always, None) | (Never, Some(true)) => {}
            (Always, Some(_)) => panic!("{what}: function did not block"),
            (Never, None) => panic!("{what}: function blocked"),
            (Never, Some(false)) => panic!("{what}: function panicked"),
        }
    }

    #[test]
    fn main() {
        go_main(Duration::from_secs(60), || {
            const ASYNC: usize = 1; // asynchronous channels
            let closedch = chan::<i32>(0);
            closedch.close();

            // sending/receiving from a nil channel blocks
            test_block(Always, "send on nil", move || nilch().send(7));
            test_block(Always, "receive on nil", move || {
                let _ = nilch().recv();
            });

            // sending/receiving from a nil channel inside a select is never selected
            test_panic(None, || {
                select! {
                    send(nilch(), 7) => unreachable(),
                    default => {},
                }
            });
            test_panic(None, || {
                select! {
                    recv(nilch()) -> _ => unreachable(),
                    default => {},
                }
            });

            // sending to an async channel with free buffer space never blocks
            test_block(Never, "send with free buffer", || chan::<i32>(ASYNC).send(7));

            // receiving from a closed channel never blocks
            let c = closedch.clone();
            test_block(Never, "receive on closed", move || {
                for _ in 0..10 {
                    assert_eq!(c.recv(), None, "expected zero value when reading from closed channel");
                    assert_eq!(c.try_recv(), Err(TryRecvError::Closed), "expected 0, false from closed channel");
                }
            });

            // sending to a closed channel panics
            test_panic(Some("send on closed channel"), || closedch.send(7));

            // receiving from a non-ready channel always blocks
            test_block(Always, "receive on empty", || {
                let _ = chan::<i32>(0).recv();
            });

            // empty selects always block
            test_block(Always, "empty select", || select! {});

            // selects with only nil channels always block
            test_block(Always, "select: receive on nil", move || {
                select! {
                    recv(nilch()) -> _ => unreachable(),
                }
            });
            test_block(Always, "select: send on nil", move || {
                select! {
                    send(nilch(), 7) => unreachable(),
                }
            });
            test_block(Always, "select: both on nil", move || {
                select! {
                    recv(nilch()) -> _ => unreachable(),
                    send(nilch(), 7) => unreachable(),
                }
            });

            // selects with non-ready non-nil channels always block
            test_block(Always, "select: receive on empty", || {
                let ch = chan::<i32>(0);
                select! {
                    recv(&ch) -> _ => unreachable(),
                }
            });

            // selects with default cases don't block
            test_block(Never, "select: default only", || {
                select! {
                    default => {},
                }
            });
            test_block(Never, "select: receive on nil, default", move || {
                select! {
                    recv(nilch()) -> _ => unreachable(),
                    default => {},
                }
            });
            test_block(Never, "select: send on nil, default", move || {
                select! {
                    send(nilch(), 7) => unreachable(),
                    default => {},
                }
            });

            // selects with ready channels don't block
            test_block(Never, "select: ready send", || {
                let ch = chan::<i32>(ASYNC);
                select! {
                    send(&ch, 7) => {},
                    default => unreachable(),
                }
            });
            test_block(Never, "select: ready receive", || {
                let ch = chan::<i32>(ASYNC);
                ch.send(7);
                select! {
                    recv(&ch) -> _ => {},
                    default => unreachable(),
                }
            });

            // selects with closed channels behave like ordinary operations
            let c = closedch.clone();
            test_block(Never, "select: receive on closed", move || {
                select! {
                    recv(c) -> _ => {},
                }
            });
            let c = closedch.clone();
            test_block(Never, "select: receive on closed, with the value", move || {
                select! {
                    recv(&c) -> x => assert_eq!(x, None),
                }
            });
            test_panic(Some("send on closed channel"), || {
                select! {
                    send(&closedch, 7) => {},
                }
            });

            // select should not get confused if it sees itself
            test_block(Always, "select: send and receive on one channel", || {
                let c = chan::<i32>(0);
                select! {
                    send(&c, 1) => {},
                    recv(&c) -> _ => {},
                }
            });
        });
    }
}

// go/test/chan/select4.go
mod select4 {
    //! An arm that is not chosen runs none of its code. (Go: the left-hand
    //! side of a receive assignment is not evaluated; in gort the binding
    //! is a pattern, so the nearest thing is the arm's body.)
    use super::*;
    use std::cell::Cell;

    #[test]
    fn main() {
        within(Duration::from_secs(10), || {
            let c = chan::<i32>(1);
            let c1 = chan::<i32>(0);
            c.send(42);
            let called = Cell::new(false);
            let f = || called.set(true);
            let x = select! {
                recv(&c1) -> v => {
                    f();
                    v
                },
                recv(&c) -> v => v,
            };
            assert!(!called.get(), "BUG: called f");
            assert_eq!(x, Some(42), "BUG: {x:?}");
        });
    }
}

// go/test/chan/select5.go
mod select5 {
    //! Go's select5 generates a program with every combination of a real
    //! send or receive, phrased plainly or in a select with or without
    //! default, among dummy and nil arms, and checks the value and the order
    //! in which operands are evaluated. `select!` is a macro, so
    //! `generated_by_hand` writes representative cases out; gort's dynamic
    //! `Select` can be built at run time, so `enumerated_with_dynamic_select`
    //! walks the whole space.
    use super::*;
    use gort::Select;
    use std::cell::Cell;
    use std::collections::HashMap;

    /// Go's checkorder: successive calls must have increasing `o`.
    #[derive(Default)]
    struct Order(Cell<i32>);

    impl Order {
        fn reset(&self) {
            self.0.set(0);
        }
        fn check(&self, o: i32) {
            let last = self.0.get();
            assert!(o > last, "invalid order {o} after {last}");
            self.0.set(o);
        }
        /// Go's `fc`.
        fn fc<'a>(&self, c: &'a Chan<i32>, o: i32) -> &'a Chan<i32> {
            self.check(o);
            c
        }
        /// Go's `fn`.
        fn fv(&self, n: i32, o: i32) -> i32 {
            self.check(o);
            n
        }
    }

    /// Go's `if x != n { die(x) }; n++`.
    fn next(x: i32, n: &mut i32) {
        assert_eq!(x, *n, "have {x} want {n}");
        *n += 1;
    }

    #[test]
    fn generated_by_hand() {
        within(Duration::from_secs(10), || {
            // The channel is buffered so the test is single-goroutine: this
            // is about which arms run, not about concurrency.
            let c = chan::<i32>(1);
            let nilch = Chan::<i32>::nil();
            let dummy = chan::<i32>(0);
            let order = Order::default();
            let mut n = 1;

            // recv: a plain receive.
            c.send(n);
            let x = c.recv().unwrap();
            next(x, &mut n);

            // recv: non-blocking select.
            c.send(n);
            let x = select! {
                recv(&c) -> y => y.unwrap(),
                default => panic!("nonblock"),
            };
            next(x, &mut n);

            // recv: blocking select among dummy and nil arms.
            c.send(n);
            let x = select! {
                send(&dummy, 1) => panic!("dummy send"),
                recv(&c) -> y => y.unwrap(),
                recv(&dummy) -> _ => panic!("dummy receive"),
                send(&nilch, 1) => panic!("nilch send"),
                recv(&nilch) -> _ => panic!("nilch recv"),
            };
            next(x, &mut n);

            // recv: non-blocking, into a map (Go: `case m[13] = <-c:`).
            let mut m = HashMap::new();
            c.send(n);
            select! {
                recv(&nilch) -> _ => panic!("nilch recv"),
                recv(&c) -> y => {
                    m.insert(13, y.unwrap());
                },
                recv(&dummy) -> _ => panic!("dummy receive"),
                default => panic!("nonblock"),
            }
            next(m[&13], &mut n);

            // recv: through a reference (Go: `case *f(&x) = <-c:`).
            let mut x = 0;
            let px = &mut x;
            c.send(n);
            select! {
                recv(&c) -> y => {
                    *px = y.unwrap();
                },
                send(&dummy, 1) => panic!("dummy send"),
            }
            next(x, &mut n);

            // send: non-blocking select.
            select! {
                send(&c, n) => {},
                default => panic!("nonblock"),
            }
            next(c.recv().unwrap(), &mut n);

            // send: blocking select among dummy and nil arms.
            select! {
                recv(&nilch) -> _ => panic!("nilch recv"),
                send(&nilch, 1) => panic!("nilch send"),
                send(&c, n) => {},
                send(&dummy, 1) => panic!("dummy send"),
                recv(&dummy) -> _ => panic!("dummy receive"),
            }
            next(c.recv().unwrap(), &mut n);

            // recvOrder: every operand is evaluated once, in source order,
            // before an arm is chosen.
            order.reset();
            c.send(n);
            let x = select! {
                recv(order.fc(&c, 1)) -> y => y.unwrap(),
                send(order.fc(&dummy, 2), order.fv(1, 3)) => panic!("dummy send"),
                recv(order.fc(&dummy, 4)) -> _ => panic!("dummy receive"),
                send(order.fc(&nilch, 5), order.fv(1, 6)) => panic!("nilch send"),
                recv(order.fc(&nilch, 7)) -> _ => panic!("nilch recv"),
                default => panic!("nonblock"),
            };
            assert_eq!(order.0.get(), 7, "every operand was evaluated");
            next(x, &mut n);

            // sendOrder.
            order.reset();
            select! {
                send(order.fc(&c, 1), order.fv(n, 2)) => {},
                send(order.fc(&dummy, 3), order.fv(1, 4)) => panic!("dummy send"),
                recv(order.fc(&dummy, 5)) -> _ => panic!("dummy receive"),
                send(order.fc(&nilch, 6), order.fv(1, 7)) => panic!("nilch send"),
                recv(order.fc(&nilch, 8)) -> _ => panic!("nilch recv"),
            }
            assert_eq!(order.0.get(), 8, "every operand was evaluated");
            next(c.recv().unwrap(), &mut n);

            // nonblock: nothing is ready, so default runs and nothing else.
            let x = n;
            select! {
                send(&dummy, 1) => panic!("dummy <- 1"),
                send(&nilch, 1) => panic!("nilch <- 1"),
                recv(&dummy) -> _ => panic!("<-dummy"),
                recv(&dummy) -> y => panic!("<-dummy x: {y:?}"),
                recv(&nilch) -> _ => panic!("<-nilch"),
                recv(&nilch) -> y => panic!("<-nilch x: {y:?}"),
                default => {},
            }
            next(x, &mut n);
            assert!(c.is_empty());
        });
    }

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Real {
        Recv,
        Send,
        /// Go's nonblock template: only non-ready arms.
        Nothing,
    }

    #[test]
    fn enumerated_with_dynamic_select() {
        within(Duration::from_secs(30), || {
            let dummy = chan::<i32>(0);
            let nilch = Chan::<i32>::nil();
            let mut n = 1;
            let mut cases = 0;
            for real in [Real::Recv, Real::Send, Real::Nothing] {
                // The extra arms: bit 0 a dummy send, 1 a dummy receive, 2 a
                // nil send, 3 a nil receive.
                for extras in 0..16u32 {
                    let extra: Vec<u32> = (0..4).filter(|&b| extras & (1u32 << b) != 0).collect();
                    // Where the real arm goes among the extra ones.
                    for pos in 0..=extra.len() {
                        // Blocking select or not; with nothing ready, a
                        // timeout instead of blocking.
                        for blocking in [true, false] {
                            if real == Real::Nothing && pos > 0 {
                                continue;
                            }
                            let what = format!("{real:?} extras={extras:04b} pos={pos} blocking={blocking}");
                            let c = chan::<i32>(1); // buffered: single-goroutine
                            if real == Real::Recv {
                                c.send(n);
                            }
                            let mut sel = Select::new();
                            let mut arms = 0;
                            let mut real_arm = None;
                            for i in 0..=extra.len() {
                                if i == pos && real != Real::Nothing {
                                    let idx = match real {
                                        Real::Recv => sel.recv(&c),
                                        _ => sel.send(&c, n),
                                    };
                                    assert_eq!(idx, arms, "{what}: arm indexes count up in call order");
                                    arms += 1;
                                    real_arm = Some(idx);
                                }
                                if let Some(&e) = extra.get(i) {
                                    let idx = match e {
                                        0 => sel.send(&dummy, 1),
                                        1 => sel.recv(&dummy),
                                        2 => sel.send(&nilch, 1),
                                        _ => sel.recv(&nilch),
                                    };
                                    assert_eq!(idx, arms, "{what}: arm indexes count up in call order");
                                    arms += 1;
                                }
                            }
                            match real {
                                Real::Nothing => {
                                    let op = if blocking {
                                        sel.select_timeout(Duration::from_millis(1))
                                    } else {
                                        sel.try_select()
                                    };
                                    assert!(op.is_none(), "{what}: nothing is ready");
                                }
                                Real::Recv => {
                                    let op = if blocking { Some(sel.select()) } else { sel.try_select() };
                                    let op = op.unwrap_or_else(|| panic!("{what}: nonblock"));
                                    assert_eq!(Some(op.index()), real_arm, "{what}");
                                    assert_eq!(op.recv(&c), Some(n), "{what}");
                                }
                                Real::Send => {
                                    let op = if blocking { Some(sel.select()) } else { sel.try_select() };
                                    let op = op.unwrap_or_else(|| panic!("{what}: nonblock"));
                                    assert_eq!(Some(op.index()), real_arm, "{what}");
                                    assert_eq!(c.try_recv(), Ok(n), "{what}");
                                }
                            }
                            assert!(c.is_empty(), "{what}");
                            n += 1;
                            cases += 1;
                        }
                    }
                }
            }
            // 96 receives, 96 sends, 32 with nothing ready.
            assert_eq!(cases, 224);
        });
    }
}

// go/test/chan/select6.go
mod select6 {
    //! Go issue 2075: a bug in select corrupted the wait queues of the arms
    //! not chosen if several goroutines waited on them and the select was
    //! last in the queue; later waiters on those channels never woke. Here
    //! c1 is such a channel.
    use super::*;

    #[test]
    fn main() {
        go_main(Duration::from_secs(10), || {
            let c1 = chan::<bool>(0);
            let c2 = chan::<bool>(0);
            let c3 = chan::<bool>(0);
            let a = {
                let c1 = c1.clone();
                go!(move || c1.recv())
            };
            let b = {
                let (c1, c2, c3) = (c1.clone(), c2.clone(), c3.clone());
                go!(move || {
                    select! {
                        recv(&c1) -> _ => panic!("dummy"),
                        recv(&c2) -> _ => c3.send(true),
                    }
                    c1.recv()
                })
            };
            {
                let c2 = c2.clone();
                go!(move || c2.send(true));
            }
            assert_eq!(c3.recv(), Some(true));
            c1.send(true);
            c1.send(true);
            assert_eq!(a.join().unwrap(), Some(true));
            assert_eq!(b.join().unwrap(), Some(true));
        });
    }
}

// go/test/chan/select7.go
mod select7 {
    //! Select when discarding a value: every way to receive against every
    //! way to send.
    use super::*;

    fn recv1(c: Receiver<i32>) {
        let _ = c.recv();
    }

    fn recv2(c: Receiver<i32>) {
        select! {
            recv(&c) -> _ => {},
        }
    }

    fn recv3(c: Receiver<i32>) {
        let c2 = chan::<i32>(0);
        select! {
            recv(&c) -> _ => {},
            recv(&c2) -> _ => {},
        }
    }

    fn send1(recv: fn(Receiver<i32>)) {
        let c = chan::<i32>(0);
        let rx = c.receiver();
        let h = go!(recv(rx));
        gort::yield_now();
        c.send(1);
        h.join().unwrap();
    }

    fn send2(recv: fn(Receiver<i32>)) {
        let c = chan::<i32>(0);
        let rx = c.receiver();
        let h = go!(recv(rx));
        gort::yield_now();
        select! {
            send(&c, 1) => {},
        }
        h.join().unwrap();
    }

    fn send3(recv: fn(Receiver<i32>)) {
        let c = chan::<i32>(0);
        let rx = c.receiver();
        let h = go!(recv(rx));
        gort::yield_now();
        let c2 = chan::<i32>(0);
        select! {
            send(&c, 1) => {},
            send(&c2, 1) => {},
        }
        h.join().unwrap();
    }

    #[test]
    fn main() {
        go_main(Duration::from_secs(10), || {
            send1(recv1);
            send2(recv1);
            send3(recv1);
            send1(recv2);
            send2(recv2);
            send3(recv2);
            send1(recv3);
            send2(recv3);
            send3(recv3);
        });
    }
}

// go/test/chan/select8.go
mod select8 {
    //! `break` in a select arm. In Go it leaves the select; in Rust
    //! `break`, `continue` and `return` in an arm act on the enclosing
    //! loop, labelled block or function, and Go's `break` is `break 'label`
    //! out of a block around the select. One-, two- and three-arm selects,
    //! as Go tests them.
    use super::*;

    fn sends_forever(ch: Chan<i32>, v: i32) {
        loop {
            ch.send(v);
        }
    }

    #[allow(unreachable_code)]
    fn doubled_next(ch: &Chan<i32>) -> i32 {
        select! {
            recv(ch) -> v => {
                return 2 * v.expect("never closed");
            },
        }
        panic!("return in an arm did not return")
    }

    #[test]
    #[allow(unreachable_code)]
    fn main() {
        go_main(Duration::from_secs(10), || {
            let ch = chan::<i32>(0);
            let tx = ch.clone();
            go!(sends_forever(tx, 5));

            'one: {
                select! {
                    recv(&ch) -> _ => {
                        break 'one;
                        panic!("unreachable");
                    },
                }
                panic!("break did not leave the select");
            }

            'default_only: {
                select! {
                    default => {
                        break 'default_only;
                        panic!("unreachable");
                    },
                }
                panic!("break did not leave the select");
            }

            'two: {
                select! {
                    recv(&ch) -> _ => {
                        break 'two;
                        panic!("unreachable");
                    },
                    default => {
                        break 'two;
                        panic!("unreachable");
                    },
                }
                panic!("break did not leave the select");
            }

            'three: {
                select! {
                    recv(&ch) -> _ => {
                        break 'three;
                        panic!("unreachable");
                    },
                    send(&ch, 10) => panic!("unreachable"),
                    default => {
                        break 'three;
                        panic!("unreachable");
                    },
                }
                panic!("break did not leave the select");
            }

            // Not in Go: the unlabelled forms.
            let mut sum = 0;
            for _ in 0..3 {
                select! {
                    recv(&ch) -> v => {
                        sum += v.expect("never closed");
                        continue;
                    },
                }
                panic!("continue in an arm did not continue");
            }
            assert_eq!(sum, 15);

            let got = loop {
                select! {
                    recv(&ch) -> v => {
                        if v == Some(5) {
                            break v;
                        }
                    },
                }
            };
            assert_eq!(got, Some(5));

            assert_eq!(doubled_next(&ch), 10);
        });
    }
}

// go/test/chan/sendstmt.go
mod sendstmt {
    //! Parsing cases that differ now that send is a statement: a send to a
    //! channel received from a channel, and the precedence of the value.
    use super::*;

    #[test]
    fn chanchan() {
        within(Duration::from_secs(10), || {
            let cc = chan::<Chan<i32>>(1);
            let c = chan::<i32>(1);
            cc.send(c.clone());
            select! {
                send(cc.recv().expect("a channel"), 2) => {},
                default => panic!("nonblock"),
            }
            assert_eq!(c.recv(), Some(2), "bad receive");
        });
    }

    #[test]
    fn sendprec() {
        within(Duration::from_secs(10), || {
            let c = chan::<bool>(1);
            let (f, t) = (std::hint::black_box(false), std::hint::black_box(true));
            c.send(f || t); // Go: c <- false || true
            assert_eq!(c.recv(), Some(true), "sent false");
        });
    }
}

// go/test/chan/zerosize.go
mod zerosize {
    //! Channels of zero-sized types. Go only makes them; the port also uses
    //! them.
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static DROPS: AtomicUsize = AtomicUsize::new(0);

    /// A zero-sized value that counts its drops.
    struct Token;

    impl Drop for Token {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn main() {
        within(Duration::from_secs(10), || {
            let _ = chan::<[u8; 0]>(0);
            let _ = chan::<[u8; 0]>(1);
            let _ = chan::<()>(0);
            let _ = chan::<()>(1);

            let c = chan::<[u8; 0]>(1);
            c.send([]);
            assert_eq!((c.len(), c.cap()), (1, 1));
            assert_eq!(c.recv(), Some([]));

            let c = chan::<()>(1000);
            for _ in 0..1000 {
                c.send(());
            }
            assert_eq!(c.len(), 1000);
            assert!(c.try_send(()).is_err_and(|e| e.is_full()));
            c.close();
            assert_eq!(c.iter().count(), 1000);

            let c = chan::<()>(0);
            let rx = c.clone();
            let h = go!(move || rx.recv());
            c.send(());
            assert_eq!(h.join().unwrap(), Some(()));

            // Zero-sized values are neither lost nor duplicated: two are
            // received, three dropped with the channel.
            let c = chan::<Token>(5);
            for _ in 0..5 {
                c.send(Token);
            }
            drop(c.recv());
            drop(c.recv());
            assert_eq!(DROPS.load(Ordering::SeqCst), 2);
            drop(c);
            assert_eq!(DROPS.load(Ordering::SeqCst), 5);
        });
    }
}

// go/test/chan/powser1.go
mod powser1 {
    //! Power series, after Doug McIlroy's Newsqueak code ("Squinting at
    //! Power Series"). A power series is a demand channel along which flow
    //! rational coefficients; a denominator of zero signifies the end.
    //! Every operator is a goroutine; the ones the Go program does not check
    //! (Recip, Subst, Mon, Shift, Binom, the printers) are left out.
    use super::*;
    use std::fmt;
    use std::sync::atomic::{AtomicI64, Ordering};

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Rat {
        num: i64,
        den: i64,
    }

    impl fmt::Display for Rat {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            if self.den == 1 { write!(f, "{}", self.num) } else { write!(f, "{}/{}", self.num, self.den) }
        }
    }

    /// A demand channel: a send on `req` asks for the next coefficient,
    /// which comes on `dat`.
    #[derive(Clone)]
    struct Dch {
        req: Chan<i64>,
        dat: Chan<Rat>,
    }

    /// A power series.
    type Ps = Dch;

    static SEQNO: AtomicI64 = AtomicI64::new(0);

    fn next_seqno() -> i64 {
        SEQNO.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn mkdch() -> Dch {
        Dch { req: chan(0), dat: chan(0) }
    }

    fn mkdch2() -> [Dch; 2] {
        [mkdch(), mkdch()]
    }

    // split reads a single demand channel and replicates its output onto
    // two, which may be read at different rates. A process is created at
    // first demand for a rat and dies after the rat has been sent to both
    // outputs.
    //
    // When multiple generations of split exist, the newest will service
    // requests on one channel, which is always renamed to be out[0]; the
    // oldest will service requests on the other channel, out[1]. All
    // generations but the newest hold queued data that has already been
    // sent to out[0]. When data has finally been sent to out[1], a signal
    // on the release-wait channel tells the next newer generation to begin
    // servicing out[1].
    //
    // (Go shares one out array among the generations; a generation swaps it
    // only once the older ones are done with it, so the port hands each new
    // generation its own copy.)
    fn dosplit(input: Dch, mut out: [Dch; 2], wait: Chan<i64>) {
        let mut both = false; // do not service both channels
        select! {
            recv(out[0].req.clone()) -> _ => {},
            recv(&wait) -> _ => {
                both = true;
                select! {
                    recv(out[0].req.clone()) -> _ => {},
                    recv(out[1].req.clone()) -> _ => out.swap(0, 1),
                }
            },
        }
        input.req.send(next_seqno());
        let release = chan::<i64>(0);
        let (i, o, r) = (input.clone(), out.clone(), release.clone());
        go!(dosplit(i, o, r));
        let dat = input.dat.recv().expect("never closed");
        out[0].dat.send(dat);
        if !both {
            let _ = wait.recv();
        }
        let _ = out[1].req.recv();
        out[1].dat.send(dat);
        release.send(0);
    }

    fn split(input: Dch, out: [Dch; 2]) {
        let release = chan::<i64>(0);
        let r = release.clone();
        go!(dosplit(input, out, r));
        release.send(0);
    }

    fn put(dat: Rat, out: &Dch) {
        let _ = out.req.recv();
        out.dat.send(dat);
    }

    fn get(input: &Dch) -> Rat {
        input.req.send(next_seqno());
        input.dat.recv().expect("never closed")
    }

    /// Gets one rat from each of two demand channels, asking both at once
    /// (Go's getn for n = 2).
    fn get2(in0: &Dch, in1: &Dch) -> [Rat; 2] {
        let mut req = [in0.req.clone(), in1.req.clone()];
        let mut dat = [Chan::<Rat>::nil(), Chan::<Rat>::nil()];
        let mut out = [zero(); 2];
        for _ in 0..4 {
            let seqno = next_seqno();
            select! {
                send(req[0].clone(), seqno) => {
                    dat[0] = in0.dat.clone();
                    req[0] = Chan::nil();
                },
                send(req[1].clone(), seqno) => {
                    dat[1] = in1.dat.clone();
                    req[1] = Chan::nil();
                },
                recv(dat[0].clone()) -> it => {
                    out[0] = it.expect("never closed");
                    dat[0] = Chan::nil();
                },
                recv(dat[1].clone()) -> it => {
                    out[1] = it.expect("never closed");
                    dat[1] = Chan::nil();
                },
            }
        }
        out
    }

    /// Go's `copy`.
    fn copy_ps(input: &Dch, out: &Dch) {
        loop {
            let _ = out.req.recv();
            out.dat.send(get(input));
        }
    }

    fn repeat(dat: Rat, out: Dch) {
        loop {
            put(dat, &out);
        }
    }

    // Integer gcd; needed for rational arithmetic.
    fn gcd(u: i64, v: i64) -> i64 {
        if u < 0 {
            return gcd(-u, v);
        }
        if u == 0 {
            return v;
        }
        gcd(v % u, u)
    }

    // Make a rational from two ints and from one int.
    fn i2tor(u: i64, v: i64) -> Rat {
        let g = gcd(u, v);
        if v > 0 { Rat { num: u / g, den: v / g } } else { Rat { num: -u / g, den: -v / g } }
    }

    fn itor(u: i64) -> Rat {
        i2tor(u, 1)
    }

    fn zero() -> Rat {
        itor(0)
    }

    fn one() -> Rat {
        itor(1)
    }

    /// The end mark.
    fn finis() -> Rat {
        i2tor(1, 0)
    }

    fn end(u: Rat) -> i64 {
        if u.den == 0 { 1 } else { 0 }
    }

    // Operations on rationals.

    fn add(u: Rat, v: Rat) -> Rat {
        let g = gcd(u.den, v.den);
        i2tor(u.num * (v.den / g) + v.num * (u.den / g), u.den * (v.den / g))
    }

    fn mul(u: Rat, v: Rat) -> Rat {
        let g1 = gcd(u.num, v.den);
        let g2 = gcd(u.den, v.num);
        Rat { num: (u.num / g1) * (v.num / g2), den: (u.den / g2) * (v.den / g1) }
    }

    fn neg(u: Rat) -> Rat {
        i2tor(-u.num, u.den)
    }

    // Power-series constructors return channels on which power series
    // flow. They start an encapsulated generator that puts the terms of the
    // series on the channel.

    /// Makes a pair of power series identical to a given power series.
    fn split_ps(u: &Ps) -> [Ps; 2] {
        let uu = mkdch2();
        let (u, o) = (u.clone(), uu.clone());
        go!(split(u, o));
        uu
    }

    fn add_loop(u: Ps, v: Ps, z: Ps) {
        loop {
            let _ = z.req.recv();
            let uv = get2(&u, &v);
            match end(uv[0]) + 2 * end(uv[1]) {
                0 => z.dat.send(add(uv[0], uv[1])),
                1 => {
                    z.dat.send(uv[1]);
                    copy_ps(&v, &z);
                }
                2 => {
                    z.dat.send(uv[0]);
                    copy_ps(&u, &z);
                }
                _ => z.dat.send(finis()),
            }
        }
    }

    /// Adds two power series.
    fn add_ps(u: &Ps, v: &Ps) -> Ps {
        let z = mkdch();
        let (u, v, zz) = (u.clone(), v.clone(), z.clone());
        go!(add_loop(u, v, zz));
        z
    }

    /// Multiplies a power series by a constant.
    fn cmul(c: Rat, u: &Ps) -> Ps {
        let z = mkdch();
        let (u, zz) = (u.clone(), z.clone());
        go!(move || {
            loop {
                let _ = zz.req.recv();
                let x = get(&u);
                if end(x) != 0 {
                    break;
                }
                zz.dat.send(mul(c, x));
            }
            zz.dat.send(finis());
        });
        z
    }

    fn sub_ps(u: &Ps, v: &Ps) -> Ps {
        add_ps(u, &cmul(neg(one()), v))
    }

    fn rep(c: Rat) -> Ps {
        let z = mkdch();
        let zz = z.clone();
        go!(repeat(c, zz));
        z
    }

    // Multiply. The algorithm is
    //   let U = u + x*UU
    //   let V = v + x*VV
    //   then UV = u*v + x*(u*VV+v*UU) + x*x*UU*VV
    fn mul_ps(u: &Ps, v: &Ps) -> Ps {
        let z = mkdch();
        let (u, v, zz) = (u.clone(), v.clone(), z.clone());
        go!(move || {
            let _ = zz.req.recv();
            let uv = get2(&u, &v);
            if end(uv[0]) != 0 || end(uv[1]) != 0 {
                zz.dat.send(finis());
            } else {
                zz.dat.send(mul(uv[0], uv[1]));
                let uu = split_ps(&u);
                let vv = split_ps(&v);
                let w = add_ps(&cmul(uv[0], &vv[0]), &cmul(uv[1], &uu[0]));
                let _ = zz.req.recv();
                zz.dat.send(get(&w));
                copy_ps(&add_ps(&w, &mul_ps(&uu[1], &vv[1])), &zz);
            }
        });
        z
    }

    /// Differentiates.
    fn diff(u: &Ps) -> Ps {
        let z = mkdch();
        let (u, zz) = (u.clone(), z.clone());
        go!(move || {
            let _ = zz.req.recv();
            if end(get(&u)) == 0 {
                let mut i = 1;
                loop {
                    let x = get(&u);
                    if end(x) != 0 {
                        break;
                    }
                    zz.dat.send(mul(itor(i), x));
                    let _ = zz.req.recv();
                    i += 1;
                }
            }
            zz.dat.send(finis());
        });
        z
    }

    /// Integrates, with constant of integration `c`.
    fn integ(c: Rat, u: &Ps) -> Ps {
        let z = mkdch();
        let (u, zz) = (u.clone(), z.clone());
        go!(move || {
            put(c, &zz);
            let mut i = 1;
            loop {
                let _ = zz.req.recv();
                let x = get(&u);
                let done = end(x) != 0;
                zz.dat.send(mul(i2tor(1, i), x));
                if done {
                    break;
                }
                i += 1;
            }
            zz.dat.send(finis());
        });
        z
    }

    // Exponential of a power series with constant term 0 (nonzero constant
    // term would make nonrational coefficients); bug: the constant term is
    // simply ignored.
    //   Z = exp(U)
    //   DZ = Z*DU
    //   integrate to get Z
    fn exp_ps(u: &Ps) -> Ps {
        let zz = mkdch2();
        split(integ(one(), &mul_ps(&zz[0], &diff(u))), zz.clone());
        zz[1].clone()
    }

    // Monomial substitution: U(c x^n). Each Ui is multiplied by c^i and
    // followed by n-1 zeros.
    fn mon_subst(u: &Ps, c0: Rat, n: usize) -> Ps {
        let z = mkdch();
        let (u, zz) = (u.clone(), z.clone());
        go!(move || {
            let mut c = one();
            loop {
                let _ = zz.req.recv();
                let x = get(&u);
                zz.dat.send(mul(x, c));
                c = mul(c, c0);
                if end(x) != 0 {
                    zz.dat.send(finis());
                    break;
                }
                for _ in 1..n {
                    let _ = zz.req.recv();
                    zz.dat.send(zero());
                }
            }
        });
        z
    }

    fn check(u: &Ps, c: Rat, count: usize, what: &str) {
        for _ in 0..count {
            let r = get(u);
            assert_eq!(r, c, "{what}: got {r}, should get {c}");
        }
    }

    const N: usize = 10;

    fn checka(u: &Ps, a: &[Rat; N], what: &str) {
        for &c in a {
            check(u, c, 1, what);
        }
    }

    #[test]
    fn main() {
        go_main(Duration::from_secs(60), || {
            let ones = rep(one());
            let twos = rep(itor(2));
            check(&ones, one(), 5, "Ones");
            check(&add_ps(&ones, &ones), itor(2), 0, "Add Ones Ones"); // 1 1 1 1 1
            check(&add_ps(&ones, &twos), itor(3), 0, "Add Ones Twos"); // 3 3 3 3 3

            let mut a = [zero(); N];
            let d = diff(&ones);
            for (i, x) in a.iter_mut().enumerate() {
                *x = itor(i as i64 + 1);
            }
            checka(&d, &a, "Diff"); // 1 2 3 4 5

            let integral = integ(zero(), &ones);
            a[0] = zero(); // integration constant
            for (i, x) in a.iter_mut().enumerate().skip(1) {
                *x = i2tor(1, i as i64);
            }
            checka(&integral, &a, "Integ"); // 0 1 1/2 1/3 1/4 1/5

            check(&cmul(neg(one()), &twos), itor(-2), 10, "CMul"); // -1 -1 -1 -1 -1
            check(&sub_ps(&ones, &twos), itor(-1), 0, "Sub Ones Twos"); // -1 -1 -1 -1 -1

            let m = mul_ps(&ones, &ones);
            for (i, x) in a.iter_mut().enumerate() {
                *x = itor(i as i64 + 1);
            }
            checka(&m, &a, "Mul"); // 1 2 3 4 5

            let e = exp_ps(&ones);
            let a = [
                itor(1),
                itor(1),
                i2tor(3, 2),
                i2tor(13, 6),
                i2tor(73, 24),
                i2tor(167, 40),
                i2tor(4051, 720),
                i2tor(37633, 5040),
                i2tor(43817, 4480),
                i2tor(4596553, 362880),
            ];
            checka(&e, &a, "Exp"); // 1 1 3/2 13/6 73/24

            let at = integ(zero(), &mon_subst(&ones, neg(one()), 2));
            let mut a = [zero(); N];
            let mut c = 1;
            for (i, x) in a.iter_mut().enumerate() {
                if i % 2 == 0 {
                    *x = zero();
                } else {
                    *x = i2tor(c, i as i64);
                    c *= -1;
                }
            }
            checka(&at, &a, "ATan"); // 0 1 0 -1/3 0 1/5
        });
    }
}

// go/src/runtime/chan_test.go
mod runtime_chan_test {
    //! The channel and select tests of Go's runtime. Skipped:
    //! TestShrinkStackDuringBlockedSend, TestNoShrinkStackWhileParking and
    //! TestSelectStackAdjust (Go's stack shrinking by the GC; gort's stacks
    //! do not move), the benchmarks.
    use super::*;
    use gort::sync::WaitGroup;
    use gort::{TryRecvError, TrySendError};
    use std::collections::HashMap;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::sync::atomic::Ordering::SeqCst;

    #[test]
    fn test_chan() {
        go_main(Duration::from_secs(120), || {
            let n = scaled(200);
            for chan_cap in 0..n {
                {
                    // Ensure that receive from empty chan blocks.
                    let c = chan::<i32>(chan_cap);
                    let recv1 = Arc::new(AtomicBool::new(false));
                    let recv2 = Arc::new(AtomicBool::new(false));
                    let h1 = {
                        let (c, recv1) = (c.clone(), recv1.clone());
                        go!(move || {
                            let _ = c.recv();
                            recv1.store(true, SeqCst);
                        })
                    };
                    let h2 = {
                        let (rx, recv2) = (c.receiver(), recv2.clone());
                        go!(move || {
                            let _ = rx.recv();
                            recv2.store(true, SeqCst);
                        })
                    };
                    gort::time::sleep(Duration::from_millis(1));
                    assert!(!recv1.load(SeqCst) && !recv2.load(SeqCst), "chan[{chan_cap}]: receive from empty chan");
                    // Ensure that non-blocking receive does not block.
                    select! {
                        recv(&c) -> _ => panic!("chan[{chan_cap}]: receive from empty chan"),
                        default => {},
                    }
                    assert_eq!(c.try_recv(), Err(TryRecvError::Empty), "chan[{chan_cap}]: receive from empty chan");
                    c.send(0);
                    c.send(0);
                    h1.join().unwrap();
                    h2.join().unwrap();
                    assert!(recv1.load(SeqCst) && recv2.load(SeqCst));
                }

                {
                    // Ensure that send to full chan blocks.
                    let c = chan::<i32>(chan_cap);
                    for i in 0..chan_cap {
                        c.send(i as i32);
                    }
                    let sent = Arc::new(AtomicBool::new(false));
                    let h = {
                        let (c, sent) = (c.clone(), sent.clone());
                        go!(move || {
                            c.send(0);
                            sent.store(true, SeqCst);
                        })
                    };
                    gort::time::sleep(Duration::from_millis(1));
                    assert!(!sent.load(SeqCst), "chan[{chan_cap}]: send to full chan");
                    // Ensure that non-blocking send does not block.
                    select! {
                        send(&c, 0) => panic!("chan[{chan_cap}]: send to full chan"),
                        default => {},
                    }
                    assert!(matches!(c.try_send(0), Err(TrySendError::Full(0))), "chan[{chan_cap}]: send to full chan");
                    let _ = c.recv();
                    h.join().unwrap();
                }

                {
                    // Ensure that we receive 0 from closed chan.
                    let c = chan::<i32>(chan_cap);
                    for i in 0..chan_cap {
                        c.send(i as i32);
                    }
                    c.close();
                    for i in 0..chan_cap {
                        assert_eq!(c.recv(), Some(i as i32), "chan[{chan_cap}]");
                    }
                    assert_eq!(c.recv(), None, "chan[{chan_cap}]");
                    assert_eq!(c.recv(), None, "chan[{chan_cap}]");
                }

                {
                    // Ensure that close unblocks receive.
                    let c = chan::<i32>(chan_cap);
                    let done = chan::<bool>(0);
                    {
                        let (c, done) = (c.clone(), done.clone());
                        go!(move || done.send(c.recv().is_none()));
                    }
                    gort::time::sleep(Duration::from_millis(1));
                    c.close();
                    assert_eq!(done.recv(), Some(true), "chan[{chan_cap}]: received non zero from closed chan");
                }

                {
                    // Send 100 integers,
                    // ensure that we receive them non-corrupted in FIFO order.
                    let c = chan::<i32>(chan_cap);
                    {
                        let c = c.clone();
                        go!(move || {
                            for i in 0..100 {
                                c.send(i);
                            }
                        });
                    }
                    for i in 0..100 {
                        assert_eq!(c.recv(), Some(i), "chan[{chan_cap}]");
                    }

                    // Same, but with the iterator (Go: the two-value receive).
                    {
                        let c = c.clone();
                        go!(move || {
                            for i in 0..100 {
                                c.send(i);
                            }
                        });
                    }
                    let got: Vec<i32> = c.iter().take(100).collect();
                    assert_eq!(got, (0..100).collect::<Vec<_>>(), "chan[{chan_cap}]");

                    // Send 1000 integers in 4 goroutines,
                    // ensure that we receive what we send.
                    const P: usize = 4;
                    const L: i32 = 1000;
                    for _ in 0..P {
                        let c = c.clone();
                        go!(move || {
                            for i in 0..L {
                                c.send(i);
                            }
                        });
                    }
                    let done = chan::<HashMap<i32, usize>>(0);
                    for _ in 0..P {
                        let (c, done) = (c.clone(), done.clone());
                        go!(move || {
                            let mut recv = HashMap::new();
                            for _ in 0..L {
                                let v = c.recv().expect("never closed");
                                *recv.entry(v).or_insert(0) += 1;
                            }
                            done.send(recv);
                        });
                    }
                    let mut recv = HashMap::new();
                    for _ in 0..P {
                        for (k, v) in done.recv().expect("never closed") {
                            *recv.entry(k).or_insert(0) += v;
                        }
                    }
                    assert_eq!(recv.len(), L as usize, "chan[{chan_cap}]: received values");
                    for (k, v) in recv {
                        assert_eq!(v, P, "chan[{chan_cap}]: received {k} {v} times, expected {P}");
                    }
                }

                {
                    // Test len/cap.
                    let c = chan::<i32>(chan_cap);
                    assert_eq!((c.len(), c.cap()), (0, chan_cap), "chan[{chan_cap}]: bad len/cap");
                    assert!(c.is_empty());
                    for i in 0..chan_cap {
                        c.send(i as i32);
                    }
                    assert_eq!((c.len(), c.cap()), (chan_cap, chan_cap), "chan[{chan_cap}]: bad len/cap");
                }
            }
        });
    }

    #[test]
    fn test_nonblock_recv_race() {
        within(Duration::from_secs(60), || {
            let n = scaled(10_000);
            let mut hs = Vec::with_capacity(n);
            for _ in 0..n {
                let c = chan::<i32>(1);
                c.send(1);
                let rx = c.clone();
                hs.push(go!(move || select! {
                    recv(&rx) -> _ => true,
                    default => false,
                }));
                c.close();
                let _ = c.recv();
            }
            for (i, h) in hs.into_iter().enumerate() {
                assert!(h.join().unwrap(), "iteration {i}: chan is not ready");
            }
        });
    }

    // This test checks that select acts on the state of the channels at one
    // moment in the execution, not over a smeared time window.
    // In the test, one goroutine does:
    //
    //   create c1, c2
    //   make c1 ready for receiving
    //   create second goroutine
    //   make c2 ready for receiving
    //   make c1 no longer ready for receiving (if possible)
    //
    // The second goroutine does a non-blocking select receiving from c1 and
    // c2. From the time the second goroutine is created, at least one of c1
    // and c2 is always ready for receiving, so the select in the second
    // goroutine must always receive from one or the other. It must never
    // execute the default case.
    #[test]
    fn test_nonblock_select_race() {
        within(Duration::from_secs(60), || {
            let n = scaled(100_000);
            let done = chan::<bool>(1);
            for _ in 0..n {
                let c1 = chan::<i32>(1);
                let c2 = chan::<i32>(1);
                c1.send(1);
                {
                    let (c1, c2, done) = (c1.clone(), c2.clone(), done.clone());
                    go!(move || {
                        let ok = select! {
                            recv(&c1) -> _ => true,
                            recv(&c2) -> _ => true,
                            default => false,
                        };
                        done.send(ok);
                    });
                }
                c2.send(1);
                select! {
                    recv(&c1) -> _ => {},
                    default => {},
                }
                assert_eq!(done.recv(), Some(true), "no chan is ready");
            }
        });
    }

    // Same as test_nonblock_select_race, but close(c2) replaces c2 <- 1.
    #[test]
    fn test_nonblock_select_race2() {
        within(Duration::from_secs(60), || {
            let n = scaled(100_000);
            let done = chan::<bool>(1);
            for _ in 0..n {
                let c1 = chan::<i32>(1);
                let c2 = chan::<i32>(0);
                c1.send(1);
                {
                    let (c1, c2, done) = (c1.clone(), c2.clone(), done.clone());
                    go!(move || {
                        let ok = select! {
                            recv(&c1) -> _ => true,
                            recv(&c2) -> _ => true,
                            default => false,
                        };
                        done.send(ok);
                    });
                }
                c2.close();
                select! {
                    recv(&c1) -> _ => {},
                    default => {},
                }
                assert_eq!(done.recv(), Some(true), "no chan is ready");
            }
        });
    }

    /// Send and receive on the same channel in one select neither crash
    /// nor deadlock, and an unbuffered select never receives its own send.
    #[test]
    fn test_self_select() {
        go_main(Duration::from_secs(60), || {
            for chan_cap in [0usize, 10] {
                let c = chan::<usize>(chan_cap);
                let hs: Vec<_> = (0..2usize)
                    .map(|p| {
                        let c = c.clone();
                        go!(move || {
                            for i in 0..1000 {
                                let v = if p == 0 || i % 2 == 0 {
                                    select! {
                                        send(&c, p) => None,
                                        recv(&c) -> v => v,
                                    }
                                } else {
                                    select! {
                                        recv(&c) -> v => v,
                                        send(&c, p) => None,
                                    }
                                };
                                if let Some(v) = v {
                                    assert!(chan_cap != 0 || v != p, "self receive");
                                }
                            }
                        })
                    })
                    .collect();
                for h in hs {
                    h.join().unwrap();
                }
            }
        });
    }

    #[test]
    fn test_select_stress() {
        let n = scaled(100_000);
        go_main(Duration::from_secs(120), move || {
            let c = [chan::<i32>(0), chan::<i32>(0), chan::<i32>(2), chan::<i32>(3)];
            // There are 4 goroutines that send N values on each of the chans,
            // + 4 goroutines that receive N values on each of the chans,
            // + 1 goroutine that sends N values on each of the chans in a single select,
            // + 1 goroutine that receives N values on each of the chans in a single select.
            // All these sends, receives and selects interact chaotically at runtime,
            // but we are careful that this whole construct does not deadlock.
            let mut direct = Vec::new();
            for ck in &c {
                let tx = ck.clone();
                direct.push(go!(move || {
                    for _ in 0..n {
                        tx.send(0);
                    }
                }));
                let rx = ck.clone();
                direct.push(go!(move || {
                    for _ in 0..n {
                        let _ = rx.recv();
                    }
                }));
            }
            let c1 = c.clone();
            let sender = go!(move || {
                let mut c1 = c1;
                let mut cnt = [0; 4];
                for _ in 0..4 * n {
                    select! {
                        send(c1[3].clone(), 0) => {
                            cnt[3] += 1;
                            if cnt[3] == n {
                                c1[3] = Chan::nil();
                            }
                        },
                        send(c1[2].clone(), 0) => {
                            cnt[2] += 1;
                            if cnt[2] == n {
                                c1[2] = Chan::nil();
                            }
                        },
                        send(c1[0].clone(), 0) => {
                            cnt[0] += 1;
                            if cnt[0] == n {
                                c1[0] = Chan::nil();
                            }
                        },
                        send(c1[1].clone(), 0) => {
                            cnt[1] += 1;
                            if cnt[1] == n {
                                c1[1] = Chan::nil();
                            }
                        },
                    }
                }
                cnt
            });
            let c1 = c.clone();
            let receiver = go!(move || {
                let mut c1 = c1;
                let mut cnt = [0; 4];
                for _ in 0..4 * n {
                    select! {
                        recv(c1[0].clone()) -> _ => {
                            cnt[0] += 1;
                            if cnt[0] == n {
                                c1[0] = Chan::nil();
                            }
                        },
                        recv(c1[1].clone()) -> _ => {
                            cnt[1] += 1;
                            if cnt[1] == n {
                                c1[1] = Chan::nil();
                            }
                        },
                        recv(c1[2].clone()) -> _ => {
                            cnt[2] += 1;
                            if cnt[2] == n {
                                c1[2] = Chan::nil();
                            }
                        },
                        recv(c1[3].clone()) -> _ => {
                            cnt[3] += 1;
                            if cnt[3] == n {
                                c1[3] = Chan::nil();
                            }
                        },
                    }
                }
                cnt
            });
            for h in direct {
                h.join().unwrap();
            }
            assert_eq!(sender.join().unwrap(), [n; 4]);
            assert_eq!(receiver.join().unwrap(), [n; 4]);
        });
    }

    #[test]
    fn test_select_fairness() {
        go_main(Duration::from_secs(60), || {
            const TRIALS: usize = 10_000;
            let c1 = chan::<u8>(TRIALS + 1);
            let c2 = chan::<u8>(TRIALS + 1);
            for _ in 0..TRIALS + 1 {
                c1.send(1);
                c2.send(2);
            }
            let c3 = chan::<u8>(0);
            let c4 = chan::<u8>(0);
            let out = chan::<u8>(0);
            let done = chan::<u8>(0);
            let h = {
                let (out, done) = (out.clone(), done.clone());
                go!(move || {
                    loop {
                        let b = select! {
                            recv(&c3) -> b => b,
                            recv(&c4) -> b => b,
                            recv(&c1) -> b => b,
                            recv(&c2) -> b => b,
                        };
                        let b = b.expect("never closed");
                        select! {
                            send(&out, b) => {},
                            recv(&done) -> _ => return,
                        }
                    }
                })
            };
            let (mut cnt1, mut cnt2) = (0usize, 0usize);
            for _ in 0..TRIALS {
                match out.recv() {
                    Some(1) => cnt1 += 1,
                    Some(2) => cnt2 += 1,
                    b => panic!("unexpected value {b:?} on channel"),
                }
            }
            // If the select in the goroutine is fair,
            // cnt1 and cnt2 should be about the same value.
            // See if we're more than 10 sigma away from the expected value.
            // 10 sigma is a lot, but we're ok with some systematic bias as
            // long as it isn't too severe.
            let mean = TRIALS as f64 * 0.5;
            let variance = TRIALS as f64 * 0.5 * (1.0 - 0.5);
            let stddev = variance.sqrt();
            assert!(
                (cnt1 as f64 - mean).abs() <= 10.0 * stddev,
                "unfair select: in {TRIALS} trials, results were {cnt1}, {cnt2}"
            );
            done.close();
            h.join().unwrap();
        });
    }

    /// Go checks that sending an interface value in a select compiles and
    /// runs. The port sends trait objects and also checks that the values
    /// of send arms not chosen are dropped, not leaked or delivered.
    #[test]
    fn test_chan_send_interface() {
        within(Duration::from_secs(10), || {
            type AnyBox = Box<dyn std::any::Any + Send>;
            let m = Arc::new(());
            let c = chan::<AnyBox>(1);
            c.send(Box::new(m.clone()));
            select! {
                send(&c, Box::new(m.clone()) as AnyBox) => panic!("sent to a full channel"),
                default => {},
            }
            select! {
                send(&c, Box::new(m.clone()) as AnyBox) => panic!("sent to a full channel"),
                send(&c, Box::new(Arc::new(())) as AnyBox) => panic!("sent to a full channel"),
                default => {},
            }
            assert_eq!(Arc::strong_count(&m), 2, "one value in the channel and ours");
            let v = c.recv().expect("a value");
            assert!(v.downcast_ref::<Arc<()>>().is_some_and(|a| Arc::ptr_eq(a, &m)));
            drop(v);
            assert_eq!(Arc::strong_count(&m), 1);
        });
    }

    #[test]
    fn test_pseudo_random_send() {
        go_main(Duration::from_secs(30), || {
            let n = 100;
            for chan_cap in [0, n] {
                let c = chan::<usize>(chan_cap);
                let rx = c.clone();
                let h = go!(move || {
                    (0..n)
                        .map(|_| {
                            gort::yield_now();
                            rx.recv().expect("never closed")
                        })
                        .collect::<Vec<_>>()
                });
                for _ in 0..n {
                    select! {
                        send(&c, 1) => {},
                        send(&c, 0) => {},
                    }
                }
                let l = h.join().unwrap();
                let n0 = l.iter().filter(|&&i| i == 0).count();
                let n1: usize = l.iter().sum();
                assert!(
                    n0 > n / 10 && n1 > n / 10,
                    "Want pseudorandom, got {n0} zeros and {n1} ones (chan cap {chan_cap})"
                );
            }
        });
    }

    #[test]
    fn test_multi_consumer() {
        const NWORK: usize = 23;
        let niter = scaled(271_828);
        go_main(Duration::from_secs(60), move || {
            let pn = [2, 3, 7, 11, 13, 17, 19, 23, 27, 31];
            let q = chan::<usize>(NWORK * 3);
            let r = chan::<usize>(NWORK * 3);

            // workers
            let wg = WaitGroup::new();
            for w in 0..NWORK {
                wg.add(1);
                let (q, r, wg) = (q.clone(), r.clone(), wg.clone());
                go!(move || {
                    for v in &q {
                        // mess with the fifo-ish nature of range
                        if pn[w % pn.len()] == v {
                            gort::yield_now();
                        }
                        r.send(v);
                    }
                    wg.done();
                });
            }

            // feeder & closer
            let feeder = {
                let (q, r) = (q.clone(), r.clone());
                go!(move || {
                    let mut expect = 0;
                    for i in 0..niter {
                        let v = pn[i % pn.len()];
                        expect += v;
                        q.send(v);
                    }
                    q.close(); // no more work
                    wg.wait(); // workers done
                    r.close(); // ... so there can be no more results
                    expect
                })
            };

            // consume & check
            let (mut n, mut s) = (0, 0);
            for v in &r {
                n += 1;
                s += v;
            }
            let expect = feeder.join().unwrap();
            assert!(n == niter && s == expect, "Expected sum {expect} (got {s}) from {niter} iter (saw {n})");
        });
    }

    /// A goroutine can be queued on the same channel several times.
    #[test]
    fn test_select_duplicate_channel() {
        go_main(Duration::from_secs(10), || {
            let c = chan::<i32>(0);
            let d = chan::<i32>(0);
            let e = chan::<i32>(0);

            // goroutine A
            let a = {
                let (c, d, e) = (c.clone(), d.clone(), e.clone());
                go!(move || {
                    select! {
                        recv(&c) -> _ => {},
                        recv(&c) -> _ => {},
                        recv(&d) -> _ => {},
                    }
                    e.send(9);
                })
            };
            gort::time::sleep(Duration::from_millis(1)); // make sure goroutine A gets queued first on c

            // goroutine B
            let b = {
                let c = c.clone();
                go!(move || c.recv())
            };
            gort::time::sleep(Duration::from_millis(1)); // make sure goroutine B gets queued on c before continuing

            d.send(7); // wake up A, it dequeues itself from c. This operation used to corrupt c.recvq.
            assert_eq!(e.recv(), Some(9)); // A tells us it's done
            c.send(8); // wake up B. This operation used to fail because c.recvq was corrupted (it tries to wake up an already running G instead of B)
            a.join().unwrap();
            assert_eq!(b.join().unwrap(), Some(8));
        });
    }
}

// go/test/closedchan.go
mod closedchan {
    //! close(c) and operations on a closed channel, through direct
    //! operations, one-arm selects and selects with a dummy arm.
    use super::*;
    use gort::{TryRecvError, TrySendError};

    /// Go's `Chan` interface. Receives return Go's zero value, 0, on a
    /// closed channel.
    trait GoChan {
        fn send(&self, x: i32);
        fn nbsend(&self, x: i32) -> bool;
        fn recv(&self) -> i32;
        fn nbrecv(&self) -> (i32, bool);
        fn recv2(&self) -> (i32, bool);
        fn nbrecv2(&self) -> (i32, bool, bool);
        fn close(&self);
        fn imp(&self) -> &'static str;
    }

    fn zero_ok(v: Option<i32>) -> (i32, bool) {
        match v {
            Some(x) => (x, true),
            None => (0, false),
        }
    }

    /// Direct channel operations when possible.
    struct XChan(Chan<i32>);

    impl GoChan for XChan {
        fn send(&self, x: i32) {
            self.0.send(x);
        }
        fn nbsend(&self, x: i32) -> bool {
            match self.0.try_send(x) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => false,
                // gort's try_send reports a closed channel where Go's
                // non-blocking send panics; turn one into the other.
                Err(TrySendError::Closed(v)) => {
                    assert_eq!(v, x, "try_send gives the value back");
                    panic!("send on closed channel")
                }
            }
        }
        fn recv(&self) -> i32 {
            self.0.recv().unwrap_or(0)
        }
        fn nbrecv(&self) -> (i32, bool) {
            match self.0.try_recv() {
                Ok(x) => (x, true),
                Err(TryRecvError::Closed) => (0, true),
                Err(TryRecvError::Empty) => (0, false),
            }
        }
        fn recv2(&self) -> (i32, bool) {
            zero_ok(self.0.recv())
        }
        fn nbrecv2(&self) -> (i32, bool, bool) {
            match self.0.try_recv() {
                Ok(x) => (x, true, true),
                Err(TryRecvError::Closed) => (0, false, true),
                Err(TryRecvError::Empty) => (0, false, false),
            }
        }
        fn close(&self) {
            self.0.close();
        }
        fn imp(&self) -> &'static str {
            "(direct operations)"
        }
    }

    /// Indirect operations via select.
    struct SChan(Chan<i32>);

    impl GoChan for SChan {
        fn send(&self, x: i32) {
            select! {
                send(&self.0, x) => {},
            }
        }
        fn nbsend(&self, x: i32) -> bool {
            select! {
                send(&self.0, x) => true,
                default => false,
            }
        }
        fn recv(&self) -> i32 {
            select! {
                recv(&self.0) -> v => v.unwrap_or(0),
            }
        }
        fn nbrecv(&self) -> (i32, bool) {
            select! {
                recv(&self.0) -> v => (v.unwrap_or(0), true),
                default => (0, false),
            }
        }
        fn recv2(&self) -> (i32, bool) {
            select! {
                recv(&self.0) -> v => zero_ok(v),
            }
        }
        fn nbrecv2(&self) -> (i32, bool, bool) {
            select! {
                recv(&self.0) -> v => {
                    let (x, ok) = zero_ok(v);
                    (x, ok, true)
                },
                default => (0, false, false),
            }
        }
        fn close(&self) {
            self.0.close();
        }
        fn imp(&self) -> &'static str {
            "(select)"
        }
    }

    /// Indirect operations via larger selects, with a dummy arm that is
    /// never ready.
    struct SSChan(Chan<i32>, Chan<bool>);

    impl GoChan for SSChan {
        fn send(&self, x: i32) {
            select! {
                send(&self.0, x) => {},
                recv(&self.1) -> _ => panic!("send"),
            }
        }
        fn nbsend(&self, x: i32) -> bool {
            select! {
                recv(&self.1) -> _ => panic!("nbsend"),
                send(&self.0, x) => true,
                default => false,
            }
        }
        fn recv(&self) -> i32 {
            select! {
                recv(&self.1) -> _ => panic!("recv"),
                recv(&self.0) -> v => v.unwrap_or(0),
            }
        }
        fn nbrecv(&self) -> (i32, bool) {
            select! {
                recv(&self.1) -> _ => panic!("nbrecv"),
                recv(&self.0) -> v => (v.unwrap_or(0), true),
                default => (0, false),
            }
        }
        fn recv2(&self) -> (i32, bool) {
            select! {
                recv(&self.1) -> _ => panic!("recv2"),
                recv(&self.0) -> v => zero_ok(v),
            }
        }
        fn nbrecv2(&self) -> (i32, bool, bool) {
            select! {
                recv(&self.1) -> _ => panic!("nbrecv2"),
                recv(&self.0) -> v => {
                    let (x, ok) = zero_ok(v);
                    (x, ok, true)
                },
                default => (0, false, false),
            }
        }
        fn close(&self) {
            self.0.close();
        }
        fn imp(&self) -> &'static str {
            "(larger select)"
        }
    }

    fn test1(c: &dyn GoChan) {
        let imp = c.imp();
        for _ in 0..3 {
            // recv a close signal (a zero value)
            assert_eq!(c.recv(), 0, "test1: recv on closed {imp}");
            assert_eq!(c.recv2(), (0, false), "test1: recv2 on closed {imp}");

            // should work with select: received a value without blocking, so selected == true.
            assert_eq!(c.nbrecv(), (0, true), "test1: recv on closed nb {imp}");
            assert_eq!(c.nbrecv2(), (0, false, true), "test1: recv2 on closed nb {imp}");
        }

        // send should work with ,ok too: sent a value without blocking, so ok == true.
        expect_panic("send on closed channel", || {
            c.nbsend(1);
        });

        // the value should have been discarded.
        assert_eq!(c.recv(), 0, "test1: recv on closed got non-zero after send on closed {imp}");

        // similarly Send.
        expect_panic("send on closed channel", || c.send(2));
        assert_eq!(c.recv(), 0, "test1: recv on closed got non-zero after send on closed {imp}");
    }

    fn testasync1(c: &dyn GoChan) {
        // should be able to get the last value via Recv
        assert_eq!(c.recv(), 1, "testasync1: Recv did not get 1 {}", c.imp());
        test1(c);
    }

    fn testasync2(c: &dyn GoChan) {
        // should be able to get the last value via Recv2
        assert_eq!(c.recv2(), (1, true), "testasync2: Recv2 did not get 1, true {}", c.imp());
        test1(c);
    }

    fn testasync3(c: &dyn GoChan) {
        // should be able to get the last value via Nbrecv
        assert_eq!(c.nbrecv(), (1, true), "testasync3: Nbrecv did not get 1, true {}", c.imp());
        test1(c);
    }

    fn testasync4(c: &dyn GoChan) {
        // should be able to get the last value via Nbrecv2
        assert_eq!(c.nbrecv2(), (1, true, true), "testasync4: Nbrecv2 did not get 1, true, true {}", c.imp());
        test1(c);
    }

    fn closedsync() -> Chan<i32> {
        let c = chan::<i32>(0);
        c.close();
        c
    }

    fn closedasync() -> Chan<i32> {
        let c = chan::<i32>(2);
        c.send(1);
        c.close();
        c
    }

    fn x_chan(c: Chan<i32>) -> Box<dyn GoChan> {
        Box::new(XChan(c))
    }

    fn s_chan(c: Chan<i32>) -> Box<dyn GoChan> {
        Box::new(SChan(c))
    }

    fn ss_chan(c: Chan<i32>) -> Box<dyn GoChan> {
        Box::new(SSChan(c, chan(0)))
    }

    /// Wraps a channel in one of the three implementations.
    type MakeChan = fn(Chan<i32>) -> Box<dyn GoChan>;

    #[test]
    fn main() {
        within(Duration::from_secs(30), || {
            let mks: [MakeChan; 3] = [x_chan, s_chan, ss_chan];
            let testcloseds: [fn(&dyn GoChan); 4] = [testasync1, testasync2, testasync3, testasync4];

            for mk in mks {
                test1(&*mk(closedsync()));
            }

            for testclosed in testcloseds {
                for mk in mks {
                    testclosed(&*mk(closedasync()));
                }
            }

            expect_panic("close of nil channel", || Chan::<i32>::nil().close());

            let ch = chan::<i32>(0);
            ch.close();
            expect_panic("close of closed channel", || ch.close());
            // Through the trait too.
            expect_panic("close of closed channel", || x_chan(ch.clone()).close());
        });
    }
}

// go/test/chanlinear.go
mod chanlinear {
    //! Dequeuing from a pending channel doesn't take linear time.
    use super::*;
    use std::time::Instant;

    /// Asserts that the running time of f(n) is in O(n): f(2n) must take
    /// under three times f(n) in at least one of a few tries. Like Go,
    /// grows n while f(n) is too quick to time well (Go grows it up to a
    /// second; this stops earlier).
    fn check_linear(typ: &str, tries: usize, f: impl Fn(usize)) {
        let time = |n| {
            let t = Instant::now();
            f(n);
            t.elapsed()
        };
        let mut n = tries;
        let mut fails = 0;
        loop {
            let t1 = time(n);
            let t2 = time(2 * n);
            // should be 2x (linear); allow up to 3x
            if t2 < t1 * 3 {
                return;
            }
            if t1 < Duration::from_millis(50) && n < 8000 {
                n *= 2;
                continue;
            }
            fails += 1;
            assert!(fails < 5, "{typ}: too slow: {n} channels: {t1:?}; {} channels: {t2:?}", 2 * n);
        }
    }

    #[test]
    fn main() {
        go_main(Duration::from_secs(120), || {
            check_linear("chanSelect", 1000, |n| {
                const MESSAGES: usize = 10;
                let c = chan::<bool>(0); // global channel
                let mut a = Vec::with_capacity(n); // local channels for each goroutine
                let mut hs = Vec::with_capacity(n);
                for _ in 0..n {
                    let d = chan::<bool>(0);
                    a.push(d.clone());
                    let c = c.clone();
                    hs.push(go!(move || {
                        for _ in 0..MESSAGES {
                            // queue ourselves on the global channel
                            select! {
                                recv(&c) -> _ => {},
                                recv(&d) -> _ => {},
                            }
                        }
                    }));
                }
                for _ in 0..MESSAGES {
                    // wake each goroutine up, forcing it to dequeue and then
                    // enqueue on the global channel.
                    for d in &a {
                        d.send(true);
                    }
                }
                for h in hs {
                    h.join().unwrap();
                }
            });
        });
    }
}

// go/test/ken/chan1.go
mod ken_chan1 {
    //! Ten receivers select on one buffered channel; each value is marked
    //! before it is sent and checked when it is received, which relies on a
    //! send happening before the matching receive.
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

    const N: usize = 1000; // sent messages
    const M: usize = 10; // receiving goroutines
    const W: usize = 2; // channel buffering

    /// Receives until the channel is closed (Go's receivers run forever);
    /// returns how many values it got.
    fn r(c: Chan<usize>, m: usize, h: Arc<Vec<AtomicU8>>) -> usize {
        let mut got = 0;
        loop {
            select! {
                recv(&c) -> v => match v {
                    Some(r) => {
                        assert_eq!(h[r].load(Relaxed), 1, "r m={m} r={r}");
                        h[r].store(2, Relaxed);
                        got += 1;
                    }
                    None => break,
                },
            }
        }
        got
    }

    fn s(c: &Chan<usize>, h: &[AtomicU8]) {
        for (n, mark) in h.iter().enumerate() {
            assert_eq!(mark.load(Relaxed), 0, "s");
            mark.store(1, Relaxed);
            c.send(n);
        }
    }

    #[test]
    fn main() {
        go_main(Duration::from_secs(30), || {
            let h: Arc<Vec<AtomicU8>> = Arc::new((0..N).map(|_| AtomicU8::new(0)).collect());
            let c = chan::<usize>(W);
            let mut receivers = Vec::new();
            for m in 0..M {
                let (c, h) = (c.clone(), h.clone());
                receivers.push(go!(r(c, m, h)));
                gort::yield_now();
            }
            gort::yield_now();
            gort::yield_now();
            s(&c, &h);
            // Not in Go: end the receivers, so their checks are joined.
            c.close();
            let got: usize = receivers.into_iter().map(|g| g.join().unwrap()).sum();
            assert_eq!(got, N);
            assert!(h.iter().all(|mark| mark.load(Relaxed) == 2));
        });
    }
}

// Not from Go: a randomised mix of dynamic selects (Go's reflect.Select).
mod select_soup {
    //! Producers send distinct values through dynamic selects over random
    //! subsets of channels of several capacities (plus, sometimes, a nil
    //! arm); consumers receive through dynamic selects over all channels
    //! still open, blocking, polling or with a timeout. Every value must
    //! arrive exactly once, and closing must end every consumer.
    use super::*;
    use gort::Select;

    /// xorshift64: a tiny deterministic generator.
    struct Rng(u64);

    impl Rng {
        fn new(seed: u64) -> Self {
            Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
        }
        fn next_u64(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next_u64() % n as u64) as usize
        }
    }

    #[test]
    fn every_value_arrives_exactly_once() {
        const PRODUCERS: u64 = 4;
        const CONSUMERS: u64 = 4;
        let per = scaled(20_000) as u64;
        go_main(Duration::from_secs(60), move || {
            let chans: Vec<Chan<u64>> = [0, 0, 1, 5].into_iter().map(chan).collect();
            let producers: Vec<_> = (0..PRODUCERS)
                .map(|p| {
                    let chans = chans.clone();
                    go!(move || {
                        let mut rng = Rng::new(p + 1);
                        let nil = Chan::<u64>::nil();
                        for i in 0..per {
                            let v = p * per + i;
                            loop {
                                let mut sel = Select::new();
                                let mut arms = Vec::new();
                                // A random non-empty subset of the channels.
                                let mask = 1 + rng.below((1 << chans.len()) - 1);
                                for (k, ch) in chans.iter().enumerate() {
                                    if mask & (1 << k) != 0 {
                                        arms.push((sel.send(ch, v), k));
                                    }
                                }
                                if rng.below(4) == 0 {
                                    let _ = sel.send(&nil, v);
                                }
                                let op = match rng.below(3) {
                                    0 => Some(sel.select()),
                                    1 => sel.try_select(),
                                    _ => sel.select_timeout(Duration::from_micros(50)),
                                };
                                match op {
                                    Some(op) => {
                                        let idx = op.index();
                                        assert!(arms.iter().any(|&(a, _)| a == idx), "a nil arm was chosen");
                                        break;
                                    }
                                    None => gort::yield_now(),
                                }
                            }
                        }
                    })
                })
                .collect();
            let consumers: Vec<_> = (0..CONSUMERS)
                .map(|q| {
                    let chans = chans.clone();
                    go!(move || {
                        let mut rng = Rng::new(100 + q);
                        let mut open: Vec<usize> = (0..chans.len()).collect();
                        let mut got = Vec::new();
                        while !open.is_empty() {
                            let mut sel = Select::new();
                            let mut arms = Vec::new();
                            let start = rng.below(open.len());
                            for j in 0..open.len() {
                                let k = open[(start + j) % open.len()];
                                arms.push((sel.recv(&chans[k]), k));
                            }
                            let op = match rng.below(3) {
                                0 => Some(sel.select()),
                                1 => sel.try_select(),
                                _ => sel.select_timeout(Duration::from_micros(50)),
                            };
                            let Some(op) = op else {
                                gort::yield_now();
                                continue;
                            };
                            let idx = op.index();
                            let k = arms.iter().find(|&&(a, _)| a == idx).expect("a known arm").1;
                            match op.recv(&chans[k]) {
                                Some(v) => got.push(v),
                                None => open.retain(|&x| x != k),
                            }
                        }
                        got
                    })
                })
                .collect();
            for p in producers {
                p.join().unwrap();
            }
            for c in &chans {
                c.close();
            }
            let mut all: Vec<u64> = consumers.into_iter().flat_map(|c| c.join().unwrap()).collect();
            all.sort_unstable();
            assert_eq!(all.len() as u64, PRODUCERS * per, "values lost or duplicated");
            assert!(all.iter().copied().eq(0..PRODUCERS * per), "values lost or duplicated");
        });
    }
}
