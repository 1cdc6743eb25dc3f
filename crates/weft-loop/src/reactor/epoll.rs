//! The Linux selector: epoll, an eventfd to interrupt a wait and a timerfd
//! for waits shorter than epoll's millisecond timeout can express, called
//! through rustix.
//!
//! # Why not `polling` here
//!
//! `polling` (used on other platforms, `portable.rs`) does not report
//! `EPOLLRDHUP`, and its `wait` costs five system calls (arm a timerfd,
//! re-arm it and the notifier in epoll, wait, drain the notifier). Here:
//!
//! * Sockets are registered once, edge-triggered, with `EPOLLRDHUP` (and
//!   `EPOLLPRI`), so an event says when the peer has shut down its side (or
//!   urgent data stops reads at its mark). That lets a stream read that comes
//!   back short forget the read readiness (READ_MORE in `mod.rs`, `PollIo`
//!   in `net/poll_io.rs`): without it, data and a FIN that arrived in the same edge would
//!   leave the reader waiting for an edge that never comes, so every read
//!   would have to end in a failed `recv`.
//! * A wait is one `epoll_wait`. The timerfd is set only when the deadline
//!   changed since the last wait that armed it; waits without a deadline, or
//!   with a deadline already past, do not touch it.
//! * The eventfd and the timerfd are registered edge-triggered and never
//!   read: each write (`notify`) and each expiry is a new edge, queued until
//!   a wait takes it. So a `notify` made before a wait starts makes that wait
//!   return at once (the sticky wake-up `park.rs` relies on), with no re-arm
//!   per wait.
//!
//! # The timerfd cache
//!
//! `armed` is the deadline the timerfd was last set to (`None` before the
//! first). A wait for that same deadline skips `timerfd_settime`, and still
//! gets woken: the timerfd was set to `deadline - now` at a time no earlier
//! than that `now`, so it expires no earlier than the deadline (both clocks are
//! `CLOCK_MONOTONIC`), and a wait whose deadline has passed does not block at
//! all. So while a wait consults `armed`, its expiry is still to come.

use super::{READ, READ_MORE, WRITE};
use crate::loom::sync::Mutex;
use rustix::buffer::spare_capacity;
use rustix::event::epoll::{self, EventData, EventFlags};
use rustix::event::{eventfd, EventfdFlags, Timespec};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::time::{
    timerfd_create, timerfd_settime, Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags,
};
use std::io;
use std::time::{Duration, Instant};

/// Keys of the selector's own descriptors (sockets' keys are slab indices).
const WAKE_KEY: u64 = u64::MAX;
const TIMER_KEY: u64 = u64::MAX - 1;

/// Events one wait takes at most (more stay queued for the next wait).
const CAPACITY: usize = 1024;

/// Whether a stream read that comes back short proves the socket drained:
/// events carry `READ_MORE` where it would not.
pub(crate) const SHORT_READS_DRAIN: bool = true;

pub(crate) struct Selector {
    epoll: OwnedFd,
    wake: OwnedFd,
    timer: OwnedFd,
    /// The module header's timerfd cache. Only the thread holding the
    /// driver's turn waits, so this lock is never contended.
    armed: Mutex<Option<Instant>>,
}

/// What one wait reported.
pub(crate) struct Events {
    list: Vec<epoll::Event>,
}

// SAFETY: rustix's event data is a union that may hold a pointer, hence not
// `Send`; ours always holds an integer key (`add` and `Selector::new` register
// nothing else), and moving integers to another thread is sound.
unsafe impl Send for Events {}

impl Events {
    pub(crate) fn new() -> Events {
        Events {
            list: Vec::with_capacity(CAPACITY),
        }
    }

    pub(crate) fn clear(&mut self) {
        self.list.clear();
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// `(key, readiness bits)` of each socket event.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.list.iter().filter_map(|ev| {
            // Copies: the event may be a packed struct.
            let (flags, data) = (ev.flags, ev.data);
            let key = data.u64();
            if key >= TIMER_KEY {
                return None;
            }
            // What can make a read come back short with more to read (see
            // READ_MORE in `mod.rs`): end of stream, an error, the urgent mark.
            let more = EventFlags::RDHUP | EventFlags::HUP | EventFlags::ERR | EventFlags::PRI;
            let mut bits = 0;
            if flags.intersects(EventFlags::IN | more) {
                bits |= READ;
            }
            if flags.intersects(EventFlags::OUT | EventFlags::HUP | EventFlags::ERR) {
                bits |= WRITE;
            }
            if flags.intersects(more) {
                bits |= READ_MORE;
            }
            Some((key as usize, bits))
        })
    }
}

impl Selector {
    pub(crate) fn new() -> io::Result<Selector> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let wake = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        let timer = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::CLOEXEC | TimerfdFlags::NONBLOCK,
        )?;
        let edge_in = EventFlags::IN | EventFlags::ET;
        epoll::add(&epoll, &wake, EventData::new_u64(WAKE_KEY), edge_in)?;
        epoll::add(&epoll, &timer, EventData::new_u64(TIMER_KEY), edge_in)?;
        Ok(Selector {
            epoll,
            wake,
            timer,
            armed: Mutex::new(None),
        })
    }

    /// Registers `fd` under `key` for both directions, edge-triggered.
    ///
    /// # Safety
    ///
    /// `fd` must be [deleted](Self::delete) before it is closed (epoll itself
    /// would cope; the portable selector's contract is kept the same).
    pub(crate) unsafe fn add(&self, fd: BorrowedFd<'_>, key: usize) -> io::Result<()> {
        let flags =
            EventFlags::IN | EventFlags::PRI | EventFlags::OUT | EventFlags::RDHUP | EventFlags::ET;
        epoll::add(&self.epoll, fd, EventData::new_u64(key as u64), flags)?;
        Ok(())
    }

    pub(crate) fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        epoll::delete(&self.epoll, fd)?;
        Ok(())
    }

    /// Waits for events until `deadline` (`None`: until an event or a
    /// `notify`). A signal ends the wait early with no events.
    pub(crate) fn wait(&self, events: &mut Events, deadline: Option<Instant>) -> io::Result<()> {
        let timeout = match deadline {
            None => None,
            Some(deadline) => {
                let now = Instant::now();
                if deadline <= now {
                    Some(Timespec::default())
                } else {
                    self.arm(deadline, deadline - now)?;
                    None
                }
            }
        };
        self.epoll_wait(events, timeout)
    }

    /// Takes the events already there, without blocking.
    pub(crate) fn poll(&self, events: &mut Events) -> io::Result<()> {
        self.epoll_wait(events, Some(Timespec::default()))
    }

    /// Makes the current wait, or the next one to start, return.
    pub(crate) fn notify(&self) -> io::Result<()> {
        let one = 1u64.to_ne_bytes();
        match rustix::io::write(&self.wake, &one) {
            // The counter is full (after 2^64 - 2 notifications): reset it
            // and write again, which is a new edge.
            Err(Errno::AGAIN) => {
                let mut drain = [0; 8];
                let _ = rustix::io::read(&self.wake, &mut drain);
                rustix::io::write(&self.wake, &one)?;
            }
            written => {
                written?;
            }
        }
        Ok(())
    }

    /// Sets the timerfd to fire `left` from now (for `deadline`), unless it
    /// is set for `deadline` already (header).
    fn arm(&self, deadline: Instant, left: Duration) -> io::Result<()> {
        let mut armed = self.armed.lock();
        if *armed == Some(deadline) {
            return Ok(());
        }
        let value = Timespec {
            tv_sec: left.as_secs().try_into().unwrap_or(i64::MAX),
            tv_nsec: left.subsec_nanos().into(),
        };
        let spec = Itimerspec {
            it_interval: Timespec::default(),
            it_value: value,
        };
        timerfd_settime(self.timer.as_fd(), TimerfdTimerFlags::empty(), &spec)?;
        *armed = Some(deadline);
        Ok(())
    }

    fn epoll_wait(&self, events: &mut Events, timeout: Option<Timespec>) -> io::Result<()> {
        events.list.clear();
        match epoll::wait(
            &self.epoll,
            spare_capacity(&mut events.list),
            timeout.as_ref(),
        ) {
            // A signal ended the wait early: no events, as a spurious wake.
            Ok(_) | Err(Errno::INTR) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
