//! The queue's errors (asyncio's `QueueFull`, `QueueEmpty`, `QueueShutDown`,
//! and `task_done`'s `ValueError`). Each refused item is given back.

use std::fmt;

/// The queue has been [shut down](super::GenericQueue::shutdown) (asyncio's
/// `QueueShutDown`). A refused put gives its item back in the field; a get
/// carries `()`.
///
/// ```
/// use weft::queue::{Queue, QueueShutDown};
///
/// weft::run(async {
///     let q = Queue::new(0);
///     q.shutdown(false);
///     assert_eq!(q.put("x").await, Err(QueueShutDown("x")));
///     assert_eq!(q.get().await, Err(QueueShutDown(())));
/// });
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct QueueShutDown<T = ()>(pub T);

impl<T> QueueShutDown<T> {
    /// The refused item.
    ///
    /// ```
    /// use weft::queue::{Queue, QueueShutDown};
    ///
    /// weft::run(async {
    ///     let q = Queue::new(0);
    ///     q.shutdown(false);
    ///     let refused: QueueShutDown<&str> = q.put("x").await.unwrap_err();
    ///     assert_eq!(refused.into_inner(), "x");
    /// });
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for QueueShutDown<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("QueueShutDown(..)")
    }
}

impl<T> fmt::Display for QueueShutDown<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("queue shut down")
    }
}

impl<T> std::error::Error for QueueShutDown<T> {}

/// A [`put_nowait`](super::GenericQueue::put_nowait) found no free slot
/// (asyncio's `QueueFull`); the item is given back.
///
/// ```
/// use weft::queue::{Queue, QueueFull, TryPutError};
///
/// let q = Queue::new(1);
/// q.put_nowait(1).unwrap();
/// assert_eq!(q.put_nowait(2), Err(TryPutError::Full(QueueFull(2))));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct QueueFull<T>(pub T);

impl<T> fmt::Debug for QueueFull<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("QueueFull(..)")
    }
}

impl<T> fmt::Display for QueueFull<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("queue full")
    }
}

impl<T> std::error::Error for QueueFull<T> {}

/// A [`get_nowait`](super::GenericQueue::get_nowait) found no item
/// (asyncio's `QueueEmpty`).
///
/// ```
/// use weft::queue::{Queue, QueueEmpty, TryGetError};
///
/// let q = Queue::<u8>::new(0);
/// assert_eq!(q.get_nowait(), Err(TryGetError::Empty(QueueEmpty)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct QueueEmpty;

impl fmt::Display for QueueEmpty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("queue empty")
    }
}

impl std::error::Error for QueueEmpty {}

/// Why [`put_nowait`](super::GenericQueue::put_nowait) refused an item,
/// which it gives back.
///
/// ```
/// use weft::queue::{Queue, TryPutError};
///
/// let q = Queue::new(1);
/// q.put_nowait("a").unwrap();
/// let err = q.put_nowait("b").unwrap_err();
/// assert!(err.is_full());
/// assert_eq!(err.to_string(), "queue full");
/// assert_eq!(err.into_inner(), "b");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum TryPutError<T> {
    /// No free slot now.
    Full(QueueFull<T>),
    /// The queue has been shut down.
    ShutDown(QueueShutDown<T>),
}

impl<T> TryPutError<T> {
    /// The refused item.
    ///
    /// ```
    /// use weft::queue::Queue;
    ///
    /// let q = Queue::new(1);
    /// q.put_nowait("a").unwrap();
    /// assert_eq!(q.put_nowait("b").unwrap_err().into_inner(), "b");
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TryPutError::Full(QueueFull(item)) | TryPutError::ShutDown(QueueShutDown(item)) => item,
        }
    }

    /// Whether the queue was full.
    ///
    /// ```
    /// let q = weft::queue::Queue::new(1);
    /// q.put_nowait(1).unwrap();
    /// assert!(q.put_nowait(2).unwrap_err().is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, TryPutError::Full(_))
    }

    /// Whether the queue has been shut down.
    ///
    /// ```
    /// let q = weft::queue::Queue::new(1);
    /// q.shutdown(false);
    /// assert!(q.put_nowait(1).unwrap_err().is_shut_down());
    /// ```
    pub fn is_shut_down(&self) -> bool {
        matches!(self, TryPutError::ShutDown(_))
    }
}

impl<T> fmt::Debug for TryPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPutError::Full(e) => f.debug_tuple("Full").field(e).finish(),
            TryPutError::ShutDown(e) => f.debug_tuple("ShutDown").field(e).finish(),
        }
    }
}

impl<T> fmt::Display for TryPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPutError::Full(e) => e.fmt(f),
            TryPutError::ShutDown(e) => e.fmt(f),
        }
    }
}

impl<T> std::error::Error for TryPutError<T> {}

/// Why [`get_nowait`](super::GenericQueue::get_nowait) returned no item.
///
/// ```
/// use weft::queue::{Queue, QueueShutDown, TryGetError};
///
/// let q = Queue::<u8>::new(0);
/// q.shutdown(false);
/// assert_eq!(q.get_nowait(), Err(TryGetError::ShutDown(QueueShutDown(()))));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum TryGetError {
    /// No item now.
    Empty(QueueEmpty),
    /// The queue has been shut down and is empty.
    ShutDown(QueueShutDown),
}

impl TryGetError {
    /// Whether the queue was empty (and still open).
    ///
    /// ```
    /// let q = weft::queue::Queue::<u8>::new(0);
    /// assert!(q.get_nowait().unwrap_err().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        matches!(self, TryGetError::Empty(_))
    }

    /// Whether the queue has been shut down (and is empty).
    ///
    /// ```
    /// let q = weft::queue::Queue::<u8>::new(0);
    /// q.shutdown(false);
    /// assert!(q.get_nowait().unwrap_err().is_shut_down());
    /// ```
    pub fn is_shut_down(&self) -> bool {
        matches!(self, TryGetError::ShutDown(_))
    }
}

impl fmt::Display for TryGetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryGetError::Empty(e) => e.fmt(f),
            TryGetError::ShutDown(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for TryGetError {}

/// Why [`put_blocking`](super::GenericQueue::put_blocking) refused an item,
/// which it gives back.
///
/// ```
/// use std::time::Duration;
/// use weft::queue::{BlockingPutError, Queue};
///
/// let q = Queue::new(1);
/// q.put_blocking(1, None).unwrap();
/// let err = q.put_blocking(2, Some(Duration::from_millis(1))).unwrap_err();
/// assert_eq!(err, BlockingPutError::TimedOut(2));
/// assert_eq!(err.to_string(), "queue put timed out");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockingPutError<T> {
    /// No slot came free before the timeout.
    TimedOut(T),
    /// The queue has been shut down.
    ShutDown(T),
}

impl<T> BlockingPutError<T> {
    /// The refused item.
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::queue::Queue;
    ///
    /// let q = Queue::new(1);
    /// q.put_blocking(1, None).unwrap();
    /// let err = q.put_blocking(2, Some(Duration::from_millis(1))).unwrap_err();
    /// assert_eq!(err.into_inner(), 2);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            BlockingPutError::TimedOut(item) | BlockingPutError::ShutDown(item) => item,
        }
    }
}

impl<T> fmt::Debug for BlockingPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockingPutError::TimedOut(_) => f.write_str("TimedOut(..)"),
            BlockingPutError::ShutDown(_) => f.write_str("ShutDown(..)"),
        }
    }
}

impl<T> fmt::Display for BlockingPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockingPutError::TimedOut(_) => f.write_str("queue put timed out"),
            BlockingPutError::ShutDown(_) => f.write_str("queue shut down"),
        }
    }
}

impl<T> std::error::Error for BlockingPutError<T> {}

/// Why [`get_blocking`](super::GenericQueue::get_blocking) returned no item.
///
/// ```
/// use std::time::Duration;
/// use weft::queue::{BlockingGetError, Queue};
///
/// let q = Queue::<u8>::new(0);
/// let err = q.get_blocking(Some(Duration::from_millis(1))).unwrap_err();
/// assert_eq!(err, BlockingGetError::TimedOut);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum BlockingGetError {
    /// No item came before the timeout.
    TimedOut,
    /// The queue has been shut down and is empty.
    ShutDown,
}

impl fmt::Display for BlockingGetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockingGetError::TimedOut => f.write_str("queue get timed out"),
            BlockingGetError::ShutDown => f.write_str("queue shut down"),
        }
    }
}

impl std::error::Error for BlockingGetError {}

/// [`task_done`](super::GenericQueue::task_done) was called more times than
/// items were put (asyncio's `ValueError`). The queue is unchanged and stays
/// usable.
///
/// ```
/// let q = weft::queue::Queue::<u8>::new(0);
/// let err = q.task_done().unwrap_err();
/// assert_eq!(err.to_string(), "task_done() called too many times");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct TaskDoneError;

impl fmt::Display for TaskDoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task_done() called too many times")
    }
}

impl std::error::Error for TaskDoneError {}
