//! A two-player baton on the parking seam: each player waits for its turn,
//! then hands the turn to the other and wakes it. Used by the starvation
//! test and the park/unpark bench.

use gort::park::{WaitReason, Waiter, park};
use parking_lot::Mutex;

/// Whose turn it is, whether the game is over, and the player waiting.
#[derive(Default)]
pub struct Baton {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    turn: usize,
    closed: bool,
    waiter: Option<Waiter>,
}

impl Baton {
    /// Waits until it is `me`'s turn (player 0 or 1), then gives the turn to
    /// the other player and wakes it. Returns `false` once the baton is
    /// closed.
    pub fn take_turn(&self, me: usize) -> bool {
        let mut s = self.state.lock();
        loop {
            if s.closed {
                return false;
            }
            if s.turn == me {
                s.turn = 1 - me;
                if let Some(w) = s.waiter.take() {
                    w.unpark();
                }
                return true;
            }
            s.waiter = Some(Waiter::current());
            park(WaitReason::ChanReceive, None, s);
            s = self.state.lock();
        }
    }

    /// Ends the game and wakes the waiting player.
    pub fn close(&self) {
        let mut s = self.state.lock();
        s.closed = true;
        if let Some(w) = s.waiter.take() {
            w.unpark();
        }
    }
}
