//! Task dumps: every live task of a registry with what it is doing and what
//! it awaits (asyncio's `all_tasks()`, `task.get_stack()` and Python 3.14's
//! `capture_call_graph()` / `python -m asyncio pstree`).
//!
//! # Reading a task from another thread
//!
//! A dump lists the registry one shard at a time: one hold of the shard's
//! two locks (its slab and its `away` list, `registry.rs`) per shard,
//! taking a counted reference ([`TaskRef`]) to each task, so no task is
//! listed twice (a task sits in one slot of one shard for its life) and none
//! is freed while it is read. Each task is then read outside the locks:
//! its state word, its poll count and last worker (Relaxed atomics), its
//! name (the cold lock), and what it awaits.
//!
//! What a task awaits is its await record (`awaiting.rs`), which only the
//! thread holding the task's `RUNNING` may touch. The dump borrows an idle
//! task as `cancel()` does (`State::to_borrowed`: `RUNNING | BORROWED`, only
//! on a task not running, not queued and not complete; never waits), clones
//! the record's target (a reference count), and lets go
//! (`RawTask::release_borrow`), submitting the task if a wake-up came
//! meanwhile. It describes the target only after letting go, so the borrow
//! lasts a few loads and stores. A running or queued task is not suspended:
//! it shows no edge. A task whose latest poll recorded nothing (it awaits a
//! timer, a socket, or a future weft does not know) shows none either.
//!
//! A `cancel()` of a task being read meanwhile finds it running: it records
//! its request and the task delivers it at its next run (down the await
//! chain as every delivery does), rather than cancelling the awaited target
//! before `cancel()` returns.
//!
//! # The tree
//!
//! [`TaskDump`]'s `Display` draws the await graph as `python -m asyncio
//! pstree` does (CPython 3.14 `Lib/asyncio/tools.py`): the roots are the
//! tasks no task awaits, and under each task the tasks it awaits, so a chain
//! reads from the outermost awaiter down to what is stuck. A non-task target
//! (a promise, a gather, a lock) is a line of its own under its task, with
//! the tasks it watches under it. A task awaited by several is drawn in full
//! under the first and named again (`see above`) under the others; tasks on
//! a cycle are drawn from the lowest id of the cycle.

use crate::chain::AwaitDescription;
use crate::header::{Awaiting, RawTask, TaskRef};
use crate::id::TaskId;
use crate::loom::sync::Ordering;
use crate::registry::TaskRegistry;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::panic::Location;
use std::time::Duration;

/// What a task is doing, as a dump saw it.
///
/// ```
/// use weft::TaskState;
/// assert_eq!(TaskState::Waiting.to_string(), "waiting");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum TaskState {
    /// Woken, queued to run.
    Scheduled,
    /// Being polled by some thread right now.
    Running,
    /// Suspended, waiting to be woken.
    Waiting,
    /// Cancelled, its future dropped, waiting for the tasks it awaited to end.
    Draining,
    /// Finished (it ended between the listing and the read).
    Done,
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaskState::Scheduled => "scheduled",
            TaskState::Running => "running",
            TaskState::Waiting => "waiting",
            TaskState::Draining => "draining",
            TaskState::Done => "done",
        })
    }
}

/// Where a task was spawned (its `#[track_caller]` location).
///
/// ```
/// weft::run(async {
///     let t = weft::spawn(async {});
///     let site = weft::SpawnSite::from(t.location());
///     assert_eq!(site.to_string(), format!("{}:{}", site.file, site.line));
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SpawnSite {
    /// The source file.
    pub file: &'static str,
    /// The line.
    pub line: u32,
    /// The column.
    pub column: u32,
}

impl From<&'static Location<'static>> for SpawnSite {
    fn from(l: &'static Location<'static>) -> SpawnSite {
        SpawnSite {
            file: l.file(),
            line: l.line(),
            column: l.column(),
        }
    }
}

impl fmt::Display for SpawnSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// What a suspended task awaits: an edge of the await graph.
///
/// ```
/// weft::run(async {
///     let p = weft::Promise::<()>::new();
///     let waiter = weft::spawn({
///         let p = p.clone();
///         async move { p.wait().await }
///     });
///     weft::sleep(std::time::Duration::from_millis(10)).await;
///     match waiter.awaiting() {
///         Some(weft::AwaitEdge::Target(d)) => assert_eq!(d.kind, "promise"),
///         other => panic!("{other:?}"),
///     }
///     p.set_result(()).unwrap();
///     waiter.await.unwrap().unwrap();
/// });
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum AwaitEdge {
    /// Another task.
    Task(TaskId),
    /// A promise, a `ConcurrentFuture`, a combinator, a lock or queue.
    Target(AwaitDescription),
}

impl AwaitEdge {
    /// The tasks this edge leads to: the awaited task, or those the target
    /// watches.
    ///
    /// ```
    /// let e = weft::AwaitEdge::Target(weft::AwaitDescription::new("promise"));
    /// assert!(e.tasks().is_empty());
    /// ```
    pub fn tasks(&self) -> &[TaskId] {
        match self {
            AwaitEdge::Task(id) => std::slice::from_ref(id),
            AwaitEdge::Target(d) => &d.tasks,
        }
    }
}

/// One task in a [`TaskDump`].
///
/// ```
/// weft::run(async {
///     let t = weft::spawn(async {});
///     let info = weft::TaskInfo::of(&t);
///     assert_eq!(info.id, t.id());
///     assert_eq!(info.name, t.name());
/// });
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct TaskInfo {
    /// The task's id.
    pub id: TaskId,
    /// Its name (`Task-{id}` unless renamed).
    pub name: String,
    /// What it was doing.
    pub state: TaskState,
    /// Where it was spawned.
    pub spawned_at: SpawnSite,
    /// Time since it was spawned (a coarse clock: within a few milliseconds;
    /// for a task spawned on a worker, counted from the worker's last clock
    /// reading, at most one wake-up or 61 steps before: see
    /// [`SpawnClock`](crate::SpawnClock)).
    pub age: Duration,
    /// Times it was polled (wrapping at `u32::MAX`).
    pub polls: u32,
    /// Total time spent in its polls, where the runtime times them
    /// (`Builder::slow_poll_threshold` set); `None` otherwise.
    pub poll_time: Option<Duration>,
    /// The index of the worker that last ran it (`None`: not run yet, or
    /// last run by a thread that is no worker, e.g. inside `block_on`).
    pub last_worker: Option<u32>,
    /// Outstanding cancellation requests (`TaskRef::cancelling`).
    pub cancelling: u32,
    /// What it awaits, when it is suspended on something weft knows.
    pub awaiting: Option<AwaitEdge>,
}

impl TaskInfo {
    /// Reads `task` now (its await edge as [`TaskRef::awaiting`] does).
    ///
    /// ```
    /// weft::run(async {
    ///     let t = weft::spawn(async {});
    ///     let task = t.task_ref();
    ///     t.await.unwrap();
    ///     assert_eq!(weft::TaskInfo::of(&task).state, weft::TaskState::Done);
    /// });
    /// ```
    pub fn of(task: &TaskRef) -> TaskInfo {
        let header = task.raw.header();
        let (state, awaiting) = read_state_and_edge(task.raw);
        let last = header.last_worker.load(Ordering::Relaxed);
        TaskInfo {
            id: header.id,
            name: task.name(),
            state,
            spawned_at: SpawnSite::from(header.location),
            age: crate::clock::since(header.spawned_ms),
            polls: header.polls.load(Ordering::Relaxed),
            poll_time: header.peek_cold(|c| c.and_then(|c| c.poll_time)),
            last_worker: (last != crate::header::NO_WORKER).then_some(last),
            cancelling: header.cancelling.load(Ordering::Relaxed),
            awaiting,
        }
    }
}

/// Every live task of a runtime at one moment, with its await edges
/// (`Handle::dump`). Its `Display` draws the await graph as a tree, one line
/// per task, as `python -m asyncio pstree` does; its fields are the data.
///
/// ```
/// weft::run(async {
///     let t = weft::spawn(weft::sleep(std::time::Duration::from_secs(5)));
///     let dump = weft::Handle::current().dump();
///     assert!(dump.tasks.iter().any(|i| i.id == t.id()));
///     assert!(dump.to_string().contains(&t.name()));
///     t.cancel();
/// });
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct TaskDump {
    /// The tasks, by id.
    pub tasks: Vec<TaskInfo>,
}

impl TaskDump {
    /// The task with id `id`, if it is in the dump.
    ///
    /// ```
    /// weft::run(async {
    ///     let t = weft::spawn(weft::sleep(std::time::Duration::from_secs(5)));
    ///     let dump = weft::Handle::current().dump();
    ///     assert_eq!(dump.get(t.id()).unwrap().name, t.name());
    ///     t.cancel();
    /// });
    /// ```
    pub fn get(&self, id: TaskId) -> Option<&TaskInfo> {
        self.tasks
            .binary_search_by_key(&id, |t| t.id)
            .ok()
            .map(|i| &self.tasks[i])
    }
}

impl TaskRegistry {
    /// Reads every registered task (see the module header of `dump.rs`);
    /// a runtime's `Handle::dump` is this on its registry.
    ///
    /// ```
    /// let registry = weft_task::TaskRegistry::new(1);
    /// let dump = registry.dump();
    /// assert!(dump.tasks.is_empty());
    /// assert_eq!(dump.to_string(), "0 tasks\n");
    /// ```
    pub fn dump(&self) -> TaskDump {
        let mut tasks: Vec<TaskInfo> = self.live_tasks().iter().map(TaskInfo::of).collect();
        tasks.sort_unstable_by_key(|t| t.id);
        TaskDump { tasks }
    }
}

impl TaskRef {
    /// What the task awaits now, if it is suspended on another task, a
    /// promise, a `ConcurrentFuture`, a combinator, a lock or a queue
    /// (asyncio's `get_stack()`, as far as Rust futures let it go: the
    /// innermost thing awaited, not the frames above it). `None` for a
    /// running, queued or finished task, or one waiting for a timer, a
    /// socket or a future weft does not know. Never blocks: see
    /// [`TaskDump`].
    ///
    /// ```
    /// weft::run(async {
    ///     let inner = weft::spawn(weft::sleep(std::time::Duration::from_secs(5)));
    ///     let id = inner.id();
    ///     let outer = weft::spawn(async move { inner.await });
    ///     weft::sleep(std::time::Duration::from_millis(10)).await;
    ///     assert_eq!(outer.awaiting(), Some(weft::AwaitEdge::Task(id)));
    ///     outer.cancel();
    /// });
    /// ```
    pub fn awaiting(&self) -> Option<AwaitEdge> {
        read_state_and_edge(self.raw).1
    }
}

impl TaskRef {
    /// For weft's loops: adds one timed step of the task (a poll, or the
    /// drop that delivers its cancellation) to its total poll time, which
    /// dumps show ([`TaskInfo::poll_time`]). Takes the task's cold lock:
    /// only runtimes that time their steps call it.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = weft::Runtime::new().unwrap();
    /// let t = rt.spawn(async {});
    /// assert_eq!(weft::TaskInfo::of(&t).poll_time, None); // not timed
    /// t.add_poll_time(Duration::from_millis(3));
    /// assert_eq!(weft::TaskInfo::of(&t).poll_time, Some(Duration::from_millis(3)));
    /// ```
    #[doc(hidden)]
    pub fn add_poll_time(&self, took: Duration) {
        self.raw
            .header()
            .with_cold(|c| *c.poll_time.get_or_insert(Duration::ZERO) += took);
    }
}

/// The task's state and, if it is suspended, its await edge.
fn read_state_and_edge(raw: RawTask) -> (TaskState, Option<AwaitEdge>) {
    let header = raw.header();
    let state = header.state.load();
    let shown = if state.is_complete() {
        TaskState::Done
    } else if state.is_draining() {
        TaskState::Draining
    } else if state.is_borrowed() {
        // Another borrower (a dump, a `cancel()`): idle underneath.
        TaskState::Waiting
    } else if state.is_running() {
        TaskState::Running
    } else if state.is_notified() {
        TaskState::Scheduled
    } else {
        TaskState::Waiting
    };
    if shown != TaskState::Waiting || !header.state.to_borrowed() {
        return (shown, None);
    }
    // SAFETY: `to_borrowed` succeeded: this thread holds RUNNING.
    let target = unsafe { latest_target(raw) };
    raw.release_borrow();
    let edge = target.map(|t| match t {
        Awaiting::Task(t) => AwaitEdge::Task(t.id()),
        Awaiting::Other(o) => AwaitEdge::Target(o.describe()),
        Awaiting::Static(d) => AwaitEdge::Target(d.describe()),
    });
    (TaskState::Waiting, edge)
}

/// The target of the task's record, if its latest poll wrote it.
///
/// # Safety
///
/// The caller holds the task's `RUNNING`.
unsafe fn latest_target(raw: RawTask) -> Option<Awaiting> {
    // SAFETY: the caller's promise, passed on.
    unsafe {
        raw.header()
            .with_latest_record(|_, target| Some(target.clone()))
    }
}

// ----- the tree -----

/// Deeper levels are drawn at this indentation (a chain of 10^5 tasks
/// awaiting each other would otherwise print lines of 400 kB), with their
/// depth written out.
const MAX_INDENT: usize = 32;

/// A line of the tree still to draw.
enum Node<'a> {
    Task(&'a TaskInfo),
    Target(&'a AwaitDescription),
}

impl fmt::Display for TaskDump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let index: HashMap<TaskId, usize> = self
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id, i))
            .collect();
        let awaited: HashSet<TaskId> = self
            .tasks
            .iter()
            .filter_map(|t| t.awaiting.as_ref())
            .flat_map(|e| e.tasks().iter().copied())
            .collect();
        writeln!(f, "{} tasks", self.tasks.len())?;
        let mut tree = Tree {
            index: &index,
            tasks: &self.tasks,
            drawn: HashSet::new(),
            lasts: Vec::new(),
            stack: Vec::new(),
        };
        // Roots first (tasks nobody awaits), then what only cycles reach.
        for t in self.tasks.iter().filter(|t| !awaited.contains(&t.id)) {
            tree.draw(f, t)?;
        }
        for t in &self.tasks {
            if !tree.drawn.contains(&t.id) {
                tree.draw(f, t)?;
            }
        }
        Ok(())
    }
}

/// Draws one root's tree depth first, with an explicit stack (a long chain
/// must not overflow the thread's).
struct Tree<'a> {
    index: &'a HashMap<TaskId, usize>,
    tasks: &'a [TaskInfo],
    drawn: HashSet<TaskId>,
    /// Whether each ancestor of the line being drawn was its parent's last.
    lasts: Vec<bool>,
    /// (depth, line, last child of its parent)
    stack: Vec<(usize, Node<'a>, bool)>,
}

impl<'a> Tree<'a> {
    fn draw(&mut self, f: &mut fmt::Formatter<'_>, root: &'a TaskInfo) -> fmt::Result {
        self.stack.push((0, Node::Task(root), true));
        while let Some((depth, node, last)) = self.stack.pop() {
            self.lasts.truncate(depth);
            for &l in self.lasts.iter().take(MAX_INDENT) {
                f.write_str(if l { "    " } else { "│   " })?;
            }
            if depth > MAX_INDENT {
                write!(f, "[depth {depth}] ")?;
            }
            f.write_str(if last { "└── " } else { "├── " })?;
            self.lasts.push(last);
            let children: Vec<Node<'a>> = match node {
                Node::Target(d) => {
                    writeln!(f, "{d}")?;
                    d.tasks.iter().filter_map(|id| self.task(*id)).collect()
                }
                Node::Task(t) => {
                    write!(
                        f,
                        "(T) {} #{} {} at {} age {:?} polls {}",
                        t.name, t.id, t.state, t.spawned_at, t.age, t.polls
                    )?;
                    if let Some(w) = t.last_worker {
                        write!(f, " worker {w}")?;
                    }
                    if t.cancelling > 0 {
                        write!(f, " cancelling {}", t.cancelling)?;
                    }
                    if !self.drawn.insert(t.id) {
                        writeln!(f, " (see above)")?;
                        continue;
                    }
                    writeln!(f)?;
                    match &t.awaiting {
                        None => Vec::new(),
                        Some(AwaitEdge::Task(id)) => self.task(*id).into_iter().collect(),
                        Some(AwaitEdge::Target(d)) => vec![Node::Target(d)],
                    }
                }
            };
            let n = children.len();
            // Reversed: the first child is drawn first.
            for (i, child) in children.into_iter().enumerate().rev() {
                self.stack.push((depth + 1, child, i + 1 == n));
            }
        }
        Ok(())
    }

    /// The line of task `id`, if it is in the dump (a target's tasks may
    /// have ended since it was described).
    fn task(&self, id: TaskId) -> Option<Node<'a>> {
        let tasks = self.tasks;
        self.index.get(&id).map(|&i| Node::Task(&tasks[i]))
    }
}
