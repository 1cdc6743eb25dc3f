//! Task ids: one global counter, so default names read `Task-1`, `Task-2`, ...

use std::fmt;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};

/// A task's id, unique for the life of the process. The default task name is
/// `Task-{id}`, as asyncio numbers its tasks from one global counter.
///
/// ```
/// weft::run(async {
///     let a = weft::spawn(async {});
///     let b = weft::spawn(async {});
///     assert!(b.id() > a.id());
///     assert_eq!(a.name(), format!("Task-{}", a.id()));
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct TaskId(NonZeroU64);

impl TaskId {
    #[inline]
    pub(crate) fn next() -> TaskId {
        // A process-wide static, outside what the loom models explore (loom
        // atomics cannot live in statics); only uniqueness matters.
        static NEXT: AtomicU64 = AtomicU64::new(1);
        // Relaxed: uniqueness comes from the RMW itself.
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        TaskId(NonZeroU64::new(id).expect("task id counter overflowed"))
    }

    /// The id as a number.
    ///
    /// ```
    /// weft::run(async {
    ///     let t = weft::spawn(async {});
    ///     assert_eq!(t.id().as_u64().to_string(), t.id().to_string());
    /// });
    /// ```
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
