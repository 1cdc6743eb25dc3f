//! `gather`: run children concurrently, collect their results in argument order.

use crate::child::{error_of, outcome, supervise, watch, Child};
use std::convert::Infallible;
use std::ops::ControlFlow;
use weft_task::{Task, TaskError};

/// Waits for every task and returns their values in argument order, whatever
/// order they finish in (asyncio's `gather(*tasks)`). No tasks: `Ok(vec![])`
/// at once.
///
/// The first task to fail (panic, error, or be cancelled) completes the gather
/// at once with that error; **the other tasks keep running**, as in asyncio.
/// A cancelled child is such an error, but the caller is not itself cancelled.
///
/// **Cancelling the caller** (the task awaiting this) cancels every child
/// still running, with the same message, waits until all of them have
/// finished (their cleanup included), then re-raises the cancellation in the
/// caller. Dropping the future without cancelling leaves the children
/// running, as dropping their handles does.
///
/// Plain futures: spawn them first (`futures.into_iter().map(weft::spawn)`,
/// what asyncio's `gather` does with coroutines), or use [`gather!`](crate::gather!)
/// for a fixed list of tasks and futures of different types.
///
/// ```
/// use std::time::Duration;
///
/// weft::run(async {
///     let tasks: Vec<_> = [30u64, 10, 20]
///         .into_iter()
///         .map(|ms| weft::spawn(async move {
///             weft::sleep(Duration::from_millis(ms)).await;
///             ms
///         }))
///         .collect();
///     assert_eq!(weft::gather(tasks).await.unwrap(), [30, 10, 20]);
/// });
/// ```
pub async fn gather<T, I>(tasks: I) -> Result<Vec<T>, TaskError>
where
    I: IntoIterator<Item = Task<T>>,
{
    gather_with(tasks, |outcome| match outcome {
        Ok(v) => ControlFlow::Continue(v),
        Err(e) => ControlFlow::Break(e),
    })
    .await
}

/// [`gather`] with asyncio's `return_exceptions=True`: waits for every task and
/// returns each one's outcome, a value or its error (a cancellation included),
/// at its position. A child's failure does not end the gather early.
///
/// Cancelling the caller cancels the children, waits for them, and re-raises,
/// exactly as [`gather`] does.
///
/// ```
/// weft::run(async {
///     let ok = weft::spawn(async { 1 });
///     let boom = weft::spawn(async { panic!("boom") });
///     let out = weft::gather_settled([ok, boom]).await;
///     assert_eq!(*out[0].as_ref().unwrap(), 1);
///     assert!(out[1].as_ref().unwrap_err().is_panic());
/// });
/// ```
pub async fn gather_settled<T, I>(tasks: I) -> Vec<Result<T, TaskError>>
where
    I: IntoIterator<Item = Task<T>>,
{
    match gather_with(tasks, ControlFlow::<Infallible, _>::Continue).await {
        Ok(outcomes) => outcomes,
        Err(never) => match never {},
    }
}

/// Both gathers: `keep` turns each child's outcome into the value kept at
/// its position, or breaks the gather at once with an error (the children
/// still running keep running). Children already done are taken in a first
/// sweep, in argument order; the rest as they finish.
async fn gather_with<T, O, B, I>(
    tasks: I,
    mut keep: impl FnMut(Result<T, TaskError>) -> ControlFlow<B, O>,
) -> Result<Vec<O>, B>
where
    I: IntoIterator<Item = Task<T>>,
{
    let mut kept = Vec::new();
    let mut on_done = |index: usize, mut task: Task<T>| match keep(outcome(&mut task)) {
        ControlFlow::Continue(o) => {
            if kept.len() <= index {
                // Usually `index == len` (children done in order): a push.
                kept.resize_with(index, || None);
                kept.push(Some(o));
            } else {
                kept[index] = Some(o);
            }
            ControlFlow::Continue(())
        }
        ControlFlow::Break(b) => ControlFlow::Break(b),
    };
    let mut pending = watch(tasks, &mut on_done)?;
    if let Some(b) = supervise(&mut pending, &mut on_done).await {
        return Err(b);
    }
    // Every child went through `on_done` once, so `kept` has one slot each.
    Ok(kept
        .into_iter()
        .map(|o| o.expect("every child of a finished gather is done"))
        .collect())
}

/// A tuple of tasks of different types, gathered by [`gather!`](crate::gather!).
#[doc(hidden)]
pub trait TaskTuple {
    /// The values, in argument order.
    type Output;
    /// Each child's outcome, in argument order.
    type Settled;
    /// The children, in argument order.
    fn children(&mut self) -> Vec<&mut (dyn Child + Send)>;
    /// The values of the (done) children, or the first error in argument order.
    fn take(self) -> Result<Self::Output, TaskError>;
    /// The outcomes of the (done) children.
    fn take_settled(self) -> Self::Settled;
}

macro_rules! task_tuple {
    ($($t:ident $i:tt),+) => {
        impl<$($t: Send),+> TaskTuple for ($(Task<$t>,)+) {
            type Output = ($($t,)+);
            type Settled = ($(Result<$t, TaskError>,)+);

            fn children(&mut self) -> Vec<&mut (dyn Child + Send)> {
                vec![$(&mut self.$i as &mut (dyn Child + Send)),+]
            }

            fn take(mut self) -> Result<Self::Output, TaskError> {
                Ok(($(outcome(&mut self.$i)?,)+))
            }

            fn take_settled(mut self) -> Self::Settled {
                ($(outcome(&mut self.$i),)+)
            }
        }
    };
}

task_tuple!(A 0);
task_tuple!(A 0, B 1);
task_tuple!(A 0, B 1, C 2);
task_tuple!(A 0, B 1, C 2, D 3);
task_tuple!(A 0, B 1, C 2, D 3, E 4);
task_tuple!(A 0, B 1, C 2, D 3, E 4, F 5);
task_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
task_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
task_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
task_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
task_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);
task_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11);

/// Waits for the tuple's children; `Some(error)` if one failed (first error
/// wins, as in [`gather`]), `None` when all are done. `settled`: never stop
/// early.
async fn wait_tuple<Tup: TaskTuple>(tasks: &mut Tup, settled: bool) -> Option<TaskError> {
    let on_done = |_, child: &mut (dyn Child + Send)| match error_of(child.task_ref()) {
        Some(e) if !settled => ControlFlow::Break(e),
        _ => ControlFlow::Continue(()),
    };
    match watch(tasks.children(), on_done) {
        Ok(mut pending) => supervise(&mut pending, on_done).await,
        Err(e) => Some(e),
    }
}

#[doc(hidden)]
pub async fn gather_tuple<Tup: TaskTuple>(mut tasks: Tup) -> Result<Tup::Output, TaskError> {
    match wait_tuple(&mut tasks, false).await {
        Some(e) => Err(e),
        None => tasks.take(),
    }
}

#[doc(hidden)]
pub async fn gather_tuple_settled<Tup: TaskTuple>(mut tasks: Tup) -> Tup::Settled {
    wait_tuple(&mut tasks, true).await;
    tasks.take_settled()
}
