//! The loop's errors.

use std::error::Error;
use std::fmt;

/// The runtime refused a task because it is shut down. The future was dropped
/// without being polled.
///
/// ```
/// let rt = weft::Runtime::new().unwrap();
/// let handle = rt.handle().clone();
/// drop(rt);
/// let err = handle.try_spawn(async {}).unwrap_err();
/// assert_eq!(err.to_string(), "runtime is shut down");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpawnError(());

impl SpawnError {
    pub(crate) fn shut_down() -> SpawnError {
        SpawnError(())
    }
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("runtime is shut down")
    }
}

impl Error for SpawnError {}

/// `block_on` was called on a thread that is already running a weft loop (a
/// worker, or inside another `block_on`): blocking there would deadlock.
///
/// ```
/// let rt = weft::Runtime::new().unwrap();
/// let handle = rt.handle().clone();
/// rt.block_on(async move {
///     let err = handle.try_block_on(async {}).unwrap_err();
///     assert_eq!(err.to_string(), "cannot block on a future inside a running weft loop");
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockOnError(());

impl BlockOnError {
    pub(crate) fn nested() -> BlockOnError {
        BlockOnError(())
    }
}

impl fmt::Display for BlockOnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot block on a future inside a running weft loop")
    }
}

impl Error for BlockOnError {}
