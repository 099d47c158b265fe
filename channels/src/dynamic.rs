//! `Select`: a select over a list of arms built at run time, like Go's
//! `reflect.Select`.

use std::fmt;
use std::time::{Duration, Instant};

use crate::operand::{RecvOperand, SendOperand};
use crate::select::{Arm, Block, select};

/// A select whose arms are added at run time (Go's `reflect.Select`).
///
/// Add arms with [`recv`](Self::recv) and [`send`](Self::send), which
/// return each arm's index, then run it once with [`select`](Self::select),
/// [`try_select`](Self::try_select) or
/// [`select_timeout`](Self::select_timeout). It behaves as `select!` with
/// the same arms: a uniformly random choice among ready arms, nil channels
/// never ready.
///
/// # Examples
///
/// ```
/// use gort_channels::{chan, Chan, Select};
/// let chans: Vec<Chan<usize>> = (0..5).map(|_| chan(1)).collect();
/// chans[3].send(30);
/// let mut sel = Select::new();
/// for ch in &chans {
///     sel.recv(ch);
/// }
/// let op = sel.select();
/// assert_eq!(op.index(), 3);
/// assert_eq!(op.recv(&chans[3]), Some(30));
/// ```
#[derive(Default)]
pub struct Select<'a> {
    arms: Vec<Box<dyn Arm + 'a>>,
}

impl fmt::Debug for Select<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select").field("arms", &self.arms.len()).finish()
    }
}

impl<'a> Select<'a> {
    /// A select with no arms yet.
    ///
    /// # Examples
    ///
    /// ```
    /// let sel = gort_channels::Select::new();
    /// assert!(sel.try_select().is_none());
    /// ```
    pub fn new() -> Select<'a> {
        Select { arms: Vec::new() }
    }

    /// Adds an arm that receives from `rx` (a `Chan` or `Receiver`);
    /// returns its index.
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = gort_channels::chan::<i32>(1);
    /// let mut sel = gort_channels::Select::new();
    /// assert_eq!(sel.recv(&ch), 0);
    /// ```
    pub fn recv<R: RecvOperand>(&mut self, rx: &'a R) -> usize
    where
        R::Item: 'a,
    {
        self.arms.push(Box::new(rx.recv_arm()));
        self.arms.len() - 1
    }

    /// Adds an arm that sends `value` on `tx` (a `Chan` or `Sender`);
    /// returns its index. The value is dropped if another arm is chosen.
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = gort_channels::chan::<i32>(1);
    /// let mut sel = gort_channels::Select::new();
    /// let i = sel.send(&ch, 5);
    /// assert_eq!(sel.select().index(), i);
    /// assert_eq!(ch.recv(), Some(5));
    /// ```
    pub fn send<S: SendOperand>(&mut self, tx: &'a S, value: S::Item) -> usize
    where
        S::Item: 'a,
    {
        self.arms.push(Box::new(tx.send_arm(value)));
        self.arms.len() - 1
    }

    /// Waits until an arm completes. With no arms (or only nil channels),
    /// waits forever.
    ///
    /// # Panics
    ///
    /// "send on closed channel" when the chosen arm sends on a closed channel.
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = gort_channels::chan::<i32>(0);
    /// let tx = ch.clone();
    /// let h = gort_runtime::spawn(move || tx.send(9));
    /// let mut sel = gort_channels::Select::new();
    /// sel.recv(&ch);
    /// assert_eq!(sel.select().recv(&ch), Some(9));
    /// h.join().unwrap();
    /// ```
    #[track_caller]
    pub fn select(self) -> SelectedOp<'a> {
        self.run(Block::Forever).expect("a blocking select always completes an arm")
    }

    /// Completes a ready arm, or returns `None` at once (`default`).
    ///
    /// # Panics
    ///
    /// As [`select`](Self::select).
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = gort_channels::chan::<i32>(0);
    /// let mut sel = gort_channels::Select::new();
    /// sel.recv(&ch);
    /// assert!(sel.try_select().is_none());
    /// ```
    #[track_caller]
    pub fn try_select(self) -> Option<SelectedOp<'a>> {
        self.run(Block::No)
    }

    /// Waits at most `d` for an arm to complete.
    ///
    /// # Panics
    ///
    /// As [`select`](Self::select).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let ch = gort_channels::chan::<i32>(0);
    /// let mut sel = gort_channels::Select::new();
    /// sel.recv(&ch);
    /// assert!(sel.select_timeout(Duration::from_millis(1)).is_none());
    /// ```
    #[track_caller]
    pub fn select_timeout(self, d: Duration) -> Option<SelectedOp<'a>> {
        match Instant::now().checked_add(d) {
            Some(deadline) => self.run(Block::Until(deadline)),
            None => Some(self.select()),
        }
    }

    #[track_caller]
    fn run(mut self, block: Block) -> Option<SelectedOp<'a>> {
        let mut arms: Vec<&mut dyn Arm> = self.arms.iter_mut().map(|a| &mut **a as &mut dyn Arm).collect();
        let index = select(&mut arms, block)?;
        drop(arms);
        Some(SelectedOp { index, arms: self.arms })
    }
}

/// The arm a [`Select`] completed.
///
/// # Examples
///
/// ```
/// let ch = gort_channels::chan::<&str>(1);
/// ch.send("x");
/// let mut sel = gort_channels::Select::new();
/// let i = sel.recv(&ch);
/// let op = sel.select();
/// assert_eq!(op.index(), i);
/// assert_eq!(op.recv(&ch), Some("x"));
/// ```
pub struct SelectedOp<'a> {
    index: usize,
    arms: Vec<Box<dyn Arm + 'a>>,
}

impl fmt::Debug for SelectedOp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectedOp").field("index", &self.index).finish()
    }
}

impl SelectedOp<'_> {
    /// The index of the arm that completed.
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = gort_channels::chan::<i32>(1);
    /// let mut sel = gort_channels::Select::new();
    /// sel.send(&ch, 1);
    /// assert_eq!(sel.select().index(), 0);
    /// ```
    pub fn index(&self) -> usize {
        self.index
    }

    /// The value the chosen recv arm received from `rx`: `None` if the
    /// channel was closed.
    ///
    /// # Panics
    ///
    /// If the chosen arm is not a recv arm on `rx`'s channel.
    ///
    /// # Examples
    ///
    /// ```
    /// let ch = gort_channels::chan::<i32>(1);
    /// ch.close();
    /// let mut sel = gort_channels::Select::new();
    /// sel.recv(&ch);
    /// assert_eq!(sel.select().recv(&ch), None);
    /// ```
    #[track_caller]
    pub fn recv<R: RecvOperand>(mut self, rx: &R) -> Option<R::Item> {
        let addr = rx.recv_arm().addr();
        let slot = self.arms[self.index]
            .recv_slot(addr)
            .unwrap_or_else(|| panic!("SelectedOp::recv: arm {} is not a receive on this channel", self.index));
        // SAFETY: `recv_slot` matched the arm's channel to `rx`'s, and one
        // channel has one item type, so the slot is an `Option<Option<R::Item>>`.
        let slot = unsafe { &mut *(slot as *mut Option<Option<R::Item>>) };
        slot.take().expect("the chosen arm completed")
    }
}
