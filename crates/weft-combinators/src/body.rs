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

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::{Context, Poll};
use weft_task::{catch_cancel, Cancelled, TaskRef};

/// Runs `body` inline, in the caller, until it finishes: its value, or the
/// cancellation that stopped it. Each poll polls the body first: a body that
/// is ready returns its value, even if the scope's deadline has passed too
/// (asyncio runs a task's wake-up that was queued before the timer fired, and
/// the value wins). Then, while the body is pending, `stop` runs (it may
/// register the scope's waker with the context); each time it returns true
/// the body is stopped: `task`, the task the body runs in, is cancelled (the
/// body's innermost `catch_cancel` takes the request at the next poll), or
/// outside a task (`None`) the body is dropped at its await point and the
/// next poll reports it (a wake-up is queued for it). Either way the poll
/// returns `Pending`, so the scopes around this one check their deadlines in
/// the same poll, and of nested scopes sharing a deadline every one expires
/// together (see `Timeout::run`: only the outermost reports the timeout).
pub(crate) async fn run_body<F: Future>(
    body: F,
    task: Option<&TaskRef>,
    mut stop: impl FnMut(&mut Context<'_>) -> bool,
) -> Result<F::Output, Cancelled> {
    let mut body = pin!(Some(catch_cancel(body)));
    poll_fn(|cx| {
        let Some(running) = body.as_mut().as_pin_mut() else {
            return Poll::Ready(Err(Cancelled::new()));
        };
        if let Poll::Ready(out) = running.poll(cx) {
            return Poll::Ready(out);
        }
        if stop(cx) {
            match task {
                Some(task) => {
                    task.cancel();
                }
                None => {
                    body.set(None);
                    cx.waker().wake_by_ref();
                }
            }
        }
        Poll::Pending
    })
    .await
}
