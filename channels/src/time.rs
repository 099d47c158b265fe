//! Time channels: `after`, `tick`, [`Timer`] and [`Ticker`] (Go's
//! `time.After`, `time.Tick`, `time.Timer`, `time.Ticker`).
//!
//! Each is a channel with room for one value, fed by a task on the
//! runtime's timer heaps (`gort_runtime::time::call_at`): no thread per
//! timer. A firing that finds the channel full drops its value, so a slow
//! receiver of a ticker misses ticks instead of queueing them, as in Go.
//!
//! Stopping and resetting follow Go 1.23: once `stop` or `reset` returns,
//! no value from before is received. A small lock makes "check the
//! sequence number, then send" in the firing task atomic with respect to
//! "bump the sequence number, then drain the channel" in `stop`/`reset`;
//! tasks armed before a stop see a stale sequence number and do nothing.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use gort_runtime::time::{TimerTask, call_at};
use parking_lot::Mutex;

use crate::core::{Core, Inner};
use crate::handles::{Receiver, chan};

/// One value after `d`: Go's `time.After`.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// let start = Instant::now();
/// let fired = gort_channels::time::after(Duration::from_millis(5)).recv().unwrap();
/// assert!(fired >= start + Duration::from_millis(5));
/// ```
pub fn after(d: Duration) -> Receiver<Instant> {
    Timer::new(d).arming.rx
}

/// A value every `d`, for ever: Go's `time.Tick`. Ticks are dropped for a
/// slow receiver. A zero `d` gives a nil channel (never ready), as in Go.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let ticks = gort_channels::time::tick(Duration::from_millis(1));
/// let (a, b) = (ticks.recv().unwrap(), ticks.recv().unwrap());
/// assert!(b > a);
/// ```
pub fn tick(d: Duration) -> Receiver<Instant> {
    if d.is_zero() {
        return Receiver::from_core(Core::nil());
    }
    Ticker::new(d).arming.rx
}

/// A timer's arming state, shared by its handle and its firing tasks.
struct State {
    /// Bumped by every stop and reset: tasks of older arms do nothing.
    seq: u64,
    /// An arm is pending (it has not fired and was not stopped).
    pending: bool,
    /// The ticker's period; `None` for a one-shot timer.
    period: Option<Duration>,
}

/// A timer's channel (handles hold the receiving end) and its state.
struct Arming {
    state: Arc<Mutex<State>>,
    rx: Receiver<Instant>,
}

impl Arming {
    fn new(period: Option<Duration>) -> Arming {
        let ch = chan(1);
        Arming { state: Arc::new(Mutex::new(State { seq: 0, pending: false, period })), rx: ch.receiver() }
    }

    /// Stops any pending arm and drops an undelivered value; returns
    /// whether an arm was pending. With `restart`, arms anew at `when`.
    fn rearm(&self, restart: Option<Instant>) -> bool {
        let mut st = self.state.lock();
        // A value sent but not received counts as pending: Go 1.23's timer
        // channels are unbuffered, so such a timer has not fired yet there.
        let mut was = st.pending;
        st.seq += 1;
        while self.rx.try_recv().is_ok() {
            was = true;
        }
        st.pending = restart.is_some();
        if let Some(when) = restart {
            let fire = Fire { state: self.state.clone(), ch: self.rx.core().downgrade(), seq: st.seq, when };
            call_at(when, Arc::new(fire));
        }
        was
    }
}

/// One arm of a timer: sends when due unless stopped or reset since, or
/// unless every handle of the channel is gone (then nobody can receive,
/// and a ticker stops re-arming, as Go 1.23 collects unreferenced tickers).
struct Fire {
    state: Arc<Mutex<State>>,
    ch: Weak<Inner<Instant>>,
    seq: u64,
    when: Instant,
}

impl TimerTask for Fire {
    fn fire(&self, now: Instant) {
        let Some(ch) = Core::upgrade(&self.ch) else { return };
        let mut st = self.state.lock();
        if st.seq != self.seq {
            return;
        }
        // The value is the time the tick was due, as Go's `sendTime` does.
        // Full: the receiver has not taken the last value; drop this one.
        drop(ch.try_send(self.when));
        match st.period {
            None => st.pending = false,
            Some(period) => {
                // The next tick after `now`, on the original grid.
                let behind = now.saturating_duration_since(self.when).as_nanos() / period.as_nanos();
                let ahead = period.as_nanos().saturating_mul(behind + 1).min(u64::MAX as u128) as u64;
                let next = self.when.checked_add(Duration::from_nanos(ahead)).unwrap_or(now + period);
                let fire = Fire { state: self.state.clone(), ch: self.ch.clone(), seq: self.seq, when: next };
                call_at(next, Arc::new(fire));
            }
        }
    }
}

fn deadline(d: Duration) -> Instant {
    // Past the end of time: a deadline nobody lives to see.
    Instant::now().checked_add(d).unwrap_or_else(|| Instant::now() + Duration::from_secs(u32::MAX as u64))
}

/// A single event after a duration: Go's `time.Timer`.
///
/// # Examples
///
/// ```
/// use gort_channels::time::Timer;
/// use std::time::Duration;
/// let t = Timer::new(Duration::from_millis(1));
/// assert!(t.channel().recv().is_some());
/// assert!(!t.stop(), "its value was received already");
/// ```
pub struct Timer {
    arming: Arming,
}

impl Timer {
    /// A timer that sends the current time on its channel after `d`.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = gort_channels::time::Timer::new(std::time::Duration::from_secs(60));
    /// assert!(t.stop());
    /// ```
    pub fn new(d: Duration) -> Timer {
        let arming = Arming::new(None);
        arming.rearm(Some(deadline(d)));
        Timer { arming }
    }

    /// Stops the timer. Returns `true` if this stopped it before its value
    /// was received (an undelivered value is dropped), `false` if the value
    /// was received or the timer was stopped already. Once `stop` returns,
    /// no value from before is received (Go 1.23).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = gort_channels::time::Timer::new(Duration::from_millis(1));
    /// assert!(t.stop());
    /// assert!(t.channel().recv_timeout(Duration::from_millis(5)).is_err());
    /// ```
    pub fn stop(&self) -> bool {
        self.arming.rearm(None)
    }

    /// Makes the timer fire after `d` from now, discarding a pending firing
    /// or an undelivered value. Returns whether it was pending.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = gort_channels::time::Timer::new(Duration::from_secs(60));
    /// assert!(t.reset(Duration::from_millis(1)));
    /// assert!(t.channel().recv().is_some());
    /// ```
    pub fn reset(&self, d: Duration) -> bool {
        self.arming.rearm(Some(deadline(d)))
    }

    /// The channel the time is sent on: Go's `t.C`.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = gort_channels::time::Timer::new(std::time::Duration::from_millis(1));
    /// let _fired_at: std::time::Instant = t.channel().recv().unwrap();
    /// ```
    pub fn channel(&self) -> &Receiver<Instant> {
        &self.arming.rx
    }
}

/// Ticks at a fixed period: Go's `time.Ticker`.
///
/// # Examples
///
/// ```
/// use gort_channels::time::Ticker;
/// use std::time::Duration;
/// let k = Ticker::new(Duration::from_millis(1));
/// for _ in 0..3 {
///     k.channel().recv().unwrap();
/// }
/// k.stop();
/// ```
pub struct Ticker {
    arming: Arming,
}

impl Ticker {
    /// A ticker that sends the time every `period`.
    ///
    /// # Panics
    ///
    /// "non-positive interval for NewTicker" when `period` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// let k = gort_channels::time::Ticker::new(std::time::Duration::from_millis(2));
    /// assert!(k.channel().recv().is_some());
    /// ```
    #[track_caller]
    pub fn new(period: Duration) -> Ticker {
        assert!(!period.is_zero(), "non-positive interval for NewTicker");
        let arming = Arming::new(Some(period));
        arming.rearm(Some(deadline(period)));
        Ticker { arming }
    }

    /// Stops the ticker; once it returns no more ticks are received.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let k = gort_channels::time::Ticker::new(Duration::from_millis(1));
    /// k.stop();
    /// assert!(k.channel().recv_timeout(Duration::from_millis(5)).is_err());
    /// ```
    pub fn stop(&self) {
        self.arming.rearm(None);
    }

    /// Stops the ticker and restarts it with `period`, the next tick
    /// `period` from now.
    ///
    /// # Panics
    ///
    /// "non-positive interval for Ticker.Reset" when `period` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let k = gort_channels::time::Ticker::new(Duration::from_secs(60));
    /// k.reset(Duration::from_millis(1));
    /// assert!(k.channel().recv().is_some());
    /// ```
    #[track_caller]
    pub fn reset(&self, period: Duration) {
        assert!(!period.is_zero(), "non-positive interval for Ticker.Reset");
        self.arming.state.lock().period = Some(period);
        self.arming.rearm(Some(deadline(period)));
    }

    /// The channel the ticks are sent on: Go's `k.C`.
    ///
    /// # Examples
    ///
    /// ```
    /// let k = gort_channels::time::Ticker::new(std::time::Duration::from_millis(1));
    /// let _at: std::time::Instant = k.channel().recv().unwrap();
    /// ```
    pub fn channel(&self) -> &Receiver<Instant> {
        &self.arming.rx
    }
}
