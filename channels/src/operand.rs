//! What may stand in a select arm: `Chan` or `Receiver` to receive, `Chan`
//! or `Sender` to send, by value or by reference (`&ch`, `&&ch`, ...).

use crate::handles::{Chan, Receiver, Sender};
use crate::select::{RecvArm, SendArm};

/// A channel handle a select can receive from. Public for `select!` only.
#[doc(hidden)]
pub trait RecvOperand {
    type Item;
    fn recv_arm(&self) -> RecvArm<'_, Self::Item>;
}

/// A channel handle a select can send on. Public for `select!` only.
#[doc(hidden)]
pub trait SendOperand {
    type Item;
    fn send_arm(&self, value: Self::Item) -> SendArm<'_, Self::Item>;
}

impl<T> RecvOperand for Chan<T> {
    type Item = T;
    fn recv_arm(&self) -> RecvArm<'_, T> {
        RecvArm::new(self.core())
    }
}

impl<T> RecvOperand for Receiver<T> {
    type Item = T;
    fn recv_arm(&self) -> RecvArm<'_, T> {
        RecvArm::new(self.core())
    }
}

impl<R: RecvOperand + ?Sized> RecvOperand for &R {
    type Item = R::Item;
    fn recv_arm(&self) -> RecvArm<'_, R::Item> {
        (**self).recv_arm()
    }
}

impl<T> SendOperand for Chan<T> {
    type Item = T;
    fn send_arm(&self, value: T) -> SendArm<'_, T> {
        SendArm::new(self.core(), value)
    }
}

impl<T> SendOperand for Sender<T> {
    type Item = T;
    fn send_arm(&self, value: T) -> SendArm<'_, T> {
        SendArm::new(self.core(), value)
    }
}

impl<S: SendOperand + ?Sized> SendOperand for &S {
    type Item = S::Item;
    fn send_arm(&self, value: S::Item) -> SendArm<'_, S::Item> {
        (**self).send_arm(value)
    }
}
