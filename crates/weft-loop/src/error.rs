//! The loop's errors.

use std::error::Error;
use std::fmt;

/// A task was not spawned, and its future was dropped unpolled: the runtime
/// is shut down ([`is_shutdown`](Self::is_shutdown)), or there is no runtime
/// on this thread to spawn on ([`is_outside_runtime`](Self::is_outside_runtime):
/// the free functions [`try_spawn`](crate::try_spawn) and
/// [`try_spawn_local`](crate::try_spawn_local) outside a weft loop).
///
/// ```
/// let err = weft::try_spawn(async {}).unwrap_err();
/// assert!(err.is_outside_runtime());
/// assert_eq!(err.to_string(), "not inside a weft runtime");
///
/// let rt = weft::Runtime::new().unwrap();
/// let handle = rt.handle().clone();
/// drop(rt);
/// let err = handle.try_spawn(async {}).unwrap_err();
/// assert!(err.is_shutdown());
/// assert_eq!(err.to_string(), "runtime is shut down");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpawnError {
    shut_down: bool,
}

impl SpawnError {
    pub(crate) fn shut_down() -> SpawnError {
        SpawnError { shut_down: true }
    }

    pub(crate) fn outside_runtime() -> SpawnError {
        SpawnError { shut_down: false }
    }

    /// Whether the runtime was shut down.
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// let handle = rt.handle().clone();
    /// drop(rt);
    /// assert!(handle.try_spawn(async {}).unwrap_err().is_shutdown());
    /// ```
    pub fn is_shutdown(&self) -> bool {
        self.shut_down
    }

    /// Whether no weft loop runs on the calling thread.
    ///
    /// ```
    /// let err = weft::try_spawn(async {}).unwrap_err();
    /// assert!(err.is_outside_runtime() && !err.is_shutdown());
    /// ```
    pub fn is_outside_runtime(&self) -> bool {
        !self.shut_down
    }
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.shut_down {
            f.write_str("runtime is shut down")
        } else {
            f.write_str("not inside a weft runtime")
        }
    }
}

impl Error for SpawnError {}

/// `block_on` could not run the future, which was dropped unpolled: the
/// thread already runs a weft loop (a worker, or inside another `block_on`),
/// where blocking would deadlock, or the runtime is shut down. The same for
/// [`Runtime::run_forever`](crate::Runtime::run_forever), which also refuses
/// to start while another `run_forever` of the runtime runs
/// ([`is_running`](Self::is_running), asyncio's "This event loop is already
/// running"), and for [`Runner::run`](crate::Runner::run).
///
/// ```
/// let rt = weft::Runtime::new().unwrap();
/// let handle = rt.handle().clone();
/// rt.block_on(async {
///     let err = handle.try_block_on(async {}).unwrap_err();
///     assert!(err.is_nested());
///     assert_eq!(err.to_string(), "cannot block on a future inside a running weft loop");
/// });
/// drop(rt);
/// assert!(handle.try_block_on(async {}).unwrap_err().is_closed());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockOnError {
    kind: BlockOnErrorKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BlockOnErrorKind {
    Nested,
    Closed,
    Running,
}

impl BlockOnError {
    pub(crate) fn nested() -> BlockOnError {
        BlockOnError {
            kind: BlockOnErrorKind::Nested,
        }
    }

    pub(crate) fn closed() -> BlockOnError {
        BlockOnError {
            kind: BlockOnErrorKind::Closed,
        }
    }

    pub(crate) fn running() -> BlockOnError {
        BlockOnError {
            kind: BlockOnErrorKind::Running,
        }
    }

    /// Whether the thread was already running a weft loop.
    ///
    /// ```
    /// weft::run(async {
    ///     let rt = weft::Runtime::new().unwrap();
    ///     assert!(rt.try_block_on(async {}).unwrap_err().is_nested());
    /// });
    /// ```
    pub fn is_nested(&self) -> bool {
        self.kind == BlockOnErrorKind::Nested
    }

    /// Whether the runtime was shut down (or the [`Runner`](crate::Runner)
    /// closed).
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// let handle = rt.handle().clone();
    /// drop(rt);
    /// assert!(handle.try_block_on(async {}).unwrap_err().is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.kind == BlockOnErrorKind::Closed
    }

    /// Whether another `run_forever` of the runtime was running.
    ///
    /// ```
    /// // Two threads try to run the runtime forever: whichever comes second
    /// // is refused, and stops the one that runs.
    /// let rt = weft::Runtime::new().unwrap();
    /// let attempt = |handle: weft::Handle| {
    ///     std::thread::spawn(move || {
    ///         let outcome = handle.try_run_forever();
    ///         if outcome.is_err() {
    ///             handle.stop();
    ///         }
    ///         outcome
    ///     })
    /// };
    /// let (a, b) = (attempt(rt.handle().clone()), attempt(rt.handle().clone()));
    /// let (a, b) = (a.join().unwrap(), b.join().unwrap());
    /// let refused = a.err().or(b.err()).expect("one of the two was refused");
    /// assert!(refused.is_running() && !refused.is_nested() && !refused.is_closed());
    /// ```
    pub fn is_running(&self) -> bool {
        self.kind == BlockOnErrorKind::Running
    }

    /// The panic of `block_on`, `run_forever` and `Runner::run` (the forms
    /// without `try_`) for this error.
    #[track_caller]
    pub(crate) fn raise(self) -> ! {
        if self.is_nested() {
            panic!("{self}: use .await instead");
        }
        panic!("{self}")
    }
}

impl fmt::Display for BlockOnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            BlockOnErrorKind::Closed => "runtime is shut down",
            BlockOnErrorKind::Nested => "cannot block on a future inside a running weft loop",
            BlockOnErrorKind::Running => "the runtime is already running forever",
        })
    }
}

impl Error for BlockOnError {}
