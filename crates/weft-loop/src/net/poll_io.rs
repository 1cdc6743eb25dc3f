//! [`PollIo`]: the socket side of the reactor. A socket registers once with
//! the current runtime's reactor and waits for readiness through its
//! `Source` (protocol in `reactor/mod.rs`).

use crate::driver::Driver;
use crate::reactor::{sys, Direction, Source};
use std::io;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::task::{Context, Poll};

/// A non-blocking socket registered with a runtime's reactor. Dropping it
/// deregisters it, then closes it.
pub(crate) struct PollIo<T: AsFd> {
    io: Option<T>,
    source: Arc<Source>,
    driver: Arc<Driver>,
}

impl<T: AsFd> PollIo<T> {
    /// Registers `io` (already non-blocking) with the current runtime.
    pub(crate) fn new(io: T) -> io::Result<PollIo<T>> {
        let driver = crate::context::current_driver()?;
        let source = driver.reactor.register(io.as_fd())?;
        Ok(PollIo {
            io: Some(io),
            source,
            driver,
        })
    }

    pub(crate) fn get(&self) -> &T {
        self.io.as_ref().expect("present until drop")
    }

    /// Runs `op` until it does not return `WouldBlock`, waiting for
    /// readiness in `dir` in between. Spends one unit of the task's
    /// cooperative budget per call, so a task whose I/O is always ready still
    /// yields to others. Once the runtime has shut down (nobody polls the OS
    /// for it any more) it fails with an `Other` error instead of waiting;
    /// that is checked only on the way to waiting, off the ready path.
    /// `Driver::close` stores the flag before it takes each source's waker
    /// lock, so a waiter that stored its waker after that sees the flag, and
    /// one that stored it before is woken and sees it on its next poll.
    pub(crate) fn poll_io<R>(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        std::task::ready!(weft_task::coop::poll_proceed(cx));
        self.poll_io_drained(dir, cx, op, |_| false)
    }

    /// [`poll_io`](Self::poll_io) without the cooperative budget, for I/O the
    /// runtime does for itself outside any task: the signal reader, which
    /// polls from its own waker, where a budget's `Pending` (which wakes the
    /// waker at once) would recurse.
    pub(crate) fn poll_io_unbudgeted<R>(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io_drained(dir, cx, op, |_| false)
    }

    /// A stream read into a buffer of `len` bytes, as
    /// [`poll_io`](Self::poll_io). Where short reads prove the socket drained
    /// (`sys::SHORT_READS_DRAIN`), a read that comes back short also forgets
    /// the read readiness (header, step 2), so the next read waits for an
    /// event instead of failing a `recv` first.
    pub(crate) fn poll_read_stream(
        &self,
        cx: &mut Context<'_>,
        len: usize,
        op: impl FnMut(&T) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        std::task::ready!(weft_task::coop::poll_proceed(cx));
        self.poll_io_drained(Direction::Read, cx, op, |&n| {
            sys::SHORT_READS_DRAIN && n > 0 && n < len
        })
    }

    /// `poll_io` (its caller spends the budget), where a result for which
    /// `drained` holds clears the direction's readiness as `WouldBlock` would
    /// (READ_MORE excepted).
    fn poll_io_drained<R>(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&T) -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> Poll<io::Result<R>> {
        loop {
            let Poll::Ready(tick) = self.source.poll_ready(dir, cx) else {
                if self.driver.is_closed() {
                    return Poll::Ready(Err(io::Error::other("the weft runtime is shut down")));
                }
                return Poll::Pending;
            };
            match op(self.get()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.source.clear_ready(dir.ready_mask(), tick);
                }
                Ok(r) => {
                    if drained(&r) {
                        self.source.clear_ready(dir.bit(), tick);
                    }
                    return Poll::Ready(Ok(r));
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl<T: AsFd> Drop for PollIo<T> {
    fn drop(&mut self) {
        if let Some(io) = self.io.take() {
            self.driver.reactor.deregister(&self.source, io.as_fd());
            drop(io);
        }
    }
}

impl<T: AsFd + std::fmt::Debug> std::fmt::Debug for PollIo<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}
