//! The I/O reactor: one selector per runtime and the readiness of every
//! registered socket.
//!
//! # Selectors
//!
//! [`sys`] is the OS's event queue behind one small interface (`add`,
//! `delete`, `wait`, `poll`, `notify`): on Linux `epoll.rs`, which talks to
//! epoll directly (its header says why), elsewhere `portable.rs` on the
//! `polling` crate. `--cfg weft_polling` builds the portable one on Linux
//! too, so CI runs the socket tests against both.
//!
//! # Registration
//!
//! A socket is added to the selector once, for both directions, in
//! **edge-triggered** mode: the OS reports a change (data arrived, buffer
//! space freed, peer hung up) once, and we remember it until an I/O call
//! proves it stale. Unlike level mode this cannot spin on a hang-up nobody
//! reads (polling's issue with level-triggered `HUP`), and unlike oneshot mode
//! it needs no re-arming syscall per wait. Its key is an index into `sources`;
//! dropping the socket deletes it from the selector (before the fd closes) and
//! frees the index.
//!
//! # Readiness protocol
//!
//! Each [`Source`] keeps `readiness`: READ, WRITE and READ_MORE bits and,
//! above them, a tick that counts the events delivered. READ_MORE (Linux
//! only) marks the cases where a read can come back short with more still to
//! read: the peer shut down (the end of stream is still to be read), the
//! socket failed (so is the error), or urgent data is pending (a read stops
//! at its mark). It outlives READ and is dropped only by a read that would
//! block, which proves it stale. Per direction:
//!
//! 1. An I/O attempt first reads the bits (`poll_ready`; READ_MORE counts as
//!    read-ready). Set: try the call. Clear: store the waker under the
//!    source's lock, then read the bits again (an event may have landed in
//!    between) and return `Pending` only if they are still clear.
//! 2. The call fails with `WouldBlock`: clear the direction's bits *only if
//!    the tick is the one the attempt started from* (`clear_ready`). A newer
//!    event has a newer tick, so an edge that arrived during the call is
//!    never erased. Where the selector reports READ_MORE, a stream read that
//!    fills less than its buffer clears READ the same way: without READ_MORE
//!    it took everything the kernel had, so more data is a new edge; and a
//!    FIN that came with the data left READ_MORE set. This saves the `recv`
//!    that would only fail.
//! 3. The reactor, on an event: sets the bits and bumps the tick in one RMW,
//!    *then* takes the lock and wakes the stored wakers.
//!
//! # Why no wake-up is lost
//!
//! The waiter stores its waker and re-reads under the lock; the reactor
//! updates readiness before it takes the lock. If the reactor's lock comes
//! after the waiter's, it finds the waker; if before, its readiness update
//! happened before the waiter's re-read, which then sees the bit. And step 2's
//! tick check means an edge that arrives while a call is failing (or coming
//! back short) is kept.

use crate::loom::sync::{AtomicUsize, Mutex, Ordering};
use crossbeam_utils::CachePadded;
use std::io;
use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

#[cfg(all(any(target_os = "linux", target_os = "android"), not(weft_polling)))]
#[path = "epoll.rs"]
pub(crate) mod sys;
#[cfg(not(all(any(target_os = "linux", target_os = "android"), not(weft_polling))))]
#[path = "portable.rs"]
pub(crate) mod sys;

const READ: usize = 1;
const WRITE: usize = 2;
const READ_MORE: usize = 4;
const TICK_SHIFT: u32 = 3;
const BITS: usize = READ | WRITE | READ_MORE;

/// One direction of a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read = 0,
    Write = 1,
}

impl Direction {
    /// The bit a call that drained the socket clears.
    pub(crate) fn bit(self) -> usize {
        match self {
            Direction::Read => READ,
            Direction::Write => WRITE,
        }
    }

    /// The bits that let a call be tried, and that one failing with
    /// `WouldBlock` clears.
    pub(crate) fn ready_mask(self) -> usize {
        match self {
            Direction::Read => READ | READ_MORE,
            Direction::Write => WRITE,
        }
    }
}

/// The readiness and wakers of one registered socket, alone on their cache
/// line(s) (`CachePadded`: 128 bytes on x86-64, as tokio pads its
/// `ScheduledIo`). The thread turning the driver writes `readiness` and takes
/// `wakers` for every event; the worker polling the socket reads the one and,
/// when it must wait, takes the other. Without the padding a source shared its
/// line with whatever the allocator put beside it, typically the source of
/// the connection registered just before or after, polled by another worker:
/// each side's writes then evicted the other's line for nothing.
pub(crate) struct Source(CachePadded<SourceState>);

/// What [`Source`] pads.
pub(crate) struct SourceState {
    readiness: AtomicUsize,
    wakers: Mutex<[Option<Waker>; 2]>,
    key: usize,
}

impl Source {
    fn new(key: usize) -> Source {
        Source(CachePadded::new(SourceState {
            readiness: AtomicUsize::new(0),
            wakers: Mutex::new([None, None]),
            key,
        }))
    }

    /// Ready: the tick to pass to `clear_ready`. Pending: the waker is stored.
    pub(crate) fn poll_ready(&self, dir: Direction, cx: &mut Context<'_>) -> Poll<usize> {
        // Acquire: pairs with the AcqRel update in `set_ready`.
        let r = self.0.readiness.load(Ordering::Acquire);
        if r & dir.ready_mask() != 0 {
            return Poll::Ready(r >> TICK_SHIFT);
        }
        let mut wakers = self.0.wakers.lock();
        match &mut wakers[dir as usize] {
            Some(w) if w.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        // Re-read under the lock (header, step 1).
        let r = self.0.readiness.load(Ordering::Acquire);
        if r & dir.ready_mask() != 0 {
            return Poll::Ready(r >> TICK_SHIFT);
        }
        Poll::Pending
    }

    /// An I/O call started at `tick` would block (or drained the socket):
    /// forget `bits` unless a newer event arrived meanwhile.
    pub(crate) fn clear_ready(&self, bits: usize, tick: usize) {
        // AcqRel / Acquire: ordered with `set_ready`'s update, whose tick it
        // compares against.
        let _ = self
            .0
            .readiness
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |r| {
                (r >> TICK_SHIFT == tick).then_some(r & !bits)
            });
    }

    /// An event arrived: record it and wake the waiters of `bits`.
    fn set_ready(&self, bits: usize) {
        // AcqRel: pairs with the Acquire loads in `poll_ready`.
        let _ = self
            .0
            .readiness
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |r| {
                let tick = (r >> TICK_SHIFT).wrapping_add(1);
                Some((tick << TICK_SHIFT) | (r & BITS) | bits)
            });
        let mut wakers = self.0.wakers.lock();
        let woken = [Direction::Read, Direction::Write].map(|dir| {
            (bits & dir.ready_mask() != 0)
                .then(|| wakers[dir as usize].take())
                .flatten()
        });
        drop(wakers);
        wake_all(woken.into_iter().flatten());
    }
}

/// Wakes the wakers the driver found (sockets', or timers'), through the
/// panic runner: a waker that panics is reported, and the thread turning the
/// driver goes on to wake the rest.
pub(crate) fn wake_all(wakers: impl IntoIterator<Item = Waker>) {
    weft_task::wake_all("a waker woken by the driver", wakers);
}

/// Registered sources by key, with a free list.
struct Sources {
    slots: Vec<Option<Arc<Source>>>,
    free: Vec<usize>,
}

pub(crate) struct Reactor {
    pub(crate) selector: sys::Selector,
    sources: Mutex<Sources>,
    /// Registered sources. Changed only under the `sources` lock (so exact
    /// there); read without it as a hint whether polling the OS is worth a
    /// syscall, and by metrics.
    registered: AtomicUsize,
}

impl Reactor {
    pub(crate) fn new() -> io::Result<Reactor> {
        Ok(Reactor {
            selector: sys::Selector::new()?,
            sources: Mutex::new(Sources {
                slots: Vec::new(),
                free: Vec::new(),
            }),
            registered: AtomicUsize::new(0),
        })
    }

    /// Adds `fd` to the selector for both directions, edge-triggered.
    pub(crate) fn register(&self, fd: BorrowedFd<'_>) -> io::Result<Arc<Source>> {
        let mut sources = self.sources.lock();
        let key = sources.free.pop().unwrap_or(sources.slots.len());
        let source = Arc::new(Source::new(key));
        // SAFETY: the caller's socket deregisters itself (`deregister`, from
        // its Drop) before its fd is closed.
        let added = unsafe { self.selector.add(fd, key) };
        if let Err(e) = added {
            if key < sources.slots.len() {
                sources.free.push(key);
            }
            return Err(e);
        }
        if key == sources.slots.len() {
            sources.slots.push(Some(source.clone()));
        } else {
            sources.slots[key] = Some(source.clone());
        }
        self.registered.fetch_add(1, Ordering::Relaxed);
        Ok(source)
    }

    /// Removes `fd` from the selector; call before the fd is closed.
    pub(crate) fn deregister(&self, source: &Source, fd: BorrowedFd<'_>) {
        // The fd may already be gone from epoll if it was dup'ed and closed
        // elsewhere; nothing useful to do with that error.
        let _ = self.selector.delete(fd);
        let mut sources = self.sources.lock();
        if sources.slots[source.0.key].take().is_some() {
            sources.free.push(source.0.key);
            self.registered.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Wakes every socket's waiters (runtime shutdown: their next I/O call
    /// sees the driver closed).
    pub(crate) fn wake_all(&self) {
        let mut wakers = Vec::new();
        {
            let sources = self.sources.lock();
            for source in sources.slots.iter().flatten() {
                wakers.extend(source.0.wakers.lock().iter_mut().filter_map(Option::take));
            }
        }
        wake_all(wakers);
    }

    /// Registered sockets.
    pub(crate) fn len(&self) -> usize {
        self.registered.load(Ordering::Relaxed)
    }

    /// Whether any socket is registered (a hint: see `registered`).
    pub(crate) fn has_sources(&self) -> bool {
        self.registered.load(Ordering::Relaxed) > 0
    }

    /// Delivers the events of one wait. Sources are looked up under the lock,
    /// and woken outside it (a waker may drop a socket).
    pub(crate) fn dispatch(
        &self,
        events: &sys::Events,
        scratch: &mut Vec<(Arc<Source>, usize)>,
    ) -> usize {
        if events.is_empty() {
            return 0;
        }
        {
            let sources = self.sources.lock();
            for (key, bits) in events.iter() {
                if bits == 0 {
                    continue;
                }
                // A stale key (socket dropped after the event was queued) may
                // name a newer socket: a spurious readiness, which its next
                // I/O call corrects (for READ_MORE, the first read that
                // would block).
                if let Some(Some(source)) = sources.slots.get(key) {
                    scratch.push((source.clone(), bits));
                }
            }
        }
        let ready = scratch.len();
        for (source, bits) in scratch.drain(..) {
            source.set_ready(bits);
        }
        ready
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn poll_ready(source: &Source, dir: Direction) -> Poll<usize> {
        let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
        source.poll_ready(dir, &mut cx)
    }

    /// The tick a read attempt starts from; the source must be read-ready.
    fn read_tick(source: &Source) -> usize {
        match poll_ready(source, Direction::Read) {
            Poll::Ready(tick) => tick,
            Poll::Pending => panic!("the source is not read-ready"),
        }
    }

    /// A read that drained the socket forgets READ but not READ_MORE; one
    /// that would block forgets both (a stale READ_MORE must not make reads
    /// spin).
    #[test]
    fn a_drained_read_keeps_read_more_and_a_blocked_one_drops_it() {
        let s = Source::new(0);
        s.set_ready(READ | READ_MORE);
        let tick = read_tick(&s);
        s.clear_ready(Direction::Read.bit(), tick);
        assert!(
            poll_ready(&s, Direction::Read).is_ready(),
            "end of stream still to read"
        );
        s.clear_ready(Direction::Read.ready_mask(), tick);
        assert!(poll_ready(&s, Direction::Read).is_pending());
    }

    /// An event that lands while a call is failing has a newer tick, so the
    /// call's clear does not erase it; the other direction is untouched.
    #[test]
    fn a_clear_from_an_older_tick_keeps_a_newer_event() {
        let s = Source::new(0);
        s.set_ready(READ | WRITE);
        let tick = read_tick(&s);
        s.set_ready(READ);
        s.clear_ready(Direction::Read.ready_mask(), tick);
        let tick = read_tick(&s);
        s.clear_ready(Direction::Read.ready_mask(), tick);
        assert!(poll_ready(&s, Direction::Read).is_pending());
        assert!(poll_ready(&s, Direction::Write).is_ready());
    }

    /// How long a wait that should end by itself may take before a helper
    /// thread ends it with a notify (so a lost wake-up fails the test by the
    /// elapsed time instead of hanging it).
    const RESCUE: Duration = Duration::from_secs(5);

    /// Runs `waits` (some selector waits) under the rescue; the time taken.
    fn rescued(selector: &Arc<sys::Selector>, waits: impl FnOnce()) -> Duration {
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (selector, flag) = (selector.clone(), done.clone());
        std::thread::spawn(move || {
            std::thread::sleep(RESCUE);
            if !flag.load(std::sync::atomic::Ordering::SeqCst) {
                let _ = selector.notify();
            }
        });
        let start = Instant::now();
        waits();
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        start.elapsed()
    }

    /// Waits until `deadline` the way the driver does (a wait may end early
    /// spuriously, then the driver waits again); the number of waits it took.
    fn wait_out(selector: &sys::Selector, events: &mut sys::Events, deadline: Instant) -> u32 {
        let mut waits = 0;
        while Instant::now() < deadline && waits < 1000 {
            selector.wait(events, Some(deadline)).unwrap();
            waits += 1;
        }
        waits
    }

    /// A notify made before the wait starts ends it at once.
    #[test]
    fn a_notify_before_the_wait_ends_it() {
        let selector = Arc::new(sys::Selector::new().unwrap());
        let mut events = sys::Events::new();
        selector.notify().unwrap();
        let took = rescued(&selector, || selector.wait(&mut events, None).unwrap());
        assert!(took < RESCUE, "the notify did not end the wait");
        assert!(
            events.iter().next().is_none(),
            "a notify is no socket event"
        );
    }

    /// A timed wait ends at its deadline in one wait (a selector that
    /// returned early, or spun, would take many), including a second wait for
    /// the same deadline after the first was cut short (where the Linux
    /// selector does not set its timerfd again), one for a deadline already
    /// past, and one for a new deadline after the timer fired; then a wait
    /// with no deadline ends only at a notify.
    #[test]
    fn timed_waits_end_at_their_deadline_in_one_wait() {
        let selector = Arc::new(sys::Selector::new().unwrap());
        let mut events = sys::Events::new();

        let deadline = Instant::now() + Duration::from_millis(300);
        selector.notify().unwrap();
        selector.wait(&mut events, Some(deadline)).unwrap();
        assert!(Instant::now() < deadline, "the notify ended the first wait");

        let mut waits = 0;
        let took = rescued(&selector, || {
            waits = wait_out(&selector, &mut events, deadline)
        });
        assert!(took < RESCUE, "the timer did not end the second wait");
        assert!(waits <= 2, "{waits} waits for one deadline");

        let took = rescued(&selector, || {
            selector.wait(&mut events, Some(deadline)).unwrap()
        });
        assert!(took < RESCUE, "a past deadline blocked");

        let deadline = Instant::now() + Duration::from_millis(20);
        let took = rescued(&selector, || {
            waits = wait_out(&selector, &mut events, deadline)
        });
        assert!(took < RESCUE, "the timer set again did not end the wait");
        assert!(waits <= 2, "{waits} waits for one deadline");

        // Neither the fired timer nor the earlier notify wakes a wait with no
        // deadline again (as they would if their descriptors, never read,
        // were registered level-triggered): it ends only at the next notify.
        let notify_at = Instant::now() + Duration::from_millis(50);
        let notifier = selector.clone();
        std::thread::spawn(move || {
            std::thread::sleep(notify_at.saturating_duration_since(Instant::now()));
            notifier.notify().unwrap();
        });
        let mut waits = 0;
        let took = rescued(&selector, || {
            while Instant::now() < notify_at && waits < 1000 {
                selector.wait(&mut events, None).unwrap();
                waits += 1;
            }
        });
        assert!(took < RESCUE, "the notify did not end the wait");
        assert!(waits <= 2, "{waits} waits for one notify");
    }
}
