//! The inline body of a scope (a [`Timeout`](crate::Timeout) or a task group):
//! run inside [`catch_cancel`] so the scope can stop it the way asyncio stops
//! the body of an `async with` block.
//!
//! Inside a task the scope cancels the task itself. The body's innermost
//! `catch_cancel` (its own, or the scope's wrapper around it) receives the
//! request at its current await point and may clean up, even with awaits,
//! before the scope sees `Err(Cancelled)`. The scope then calls `uncancel` to
//! tell its own request from one that came from outside (asyncio 3.11's
//! protocol). Outside a task (the future given to `block_on`) there is no
//! task to cancel, and the scope drops the body at its await point instead:
//! destructors run, async cleanup cannot.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use weft_task::{catch_cancel, Cancelled, CatchCancel, TaskRef};

/// A body, pinned in the scope's future; `None` once dropped by [`interrupt`].
pub(crate) type Body<F> = Option<CatchCancel<F>>;

/// Wraps `body` for [`poll_body`] and [`interrupt`].
pub(crate) fn body<F: Future>(body: F) -> Body<F> {
    Some(catch_cancel(body))
}

/// Polls the body: its value, or the cancellation that stopped it.
pub(crate) fn poll_body<F: Future>(
    body: Pin<&mut Body<F>>,
    cx: &mut Context<'_>,
) -> Poll<Result<F::Output, Cancelled>> {
    match body.as_pin_mut() {
        Some(body) => body.poll(cx),
        None => Poll::Ready(Err(Cancelled::new())),
    }
}

/// Stops the body: cancels `task`, the task the body runs in, or, outside a
/// task, drops the body now. The next [`poll_body`] reports the outcome.
pub(crate) fn interrupt<F: Future>(mut body: Pin<&mut Body<F>>, task: Option<&TaskRef>) {
    match task {
        Some(task) => {
            task.cancel();
        }
        None => body.set(None),
    }
}
