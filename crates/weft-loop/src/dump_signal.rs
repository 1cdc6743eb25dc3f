//! A task dump on a signal (`Builder::dump_on_signal`), as
//! `python -m asyncio pstree PID` asks a running process from outside.
//!
//! `Builder::build` starts one listener task on the new runtime (named
//! [`TASK_NAME`]; it is listed in dumps and `all_tasks()` like any task, and
//! is cancelled at shutdown like any task). At each delivery of the signal
//! it takes the dump ([`Handle::dump`]) and writes it on a blocking-pool
//! thread, so a large dump never holds up a worker: to stderr, or appended
//! to a file. Each dump starts with a line naming the process and the
//! number of tasks (the tree's first line), and ends with an empty line. Write errors are reported
//! through `tracing` (there is nobody to return them to).

use crate::runtime::{Builder, Handle};
use crate::signal::{signal, SignalKind};
use std::io::{self, Write};
use std::path::PathBuf;

/// The name of the listener task.
pub(crate) const TASK_NAME: &str = "weft-dump-on-signal";

/// `Builder::dump_on_signal`: here, so that `runtime` (which `signal` and
/// the blocking pool build on) does not depend on them.
impl Builder {
    /// Writes a task dump ([`Handle::dump`](crate::Handle::dump)) to stderr each time the
    /// process gets `signal`, so an operator can ask a running program
    /// what its tasks are doing, as `python -m asyncio pstree PID` does
    /// (`kill -USR1 PID`). A listener task (named `weft-dump-on-signal`)
    /// runs on the runtime for this, and the dump is written from a
    /// blocking-pool thread. `build` fails for a signal that cannot be
    /// handled (`SIGKILL`, `SIGSTOP`, `SIGSEGV`...). As with
    /// [`signal`](crate::signal::signal()), the signal's default action is
    /// replaced for the rest of the process's life. Default: off.
    ///
    /// ```
    /// use weft::signal::SignalKind;
    ///
    /// let rt = weft::Builder::new()
    ///     .dump_on_signal(SignalKind::user_defined1())
    ///     .build()
    ///     .unwrap();
    /// // `kill -USR1 <pid>` now prints the tasks' tree on stderr.
    /// assert!(rt.handle().all_tasks().iter().any(|t| t.name() == "weft-dump-on-signal"));
    /// ```
    pub fn dump_on_signal(mut self, signal: SignalKind) -> Builder {
        self.on_built = Some(Box::new(move |h: &Handle| start(h, signal, DumpTo::Stderr)));
        self
    }

    /// [`dump_on_signal`](Self::dump_on_signal), appending each dump to the
    /// file at `path` (created if missing) instead of stderr: for a process
    /// whose stderr goes nowhere. A dump that cannot be written is reported
    /// through `tracing` as a warning.
    ///
    /// ```
    /// use weft::signal::SignalKind;
    ///
    /// let path = std::env::temp_dir().join(format!("weft-doc-dump-{}.txt", std::process::id()));
    /// let rt = weft::Builder::new()
    ///     .dump_on_signal_to_file(SignalKind::user_defined2(), &path)
    ///     .build()
    ///     .unwrap();
    /// drop(rt);
    /// ```
    pub fn dump_on_signal_to_file(
        mut self,
        signal: SignalKind,
        path: impl Into<std::path::PathBuf>,
    ) -> Builder {
        let to = DumpTo::File(path.into());
        self.on_built = Some(Box::new(move |h: &Handle| start(h, signal, to)));
        self
    }
}

/// Where a dump on a signal goes.
#[derive(Clone, Debug)]
pub(crate) enum DumpTo {
    Stderr,
    /// Appended to this file (created if missing).
    File(PathBuf),
}

/// Starts the listener task on `handle`'s runtime, and waits until it
/// listens (so a signal sent once `build` returned is not the signal's
/// default action). Fails as [`signal`](crate::signal::signal()) does for a
/// signal that cannot be handled.
pub(crate) fn start(handle: &Handle, kind: SignalKind, to: DumpTo) -> io::Result<()> {
    let (listening, started) = std::sync::mpsc::sync_channel(1);
    let dumper = handle.clone();
    let task = handle.spawn(async move {
        // Inside the runtime: `signal` arms this runtime's reader.
        let mut deliveries = match signal(kind) {
            Ok(deliveries) => {
                let _ = listening.send(Ok(()));
                deliveries
            }
            Err(e) => {
                let _ = listening.send(Err(e));
                return;
            }
        };
        while deliveries.recv().await.is_some() {
            let handle = dumper.clone();
            let to = to.clone();
            let written = dumper
                .spawn_blocking(move || write_dump(&handle, &to))
                .await;
            match written {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(target: "weft::dump", "task dump not written: {e}"),
                // The runtime is shutting down.
                Err(_) => return,
            }
        }
    });
    task.set_name(TASK_NAME);
    task.detach();
    started
        .recv()
        .unwrap_or_else(|_| Err(io::Error::other("the runtime shut down")))
}

/// Takes a dump of `handle`'s runtime and writes it to `to`.
fn write_dump(handle: &Handle, to: &DumpTo) -> io::Result<()> {
    let dump = handle.dump();
    let text = format!("weft task dump of process {}\n{dump}\n", std::process::id());
    match to {
        DumpTo::Stderr => io::stderr().lock().write_all(text.as_bytes()),
        DumpTo::File(path) => std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?
            .write_all(text.as_bytes()),
    }
}
