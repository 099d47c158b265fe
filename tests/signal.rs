//! `gort::signal::notify`: signals arrive as channel values, in `select!`
//! too, and a slow receiver drops extra signals instead of blocking.

use std::time::Duration;

use gort::prelude::*;

#[test]
fn signals_arrive_on_the_channel_and_extras_are_dropped() {
    let sigs = gort::signal::notify(&[libc::SIGUSR2]);
    let got = gort::run(move || {
        // SAFETY: raising a signal in our own process; SIGUSR2 is handled.
        unsafe { libc::raise(libc::SIGUSR2) };
        select! {
            recv(sigs) -> s => (s, sigs),
            recv(gort::time::after(Duration::from_secs(5))) -> _ => panic!("no signal arrived"),
        }
    });
    let (first, sigs) = got;
    assert_eq!(first, Some(libc::SIGUSR2));
    for _ in 0..5 {
        // SAFETY: as above.
        unsafe { libc::raise(libc::SIGUSR2) };
    }
    std::thread::sleep(Duration::from_millis(100));
    let pending = sigs.try_iter().count();
    assert_eq!(pending, 1, "one slot per signal: the other four were dropped");
}
