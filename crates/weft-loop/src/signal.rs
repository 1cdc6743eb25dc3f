//! Unix signals as futures and streams: [`ctrl_c`], [`signal`] and
//! [`Signal`] (asyncio's `loop.add_signal_handler`).
//!
//! # Pieces
//!
//! - **The self-pipe**: one non-blocking socket pair per process, made with
//!   the first listener. Signal handlers write to it; the runtimes read it.
//! - **A slot per signal number** (process-wide): `pending`, a flag the
//!   handler sets, and under the slot's lock `version` (the deliveries fanned
//!   out so far) and the wakers of the listeners waiting for the next one.
//!   The handler is registered through signal-hook-registry with the first
//!   listener of that signal and stays for the life of the process, as
//!   tokio's does: from then on the signal's default action (SIGINT and
//!   SIGTERM ending the process) no longer happens, even with no listener.
//! - **A reader per runtime** with listeners: a duplicate of the pipe's read
//!   end registered with that runtime's reactor (a `PollIo`). Its waker is
//!   not a task's: when the reactor sees the pipe readable, the thread
//!   turning the driver calls it, and it drains the pipe, re-arms and fans
//!   the deliveries out (asyncio's self-pipe reader callback). Each
//!   [`Signal`] holds its runtime's reader, the waker only a weak reference,
//!   so the reader is deregistered and closed with the last listener.
//!
//! # Protocol
//!
//! 1. The handler (async-signal-safe: one atomic store, one `write(2)`):
//!    sets `pending`, then writes one byte to the pipe. If the pipe is full
//!    a byte is already waiting, so a failed write loses nothing.
//! 2. A reader, woken by the pipe's edge: reads until the pipe would block,
//!    which stores its waker again (re-armed), *then* swaps every slot's
//!    `pending` to false; where it was set, it bumps `version` and takes the
//!    slot's wakers under the slot's lock, and wakes them after.
//! 3. A listener (`poll_recv`), under its slot's lock: a `version` other than
//!    the one it saw last is a delivery (it records the new one); otherwise
//!    it stores its waker and is pending.
//!
//! # Why no delivery is lost
//!
//! - *Handler to reader.* The handler sets `pending` before it writes; the
//!   reader drains before it swaps. If a swap misses the flag, the flag was
//!   set after the swap, so the handler's byte was written after the drain
//!   had emptied the pipe (the kernel orders writes and reads on the socket):
//!   it is a new edge, and the reader, re-armed before its swap, runs again
//!   and takes the flag. A byte whose flag an earlier swap already took costs
//!   one pass that finds nothing.
//! - *Reader to listener.* `version` and the wakers change together under
//!   the slot's lock: a listener that looked before the bump left its waker
//!   for the bump to wake; one that looks after sees the new version.
//! - *A delivery before anyone awaits.* [`signal`] registers the handler and
//!   arms its runtime's reader *before* it reads `version` as the listener's
//!   starting point, so every delivery after `signal` returns moves `version`
//!   past it: a [`Signal`] that nobody is awaiting still gets the delivery at
//!   its next `recv`. (One already in flight when `signal` was called may
//!   count too: a listener can see one delivery more, never one less.)
//! - *Several runtimes.* Each has its own reader on a duplicate of the one
//!   read end; the slots are process-wide, so whichever reader drains the
//!   bytes fans out to the listeners of every runtime, and the others find
//!   the pipe empty.
//!
//! Deliveries coalesce: several deliveries of one signal between two `recv`s
//! of a listener count once, as with tokio (and as the kernel does for a
//! signal that is already pending).

use crate::driver::Driver;
use crate::loom::sync::Mutex;
use crate::net::PollIo;
use crate::reactor::Direction;
use futures_util::Stream;
use std::collections::HashMap;
use std::fmt;
use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::os::raw::c_int;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, Weak};
use std::task::{Context, Poll, Wake, Waker};

// std's atomics and `OnceLock`, not the loom shim's: the handler touches
// `pending` from a signal handler, outside any model, and the globals are
// process-wide statics (loom types cannot be statics); nothing here is a
// protocol between worker threads that a loom model would explore.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A signal number: which signal a [`Signal`] listens to.
///
/// ```
/// use weft::signal::SignalKind;
///
/// assert_eq!(SignalKind::terminate().as_raw(), 15);
/// assert_eq!(SignalKind::from_raw(10), SignalKind::user_defined1());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignalKind(c_int);

impl SignalKind {
    /// Any signal, by number (`libc::SIGUSR1`, ...). See [`SignalKind`] for
    /// an example.
    ///
    /// ```
    /// use weft::signal::SignalKind;
    ///
    /// assert_eq!(SignalKind::from_raw(libc::SIGUSR2), SignalKind::user_defined2());
    /// ```
    pub const fn from_raw(signum: c_int) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal's number. See [`SignalKind`] for an example.
    ///
    /// ```
    /// use weft::signal::SignalKind;
    ///
    /// assert_eq!(SignalKind::interrupt().as_raw(), libc::SIGINT);
    /// ```
    pub const fn as_raw(self) -> c_int {
        self.0
    }

    /// `SIGINT`: Ctrl-C at a terminal. See [`SignalKind`] for an example.
    ///
    /// ```
    /// use weft::signal::SignalKind;
    ///
    /// assert_eq!(SignalKind::interrupt().as_raw(), libc::SIGINT);
    /// ```
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }

    /// `SIGTERM`: the polite request to stop (what `kill` and service
    /// managers send). See [`SignalKind`] for an example.
    ///
    /// ```
    /// use weft::signal::SignalKind;
    ///
    /// assert_eq!(SignalKind::terminate().as_raw(), libc::SIGTERM);
    /// ```
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }

    /// `SIGHUP`: the terminal went away; daemons take it as "reload". See
    /// [`SignalKind`] for an example.
    ///
    /// ```
    /// use weft::signal::SignalKind;
    ///
    /// assert_eq!(SignalKind::hangup().as_raw(), libc::SIGHUP);
    /// ```
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }

    /// `SIGQUIT`: Ctrl-\ at a terminal. See [`SignalKind`] for an example.
    ///
    /// ```
    /// use weft::signal::SignalKind;
    ///
    /// assert_eq!(SignalKind::quit().as_raw(), libc::SIGQUIT);
    /// ```
    pub const fn quit() -> SignalKind {
        SignalKind(libc::SIGQUIT)
    }

    /// `SIGUSR1`. See [`SignalKind`] for an example.
    ///
    /// ```
    /// use weft::signal::SignalKind;
    ///
    /// assert_eq!(SignalKind::user_defined1().as_raw(), libc::SIGUSR1);
    /// ```
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }

    /// `SIGUSR2`. See [`SignalKind`] for an example.
    ///
    /// ```
    /// use weft::signal::SignalKind;
    ///
    /// assert_eq!(SignalKind::user_defined2().as_raw(), libc::SIGUSR2);
    /// ```
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }

    /// `SIGALRM`. See [`SignalKind`] for an example.
    ///
    /// ```
    /// use weft::signal::SignalKind;
    ///
    /// assert_eq!(SignalKind::alarm().as_raw(), libc::SIGALRM);
    /// ```
    pub const fn alarm() -> SignalKind {
        SignalKind(libc::SIGALRM)
    }

    /// `SIGCHLD`: a child process stopped or ended. See [`SignalKind`] for
    /// an example.
    ///
    /// ```
    /// use weft::signal::SignalKind;
    ///
    /// assert_eq!(SignalKind::child().as_raw(), libc::SIGCHLD);
    /// ```
    pub const fn child() -> SignalKind {
        SignalKind(libc::SIGCHLD)
    }

    /// `SIGPIPE`. See [`SignalKind`] for an example.
    ///
    /// ```
    /// use weft::signal::SignalKind;
    ///
    /// assert_eq!(SignalKind::pipe().as_raw(), libc::SIGPIPE);
    /// ```
    pub const fn pipe() -> SignalKind {
        SignalKind(libc::SIGPIPE)
    }

    /// `SIGWINCH`: the terminal's size changed. See [`SignalKind`] for an
    /// example.
    ///
    /// ```
    /// use weft::signal::SignalKind;
    ///
    /// assert_eq!(SignalKind::window_change().as_raw(), libc::SIGWINCH);
    /// ```
    pub const fn window_change() -> SignalKind {
        SignalKind(libc::SIGWINCH)
    }
}

/// Waits for the next `SIGINT` (Ctrl-C) after it is first polled. Fails
/// outside a weft runtime, or once the runtime shut down while it waited.
///
/// Listening replaces `SIGINT`'s default action (ending the process) for
/// the rest of the process's life, as in tokio: a program that awaits
/// `ctrl_c` once should stop by itself once it returns.
///
/// ```
/// use futures_util::future::join;
///
/// weft::run(async {
///     let server = weft::spawn(std::future::pending::<()>());
///     // `join` polls `ctrl_c` first, so it listens before the Ctrl-C below
///     // (which a user would type).
///     let (stopped, ()) = join(weft::signal::ctrl_c(), async {
///         // SAFETY: kill(2) with our own pid; `ctrl_c` listens already.
///         unsafe { libc::kill(libc::getpid(), libc::SIGINT) };
///     })
///     .await;
///     stopped.unwrap();
///     server.cancel();
/// });
/// ```
pub async fn ctrl_c() -> io::Result<()> {
    let mut interrupts = signal(SignalKind::interrupt())?;
    interrupts
        .recv()
        .await
        .ok_or_else(|| io::Error::other("the weft runtime is shut down"))
}

/// Listens to `kind` on the current runtime: the returned [`Signal`] sees
/// every delivery from now on (see its docs). Each listener of a signal sees
/// each delivery.
///
/// Fails outside a weft runtime (`Other`), for the signals that cannot be
/// handled (`SIGKILL`, `SIGSTOP`, and `SIGSEGV`, `SIGILL`, `SIGFPE`, which
/// signal-hook-registry refuses: `InvalidInput`), and for a number that is
/// no signal (the OS's `InvalidInput`).
///
/// The first listener of a signal replaces its default action for the rest
/// of the process's life (see the module's docs).
///
/// ```
/// use weft::signal::{signal, SignalKind};
///
/// weft::run(async {
///     let mut hangups = signal(SignalKind::hangup()).unwrap();
///     // Someone sends SIGHUP (here: ourselves).
///     // SAFETY: kill(2) with our own pid; a handler is registered.
///     unsafe { libc::kill(libc::getpid(), libc::SIGHUP) };
///     assert_eq!(hangups.recv().await, Some(()));
///
///     let err = signal(SignalKind::from_raw(9)).unwrap_err();
///     assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// });
/// assert!(signal(SignalKind::hangup()).is_err()); // outside a runtime
/// ```
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    let driver = crate::context::current_driver()?;
    let signum = kind.0;
    if signal_hook_registry::FORBIDDEN.contains(&signum) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("signal {signum} cannot be handled"),
        ));
    }
    let globals = globals()?;
    let slot = globals.slot(signum)?;
    let reader = globals.reader_for(&driver)?;
    // Only now, with the handler registered and the reader armed (header,
    // "a delivery before anyone awaits").
    let seen = slot.state.lock().version;
    Ok(Signal {
        kind,
        slot,
        reader,
        // Relaxed: a unique number, nothing published with it.
        id: NEXT_LISTENER.fetch_add(1, Ordering::Relaxed),
        seen,
    })
}

/// Listener ids, unique in the process (a waiter's key in its slot).
static NEXT_LISTENER: AtomicU64 = AtomicU64::new(0);

/// The deliveries of one signal to one listener, from [`signal`]: a stream
/// (`recv().await`, or futures' `Stream`) that yields `()` per delivery.
/// Deliveries while nobody awaits are kept (several coalesce into one) and
/// returned by the next `recv`. Several listeners of one signal each see
/// each delivery, on any runtime.
///
/// Dropping it stops listening; the last listener on a runtime closes that
/// runtime's reader. The process's handler stays (see the module's docs).
///
/// ```
/// use weft::signal::{signal, SignalKind};
///
/// weft::run(async {
///     let mut first = signal(SignalKind::user_defined2()).unwrap();
///     let mut second = signal(SignalKind::user_defined2()).unwrap();
///     // SAFETY: kill(2) with our own pid; a handler is registered.
///     unsafe { libc::kill(libc::getpid(), libc::SIGUSR2) };
///     assert_eq!(first.recv().await, Some(()));
///     assert_eq!(second.recv().await, Some(()));
/// });
/// ```
pub struct Signal {
    kind: SignalKind,
    slot: Arc<Slot>,
    reader: Arc<Reader>,
    id: u64,
    seen: u64,
}

impl Signal {
    /// Waits for the next delivery (or returns the one that came since the
    /// last call). `None` once the runtime has shut down, after which no
    /// delivery can come. Cancel-safe. See [`Signal`] for an example.
    ///
    /// ```
    /// use weft::signal::{signal, SignalKind};
    ///
    /// weft::run(async {
    ///     let mut usr2 = signal(SignalKind::user_defined2()).unwrap();
    ///     // SAFETY: kill(2) with our own pid; a handler is registered.
    ///     unsafe { libc::kill(libc::getpid(), libc::SIGUSR2) };
    ///     assert_eq!(usr2.recv().await, Some(()));
    /// });
    /// ```
    pub async fn recv(&mut self) -> Option<()> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls [`recv`](Self::recv); only the latest waker is kept.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use weft::signal::{signal, SignalKind};
    ///
    /// weft::run(async {
    ///     let mut winch = signal(SignalKind::window_change()).unwrap();
    ///     // SAFETY: kill(2) with our own pid; a handler is registered.
    ///     unsafe { libc::kill(libc::getpid(), libc::SIGWINCH) };
    ///     assert_eq!(poll_fn(|cx| winch.poll_recv(cx)).await, Some(()));
    /// });
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        let mut state = self.slot.state.lock();
        if state.version != self.seen {
            self.seen = state.version;
            state.waiters.retain(|(id, _)| *id != self.id);
            return Poll::Ready(Some(()));
        }
        if self.reader.driver.is_closed() {
            return Poll::Ready(None);
        }
        match state.waiters.iter_mut().find(|(id, _)| *id == self.id) {
            Some((_, w)) if w.will_wake(cx.waker()) => {}
            Some((_, w)) => *w = cx.waker().clone(),
            None => state.waiters.push((self.id, cx.waker().clone())),
        }
        Poll::Pending
    }

    /// The signal this listens to.
    ///
    /// ```
    /// use weft::signal::{signal, SignalKind};
    ///
    /// weft::run(async {
    ///     let s = signal(SignalKind::user_defined1()).unwrap();
    ///     assert_eq!(s.kind(), SignalKind::user_defined1());
    /// });
    /// ```
    pub fn kind(&self) -> SignalKind {
        self.kind
    }
}

impl Stream for Signal {
    type Item = ();

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        self.get_mut().poll_recv(cx)
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        let mut state = self.slot.state.lock();
        state.waiters.retain(|(id, _)| *id != self.id);
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal").field("kind", &self.kind).finish()
    }
}

/// What the process shares: the self-pipe, the slots, the readers.
struct Globals {
    /// The handlers' end (non-blocking).
    write: UnixStream,
    /// Each reader registers a duplicate of this end (non-blocking).
    read: UnixStream,
    slots: Mutex<HashMap<c_int, Arc<Slot>>>,
    /// One per runtime with listeners; dead ones are pruned on the next
    /// lookup.
    readers: Mutex<Vec<Weak<Reader>>>,
}

static GLOBALS: OnceLock<Globals> = OnceLock::new();

/// The process's globals, made on first use.
fn globals() -> io::Result<&'static Globals> {
    if let Some(g) = GLOBALS.get() {
        return Ok(g);
    }
    let (write, read) = UnixStream::pair()?;
    write.set_nonblocking(true)?;
    read.set_nonblocking(true)?;
    // A thread that lost the race drops its pair here: nothing used it yet.
    let _ = GLOBALS.set(Globals {
        write,
        read,
        slots: Mutex::new(HashMap::new()),
        readers: Mutex::new(Vec::new()),
    });
    Ok(GLOBALS.get().expect("set just above"))
}

impl Globals {
    /// `signum`'s slot; the first call registers its handler.
    fn slot(&'static self, signum: c_int) -> io::Result<Arc<Slot>> {
        let mut slots = self.slots.lock();
        if let Some(slot) = slots.get(&signum) {
            return Ok(slot.clone());
        }
        let slot = Arc::new(Slot {
            pending: AtomicBool::new(false),
            state: Mutex::new(SlotState {
                version: 0,
                waiters: Vec::new(),
            }),
        });
        let (flag, pipe) = (slot.clone(), &self.write);
        let action = move || {
            // SeqCst: ordered before the write below, and with the swap in
            // `fan_out` (header, "handler to reader").
            flag.pending.store(true, Ordering::SeqCst);
            let mut pipe = pipe;
            let _ = pipe.write(&[1]);
        };
        // `register` runs `action` inside a signal handler, so it must be
        // async-signal-safe: it stores to an atomic and makes one `write(2)`
        // on a non-blocking socket (std's `write` on a `UnixStream` is that
        // call, no allocation, no lock), it ignores the result, so it cannot
        // panic, and signal-hook-registry saves and restores `errno` around it.
        // SAFETY: `action` is async-signal-safe (above); `signum` is not in
        // `FORBIDDEN` (checked by `signal`), so `register` does not panic.
        unsafe { signal_hook_registry::register(signum, action) }?;
        slots.insert(signum, slot.clone());
        Ok(slot)
    }

    /// The current runtime's reader, made and armed if it has none.
    fn reader_for(&'static self, driver: &Arc<Driver>) -> io::Result<Arc<Reader>> {
        let mut readers = self.readers.lock();
        readers.retain(|r| r.strong_count() > 0);
        let existing = readers
            .iter()
            .filter_map(Weak::upgrade)
            .find(|r| Arc::ptr_eq(&r.driver, driver));
        if let Some(reader) = existing {
            return Ok(reader);
        }
        let reader = Arc::new(Reader {
            io: PollIo::new(self.read.try_clone()?)?,
            driver: driver.clone(),
            globals: self,
        });
        readers.push(Arc::downgrade(&reader));
        drop(readers);
        reader.turn();
        Ok(reader)
    }

    /// Protocol step 2, after the drain: the deliveries since the last pass
    /// to their listeners; with `everyone`, wakes every listener regardless
    /// (a runtime closed: its listeners return `None`, the others wait on).
    fn fan_out(&self, everyone: bool) {
        let slots: Vec<Arc<Slot>> = self.slots.lock().values().cloned().collect();
        let mut woken = Vec::new();
        for slot in slots {
            // SeqCst: with the handler's store (header, "handler to reader").
            let delivered = slot.pending.swap(false, Ordering::SeqCst);
            if delivered || everyone {
                let mut state = slot.state.lock();
                if delivered {
                    state.version = state.version.wrapping_add(1);
                }
                woken.extend(state.waiters.drain(..).map(|(_, w)| w));
            }
        }
        crate::reactor::wake_all(woken);
    }
}

/// One signal number's state (see the header).
struct Slot {
    /// Set by the handler, taken by a reader's swap.
    pending: AtomicBool,
    state: Mutex<SlotState>,
}

struct SlotState {
    /// Deliveries fanned out so far (a listener's starting point and
    /// progress).
    version: u64,
    /// Listeners waiting for the next delivery, by id.
    waiters: Vec<(u64, Waker)>,
}

/// A runtime's end of the self-pipe (see the header).
struct Reader {
    io: PollIo<UnixStream>,
    driver: Arc<Driver>,
    globals: &'static Globals,
}

impl Reader {
    /// Drains the pipe, re-arms, fans out (protocol step 2). Runs on the
    /// thread that made the reader, then on the thread turning the driver.
    fn turn(self: &Arc<Self>) {
        let waker = Waker::from(Arc::new(ReaderWaker(Arc::downgrade(self))));
        let mut cx = Context::from_waker(&waker);
        // `drain` ends only in an error: `WouldBlock` (the pipe is empty)
        // makes `poll_io` store the waker and return `Pending`; any other
        // (the runtime shut down) ends this reader's service.
        let polled = self.io.poll_io_unbudgeted(Direction::Read, &mut cx, drain);
        self.globals.fan_out(polled.is_ready());
    }
}

/// Reads `pipe` until it fails: `WouldBlock` once empty.
fn drain(mut pipe: &UnixStream) -> io::Result<()> {
    let mut buf = [0; 64];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// The reader's waker: runs a turn on the waking thread. Weak, so a waker
/// left in the reactor does not keep the reader (and its fd) alive.
struct ReaderWaker(Weak<Reader>);

impl Wake for ReaderWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(reader) = self.0.upgrade() {
            reader.turn();
        }
    }
}
