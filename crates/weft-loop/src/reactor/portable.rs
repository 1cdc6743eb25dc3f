//! The selector on platforms other than Linux: the `polling` crate (kqueue,
//! event ports, ...), sockets registered edge-triggered.
//!
//! `polling` does not say when the peer has shut down its side, so events
//! never carry `READ_MORE` and a stream read keeps its readiness until a
//! call fails with `WouldBlock` (`PollIo` in `net/poll_io.rs`). On Linux this
//! selector is built instead of `epoll.rs` under `--cfg weft_polling`, which
//! is how CI tests it.

use super::{READ, WRITE};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

/// Whether a stream read that comes back short proves the socket drained:
/// not here, events never carry `READ_MORE`.
pub(crate) const SHORT_READS_DRAIN: bool = false;

pub(crate) struct Selector {
    poller: polling::Poller,
}

/// What one wait reported.
pub(crate) struct Events {
    inner: polling::Events,
}

impl Events {
    pub(crate) fn new() -> Events {
        Events {
            inner: polling::Events::new(),
        }
    }

    pub(crate) fn clear(&mut self) {
        self.inner.clear();
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// `(key, readiness bits)` of each socket event.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.inner.iter().map(|ev| {
            let read = if ev.readable { READ } else { 0 };
            let write = if ev.writable { WRITE } else { 0 };
            (ev.key, read | write)
        })
    }
}

impl Selector {
    pub(crate) fn new() -> io::Result<Selector> {
        let poller = polling::Poller::new()?;
        if !poller.supports_edge() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "weft needs edge-triggered polling, which this platform's poller lacks",
            ));
        }
        Ok(Selector { poller })
    }

    /// Registers `fd` under `key` for both directions, edge-triggered.
    ///
    /// # Safety
    ///
    /// `fd` must be [deleted](Self::delete) before it is closed.
    pub(crate) unsafe fn add(&self, fd: BorrowedFd<'_>, key: usize) -> io::Result<()> {
        // SAFETY: the caller deletes `fd` before closing it, which is what
        // `Poller::add_with_mode` asks.
        unsafe {
            self.poller.add_with_mode(
                fd.as_raw_fd(),
                polling::Event::all(key),
                polling::PollMode::Edge,
            )
        }
    }

    pub(crate) fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        self.poller.delete(fd)
    }

    /// Waits for events until `deadline` (`None`: until an event or a
    /// `notify`).
    pub(crate) fn wait(&self, events: &mut Events, deadline: Option<Instant>) -> io::Result<()> {
        events.clear();
        match deadline {
            Some(deadline) => self.poller.wait_deadline(&mut events.inner, deadline)?,
            None => self.poller.wait(&mut events.inner, None)?,
        };
        Ok(())
    }

    /// Takes the events already there, without blocking.
    pub(crate) fn poll(&self, events: &mut Events) -> io::Result<()> {
        events.clear();
        self.poller.wait(&mut events.inner, Some(Duration::ZERO))?;
        Ok(())
    }

    /// Makes the current wait, or the next one to start, return.
    pub(crate) fn notify(&self) -> io::Result<()> {
        self.poller.notify()
    }
}
