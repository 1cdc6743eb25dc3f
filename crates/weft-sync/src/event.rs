//! `Event` (asyncio's), on the wait list in notify style: waiters queue for
//! one notification each, `set` notifies every waiter queued at that moment.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::loom::const_fn_unless_loom;
use crate::loom::sync::{AtomicBool, Ordering};
use crate::waitlist::{WaitList, Waiter};
use weft_task::awaiting::{Described, DescribedWait};

/// What a task dump shows a task waiting for the event to be set.
static EVENT_WAIT: Described = Described::of_kind("event");

/// asyncio's `Event`: a flag tasks (and threads) can wait for.
///
/// [`set`](Self::set) raises the flag and wakes every current waiter;
/// [`clear`](Self::clear) lowers it; [`wait`](Self::wait) returns at once
/// while it is raised, else waits for the next `set`. As in asyncio, a
/// waiter woken by `set` returns even if `clear` ran before it resumed.
///
/// ```
/// use std::sync::Arc;
/// use weft::sync::Event;
///
/// weft::run(async {
///     let shutdown = Arc::new(Event::new());
///     let s = shutdown.clone();
///     let worker = weft::spawn(async move {
///         s.wait().await;
///         "stopped"
///     });
///     weft::yield_now().await;
///     shutdown.set();
///     assert_eq!(worker.await.unwrap(), "stopped");
/// });
/// ```
pub struct Event {
    /// The flag. Written under the list's lock (so a waiter deciding to queue
    /// and a `set` are ordered), read without it on the fast path.
    flag: AtomicBool,
    list: WaitList,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("is_set", &self.is_set())
            .field("waiters", &self.list.has_waiters())
            .finish()
    }
}

impl Default for Event {
    fn default() -> Self {
        Event::new()
    }
}

impl Event {
    const_fn_unless_loom! {
        /// A cleared event. A `const fn`: usable in a `static`.
        ///
        /// ```
        /// assert!(!weft::sync::Event::new().is_set());
        /// ```
        pub fn new() -> Self {
            Event {
                flag: AtomicBool::new(false),
                list: WaitList::new(0, ()),
            }
        }
    }

    /// Whether the flag is raised.
    ///
    /// ```
    /// let ev = weft::sync::Event::new();
    /// ev.set();
    /// assert!(ev.is_set());
    /// ```
    pub fn is_set(&self) -> bool {
        // Acquire: pairs with the Release store in `set`, so a caller that
        // sees the flag sees what the setter did before setting it.
        self.flag.load(Ordering::Acquire)
    }

    /// Raises the flag and wakes every task and thread waiting now.
    ///
    /// ```
    /// let ev = weft::sync::Event::new();
    /// ev.set();
    /// ev.set(); // idempotent
    /// assert!(ev.is_set());
    /// ```
    pub fn set(&self) {
        if self.is_set() {
            return;
        }
        let mut locked = self.list.lock();
        // Release: pairs with the Acquire loads in `is_set` and `wait`'s
        // fast path. Under the lock: a waiter that checked the flag under
        // the lock and queued is notified below.
        self.flag.store(true, Ordering::Release);
        locked.notify_all();
    }

    /// Lowers the flag: later `wait`s wait for the next `set`.
    ///
    /// ```
    /// let ev = weft::sync::Event::new();
    /// ev.set();
    /// ev.clear();
    /// assert!(!ev.is_set());
    /// ```
    pub fn clear(&self) {
        // Relaxed: clearing publishes nothing; a waiter already notified
        // returns anyway, and a later one re-checks under the lock.
        self.flag.store(false, Ordering::Relaxed);
    }

    /// Waits until the flag is raised (at once if it is). Dropping the
    /// future leaves the queue.
    ///
    /// ```
    /// weft::run(async {
    ///     let ev = weft::sync::Event::new();
    ///     ev.set();
    ///     ev.wait().await; // already set: returns at once
    /// });
    /// ```
    pub fn wait(&self) -> EventWait<'_> {
        EventWait {
            event: self,
            waiter: Waiter::new(1),
            done: false,
            described: DescribedWait::new(),
        }
    }

    /// Blocks the calling thread (not a task) until the flag is raised.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let ev = Arc::new(weft::sync::Event::new());
    /// let e = ev.clone();
    /// let t = std::thread::spawn(move || e.wait_blocking());
    /// ev.set();
    /// t.join().unwrap();
    /// ```
    pub fn wait_blocking(&self) {
        self.wait_until_blocking(None);
    }

    /// [`wait_blocking`](Self::wait_blocking) for at most `timeout`: true if
    /// the flag was raised (or a `set` woke it), false on timeout.
    ///
    /// ```
    /// use std::time::Duration;
    /// let ev = weft::sync::Event::new();
    /// assert!(!ev.wait_timeout_blocking(Duration::from_millis(5)));
    /// ev.set();
    /// assert!(ev.wait_timeout_blocking(Duration::from_millis(5)));
    /// ```
    pub fn wait_timeout_blocking(&self, timeout: Duration) -> bool {
        self.wait_until_blocking(Instant::now().checked_add(timeout))
    }

    fn wait_until_blocking(&self, deadline: Option<Instant>) -> bool {
        if self.is_set() {
            return true;
        }
        let mut w = Waiter::new(1);
        let mut locked = self.list.lock();
        // Acquire: pairs with `set`'s Release (also ordered by the lock).
        if self.flag.load(Ordering::Acquire) {
            return true;
        }
        locked.enqueue(&mut w, None);
        match locked.wait_thread(&mut w, deadline) {
            Ok(()) => true,
            Err(_) => {
                // Timed out, still queued: leave (nothing to hand on).
                locked.leave(&mut w);
                false
            }
        }
    }
}

/// The future of [`Event::wait`].
///
/// ```
/// weft::run(async {
///     let ev = weft::sync::Event::new();
///     let fut: weft::sync::EventWait<'_> = ev.wait();
///     ev.set();
///     fut.await;
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct EventWait<'a> {
    event: &'a Event,
    waiter: Waiter,
    done: bool,
    /// What a task dump shows the task awaiting while it is queued.
    described: DescribedWait,
}

impl fmt::Debug for EventWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventWait")
            .field("queued", &self.waiter.is_queued())
            .finish()
    }
}

impl Future for EventWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let r = this.poll_wait(cx);
        if r.is_ready() {
            this.described.ready();
        } else if this.waiter.is_queued() {
            this.described.pending_static(&EVENT_WAIT);
        }
        r
    }
}

impl EventWait<'_> {
    fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<<Self as Future>::Output> {
        let this = self;
        if this.done {
            return Poll::Pending;
        }
        let event = this.event;
        let mut locked = if this.waiter.is_queued() {
            event.list.lock()
        } else {
            if event.is_set() {
                this.done = true;
                return Poll::Ready(());
            }
            let mut locked = event.list.lock();
            // Acquire: pairs with `set`'s Release (also ordered by the lock).
            if event.flag.load(Ordering::Acquire) {
                this.done = true;
                return Poll::Ready(());
            }
            locked.enqueue(&mut this.waiter, Some(cx.waker()));
            return Poll::Pending;
        };
        // Notified by a `set` (the list is never closed).
        let r = locked.poll_slot(&mut this.waiter, cx.waker());
        if r.is_ready() {
            this.done = true;
        }
        r.map(|_| ())
    }
}

impl Drop for EventWait<'_> {
    fn drop(&mut self) {
        if self.waiter.is_queued() {
            // A notification is not handed on: `set` woke every waiter.
            self.event.list.lock().leave(&mut self.waiter);
        }
    }
}
