//! The `select!` macro: Go's `select` statement.
//!
//! It parses the arms one at a time (a token muncher), naming each arm's
//! operand and result with identifiers from a fixed list, then emits one
//! block that:
//!
//! 1. evaluates every operand and every value to send once, in source
//!    order (Go's spec), into locals;
//! 2. runs the select engine (`crate::select::select`) over the arms;
//! 3. moves the chosen arm's received value out and drops every arm, so
//!    the arm bodies may reassign the channels they selected on (Go's
//!    `ch = nil` idiom to disable an arm);
//! 4. runs the chosen body. Bodies are not closures: `break`, `continue`
//!    and `return` act on the code around the `select!`.

/// Waits on several channel operations at once: Go's `select`.
///
/// ```text
/// select! {
///     recv(rx) -> v => body,      // v: Option<T>; None when rx is closed
///     send(tx, value) => body,
///     default => body,            // optional: do not wait
/// }
/// ```
///
/// Operands are `Chan`, `Sender` (send arms) or `Receiver` (recv arms), by
/// value or by reference; nil channels are never ready. When several arms
/// are ready one is chosen uniformly at random. Without `default` the
/// select waits (parking the goroutine) until an arm can complete; `select!
/// {}` waits forever. The `select!` is an expression whose value is the
/// chosen body's.
///
/// # Panics
///
/// "send on closed channel" when the chosen arm sends on a closed channel.
///
/// # Examples
///
/// ```
/// use gort_channels::{chan, select};
/// use std::time::Duration;
///
/// let (a, b) = (chan::<i32>(1), chan::<&str>(1));
/// b.send("hi");
/// let got = select! {
///     recv(a) -> v => format!("a: {v:?}"),
///     recv(b) -> v => format!("b: {v:?}"),
///     recv(gort_channels::time::after(Duration::from_secs(1))) -> _ => "timeout".to_string(),
/// };
/// assert_eq!(got, "b: Some(\"hi\")");
///
/// let full = chan::<i32>(0);
/// let sent = select! {
///     send(full, 1) => true,
///     default => false,
/// };
/// assert!(!sent);
/// ```
#[macro_export]
macro_rules! select {
    () => {
        $crate::__private::block_forever()
    };
    ($($arms:tt)+) => {
        $crate::__select_parse!(
            [] []
            [__a0 __a1 __a2 __a3 __a4 __a5 __a6 __a7 __a8 __a9 __a10 __a11 __a12 __a13 __a14 __a15
             __a16 __a17 __a18 __a19 __a20 __a21 __a22 __a23 __a24 __a25 __a26 __a27 __a28 __a29 __a30 __a31]
            [__v0 __v1 __v2 __v3 __v4 __v5 __v6 __v7 __v8 __v9 __v10 __v11 __v12 __v13 __v14 __v15
             __v16 __v17 __v18 __v19 __v20 __v21 __v22 __v23 __v24 __v25 __v26 __v27 __v28 __v29 __v30 __v31]
            [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31]
            $($arms)+
        )
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    // Commas between arms.
    ($acc:tt $def:tt $ids:tt $vids:tt $idxs:tt , $($rest:tt)*) => {
        $crate::__select_parse!($acc $def $ids $vids $idxs $($rest)*)
    };
    // recv(r) -> pat => { block }
    ([$($acc:tt)*] $def:tt [$id:ident $($ids:ident)*] [$vid:ident $($vids:ident)*] [$idx:tt $($idxs:tt)*]
     recv($r:expr) -> $p:pat => $body:block $($rest:tt)*) => {
        $crate::__select_parse!([$($acc)* (recv $id $vid $idx ($r) ($p) ($body))] $def
            [$($ids)*] [$($vids)*] [$($idxs)*] $($rest)*)
    };
    // recv(r) -> pat => expr,
    ([$($acc:tt)*] $def:tt [$id:ident $($ids:ident)*] [$vid:ident $($vids:ident)*] [$idx:tt $($idxs:tt)*]
     recv($r:expr) -> $p:pat => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_parse!([$($acc)* (recv $id $vid $idx ($r) ($p) ($body))] $def
            [$($ids)*] [$($vids)*] [$($idxs)*] $($($rest)*)?)
    };
    // send(s, v) => { block }
    ([$($acc:tt)*] $def:tt [$id:ident $($ids:ident)*] [$vid:ident $($vids:ident)*] [$idx:tt $($idxs:tt)*]
     send($s:expr, $v:expr $(,)?) => $body:block $($rest:tt)*) => {
        $crate::__select_parse!([$($acc)* (send $id $vid $idx ($s) ($v) ($body))] $def
            [$($ids)*] [$($vids)*] [$($idxs)*] $($rest)*)
    };
    // send(s, v) => expr,
    ([$($acc:tt)*] $def:tt [$id:ident $($ids:ident)*] [$vid:ident $($vids:ident)*] [$idx:tt $($idxs:tt)*]
     send($s:expr, $v:expr $(,)?) => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_parse!([$($acc)* (send $id $vid $idx ($s) ($v) ($body))] $def
            [$($ids)*] [$($vids)*] [$($idxs)*] $($($rest)*)?)
    };
    // default => { block }
    ($acc:tt [] $ids:tt $vids:tt $idxs:tt default => $body:block $($rest:tt)*) => {
        $crate::__select_parse!($acc [($body)] $ids $vids $idxs $($rest)*)
    };
    // default => expr,
    ($acc:tt [] $ids:tt $vids:tt $idxs:tt default => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_parse!($acc [($body)] $ids $vids $idxs $($($rest)*)?)
    };
    ($acc:tt [$($def:tt)+] $ids:tt $vids:tt $idxs:tt default $($rest:tt)*) => {
        ::core::compile_error!("select! has more than one default arm")
    };
    // All parsed.
    ($acc:tt $def:tt $ids:tt $vids:tt $idxs:tt) => {
        $crate::__select_emit!($acc $def)
    };
    ($acc:tt $def:tt [] $vids:tt $idxs:tt $($rest:tt)+) => {
        ::core::compile_error!("select! supports at most 32 arms; use gort::Select for more")
    };
    ($acc:tt $def:tt $ids:tt $vids:tt $idxs:tt $($rest:tt)+) => {
        ::core::compile_error!(
            "select! expects arms `recv(ch) -> v => body`, `send(ch, value) => body` or `default => body`"
        )
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_emit {
    ([$(($kind:ident $id:ident $vid:ident $idx:tt $($arm:tt)*))*] [$(($default:expr))?]) => {{
        $( $crate::__select_arm!(result $kind $vid); )*
        let __chosen = {
            $( $crate::__select_arm!(operand $kind $id $($arm)*); )*
            $( $crate::__select_arm!(make $kind $id); )*
            let __chosen = $crate::__private::select(
                &mut [$(&mut $id as &mut dyn $crate::__private::Arm),*],
                $crate::__select_arm!(block $($default)?),
            );
            $( $crate::__select_arm!(take $kind $id $vid $idx __chosen); )*
            __chosen
        };
        match __chosen {
            $( ::core::option::Option::Some($idx) => $crate::__select_arm!(body $kind $vid $($arm)*), )*
            ::core::option::Option::None => {
                $crate::__select_arm!(default $($default)?)
            }
            ::core::option::Option::Some(_) => ::core::unreachable!("select chose an arm it does not have"),
        }
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_arm {
    (result recv $vid:ident) => {
        let mut $vid = ::core::option::Option::None;
    };
    (result send $vid:ident) => {};
    (operand recv $id:ident ($r:expr) $p:tt $body:tt) => {
        let $id = &$r;
    };
    (operand send $id:ident ($s:expr) ($v:expr) $body:tt) => {
        let $id = (&$s, $v);
    };
    (make recv $id:ident) => {
        let mut $id = $crate::__private::RecvOperand::recv_arm($id);
    };
    (make send $id:ident) => {
        let mut $id = $crate::__private::SendOperand::send_arm($id.0, $id.1);
    };
    (take recv $id:ident $vid:ident $idx:tt $chosen:ident) => {
        if $chosen == ::core::option::Option::Some($idx) {
            $vid = ::core::option::Option::Some($id.take());
        }
    };
    (take send $id:ident $vid:ident $idx:tt $chosen:ident) => {};
    (body recv $vid:ident $r:tt ($p:pat) ($body:expr)) => {{
        let $p = $vid.expect("the chosen arm has its value");
        $body
    }};
    (body send $vid:ident $s:tt $v:tt ($body:expr)) => {
        $body
    };
    (block) => {
        $crate::__private::Block::Forever
    };
    (block $default:expr) => {
        $crate::__private::Block::No
    };
    (default) => {
        ::core::unreachable!("a select without default always chooses an arm")
    };
    (default $default:expr) => {
        $default
    };
}
