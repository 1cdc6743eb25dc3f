//! The contract between a task and the loop that runs it.

use crate::registry::TaskRegistry;
use crate::Runnable;

/// What a loop provides to the tasks it runs. weft-loop implements it; the task
/// core calls it when a task is woken, yields, completes or has callbacks to run.
///
/// # Safety
///
/// Implementors promise that [`registry`](Schedule::registry) returns the same
/// registry every time it is called on one scheduler value (a task is removed
/// from the registry it was inserted in, by the slot it got there).
pub unsafe trait Schedule: Send + Sync + 'static {
    /// A task became ready (woken): queue it. Called on whatever thread woke it.
    fn schedule(&self, task: Runnable);

    /// A task was woken during its own poll (it yielded): queue it behind the
    /// work already waiting, so it cannot starve it.
    fn yield_now(&self, task: Runnable) {
        self.schedule(task);
    }

    /// The registry the task was entered in at spawn.
    fn registry(&self) -> &TaskRegistry;

    /// Runs `f` soon on the loop (asyncio's `call_soon`).
    fn call_soon(&self, f: Box<dyn FnOnce() + Send>);
}
