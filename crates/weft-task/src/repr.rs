//! A task's `Display`: asyncio's `repr(task)`
//! (CPython `Lib/asyncio/base_tasks.py`, `_task_repr_info`), with what weft
//! knows in place of what only Python has.
//!
//! ```text
//! <Task pending name='Task-2' coro=<task_func() running at examples/tour.rs:12>>
//! <Task cancelling name='Task-2' coro=<task_func() running at examples/tour.rs:12>>
//! <Task finished name='Task-2' coro=<task_func() done, defined at examples/tour.rs:12> result="the result">
//! <Task finished name='Task-2' coro=<task_func() done, defined at examples/tour.rs:12> exception=Panicked(..)>
//! <Task cancelled name='Task-2' coro=<task_func() done, defined at examples/tour.rs:12>>
//! ```
//!
//! - The state is asyncio's: `pending` (a task being polled right now is
//!   pending too, as a running coroutine is), `cancelling` (a request counted by
//!   `cancelling()` and the task not done), `finished` or `cancelled`.
//! - Rust futures have no names, so `coro=<..>` names the future's type
//!   (`std::any::type_name`, kept in the task's vtable: no cost per task): the
//!   function an `async fn`'s future comes from (`task_func()`), the function
//!   around an `async` block, or a combinator's type (`Gather()`). Rust futures
//!   have no frames either, so the location is the spawn site in both states,
//!   where Python shows the line the coroutine is suspended at (`running at`) or
//!   its `def` line (`done, defined at`).
//! - `result=` is the value's `Debug` (Python's `repr`), only on a
//!   [`Task<T>`](crate::Task) with `T: Debug`, and only while the value is still
//!   stored: awaiting the handle or [`result`](crate::Task::result) moves it
//!   out. A [`TaskRef`] does not know the type and never shows it.
//!   `exception=` is the [`TaskError`](crate::TaskError)'s `Debug`, on any
//!   handle. Both are cut at [`VALUE_LIMIT`] characters with `...`, as
//!   Python's `reprlib` cuts long values.
//! - asyncio's `wait_for=<future>` and `cb=[..]` parts are left out: weft
//!   knows neither what a task awaits as a value nor its callbacks' names.

use crate::header::{RawTask, TaskRef};
use crate::task::Task;
use std::fmt::{self, Write};

/// The longest `result=` / `exception=` value shown, in characters.
pub(crate) const VALUE_LIMIT: usize = 60;

/// The state word read once, in asyncio's words.
enum Shown {
    Pending,
    Cancelling,
    Finished,
    Cancelled,
}

impl Shown {
    fn of(raw: RawTask) -> Shown {
        let header = raw.header();
        let state = header.state.load();
        if state.is_ended_cancelled() {
            Shown::Cancelled
        } else if state.is_complete() {
            Shown::Finished
        } else if header.cancelling.load(crate::loom::sync::Ordering::Relaxed) > 0 {
            Shown::Cancelling
        } else {
            Shown::Pending
        }
    }

    fn word(&self) -> &'static str {
        match self {
            Shown::Pending => "pending",
            Shown::Cancelling => "cancelling",
            Shown::Finished => "finished",
            Shown::Cancelled => "cancelled",
        }
    }

    fn is_done(&self) -> bool {
        matches!(self, Shown::Finished | Shown::Cancelled)
    }
}

/// The name `coro=<..>` shows for a future whose type is `type_name`: the last
/// path segment, without generic arguments, after dropping the `{{closure}}`
/// segments an `async fn` or `async` block adds:
/// `tour::task_func::{{closure}}` → `task_func`,
/// `weft_combinators::gather::Gather<tour::f::{{closure}}>` → `Gather`.
pub(crate) fn future_name(type_name: &str) -> &str {
    let mut name = type_name;
    while let Some(outer) = name.strip_suffix("::{{closure}}") {
        name = outer;
    }
    // The last `::` outside generic arguments starts the last segment.
    let mut depth = 0usize;
    let mut start = 0;
    let bytes = name.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'<' => depth += 1,
            b'>' => depth = depth.saturating_sub(1),
            b':' if depth == 0 && i > 0 && bytes[i - 1] == b':' => start = i + 1,
            _ => {}
        }
    }
    let last = &name[start..];
    last.split('<').next().unwrap_or(last)
}

/// Python's `repr` of a string: single quotes, unless the text has a single
/// quote and no double one.
fn write_py_str(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    f.write_char(quote)?;
    for c in s.chars() {
        if c == quote || c == '\\' {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char(quote)
}

/// Writes through to a formatter until `left` characters are spent.
struct Capped<'a, 'b> {
    f: &'a mut fmt::Formatter<'b>,
    left: usize,
    cut: bool,
}

impl Write for Capped<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let fits = s.char_indices().nth(self.left).map(|(i, _)| i);
        match fits {
            None => {
                self.left -= s.chars().count();
                self.f.write_str(s)
            }
            Some(end) => {
                self.f.write_str(&s[..end])?;
                self.cut = true;
                // Stops the value's formatting; `write_value` tells it apart
                // from the formatter's own errors.
                Err(fmt::Error)
            }
        }
    }
}

/// ` {label}={value:?}`, cut at `VALUE_LIMIT` characters.
fn write_value(f: &mut fmt::Formatter<'_>, label: &str, value: &dyn fmt::Debug) -> fmt::Result {
    write!(f, " {label}=")?;
    let mut capped = Capped {
        f,
        left: VALUE_LIMIT,
        cut: false,
    };
    let written = write!(capped, "{value:?}");
    if capped.cut {
        capped.f.write_str("...")
    } else {
        written
    }
}

/// The whole repr; `result` writes ` result=..` for a finished task whose
/// value can be shown (and writes nothing otherwise).
fn write_repr(
    f: &mut fmt::Formatter<'_>,
    task: &TaskRef,
    result: impl FnOnce(&mut fmt::Formatter<'_>) -> fmt::Result,
) -> fmt::Result {
    let raw = task.raw();
    let header = raw.header();
    let shown = Shown::of(raw);
    f.write_str("<Task ")?;
    f.write_str(shown.word())?;
    f.write_str(" name=")?;
    write_py_str(f, &task.name())?;
    let location = header.location;
    write!(
        f,
        " coro=<{}() {} {}:{}>",
        future_name((header.vtable.future_type_name)()),
        if shown.is_done() {
            "done, defined at"
        } else {
            "running at"
        },
        location.file(),
        location.line()
    )?;
    if let Shown::Finished = shown {
        match header.peek_cold(|c| c.and_then(|c| c.error.clone())) {
            Some(error) => write_value(f, "exception", &error)?,
            None => result(f)?,
        }
    }
    f.write_char('>')
}

/// asyncio's `repr(task)`, without the value (a `TaskRef` does not know its
/// type): `<Task pending name='Task-2' coro=<task_func() running at
/// examples/tour.rs:12>>`. The module doc of `repr.rs` lists what each part
/// shows.
///
/// ```
/// weft::run(async {
///     let t = weft::spawn_local(async { 42 });
///     let shown = t.task_ref().to_string();
///     assert!(shown.starts_with("<Task pending name='Task-"), "{shown}");
///     assert!(shown.contains(" coro=<"), "{shown}");
///     assert!(shown.ends_with(&format!("{}>>", line!() - 4)), "{shown}");
///     t.await.unwrap();
/// });
/// ```
impl fmt::Display for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_repr(f, self, |_| Ok(()))
    }
}

/// asyncio's `repr(task)`, with ` result=..` (the value's `Debug`) once the
/// task finished with a value that is still stored, i.e. not yet moved out by
/// awaiting the handle or by [`result`](Task::result). For a `T` without
/// `Debug`, format the [`TaskRef`] instead: `format!("{}", *task)`.
///
/// ```
/// use std::future::poll_fn;
///
/// async fn answer() -> u32 {
///     42
/// }
///
/// weft::run(async {
///     let mut t = weft::spawn(answer());
///     // Wait without taking the value, as Python's `await task` leaves it.
///     poll_fn(|cx| t.poll_done(cx)).await;
///     let shown = t.to_string();
///     assert!(shown.starts_with("<Task finished name='Task-"), "{shown}");
///     assert!(shown.contains(" coro=<answer() done, defined at "), "{shown}");
///     assert!(shown.ends_with(" result=42>"), "{shown}");
///     assert_eq!(t.result().unwrap().unwrap(), 42);
///     // Taken: nothing left to show.
///     assert!(!t.to_string().contains("result="));
/// });
/// ```
impl<T: fmt::Debug + Sync> fmt::Display for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let raw = self.raw();
        write_repr(f, self, |f| {
            let mut written = Ok(());
            let mut show = |value: *const ()| {
                // SAFETY: `T` is the task's output type, so a non-null pointer
                // is a `*const T` to the stored value, valid during this call
                // (see below); null means no value is stored.
                if let Some(value) = unsafe { (value as *const T).as_ref() } {
                    written = write_value(f, "result", value);
                }
            };
            // `write_repr` calls this only once it saw the task finished
            // (COMPLETE, Acquire); this handle owns the output, and `&self`
            // keeps it from being taken meanwhile.
            // SAFETY: as above; shared reads from several threads are fine (`T: Sync`).
            unsafe { (raw.header().vtable.with_output)(raw.header_ptr(), &mut show) };
            written
        })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::future_name;

    #[test]
    fn future_names_read_like_coroutine_names() {
        assert_eq!(future_name("tour::task_func::{{closure}}"), "task_func");
        assert_eq!(future_name("tour::main::{{closure}}::{{closure}}"), "main");
        assert_eq!(
            future_name("weft_combinators::gather::Gather<tour::f::{{closure}}>"),
            "Gather"
        );
        assert_eq!(
            future_name("tour::run<alloc::string::String>::{{closure}}"),
            "run"
        );
        assert_eq!(future_name("core::future::ready::Ready<i32>"), "Ready");
        assert_eq!(future_name("Plain"), "Plain");
    }
}
