//! Every seed program (the programs of the documents weft was specified from,
//! /work/shared/seeds in the project's notes; crates/weft/examples ports them)
//! prints the lines its Python original prints: one check per program.
//!
//! How: this file includes each example's source as a module (`#[path]`), so
//! the test runs exactly the examples' code, built with the tests. It is a
//! `harness = false` test: `main` runs itself once per example, as a child
//! process told which example to run by `WEFT_SEEDS_EXAMPLE`, captures the
//! child's stdout, splits it into the programs' sections (the `== title`
//! lines the examples print) and compares each section with the lines below,
//! which are the Python outputs with weft's names and locations.
//!
//! The expected lines use:
//! - `{file}`: the example's source path as the task reprs show it;
//! - `{line:TEXT}`: the number of the line of the example's source that
//!   contains TEXT (exactly one must): the spawn site a repr names;
//! - `#`: one or more digits; `#{a}`: the digits of a task id, the same
//!   wherever `#{a}` appears in one program, and different from every other
//!   name's (`#{b}` is another task). Task ids come from one process-wide
//!   counter, so their values depend on what ran before in the process (in
//!   Python as in weft); which task a line shows is what is checked;
//! - a line `{datetime}`: Python's `str(datetime.datetime.now())`,
//!   `2018-06-12 15:32:01.123456` (the digits vary: it is the time);
//! - a line `[[` ... a line `]]`: items that may come in any order; each item
//!   is one line, or, where lines `--` separate them, the lines between,
//!   in order;
//! - a line `{<Task ..>, <Task ..>}`: Python's print of a set of tasks, whose
//!   items may come in any order.
//!
//! Everything else is compared exactly, line by line, in order. Where the
//! Python output is not deterministic, the example takes the order of the
//! recorded run (which set order started or listed the tasks) or the test
//! allows any order; each program's entry says which, and why:
//!
//! | example/program | compared | why not exact |
//! |---|---|---|
//! | tour/asyncio_create_task.py | exact (values as Rust `Debug`) | |
//! | tour/asyncio_cancel_task.py | exact | |
//! | tour/asyncio_cancel_task2.py | exact | |
//! | tour/asyncio_ensure_future.py | exact (values as Rust `Debug`) | |
//! | asyncio_task/15.6.2, 15.6.3 | exact | |
//! | wait | exact (the recorded set order) | |
//! | wait_timeout | exact (the recorded set order) | (the page's output says `cancelling`/`cancelled` where its code prints `canceling`/`canceled`; this follows the code) |
//! | gather | exact (the recorded start order) | |
//! | as_completed | exact (the recorded set order) | |
//! | tasks_and_coroutines/Hello World, chain, both Future programs, parallel factorial | exact | |
//! | tasks_and_coroutines/both current-date programs | 5 lines, each shaped as `str(datetime)` and a second after the one before | the lines are the time |
//! | tasks_tutorial/A Simple Example, as_completed, gather, wait | exact | |
//! | tasks_tutorial/all_tasks | exact, the set's items in any order | Python prints a set (and `main`'s `cb=[..]`, which weft's reprs leave out) |
//! | tasks_tutorial/cancel | exact, each task's two lines together, the tasks in any order | Python walks a set |
//!
//! The programs sleep seconds in the original; the children run with
//! `WEFT_SEEDS_SECOND_MS` so that a second lasts [`SECOND_MS`] ms (the
//! examples default to real seconds). The programs whose sleeps are fractions
//! of a second (`wait`, `wait_timeout`, `as_completed`) keep them.
//!
//! Arguments: names of checks to run (substrings of `example/section`), as
//! libtest filters; flags (`--nocapture`, `--skip x`, ...) are accepted and
//! ignored, except `--list`.

// Each example declares `mod pymotw;` (the helpers the ports share), as it
// does when built alone, so this crate loads that file once per example.
#![allow(clippy::duplicate_mod)]

#[path = "../../crates/weft/examples/as_completed.rs"]
mod as_completed;
#[path = "../../crates/weft/examples/asyncio_task.rs"]
mod asyncio_task;
#[path = "../../crates/weft/examples/gather.rs"]
mod gather;
#[path = "../../crates/weft/examples/tasks_and_coroutines.rs"]
mod tasks_and_coroutines;
#[path = "../../crates/weft/examples/tasks_tutorial.rs"]
mod tasks_tutorial;
#[path = "../../crates/weft/examples/tour.rs"]
mod tour;
#[path = "../../crates/weft/examples/wait.rs"]
mod wait;
#[path = "../../crates/weft/examples/wait_timeout.rs"]
mod wait_timeout;

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

/// How long a second of the original programs lasts in the children, in ms.
const SECOND_MS: u32 = 100;

/// How long one example may run before its child is declared hung.
const LIMIT: Duration = Duration::from_secs(60);

/// One example: its name (file stem), its source, how to run it, and the
/// expected output of each of its programs, by section title.
struct Example {
    name: &'static str,
    source: &'static str,
    run: fn() -> Result<(), Box<dyn std::error::Error>>,
    programs: &'static [(&'static str, &'static str)],
}

const EXAMPLES: &[Example] = &[
    Example {
        name: "tour",
        source: include_str!("../../crates/weft/examples/tour.rs"),
        run: tour::main,
        programs: &[
            (
                "Starting a Task (asyncio_create_task.py)",
                "\
creating task
waiting for <Task pending name='Task-#{t}' coro=<task_func() running at {file}:{line:let mut task = weft::spawn_local(task_func());}>>
in task_func
task completed <Task finished name='Task-#{t}' coro=<task_func() done, defined at {file}:{line:let mut task = weft::spawn_local(task_func());}> result=\"the result\">
return value: \"the result\"",
            ),
            (
                "Canceling a Task (asyncio_cancel_task.py)",
                "\
creating task
canceling task
canceled task <Task cancelling name='Task-#{t}' coro=<task_func() running at {file}:{line:let task = weft::spawn_local(task_func());}>>
caught error from canceled task",
            ),
            (
                "Canceling a running Task (asyncio_cancel_task2.py)",
                "\
creating task
in task_func, sleeping
in task_canceller
canceled the task
task_func was canceled
main() also sees task as canceled",
            ),
            (
                "Creating Tasks from Coroutines (asyncio_ensure_future.py)",
                "\
entering event loop
starter: creating task
starter: waiting for inner
inner: starting
inner: waiting for <Task pending name='Task-#{t}' coro=<wrapped() running at {file}:{line:weft::ensure_future!(wrapped())}>>
wrapped
inner: task returned \"result\"
starter: inner returned",
            ),
        ],
    },
    Example {
        name: "asyncio_task",
        source: include_str!("../../crates/weft/examples/asyncio_task.rs"),
        run: asyncio_task::main,
        programs: &[
            ("Example (15.6.2): create a task, await it", "done"),
            (
                "Example (15.6.3): three tasks, three sleeps",
                "\
a: started
b: started
c: started
b: finished
a: finished
c: finished",
            ),
        ],
    },
    Example {
        name: "wait",
        source: include_str!("../../crates/weft/examples/wait.rs"),
        run: wait::main,
        programs: &[(
            "",
            "\
starting main
waiting for phases to complete
in phase 0
in phase 1
in phase 2
done with phase 0
done with phase 1
done with phase 2
results: ['phase 1 result', 'phase 0 result', 'phase 2 result']",
        )],
    },
    Example {
        name: "wait_timeout",
        source: include_str!("../../crates/weft/examples/wait_timeout.rs"),
        run: wait_timeout::main,
        programs: &[(
            "",
            "\
starting main
waiting 0.1 for phases to complete
in phase 1
in phase 0
in phase 2
done with phase 0
1 completed and 2 pending
canceling tasks
exiting main
phase 1 canceled
phase 2 canceled",
        )],
    },
    Example {
        name: "gather",
        source: include_str!("../../crates/weft/examples/gather.rs"),
        run: gather::main,
        programs: &[(
            "",
            "\
starting main
waiting for phases to complete
in phase2
in phase1
done with phase2
done with phase1
results: ['phase1 result', 'phase2 result']",
        )],
    },
    Example {
        name: "as_completed",
        source: include_str!("../../crates/weft/examples/as_completed.rs"),
        run: as_completed::main,
        programs: &[(
            "",
            "\
starting main
waiting for phases to complete
in phase 0
in phase 2
in phase 1
done with phase 2
received answer 'phase 2 result'
done with phase 1
received answer 'phase 1 result'
done with phase 0
received answer 'phase 0 result'
results: ['phase 2 result', 'phase 1 result', 'phase 0 result']",
        )],
    },
    Example {
        name: "tasks_and_coroutines",
        source: include_str!("../../crates/weft/examples/tasks_and_coroutines.rs"),
        run: tasks_and_coroutines::main,
        programs: &[
            ("Example: Hello World coroutine", "Hello World!"),
            (
                "Example: Coroutine displaying the current date",
                "\
{datetime}
{datetime}
{datetime}
{datetime}
{datetime}",
            ),
            (
                "Example: Display the current date with call_later()",
                "\
{datetime}
{datetime}
{datetime}
{datetime}
{datetime}",
            ),
            (
                "Example: Chain coroutines",
                "\
Compute 1 + 2 ...
1 + 2 = 3",
            ),
            ("Example: Future with run_until_complete()", "Future is done!"),
            ("Example: Future with run_forever()", "Future is done!"),
            (
                "Example: Parallel execution of tasks",
                "\
Task A: Compute factorial(2)...
Task B: Compute factorial(2)...
Task C: Compute factorial(2)...
Task A: factorial(2) = 2
Task B: Compute factorial(3)...
Task C: Compute factorial(3)...
Task B: factorial(3) = 6
Task C: Compute factorial(4)...
Task C: factorial(4) = 24",
            ),
        ],
    },
    Example {
        name: "tasks_tutorial",
        source: include_str!("../../crates/weft/examples/tasks_tutorial.rs"),
        run: tasks_tutorial::main,
        programs: &[
            (
                "A Simple Example",
                "\
Processing Task
Processing Task
Processing Task
Processing Task
Processing Task
Completed All Tasks",
            ),
            (
                "The all_tasks(loop=None) method",
                "\
{<Task pending name='Task-#{a}' coro=<my_task() running at {file}:{line:weft::ensure_future!(my_task()).detach();}>>, \
<Task pending name='Task-#{b}' coro=<my_task() running at {file}:{line:weft::ensure_future!(my_task()).detach();}>>, \
<Task pending name='Task-#{m}' coro=<all_tasks_main() running at {file}:{line:run_main(all_tasks_main())}>>, \
<Task pending name='Task-#{c}' coro=<my_task() running at {file}:{line:weft::ensure_future!(my_task()).detach();}>>, \
<Task pending name='Task-#{d}' coro=<my_task() running at {file}:{line:weft::ensure_future!(my_task()).detach();}>>, \
<Task pending name='Task-#{e}' coro=<my_task() running at {file}:{line:weft::ensure_future!(my_task()).detach();}>>}
Processing Task
Processing Task
Processing Task
Processing Task
Processing Task
Completed All Tasks",
            ),
            // Python walks a set of the tasks (`all_tasks()`), in an arbitrary
            // order: each task's two lines come together, the tasks in any
            // order. The task running the loop cancels itself too.
            (
                "The cancel() function",
                "\
Processing Task
[[
<Task pending name='Task-#{a}' coro=<my_cancelling_task() running at {file}:{line:weft::ensure_future!(my_cancelling_task()).detach();}>>
<Task cancelling name='Task-#{a}' coro=<my_cancelling_task() running at {file}:{line:weft::ensure_future!(my_cancelling_task()).detach();}>>
--
<Task pending name='Task-#{b}' coro=<my_cancelling_task() running at {file}:{line:weft::ensure_future!(my_cancelling_task()).detach();}>>
<Task cancelling name='Task-#{b}' coro=<my_cancelling_task() running at {file}:{line:weft::ensure_future!(my_cancelling_task()).detach();}>>
--
<Task pending name='Task-#{c}' coro=<my_cancelling_task() running at {file}:{line:weft::ensure_future!(my_cancelling_task()).detach();}>>
<Task cancelling name='Task-#{c}' coro=<my_cancelling_task() running at {file}:{line:weft::ensure_future!(my_cancelling_task()).detach();}>>
--
<Task pending name='Task-#{d}' coro=<my_cancelling_task() running at {file}:{line:weft::ensure_future!(my_cancelling_task()).detach();}>>
<Task cancelling name='Task-#{d}' coro=<my_cancelling_task() running at {file}:{line:weft::ensure_future!(my_cancelling_task()).detach();}>>
--
<Task pending name='Task-#{e}' coro=<my_cancelling_task() running at {file}:{line:weft::ensure_future!(my_cancelling_task()).detach();}>>
<Task cancelling name='Task-#{e}' coro=<my_cancelling_task() running at {file}:{line:weft::ensure_future!(my_cancelling_task()).detach();}>>
]]
Completed All Tasks",
            ),
            (
                "The as_completed() function",
                "\
2
2
2
2
2",
            ),
            (
                "The gather() function",
                "\
Hello World
Hello World
Hello World
Hello World
Hello World",
            ),
            (
                "The wait() function",
                "\
Hello World
Hello World
Hello World
Hello World
Hello World",
            ),
        ],
    },
];

/// The task ids one program's lines have bound so far: `#{a}` binds `a` to
/// the digits it matches the first time; a later `#{a}` must match the same
/// digits, and two names never bind the same digits (they name two tasks).
#[derive(Clone, Debug, Default)]
struct Bindings(Vec<(String, String)>);

impl Bindings {
    /// Binds `name` to `digits`, or checks the binding it has.
    fn bind(&mut self, name: &str, digits: &str) -> bool {
        match self.0.iter().find(|(n, _)| n == name) {
            Some((_, d)) => d == digits,
            None if self.0.iter().any(|(_, d)| d == digits) => false,
            None => {
                self.0.push((name.to_owned(), digits.to_owned()));
                true
            }
        }
    }
}

/// An expected line standing for Python's `str(datetime.datetime.now())`.
const DATETIME: &str = "{datetime}";

/// Whether `line` reads like Python's `str(datetime)`: `2018-06-12
/// 15:32:01.123456`, without the `.123456` when the microseconds are zero.
fn is_py_datetime(line: &str) -> bool {
    let shaped = |s: &str, shape: &str| {
        s.len() == shape.len()
            && s.bytes().zip(shape.bytes()).all(|(c, p)| match p {
                b'9' => c.is_ascii_digit(),
                _ => c == p,
            })
    };
    let seconds = "9999-99-99 99:99:99";
    match line.split_once('.') {
        Some((whole, micros)) => {
            shaped(whole, seconds) && shaped(micros, "999999") && micros != "000000"
        }
        None => shaped(line, seconds),
    }
}

/// The time of day a [`DATETIME`] line shows, in seconds, and its date.
fn py_datetime_seconds(line: &str) -> Option<(&str, f64)> {
    let (date, time) = line.split_once(' ')?;
    let mut parts = time.split(':');
    let mut next = || parts.next().and_then(|p| p.parse::<f64>().ok());
    Some((date, next()? * 3600.0 + next()? * 60.0 + next()?))
}

/// Whether `line`, a [`DATETIME`] line printed after `prev`, shows a time at
/// least about one of the programs' seconds later (they print the time once
/// a second, and their sleeps never end early). The next day counts as one
/// day later.
fn a_second_later(prev: &str, line: &str) -> bool {
    let (Some((prev_date, prev_secs)), Some((date, secs))) =
        (py_datetime_seconds(prev), py_datetime_seconds(line))
    else {
        return false;
    };
    let day = if date > prev_date { 86_400.0 } else { 0.0 };
    let second = f64::from(SECOND_MS) / 1000.0;
    date >= prev_date && secs + day - prev_secs >= 0.9 * second
}

/// One expected line: literal text in which `#` stands for one or more
/// digits and `#{a}` for digits bound to `a` (see [`Bindings`]); or the line
/// [`DATETIME`]. On a match the line's new bindings are added to `bound`; on
/// a mismatch `bound` is left as it was.
fn line_matches(pattern: &str, actual: &str, bound: &mut Bindings) -> bool {
    if pattern == DATETIME {
        return is_py_datetime(actual);
    }
    let mut b = bound.clone();
    let mut pieces = pattern.split('#');
    let first = pieces.next().unwrap_or("");
    let Some(mut rest) = actual.strip_prefix(first) else {
        return false;
    };
    for piece in pieces {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return false;
        }
        let (number, after_number) = rest.split_at(digits);
        let capture = piece
            .strip_prefix('{')
            .and_then(|p| p.split_once('}'))
            .filter(|(name, _)| {
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric())
            });
        let literal = match capture {
            Some((name, literal)) if b.bind(name, number) => literal,
            Some(_) => return false,
            None => piece,
        };
        let Some(after) = after_number.strip_prefix(literal) else {
            return false;
        };
        rest = after;
    }
    if !rest.is_empty() {
        return false;
    }
    *bound = b;
    true
}

/// Whether `actual` is the `items` (each a run of expected lines, matched in
/// order) one after the other in some order, each used once. Tries every
/// order (the groups here have at most six items); on a match the bindings
/// are added to `bound`.
fn unordered_matches(items: &[Vec<String>], actual: &[&str], bound: &mut Bindings) -> bool {
    fn from(
        items: &[Vec<String>],
        used: &mut [bool],
        actual: &[&str],
        bound: &mut Bindings,
    ) -> bool {
        if actual.is_empty() {
            return used.iter().all(|u| *u);
        }
        for i in 0..items.len() {
            if used[i] {
                continue;
            }
            let Some(lines) = actual.get(..items[i].len()) else {
                continue;
            };
            let mut b = bound.clone();
            if !items[i]
                .iter()
                .zip(lines)
                .all(|(p, l)| line_matches(p, l, &mut b))
            {
                continue;
            }
            used[i] = true;
            if from(items, used, &actual[lines.len()..], &mut b) {
                *bound = b;
                return true;
            }
            used[i] = false;
        }
        false
    }
    let mut used = vec![false; items.len()];
    from(items, &mut used, actual, bound)
}

/// The items of Python's print of a set of tasks: `{<Task a>, <Task b>}`.
fn task_set_items(line: &str) -> Option<Vec<&str>> {
    let inner = line.strip_prefix("{<Task ")?.strip_suffix(">}")?;
    Some(inner.split(">, <Task ").collect())
}

/// Expands `{file}` and `{line:TEXT}` in `expected` for `example`.
fn expand(expected: &str, example: &Example, file: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = expected;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        if let Some(after) = tail.strip_prefix("{file}") {
            out.push_str(file);
            rest = after;
        } else if let Some(after) = tail.strip_prefix("{line:") {
            let end = after.find('}').ok_or("unclosed {line:")?;
            let needle = &after[..end];
            let found: Vec<usize> = example
                .source
                .lines()
                .enumerate()
                .filter(|(_, l)| l.contains(needle))
                .map(|(i, _)| i + 1)
                .collect();
            match found[..] {
                [line] => out.push_str(&line.to_string()),
                _ => {
                    return Err(format!(
                        "{:?} is on lines {found:?} of {}",
                        needle, example.name
                    ))
                }
            }
            rest = &after[end + 1..];
        } else {
            out.push('{');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Compares one program's output with its expected lines; `Err` says where
/// they differ.
fn compare(expected: &str, actual: &[&str]) -> Result<(), String> {
    let expected: Vec<&str> = expected.lines().collect();
    let mut bound = Bindings::default();
    let mut last_datetime: Option<&str> = None;
    let (mut e, mut a) = (0, 0);
    while e < expected.len() {
        if expected[e] == "[[" {
            let end = expected[e..]
                .iter()
                .position(|l| *l == "]]")
                .map(|p| e + p)
                .ok_or("unclosed [[")?;
            let group = &expected[e + 1..end];
            let owned = |lines: &[&str]| lines.iter().map(|s| s.to_string()).collect::<Vec<_>>();
            let items: Vec<Vec<String>> = if group.contains(&"--") {
                group.split(|l| *l == "--").map(owned).collect()
            } else {
                group.iter().map(|l| owned(&[l])).collect()
            };
            let len: usize = items.iter().map(Vec::len).sum();
            let got = actual
                .get(a..a + len)
                .unwrap_or(&actual[a.min(actual.len())..]);
            if !unordered_matches(&items, got, &mut bound) {
                return Err(format!(
                    "lines {}..{}, in any order:\n  expected {items:#?}\n  got {got:#?}\n  with {bound:?}",
                    a + 1,
                    a + len + 1
                ));
            }
            a += len;
            e = end + 1;
            continue;
        }
        let Some(line) = actual.get(a) else {
            return Err(format!(
                "line {}: expected {:?}, got the end",
                a + 1,
                expected[e]
            ));
        };
        let same = match (task_set_items(expected[e]), task_set_items(line)) {
            (Some(want), Some(got)) => {
                let want: Vec<Vec<String>> = want.iter().map(|s| vec![s.to_string()]).collect();
                unordered_matches(&want, &got, &mut bound)
            }
            _ => line_matches(expected[e], line, &mut bound),
        };
        if !same {
            return Err(format!(
                "line {}:\n  expected {:?}\n  got      {line:?}\n  with {bound:?}",
                a + 1,
                expected[e]
            ));
        }
        if expected[e] == DATETIME {
            if let Some(prev) = last_datetime.filter(|prev| !a_second_later(prev, line)) {
                return Err(format!(
                    "line {}: {line:?} is not a second ({SECOND_MS} ms) after {prev:?}",
                    a + 1
                ));
            }
            last_datetime = Some(line);
        }
        e += 1;
        a += 1;
    }
    match actual.get(a) {
        Some(extra) => Err(format!("line {}: expected the end, got {extra:?}", a + 1)),
        None => Ok(()),
    }
}

/// Splits an example's output at its `== title` lines: (title, lines), the
/// blank lines between sections dropped. Output before any title is the
/// section titled "".
fn sections(stdout: &str) -> Vec<(&str, Vec<&str>)> {
    let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
    for line in stdout.lines() {
        match line.strip_prefix("== ") {
            Some(title) => out.push((title, Vec::new())),
            None => {
                if out.is_empty() {
                    out.push(("", Vec::new()));
                }
                out.last_mut().unwrap().1.push(line);
            }
        }
    }
    for (_, lines) in &mut out {
        while lines.last() == Some(&"") {
            lines.pop();
        }
    }
    out
}

/// Runs `example` in a child process; its stdout, or why there is none.
fn run_child(example: &Example) -> Result<String, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .env("WEFT_SEEDS_EXAMPLE", example.name)
        .env("WEFT_SEEDS_SECOND_MS", SECOND_MS.to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the child: {e}"))?;
    let started = Instant::now();
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("did not finish within {LIMIT:?}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!(
            "exited with {}\nstdout:\n{stdout}\nstderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(stdout)
}

/// Runs one example's checks; prints one line per program; the number failed.
fn check(example: &Example, wanted: &dyn Fn(&str) -> bool) -> usize {
    let names: Vec<String> = example
        .programs
        .iter()
        .map(|(title, _)| format!("{}/{title}", example.name))
        .collect();
    if !names.iter().any(|n| wanted(n)) {
        return 0;
    }
    // The path the reprs show: this file's directory, then the `#[path]`.
    let dir = Path::new(file!())
        .parent()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let file = format!("{dir}/../../crates/weft/examples/{}.rs", example.name);
    let stdout = match run_child(example) {
        Ok(stdout) => stdout,
        Err(why) => {
            println!("test seeds {} ... FAILED\n{why}", example.name);
            return example.programs.len();
        }
    };
    let got = sections(&stdout);
    let mut failed = 0;
    for (i, (title, expected)) in example.programs.iter().enumerate() {
        if !wanted(&names[i]) {
            continue;
        }
        let result = expand(expected, example, &file).and_then(|expected| {
            let lines = got
                .iter()
                .find(|(t, _)| t == title)
                .map(|(_, l)| l.clone())
                .ok_or_else(|| format!("no section {title:?} in:\n{stdout}"))?;
            compare(&expected, &lines)
                .map_err(|why| format!("{why}\nthe section printed:\n{}", lines.join("\n")))
        });
        match result {
            Ok(()) => println!("test seeds {} ... ok", names[i]),
            Err(why) => {
                failed += 1;
                println!("test seeds {} ... FAILED\n{why}\n", names[i]);
            }
        }
    }
    if got.len() != example.programs.len() {
        failed += 1;
        println!(
            "test seeds {} ... FAILED: {} sections printed, {} expected",
            example.name,
            got.len(),
            example.programs.len()
        );
    }
    failed
}

/// The comparison itself must be able to fail: known mismatches are refused.
fn self_check() {
    let line = |p: &str, a: &str| line_matches(p, a, &mut Bindings::default());
    assert!(line("Task-#' at f.rs:#>", "Task-12' at f.rs:7>"));
    assert!(!line("Task-#'", "Task-'"));
    assert!(!line("Task-#'", "Task-1'x"));
    assert!(!line("abc", "ab"));
    assert!(line("Task-#{a}'", "Task-3'"));
    assert!(!line("Task-#{a}'", "Task-x'"));
    assert!(compare("a\nb", &["a", "b"]).is_ok());
    assert!(compare("a\nb", &["b", "a"]).is_err());
    assert!(compare("a\nb", &["a"]).is_err());
    assert!(compare("a", &["a", "b"]).is_err());
    // One name, one task; two names, two tasks.
    assert!(compare("T#{a}\nT#{a}", &["T1", "T1"]).is_ok());
    assert!(compare("T#{a}\nT#{a}", &["T1", "T2"]).is_err());
    assert!(compare("T#{a}\nT#{b}", &["T1", "T1"]).is_err());
    assert!(compare("[[\na\nb\n]]\nc", &["b", "a", "c"]).is_ok());
    assert!(compare("[[\na\nb\n]]\nc", &["b", "c", "a"]).is_err());
    // Items of several lines: any order of the items, each in its order.
    let pairs = "[[\np#{a}\nc#{a}\n--\np#{b}\nc#{b}\n]]";
    assert!(compare(pairs, &["p2", "c2", "p1", "c1"]).is_ok());
    assert!(compare(pairs, &["p2", "p1", "c2", "c1"]).is_err());
    assert!(compare(pairs, &["p2", "c1", "p1", "c2"]).is_err());
    assert!(compare(pairs, &["p1", "c1", "p1", "c1"]).is_err());
    assert!(compare(pairs, &["p1", "c1", "p2"]).is_err());
    assert!(compare("{<Task a>, <Task b#>}", &["{<Task b1>, <Task a>}"]).is_ok());
    assert!(compare("{<Task a>, <Task b#>}", &["{<Task b1>, <Task b2>}"]).is_err());
    assert!(compare("{<Task #{a}>, <Task #{b}>}", &["{<Task 1>, <Task 1>}"]).is_err());
    assert!(compare(DATETIME, &["2018-06-12 15:32:01.123456"]).is_ok());
    assert!(compare(DATETIME, &["2018-06-12 15:32:01"]).is_ok());
    assert!(compare(DATETIME, &["2018-06-12 15:32:01.000000"]).is_err());
    assert!(compare(DATETIME, &["2018-6-12 15:32:01.123456"]).is_err());
    assert!(compare(DATETIME, &["2018-06-12 15:32:01.12345"]).is_err());
    let two = "{datetime}\n{datetime}";
    assert!(compare(
        two,
        &["2018-06-12 15:32:01.950000", "2018-06-12 15:32:02.050000"]
    )
    .is_ok());
    assert!(compare(
        two,
        &["2018-06-12 15:32:01.950000", "2018-06-12 15:32:01.960000"]
    )
    .is_err());
    assert!(compare(
        two,
        &["2018-06-12 15:32:02.050000", "2018-06-12 15:32:01.950000"]
    )
    .is_err());
    assert!(compare(
        two,
        &["2018-06-12 23:59:59.950000", "2018-06-13 00:00:00.050000"]
    )
    .is_ok());
    let tour = &EXAMPLES[0];
    assert!(expand("{line:fn task_func()}", tour, "f").is_ok());
    assert!(
        expand("{line:weft::run}", tour, "f").is_err(),
        "a text on several lines"
    );
}

fn main() -> ExitCode {
    if let Ok(name) = std::env::var("WEFT_SEEDS_EXAMPLE") {
        let Some(example) = EXAMPLES.iter().find(|e| e.name == name) else {
            eprintln!("no example {name}");
            return ExitCode::FAILURE;
        };
        return match (example.run)() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{name}: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let mut args = std::env::args().skip(1);
    let mut filters = Vec::new();
    let mut list = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--list" => list = true,
            // libtest flags that take a value.
            "--skip" | "--test-threads" | "--format" | "--color" | "-Z" | "--logfile" => {
                args.next();
            }
            flag if flag.starts_with('-') => {}
            filter => filters.push(filter.to_owned()),
        }
    }
    let wanted =
        |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()));
    if list {
        for example in EXAMPLES {
            for (title, _) in example.programs {
                let name = format!("seeds {}/{title}", example.name);
                if wanted(&name) {
                    println!("{name}: test");
                }
            }
        }
        return ExitCode::SUCCESS;
    }
    self_check();
    let failed: usize = EXAMPLES.iter().map(|e| check(e, &wanted)).sum();
    if failed == 0 {
        println!("\nseeds: every program printed its lines");
        ExitCode::SUCCESS
    } else {
        println!("\nseeds: {failed} failed");
        ExitCode::FAILURE
    }
}
