//! The storage under `contextvars.rs` (PEP 567): the persistent map of
//! context variables ([`Vars`], shared as a [`Snapshot`]) and the one
//! thread-local saying which context is current on a thread, with the swaps
//! the task runner (`raw.rs`) and `Context::run` make on it. Below
//! `header.rs`, which keeps each task's snapshot; the public API on top
//! (`contextvars.rs`) names the running task, so it sits above the header.
//!
//! # The map
//!
//! A version is a sorted boxed slice of `(variable id, value)` entries
//! behind an `Arc`, never changed once made: a copy is O(1), a lookup a
//! binary search, a `set` makes a new version (n `Arc` clones). Programs use
//! a handful of context variables, and at those sizes one small contiguous
//! copy is cheaper than the path copy and node allocations of a hash array
//! mapped trie (CPython's choice, made for contexts of any size), so no
//! persistent-map crate is used; `set` turns costly only for contexts of
//! hundreds of variables.
//!
//! # The thread-local
//!
//! `CURRENT` holds the current version (null is the empty context) and the
//! owner number of the container holding it (see `contextvars.rs`), as a
//! raw `Arc` pointer so the thread-local has no destructor: reading it is a
//! plain load, with no "alive?" check, which matters because the runner
//! reads it twice per poll ([`is_clear`]). `CURRENT` owns one strong count
//! of the version it points to. A thread's own version is released when the
//! thread exits by `RELEASE_AT_EXIT`, a second thread-local (with a
//! destructor) that `set` and `reset` touch; the swaps never need it, as
//! what they install they take back out.
//!
//! Nothing here runs user code while `CURRENT` is taken out: values are
//! cloned and dropped only after it is put back, so a `Clone` or `Drop`
//! impl that reads a context variable sees the right context.

use std::any::Any;
use std::cell::Cell;
use std::ptr;
use std::sync::Arc;

/// A value stored in a context, type-erased (the variable's id fixes its type).
pub(crate) type Value = Arc<dyn Any + Send + Sync>;

/// One variable's value in one version of a context.
#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) var: u64,
    pub(crate) name: &'static str,
    pub(crate) value: Value,
}

/// One version of a context: its entries, sorted by variable id. Never
/// changed once made.
pub(crate) struct Vars {
    pub(crate) entries: Box<[Entry]>,
}

/// A context's contents: `None` is the empty context.
pub(crate) type Snapshot = Option<Arc<Vars>>;

impl Vars {
    pub(crate) fn find(snapshot: &Snapshot, var: u64) -> Option<&Entry> {
        let entries = &snapshot.as_ref()?.entries;
        entries
            .binary_search_by_key(&var, |e| e.var)
            .ok()
            .map(|i| &entries[i])
    }

    /// A new version: `snapshot` with `var` set to `value`, or removed when
    /// `value` is `None`.
    pub(crate) fn with(
        snapshot: &Snapshot,
        var: u64,
        name: &'static str,
        value: Option<Value>,
    ) -> Snapshot {
        let old: &[Entry] = snapshot.as_ref().map_or(&[], |v| &v.entries);
        let at = old.partition_point(|e| e.var < var);
        let (before, rest) = old.split_at(at);
        let after = match rest.first() {
            Some(e) if e.var == var => &rest[1..],
            _ => rest,
        };
        let mut entries = Vec::with_capacity(old.len() + 1);
        entries.extend_from_slice(before);
        if let Some(value) = value {
            entries.push(Entry { var, name, value });
        }
        entries.extend_from_slice(after);
        if entries.is_empty() {
            return None;
        }
        Some(Arc::new(Vars {
            entries: entries.into_boxed_slice(),
        }))
    }
}

/// Whether two versions are the same one (not merely equal).
#[inline]
pub(crate) fn same(a: &Snapshot, b: &Snapshot) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        _ => false,
    }
}

/// Set in a task's owner number: the rest is its id.
pub(crate) const TASK_OWNER: u64 = 1 << 63;

/// The owner of the thread's own context before it is numbered, and of the
/// context of a task polled with nothing entered (see [`is_clear`]): a token
/// made there names the running task, if any, else the thread.
pub(crate) const IMPLICIT: u64 = 0;

/// The owner of an entered `Context` value not numbered yet.
pub(crate) const UNNUMBERED: u64 = u64::MAX;

/// A fresh owner number for a thread's own context or a `Context`, or a
/// fresh variable id: from 1 up, never reaching [`TASK_OWNER`].
pub(crate) fn next_number() -> u64 {
    // A process-wide static, as `TaskId::next` (loom atomics cannot live in
    // statics); only uniqueness matters. Relaxed: the RMW alone gives it.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The current container, owned: its version and its owner number.
pub(crate) struct Current {
    pub(crate) vars: Snapshot,
    pub(crate) owner: u64,
}

/// `Current` as the thread-local keeps it: `vars` is null or a pointer from
/// `Arc::into_raw` whose strong count the holder owns.
#[derive(Clone, Copy)]
struct Raw {
    vars: *const Vars,
    owner: u64,
}

impl Raw {
    const CLEAR: Raw = Raw {
        vars: ptr::null(),
        owner: IMPLICIT,
    };

    fn from_current(current: Current) -> Raw {
        Raw {
            vars: current.vars.map_or(ptr::null(), Arc::into_raw),
            owner: current.owner,
        }
    }

    /// # Safety
    ///
    /// `self` owns its count (it was just taken out of the thread-local or
    /// made by `from_current`), which this hands over.
    unsafe fn into_current(self) -> Current {
        let vars = if self.vars.is_null() {
            None
        } else {
            // SAFETY: non-null, from `Arc::into_raw`, its count ours (the
            // caller's promise).
            Some(unsafe { Arc::from_raw(self.vars) })
        };
        Current {
            vars,
            owner: self.owner,
        }
    }
}

/// Releases this thread's own context when the thread exits.
struct ReleaseAtExit;

impl Drop for ReleaseAtExit {
    fn drop(&mut self) {
        let raw = CURRENT.replace(Raw::CLEAR);
        // SAFETY: taken out of the thread-local, with its count.
        drop(unsafe { raw.into_current() });
    }
}

thread_local! {
    static CURRENT: Cell<Raw> = const { Cell::new(Raw::CLEAR) };
    static RELEASE_AT_EXIT: ReleaseAtExit = const { ReleaseAtExit };
}

/// Runs `f` on this thread's current container, which it may change (`set`,
/// `reset`). `f` must not run user code.
pub(crate) fn with_current<R>(f: impl FnOnce(&mut Current) -> R) -> R {
    // Registers the release at exit, in case this changes the thread's own
    // context; while thread-locals are being destroyed that may fail, and a
    // value set then is leaked rather than dropped too late.
    let _ = RELEASE_AT_EXIT.try_with(|_| ());
    // SAFETY: taken out of the thread-local, with its count.
    let mut current = unsafe { CURRENT.replace(Raw::CLEAR).into_current() };
    let out = f(&mut current);
    CURRENT.set(Raw::from_current(current));
    out
}

/// The value of variable `var` in the current context. Runs no user code.
pub(crate) fn lookup(var: u64) -> Option<Value> {
    let raw = CURRENT.get();
    if raw.vars.is_null() {
        return None;
    }
    // SAFETY: non-null: the version the thread-local holds a count of, alive
    // while it stays there, which it does during this (no user code runs).
    let vars = unsafe { &*raw.vars };
    let i = vars.entries.binary_search_by_key(&var, |e| e.var).ok()?;
    Some(vars.entries[i].value.clone())
}

/// The current context's contents (what a spawn copies): O(1).
#[inline]
pub(crate) fn snapshot() -> Snapshot {
    let raw = CURRENT.get();
    if raw.vars.is_null() {
        return None;
    }
    // SAFETY: non-null: a pointer from `Arc::into_raw` whose count the
    // thread-local holds; this adds one for the new `Arc`.
    unsafe {
        Arc::increment_strong_count(raw.vars);
        Some(Arc::from_raw(raw.vars))
    }
}

/// Whether nothing is entered on this thread and its own context is empty
/// and unnumbered: then a task with an empty context can be polled as it is
/// (`raw.rs`), with no swap. A plain thread-local load.
#[inline]
pub(crate) fn is_clear() -> bool {
    let raw = CURRENT.get();
    raw.vars.is_null() && raw.owner == IMPLICIT
}

/// What a task polled in the clear context left there (its new context),
/// clearing it again.
pub(crate) fn take_current() -> Snapshot {
    // SAFETY: taken out of the thread-local, with its count.
    unsafe { CURRENT.replace(Raw::CLEAR).into_current() }.vars
}

/// A container entered on this thread; [`leave`](Self::leave) (or a drop,
/// on unwinding) makes the previous one current again.
pub(crate) struct Entered {
    /// The container to restore (owning its count); `None` once restored.
    prev: Option<Raw>,
}

/// Makes `vars` (owned by `owner`) the current context on this thread.
#[inline]
pub(crate) fn enter(vars: Snapshot, owner: u64) -> Entered {
    let prev = CURRENT.replace(Raw::from_current(Current { vars, owner }));
    Entered { prev: Some(prev) }
}

impl Entered {
    /// Restores the previous container; returns the entered one as the code
    /// that ran left it.
    #[inline]
    pub(crate) fn leave(mut self) -> Current {
        let prev = self.prev.take().unwrap_or(Raw::CLEAR);
        // SAFETY: taken out of the thread-local, with its count.
        unsafe { CURRENT.replace(prev).into_current() }
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        if let Some(prev) = self.prev.take() {
            // Unwinding out of the entered code: restore, then drop what it
            // left (the thread-local is restored by then).
            // SAFETY: taken out of the thread-local, with its count.
            drop(unsafe { CURRENT.replace(prev).into_current() });
        }
    }
}

/// Runs `f` in a copy of `vars` (a context captured earlier), discarding
/// what `f` sets: how done callbacks run.
pub(crate) fn run_in<R>(vars: &Snapshot, f: impl FnOnce() -> R) -> R {
    let entered = enter(vars.clone(), UNNUMBERED);
    let out = f();
    drop(entered.leave());
    out
}
