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
///
/// # Example
///
/// A loop of one queue, run by hand: a woken task lands in the queue, and
/// running what the queue holds polls it.
///
/// ```
/// use std::collections::VecDeque;
/// use std::sync::{Arc, Mutex};
/// use weft_task::context::CallSoon;
/// use weft_task::{CallExceptionHandler, Promise, Runnable, Schedule, Spawned, TaskRegistry};
///
/// #[derive(Clone)]
/// struct Queue(Arc<(TaskRegistry, Mutex<VecDeque<Runnable>>)>);
/// impl CallSoon for Queue {
///     fn call_soon(&self, f: Box<dyn FnOnce() + Send>) {
///         f()
///     }
/// }
/// impl CallExceptionHandler for Queue {} // the default handler: logs
/// // SAFETY: `registry` always returns the same registry.
/// unsafe impl Schedule for Queue {
///     fn schedule(&self, task: Runnable) {
///         self.0 .1.lock().unwrap().push_back(task)
///     }
///     fn registry(&self) -> &TaskRegistry {
///         &self.0 .0
///     }
/// }
///
/// let q = Queue(Arc::new((TaskRegistry::new(1), Mutex::new(VecDeque::new()))));
/// let gate = Promise::<u8>::new();
/// let wait = gate.clone();
/// let here = std::panic::Location::caller();
/// let Spawned::Ready(mut task, first) =
///     weft_task::spawn(async move { wait.await.unwrap() + 1 }, q.clone(), here)
/// else {
///     unreachable!("the registry is open")
/// };
/// first.run(); // the first step: the task waits for the gate
/// assert!(!task.done() && q.0 .1.lock().unwrap().is_empty());
/// gate.set_result(41).unwrap(); // wakes the task: `schedule` queues it
/// let next = q.0 .1.lock().unwrap().pop_front().unwrap();
/// next.run();
/// assert_eq!(task.result().unwrap().unwrap(), 42);
/// assert!(q.registry().is_empty());
/// ```
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
