//! `gort::context`: cancellation trees, deadlines, and `done()` in `select!`.

use std::thread;
use std::time::{Duration, Instant};

use gort::context::{Context, Error, background, with_cancel, with_deadline, with_timeout};
use gort::prelude::*;

#[path = "support/limits.rs"]
mod limits;
use limits::within;

const LIMIT: Duration = Duration::from_secs(30);

/// A small deterministic generator for tree shapes.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn closed(ctx: &Context) -> bool {
    ctx.done().try_recv().is_err_and(|e| e.is_closed())
}

#[test]
fn cancelling_a_parent_cancels_every_descendant_and_never_an_ancestor() {
    let (root, cancel_root) = with_cancel(&background());
    let mut rng = Rng(7);
    let mut nodes: Vec<(Context, gort::context::CancelFunc)> = Vec::new();
    for _ in 0..1000 {
        let parent =
            if nodes.is_empty() || rng.below(10) == 0 { root.clone() } else { nodes[rng.below(nodes.len())].0.clone() };
        nodes.push(with_cancel(&parent));
    }
    // Cancel one inner node: its subtree goes, its ancestors stay.
    let (mid, cancel_mid) = nodes[500].clone();
    cancel_mid();
    assert_eq!(mid.err(), Some(Error::Canceled));
    assert!(!root.is_cancelled(), "a child's cancel never reaches its parent");
    let live_before = nodes.iter().filter(|(c, _)| !c.is_cancelled()).count();
    assert!(live_before < 1000 && live_before > 0);

    cancel_root();
    for (ctx, _) in &nodes {
        assert_eq!(ctx.err(), Some(Error::Canceled));
        assert!(closed(ctx), "done() is closed once cancelled");
    }
    cancel_root(); // again: nothing happens
    assert_eq!(root.err(), Some(Error::Canceled));
}

#[test]
fn a_child_of_a_cancelled_parent_is_born_cancelled() {
    let (parent, cancel) = with_cancel(&background());
    cancel();
    let (child, _c) = with_cancel(&parent);
    assert_eq!(child.err(), Some(Error::Canceled));
    assert!(closed(&child));
    let (timed, _c) = with_timeout(&parent, Duration::from_secs(60));
    assert_eq!(timed.err(), Some(Error::Canceled), "the parent's reason is inherited");
}

#[test]
fn background_is_never_done() {
    let ctx = background();
    assert_eq!(ctx.err(), None);
    assert_eq!(ctx.deadline(), None);
    let got = select! {
        recv(ctx.done()) -> _ => "done",
        default => "live",
    };
    assert_eq!(got, "live");
}

#[test]
fn deadlines_expire_on_time_and_take_the_earlier_of_parent_and_child() {
    within(LIMIT, || {
        let start = Instant::now();
        let (ctx, _cancel) = with_timeout(&background(), Duration::from_millis(30));
        assert_eq!(ctx.err(), None);
        assert_eq!(ctx.done().recv(), None);
        assert!(start.elapsed() >= Duration::from_millis(30), "expired early: {:?}", start.elapsed());
        assert_eq!(ctx.err(), Some(Error::DeadlineExceeded));

        let (parent, _c) = with_timeout(&background(), Duration::from_millis(20));
        let (child, _c) = with_deadline(&parent, Instant::now() + Duration::from_secs(60));
        assert_eq!(child.deadline(), parent.deadline(), "a child never outlives its parent's deadline");
        assert_eq!(child.done().recv(), None);
        assert_eq!(child.err(), Some(Error::DeadlineExceeded));

        let (past, _c) = with_deadline(&background(), Instant::now() - Duration::from_millis(1));
        assert_eq!(past.err(), Some(Error::DeadlineExceeded), "a deadline in the past is born expired");
    });
}

#[test]
fn the_first_reason_sticks() {
    within(LIMIT, || {
        let (ctx, cancel) = with_timeout(&background(), Duration::from_millis(5));
        ctx.done().recv();
        cancel();
        assert_eq!(ctx.err(), Some(Error::DeadlineExceeded));
        let (ctx, cancel) = with_timeout(&background(), Duration::from_millis(5));
        cancel();
        gort::time::sleep(Duration::from_millis(20));
        assert_eq!(ctx.err(), Some(Error::Canceled));
    });
}

#[test]
fn a_cancelled_tree_of_a_thousand_goroutines_leaves_none_behind() {
    within(LIMIT, || {
        gort::run(|| {
            let baseline = gort::num_goroutine();
            let (root, cancel) = with_cancel(&background());
            let mut ctxs = vec![root.clone()];
            let mut rng = Rng(99);
            for _ in 0..999 {
                let parent = ctxs[rng.below(ctxs.len())].clone();
                ctxs.push(with_cancel(&parent).0);
            }
            let started = chan::<()>(ctxs.len());
            let work = chan::<u64>(0); // nobody ever receives
            let hs: Vec<_> = ctxs
                .into_iter()
                .map(|ctx| {
                    let (started, work) = (started.clone(), work.clone());
                    go!(move || {
                        started.send(());
                        let mut n = 0;
                        loop {
                            select! {
                                send(work, n) => n += 1,
                                recv(ctx.done()) -> _ => return ctx.err(),
                            }
                        }
                    })
                })
                .collect();
            for _ in 0..1000 {
                started.recv();
            }
            assert!(gort::num_goroutine() >= baseline + 1000);
            cancel();
            for h in hs {
                assert_eq!(h.join().unwrap(), Some(Error::Canceled));
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            while gort::num_goroutine() > baseline {
                assert!(Instant::now() < deadline, "{} goroutines left", gort::num_goroutine() - baseline);
                gort::time::sleep(Duration::from_millis(1));
            }
        });
    });
}

#[test]
fn a_deep_chain_cancels_on_a_goroutine_stack() {
    within(LIMIT, || {
        gort::run(|| {
            let (root, cancel) = with_cancel(&background());
            let mut leaf = root.clone();
            let mut all = Vec::new();
            for _ in 0..20_000 {
                let (c, f) = with_cancel(&leaf);
                all.push(f);
                leaf = c;
            }
            cancel();
            assert_eq!(leaf.err(), Some(Error::Canceled));
        });
    });
}

#[test]
fn contexts_are_cheap_send_sync_handles() {
    fn check<T: Send + Sync + Clone>() {}
    check::<Context>();
    let (ctx, cancel) = with_cancel(&background());
    let c2 = ctx.clone();
    let h = thread::spawn(move || c2.done().recv());
    cancel();
    assert_eq!(h.join().unwrap(), None);
    assert!(format!("{ctx:?}").starts_with("context.WithCancel"));
    assert_eq!(format!("{:?}", background()), "context.Background");
    assert_eq!(Error::DeadlineExceeded.to_string(), "context deadline exceeded");
}
