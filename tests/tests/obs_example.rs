//! crates/weft/examples/observe.rs (issue 17, section 6), run as it is: its
//! log lines carry the task spans' fields (name, id, spawn site), its dump
//! draws the await chains down to what they wait for, and its metrics add
//! up. Nothing here depends on a timing.
//!
//! The example installs a process-wide subscriber and prints to stdout, so
//! it runs in a child process: this test binary again, told to run only the
//! ignored test that calls the example's `main`.

#[path = "../../crates/weft/examples/observe.rs"]
mod observe;

use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The example's source, to find the spawn sites its lines must name.
const SOURCE: &str = include_str!("../../crates/weft/examples/observe.rs");

/// How long the child may run before it is declared hung (it takes well
/// under a second).
const LIMIT: Duration = Duration::from_secs(60);

/// The test that is the example; run only by the child.
const CHILD_TEST: &str = "observe_example_itself";

#[test]
#[ignore = "the example itself: observe_example_prints_spans_dump_and_metrics runs it in a child process"]
fn observe_example_itself() {
    observe::main();
}

/// The number of the one line of the example's source containing `text`.
fn line_of(text: &str) -> usize {
    let found: Vec<usize> = SOURCE
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(text))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{text:?} is on lines {found:?} of observe.rs"
    );
    found[0]
}

/// Runs the example in a child process; its stdout.
fn run_example() -> String {
    let exe = std::env::current_exe().expect("the test binary's path");
    let child = Command::new(exe)
        .args([
            CHILD_TEST,
            "--exact",
            "--ignored",
            "--test-threads=1",
            "--quiet",
            "--nocapture",
        ])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the test binary starts");
    let pid = child.id();
    let (tx, rx) = mpsc::channel::<std::io::Result<Output>>();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(LIMIT) {
        Ok(out) => out.expect("the child's output"),
        Err(_) => {
            let pid = libc::pid_t::try_from(pid).expect("a pid");
            // SAFETY: kill(2) takes plain integers; `pid` is our child,
            // not yet reaped (its waiter has not returned).
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the example did not end within {LIMIT:?}");
        }
    };
    let stdout = String::from_utf8(out.stdout).expect("utf-8 stdout");
    assert!(
        out.status.success(),
        "the example failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The lines of `out` after the line `title`, up to the next `== ` line.
fn section<'a>(out: &'a str, title: &str) -> Vec<&'a str> {
    let mut lines = out.lines().skip_while(|l| *l != title);
    assert!(lines.next().is_some(), "no {title:?} in:\n{out}");
    lines.take_while(|l| !l.starts_with("== ")).collect()
}

/// A line of the dump's tree: its depth (0 for a root) and its text. A
/// line is four characters of indentation per level, then `├── ` or `└── `.
fn tree_line(line: &str) -> (usize, &str) {
    let at = line
        .find("── ")
        .unwrap_or_else(|| panic!("not a tree line: {line:?}"));
    let text = &line[at + "── ".len()..];
    let before = line[..at].chars().count();
    assert_eq!(before % 4, 1, "{line:?}");
    (before / 4, text)
}

/// Whether a dump line's text is task `name` waiting, spawned at `line` of
/// the example.
fn is_waiting_task(text: &str, name: &str, line: usize) -> bool {
    let Some(rest) = text.strip_prefix(&format!("(T) {name} #")) else {
        return false;
    };
    let Some((id, rest)) = rest.split_once(' ') else {
        return false;
    };
    !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_digit())
        && rest.starts_with("waiting at ")
        && rest.contains(&format!("observe.rs:{line} "))
}

/// The number after `key ` in `line` (`polls 12,` gives 12).
fn number_after(line: &str, key: &str) -> u64 {
    let rest = &line[line
        .find(key)
        .unwrap_or_else(|| panic!("no {key:?} in {line:?}"))
        + key.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number after {key:?} in {line:?}"))
}

#[test]
fn observe_example_prints_spans_dump_and_metrics() {
    let out = run_example();

    // Spans: every task's lines name it, with its id and its spawn site.
    let server_at = line_of("rt.spawn(server(database.clone()))");
    let consumer_at = line_of("weft::spawn(consumer(i, jobs.clone()))");
    let producer_at = line_of("weft::spawn(producer(jobs.clone()))");
    let fetch_at = line_of("weft::spawn(fetch(key, database.clone()))");
    let query_at = line_of("weft::spawn(query(key, database))");
    let tasks = [
        ("server", server_at, "starting"),
        ("consumer-0", consumer_at, "queue shut down"),
        ("consumer-1", consumer_at, "queue shut down"),
        ("producer", producer_at, "queued jobs=4"),
        ("fetch-users", fetch_at, "fetching key=\"users\""),
        ("fetch-orders", fetch_at, "fetched key=\"orders\" size=600"),
        (
            "query-users",
            query_at,
            "waiting for the database key=\"users\"",
        ),
        (
            "query-orders",
            query_at,
            "waiting for the database key=\"orders\"",
        ),
    ];
    for (name, spawned_at, message) in tasks {
        let line = out
            .lines()
            .find(|l| l.contains(&format!("task.name=\"{name}\"")) && l.contains(message))
            .unwrap_or_else(|| panic!("no line of {name} saying {message:?} in:\n{out}"));
        assert!(line.contains(" INFO "), "{line}");
        assert!(line.contains(" task{task.id="), "{line}");
        assert!(
            line.contains(&format!("observe.rs\" loc.line={spawned_at} loc.col=")),
            "{name}'s line names another spawn site than line {spawned_at}: {line}"
        );
    }
    // Each task is one span: one id per name, different names different ids.
    let mut ids = std::collections::HashMap::new();
    for line in out.lines().filter(|l| l.contains(" task{task.id=")) {
        let id = number_after(line, "task.id=");
        let name = line
            .split("task.name=\"")
            .nth(1)
            .and_then(|r| r.split('"').next());
        let name = name.unwrap_or_else(|| panic!("an unnamed task's line: {line}"));
        assert_eq!(*ids.entry(name.to_owned()).or_insert(id), id, "{line}");
    }
    assert_eq!(ids.len(), tasks.len(), "{ids:?}");
    let mut distinct: Vec<u64> = ids.values().copied().collect();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), tasks.len(), "{ids:?}");

    // The dump: taken while every live task waited on something.
    let dump = section(&out, "== task dump");
    assert_eq!(dump.first(), Some(&"7 tasks"), "{dump:#?}");
    // The tree's lines; the log lines after them come once the promise is
    // settled.
    let tree: Vec<(usize, &str)> = dump[1..]
        .iter()
        .take_while(|l| l.contains("── "))
        .map(|l| tree_line(l))
        .collect();
    let find = |name: &str, line: usize| {
        tree.iter()
            .position(|(_, t)| is_waiting_task(t, name, line))
            .unwrap_or_else(|| {
                panic!(
                    "no waiting {name} spawned at line {line} in:\n{}",
                    dump.join("\n")
                )
            })
    };
    let server = find("server", server_at);
    assert_eq!(tree[server].0, 0, "server is a root");
    assert_eq!(tree[server + 1], (1, "gather"), "server awaits the gather");
    for key in ["users", "orders"] {
        // gather -> fetch-KEY -> query-KEY -> promise, each a level deeper.
        let fetch = find(&format!("fetch-{key}"), fetch_at);
        assert_eq!(tree[fetch].0, 2, "fetch-{key} is under the gather");
        assert!(is_waiting_task(
            tree[fetch + 1].1,
            &format!("query-{key}"),
            query_at
        ));
        assert_eq!(tree[fetch + 1].0, 3, "query-{key} is under fetch-{key}");
        assert_eq!(
            tree[fetch + 2],
            (4, "promise"),
            "query-{key} awaits the promise"
        );
    }
    for name in ["consumer-0", "consumer-1"] {
        let consumer = find(name, consumer_at);
        assert_eq!(tree[consumer].0, 0, "{name} is a root");
        assert_eq!(
            tree[consumer + 1],
            (1, "queue get"),
            "{name} awaits the queue"
        );
    }
    assert_eq!(
        tree.len(),
        7 + 1 + 2 + 2,
        "7 tasks, a gather, two promises, two queue waits"
    );

    // 500 bytes for "users", 600 for "orders": each fetch got its query's.
    assert!(
        out.lines().any(|l| l == "== server fetched 1100 bytes"),
        "{out}"
    );

    // The metrics, after every task ended.
    let metrics = section(&out, "== runtime metrics");
    assert!(
        metrics[0].starts_with("live tasks 0, spawned 8, injection queue 0, "),
        "{}",
        metrics[0]
    );
    let polls: u64 = (0..2)
        .map(|i| {
            let line = metrics
                .iter()
                .find(|l| l.starts_with(&format!("worker {i}: polls ")))
                .unwrap_or_else(|| panic!("no line of worker {i} in {metrics:#?}"));
            for key in ["busy ", "stole ", "stolen from ", "parks ", "local queue "] {
                assert!(line.contains(key), "{line}");
            }
            number_after(line, "polls ")
        })
        .sum();
    assert!(
        polls >= 8,
        "every one of the 8 tasks was polled: {metrics:#?}"
    );
    let histogram = metrics
        .iter()
        .position(|l| l.starts_with("poll times, "))
        .unwrap_or_else(|| panic!("no histogram in {metrics:#?}"));
    let timed = number_after(metrics[histogram], "poll times, ");
    assert!(timed >= 8, "{}", metrics[histogram]);
    // The non-empty buckets, two spaces in (libtest's own lines follow).
    let buckets: Vec<&str> = metrics[histogram + 1..]
        .iter()
        .copied()
        .take_while(|l| l.starts_with("  "))
        .collect();
    assert!(!buckets.is_empty(), "{metrics:#?}");
    let counted: u64 = buckets
        .iter()
        .map(|l| {
            assert!(l.contains(" to ") || l.contains(" or more: "), "{l}");
            number_after(l, ": ")
        })
        .sum();
    assert_eq!(
        counted, timed,
        "the buckets add up to the total: {buckets:#?}"
    );
}
