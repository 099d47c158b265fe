//! Iterating over a channel: Go's `for v := range ch`.

use crate::core::{Core, RecvNow};

/// Receives until the channel is closed and drained (from
/// [`Chan::iter`](crate::Chan::iter) or `for v in &ch`).
///
/// # Examples
///
/// ```
/// let ch = gort_channels::chan(2);
/// ch.send('a');
/// ch.close();
/// for c in &ch {
///     assert_eq!(c, 'a');
/// }
/// ```
#[derive(Debug)]
pub struct Iter<'a, T> {
    core: &'a Core<T>,
}

impl<'a, T> Iter<'a, T> {
    pub(crate) fn new(core: &'a Core<T>) -> Self {
        Iter { core }
    }
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.core.recv_forever()
    }
}

/// The values ready now (from [`Chan::try_iter`](crate::Chan::try_iter)).
///
/// # Examples
///
/// ```
/// let ch = gort_channels::chan(2);
/// ch.send(1);
/// assert_eq!(ch.try_iter().count(), 1);
/// ```
#[derive(Debug)]
pub struct TryIter<'a, T> {
    core: &'a Core<T>,
}

impl<'a, T> TryIter<'a, T> {
    pub(crate) fn new(core: &'a Core<T>) -> Self {
        TryIter { core }
    }
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        match self.core.try_recv() {
            RecvNow::Got(v, wakeup) => {
                drop(wakeup);
                Some(v)
            }
            RecvNow::Empty | RecvNow::Closed => None,
        }
    }
}

/// Receives until closed and drained, owning its handle (`for v in ch`).
///
/// # Examples
///
/// ```
/// let ch = gort_channels::chan(2);
/// ch.send(1);
/// ch.send(2);
/// ch.close();
/// assert_eq!(ch.into_iter().sum::<i32>(), 3);
/// ```
#[derive(Debug)]
pub struct IntoIter<T> {
    core: Core<T>,
}

impl<T> IntoIter<T> {
    pub(crate) fn new(core: Core<T>) -> Self {
        IntoIter { core }
    }
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.core.recv_forever()
    }
}
