//! The contract between a task and the loop that runs it.

use crate::context::CallSoon;
use crate::exception::CallExceptionHandler;
use crate::registry::TaskRegistry;
use crate::task::Runnable;

/// What a loop provides to the tasks it runs. weft-loop implements it; the task
/// core calls it when a task is woken, yields or completes. Running a task's
/// done callbacks goes through its [`CallSoon`] supertrait, the one
/// `call_soon` a promise made on the loop uses too; a task error nobody
/// retrieved goes to its [`CallExceptionHandler`] supertrait.
///
/// # Safety
///
/// Implementors promise that [`registry`](Schedule::registry) returns the same
/// registry every time it is called on one scheduler value (a task is removed
/// from the registry it was inserted in, by the slot it got there).
pub unsafe trait Schedule: CallSoon + CallExceptionHandler + Send + Sync + 'static {
    /// A task became ready (woken): queue it. Called on whatever thread woke it.
    fn schedule(&self, task: Runnable);

    /// A task was woken during its own poll (it yielded): queue it behind the
    /// work already waiting, so it cannot starve it.
    fn yield_now(&self, task: Runnable) {
        self.schedule(task);
    }

    /// The registry the task was entered in at spawn.
    fn registry(&self) -> &TaskRegistry;

    /// The key of the loop this scheduler pins its tasks to (`spawn_local`),
    /// or 0 for tasks any thread may run: the registry leaves the shutdown of
    /// a pinned task to its loop. Kept here rather than in every task's
    /// header, which it would grow by a word.
    fn local_owner(&self) -> usize {
        0
    }
}
