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

use crate::runtime::Handle;
use crate::signal::{signal, SignalKind};
use std::io::{self, Write};
use std::path::PathBuf;

/// The name of the listener task.
pub(crate) const TASK_NAME: &str = "weft-dump-on-signal";

/// Where a dump on a signal goes.
#[derive(Clone, Debug)]
pub(crate) enum DumpTo {
    Stderr,
    /// Appended to this file (created if missing).
    File(PathBuf),
}

/// Starts the listener task on `handle`'s runtime, and waits until it
/// listens (so a signal sent once `build` returned is not the signal's
/// default action). Fails as [`signal`](crate::signal::signal) does for a
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
