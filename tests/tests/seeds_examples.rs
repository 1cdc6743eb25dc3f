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
//! - `#`: one or more digits (task ids, timestamps);
//! - a line `[[` ... a line `]]`: lines that may come in any order (a
//!   program whose order depends on timers firing in the same instant);
//! - a line `{<Task ..>, <Task ..>}`: Python's print of a set of tasks, whose
//!   items may come in any order.
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
waiting for <Task pending name='Task-#' coro=<task_func() running at {file}:{line:let mut task = weft::spawn_local(task_func());}>>
in task_func
task completed <Task finished name='Task-#' coro=<task_func() done, defined at {file}:{line:let mut task = weft::spawn_local(task_func());}> result=\"the result\">
return value: \"the result\"",
            ),
            (
                "Canceling a Task (asyncio_cancel_task.py)",
                "\
creating task
canceling task
canceled task <Task cancelling name='Task-#' coro=<task_func() running at {file}:{line:let task = weft::spawn_local(task_func());}>>
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
inner: waiting for <Task pending name='Task-#' coro=<wrapped() running at {file}:{line:weft::ensure_future!(wrapped())}>>
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
results: ['phase 0 result', 'phase 1 result', 'phase 2 result']",
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
#-#-# #:#:#.#
#-#-# #:#:#.#
#-#-# #:#:#.#
#-#-# #:#:#.#
#-#-# #:#:#.#",
            ),
            (
                "Example: Display the current date with call_later()",
                "\
#-#-# #:#:#.#
#-#-# #:#:#.#
#-#-# #:#:#.#
#-#-# #:#:#.#
#-#-# #:#:#.#",
            ),
            (
                "Example: Chain coroutines",
                "\
Compute 1 + 2 ...
1 + 2 = 3",
            ),
            ("Example: Future with run_until_complete()", "Future is done!"),
            ("Example: Future with run_forever()", "Future is done!"),
            // The three tasks wake from their sleeps at the same instant; a
            // one-worker runtime does not yet run tasks woken together in the
            // order they were woken (issue 16 section 2: FIFO on one worker),
            // so each round's lines may come in any order.
            (
                "Example: Parallel execution of tasks",
                "\
Task A: Compute factorial(2)...
Task B: Compute factorial(2)...
Task C: Compute factorial(2)...
[[
Task A: factorial(2) = 2
Task B: Compute factorial(3)...
Task C: Compute factorial(3)...
]]
[[
Task B: factorial(3) = 6
Task C: Compute factorial(4)...
]]
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
{<Task pending name='Task-#' coro=<my_task() running at {file}:{line:(0..5).map(|_| weft::ensure_future!(my_task())).collect()}>>, \
<Task pending name='Task-#' coro=<my_task() running at {file}:{line:(0..5).map(|_| weft::ensure_future!(my_task())).collect()}>>, \
<Task pending name='Task-#' coro=<all_tasks_main() running at {file}:{line:run_until_complete_with_tasks(all_tasks_main())}>>, \
<Task pending name='Task-#' coro=<my_task() running at {file}:{line:(0..5).map(|_| weft::ensure_future!(my_task())).collect()}>>, \
<Task pending name='Task-#' coro=<my_task() running at {file}:{line:(0..5).map(|_| weft::ensure_future!(my_task())).collect()}>>, \
<Task pending name='Task-#' coro=<my_task() running at {file}:{line:(0..5).map(|_| weft::ensure_future!(my_task())).collect()}>>}
Processing Task
Processing Task
Processing Task
Processing Task
Processing Task
Completed All Tasks",
            ),
            (
                "The cancel() function",
                "\
Processing Task
[[
<Task pending name='Task-#' coro=<my_cancelling_task() running at {file}:{line:.map(|_| weft::ensure_future!(my_cancelling_task()))}>>
<Task cancelling name='Task-#' coro=<my_cancelling_task() running at {file}:{line:.map(|_| weft::ensure_future!(my_cancelling_task()))}>>
<Task pending name='Task-#' coro=<my_cancelling_task() running at {file}:{line:.map(|_| weft::ensure_future!(my_cancelling_task()))}>>
<Task cancelling name='Task-#' coro=<my_cancelling_task() running at {file}:{line:.map(|_| weft::ensure_future!(my_cancelling_task()))}>>
<Task pending name='Task-#' coro=<my_cancelling_task() running at {file}:{line:.map(|_| weft::ensure_future!(my_cancelling_task()))}>>
<Task cancelling name='Task-#' coro=<my_cancelling_task() running at {file}:{line:.map(|_| weft::ensure_future!(my_cancelling_task()))}>>
<Task pending name='Task-#' coro=<my_cancelling_task() running at {file}:{line:.map(|_| weft::ensure_future!(my_cancelling_task()))}>>
<Task cancelling name='Task-#' coro=<my_cancelling_task() running at {file}:{line:.map(|_| weft::ensure_future!(my_cancelling_task()))}>>
<Task pending name='Task-#' coro=<my_cancelling_task() running at {file}:{line:.map(|_| weft::ensure_future!(my_cancelling_task()))}>>
<Task cancelling name='Task-#' coro=<my_cancelling_task() running at {file}:{line:.map(|_| weft::ensure_future!(my_cancelling_task()))}>>
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

/// One expected line: literal text in which `#` stands for one or more digits.
fn line_matches(pattern: &str, actual: &str) -> bool {
    let mut rest = actual;
    let mut pieces = pattern.split('#');
    let first = pieces.next().unwrap_or("");
    let Some(after) = rest.strip_prefix(first) else {
        return false;
    };
    rest = after;
    for piece in pieces {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return false;
        }
        let Some(after) = rest[digits..].strip_prefix(piece) else {
            return false;
        };
        rest = after;
    }
    rest.is_empty()
}

/// Whether `actual` holds one match per pattern, in any order (each pattern
/// used once; the patterns here are equal or exclusive, so first-fit works).
fn unordered_matches(patterns: &[String], actual: &[&str]) -> bool {
    if patterns.len() != actual.len() {
        return false;
    }
    let mut used = vec![false; patterns.len()];
    actual.iter().all(|line| {
        let free = (0..patterns.len()).find(|&i| !used[i] && line_matches(&patterns[i], line));
        free.map(|i| used[i] = true).is_some()
    })
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
    let (mut e, mut a) = (0, 0);
    while e < expected.len() {
        if expected[e] == "[[" {
            let end = expected[e..]
                .iter()
                .position(|l| *l == "]]")
                .map(|p| e + p)
                .ok_or("unclosed [[")?;
            let group: Vec<String> = expected[e + 1..end].iter().map(|s| s.to_string()).collect();
            let got = actual.get(a..a + group.len()).unwrap_or(&[]);
            if !unordered_matches(&group, got) {
                return Err(format!(
                    "lines {}..{}, in any order:\n  expected {group:#?}\n  got {got:#?}",
                    a + 1,
                    a + group.len() + 1
                ));
            }
            a += group.len();
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
                let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
                unordered_matches(&want, &got)
            }
            _ => line_matches(expected[e], line),
        };
        if !same {
            return Err(format!(
                "line {}:\n  expected {:?}\n  got      {line:?}",
                a + 1,
                expected[e]
            ));
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
    assert!(line_matches("Task-#' at f.rs:#>", "Task-12' at f.rs:7>"));
    assert!(!line_matches("Task-#'", "Task-'"));
    assert!(!line_matches("Task-#'", "Task-1'x"));
    assert!(!line_matches("abc", "ab"));
    assert!(compare("a\nb", &["a", "b"]).is_ok());
    assert!(compare("a\nb", &["b", "a"]).is_err());
    assert!(compare("a\nb", &["a"]).is_err());
    assert!(compare("a", &["a", "b"]).is_err());
    assert!(compare("[[\na\nb\n]]\nc", &["b", "a", "c"]).is_ok());
    assert!(compare("[[\na\nb\n]]\nc", &["b", "c", "a"]).is_err());
    assert!(compare("{<Task a>, <Task b#>}", &["{<Task b1>, <Task a>}"]).is_ok());
    assert!(compare("{<Task a>, <Task b#>}", &["{<Task b1>, <Task b2>}"]).is_err());
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
