//! Context variables (PEP 567, Python's `contextvars`): [`ContextVar`],
//! [`Token`], [`Context`] and [`copy_context`].
//!
//! # Model
//!
//! A context is a map from context variables to values. The map is
//! persistent: a version, once made, never changes; [`ContextVar::set`] makes
//! a new version and installs it, so copying a context (what every spawn
//! does) is one `Arc` clone. A *container* holds the current version of one
//! context: this thread's own (the base context, used outside tasks), a task
//! (each task holds the copy it was spawned with, and its `set`s change only
//! it), or a [`Context`] value while [`Context::run`] has it entered.
//!
//! Which container is current on a thread lives in one thread-local
//! (`varmap.rs`, with the map itself): the version (`None` is the empty
//! context, so a program that never sets a variable never allocates or counts
//! a reference for one) and the container's owner number, which [`Token`]s
//! record so that [`ContextVar::reset`] can refuse a token made in another
//! context. Owner numbers: a task's is its id with a high bit set; a thread's
//! own context and a [`Context`] value get one from a global counter the
//! first time a token is made in them.
//!
//! The task runner (`raw.rs`) swaps a task's version in around a poll (and
//! around the drop of its future) when the task holds variables, and writes
//! it back only when the poll changed it. A task whose context is empty,
//! polled where the thread-local is clear (empty, nothing entered: a worker
//! between tasks), is polled with no swap: the clear context stands for the
//! task's (a token made there names the running task), and whatever the poll
//! left there is moved into the task afterwards. So a program that never
//! sets a variable pays two thread-local loads per poll. Callbacks
//! (`call_soon` and friends, done callbacks) run in a copy of the context
//! captured when they were registered.

pub use crate::error::ContextError;
use crate::header::RawTask;
use crate::loom::sync::{AtomicBool, AtomicU64, Ordering};
use crate::varmap::{
    self, next_number, with_current, Current, Snapshot, Value, Vars, IMPLICIT, TASK_OWNER,
    UNNUMBERED,
};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

/// The current container's owner number, numbering it if need be.
fn owner(current: &mut Current) -> u64 {
    if current.owner == IMPLICIT {
        current.owner = match RawTask::current() {
            Some(task) => TASK_OWNER | task.header().id.as_u64(),
            None => next_number(),
        };
    } else if current.owner == UNNUMBERED {
        current.owner = next_number();
    }
    current.owner
}

/// A context variable (Python's `contextvars.ContextVar`): a value per
/// context, so each task sees the value set in its own context, or the one
/// it inherited when it was spawned.
///
/// Declare it once, typically as a `static`; [`set`](Self::set) changes the
/// value in the current context only (the running task's, or this thread's
/// outside tasks) and returns a [`Token`] that [`reset`](Self::reset) takes
/// to restore the previous value. Values must be `Send + Sync` (tasks move
/// between threads and contexts are shared by copies); `get` clones.
///
/// Dropping a `ContextVar` leaves its values in the contexts that hold them
/// until those contexts are dropped.
///
/// ```
/// use weft::ContextVar;
///
/// static REQUEST: ContextVar<u32> = ContextVar::new("request");
///
/// weft::run(async {
///     let token = REQUEST.set(1);
///     let child = weft::spawn(async {
///         let inherited = REQUEST.get();
///         REQUEST.set(2); // only in the child's context
///         inherited
///     });
///     assert_eq!(child.await.unwrap(), Some(1));
///     assert_eq!(REQUEST.get(), Some(1));
///     REQUEST.reset(&token).unwrap();
///     assert_eq!(REQUEST.get(), None);
/// });
/// ```
pub struct ContextVar<T> {
    name: &'static str,
    /// Assigned from the global counter at first use; `0` until then.
    id: AtomicU64,
    default: Option<T>,
}

impl<T: Clone + Send + Sync + 'static> ContextVar<T> {
    crate::loom::const_fn_unless_loom! {
        /// A variable with no default: [`get`](Self::get) returns `None` in a
        /// context where it was not set.
        ///
        /// ```
        /// static NAME: weft::ContextVar<String> = weft::ContextVar::new("name");
        /// assert_eq!(NAME.name(), "name");
        /// assert_eq!(NAME.get(), None);
        /// ```
        pub fn new(name: &'static str) -> ContextVar<T> {
            ContextVar {
                name,
                id: AtomicU64::new(0),
                default: None,
            }
        }
    }

    crate::loom::const_fn_unless_loom! {
        /// A variable that reads as `default` in a context where it was not set.
        ///
        /// ```
        /// static DEPTH: weft::ContextVar<u32> = weft::ContextVar::with_default("depth", 0);
        /// assert_eq!(DEPTH.get(), Some(0));
        /// ```
        pub fn with_default(name: &'static str, default: T) -> ContextVar<T> {
            ContextVar {
                name,
                id: AtomicU64::new(0),
                default: Some(default),
            }
        }
    }

    /// The name given at creation.
    ///
    /// ```
    /// let v: weft::ContextVar<u8> = weft::ContextVar::new("v");
    /// assert_eq!(v.name(), "v");
    /// ```
    pub fn name(&self) -> &'static str {
        self.name
    }

    fn id(&self) -> u64 {
        // Relaxed: the id is the whole datum, published by the RMW itself.
        let id = self.id.load(Ordering::Relaxed);
        if id != 0 {
            return id;
        }
        let fresh = next_number();
        match self
            .id
            .compare_exchange(0, fresh, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => fresh,
            Err(won) => won,
        }
    }

    /// The value in the current context, else the default, else `None`
    /// (Python's `get()` raising `LookupError`).
    ///
    /// ```
    /// let v = weft::ContextVar::new("v");
    /// assert_eq!(v.get(), None);
    /// v.set(String::from("x"));
    /// assert_eq!(v.get().as_deref(), Some("x"));
    /// ```
    pub fn get(&self) -> Option<T> {
        let id = self.id();
        let value = varmap::lookup(id);
        match value {
            Some(value) => value.downcast_ref::<T>().cloned(),
            None => self.default.clone(),
        }
    }

    /// Sets the value in the current context (only there: a task spawned
    /// earlier keeps the value it copied) and returns a token for
    /// [`reset`](Self::reset).
    ///
    /// ```
    /// let v = weft::ContextVar::with_default("v", 1);
    /// let token = v.set(2);
    /// assert_eq!(token.old_value(), None); // was unset (the default showed)
    /// assert_eq!(v.get(), Some(2));
    /// ```
    pub fn set(&self, value: T) -> Token<T> {
        let id = self.id();
        let value: Value = Arc::new(value);
        let (old, replaced, owner) = with_current(|c| {
            let owner = owner(c);
            let old = Vars::find(&c.vars, id).map(|e| e.value.clone());
            let new = Vars::with(&c.vars, id, self.name, Some(value));
            (old, std::mem::replace(&mut c.vars, new), owner)
        });
        drop(replaced);
        Token {
            var: id,
            name: self.name,
            owner,
            old,
            used: AtomicBool::new(false),
            _type: PhantomData,
        }
    }

    /// Restores the value `token`'s [`set`](Self::set) replaced (removing
    /// the variable if it was unset then), in the current context.
    ///
    /// Errors, leaving the context as it was: the token was used already,
    /// was made by another variable, or in another context (another task,
    /// another thread, another [`Context`]).
    ///
    /// ```
    /// let a = weft::ContextVar::new("a");
    /// let b = weft::ContextVar::<u8>::new("b");
    /// let token = a.set(1u8);
    /// assert!(b.reset(&token).unwrap_err().is_wrong_var());
    /// a.reset(&token).unwrap();
    /// assert!(a.reset(&token).unwrap_err().is_used());
    /// assert_eq!(a.get(), None);
    /// ```
    pub fn reset(&self, token: &Token<T>) -> Result<(), ContextError> {
        // Relaxed: the flag guards only its own use-once rule.
        if token.used.load(Ordering::Relaxed) {
            return Err(ContextError::Used);
        }
        let id = self.id();
        if token.var != id {
            return Err(ContextError::WrongVar);
        }
        let replaced = with_current(|c| {
            if owner(c) != token.owner {
                return Err(ContextError::WrongContext);
            }
            if token.used.swap(true, Ordering::Relaxed) {
                return Err(ContextError::Used);
            }
            let new = Vars::with(&c.vars, id, self.name, token.old.clone());
            Ok(std::mem::replace(&mut c.vars, new))
        })?;
        drop(replaced);
        Ok(())
    }
}

impl<T> fmt::Debug for ContextVar<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContextVar")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// What [`ContextVar::set`] returns: the value it replaced, for
/// [`ContextVar::reset`] (Python's `contextvars.Token`). Usable once, in
/// the context where it was made.
///
/// Dropping a token does nothing (the value set stays).
///
/// ```
/// let v = weft::ContextVar::new("v");
/// v.set(1);
/// let token = v.set(2);
/// assert_eq!(token.old_value(), Some(1));
/// assert!(!token.is_used());
/// v.reset(&token).unwrap();
/// assert!(token.is_used());
/// assert_eq!(v.get(), Some(1));
/// ```
pub struct Token<T> {
    var: u64,
    name: &'static str,
    owner: u64,
    old: Option<Value>,
    used: AtomicBool,
    _type: PhantomData<fn() -> T>,
}

impl<T: Clone + 'static> Token<T> {
    /// The value the variable had before the `set`; `None` if it was unset
    /// (Python's `Token.MISSING`).
    ///
    /// ```
    /// static LEVEL: weft::ContextVar<u8> = weft::ContextVar::new("level");
    ///
    /// weft::run(async {
    ///     let first = LEVEL.set(1);
    ///     assert_eq!(first.old_value(), None);
    ///     let second = LEVEL.set(2);
    ///     assert_eq!(second.old_value(), Some(1));
    /// });
    /// ```
    pub fn old_value(&self) -> Option<T> {
        self.old.as_ref()?.downcast_ref::<T>().cloned()
    }
}

impl<T> Token<T> {
    /// Whether [`ContextVar::reset`] used it already.
    ///
    /// ```
    /// static USER: weft::ContextVar<&str> = weft::ContextVar::new("user");
    ///
    /// weft::run(async {
    ///     let token = USER.set("ann");
    ///     assert!(!token.is_used());
    ///     USER.reset(&token).unwrap();
    ///     assert!(token.is_used());
    ///     assert!(USER.reset(&token).is_err(), "a token resets once");
    /// });
    /// ```
    pub fn is_used(&self) -> bool {
        // Relaxed: only this flag is read.
        self.used.load(Ordering::Relaxed)
    }

    /// The name of the variable that made it.
    ///
    /// ```
    /// static USER: weft::ContextVar<&str> = weft::ContextVar::new("user");
    ///
    /// weft::run(async {
    ///     assert_eq!(USER.set("bob").var_name(), "user");
    /// });
    /// ```
    pub fn var_name(&self) -> &'static str {
        self.name
    }
}

impl<T> fmt::Debug for Token<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("var", &self.name)
            .field("used", &self.is_used())
            .finish()
    }
}

/// A context's contents, as a value (Python's `contextvars.Context`): what
/// [`copy_context`] returns, what [`TaskRef::context`](crate::TaskRef::context)
/// returns, and what `spawn_with_context` starts a task in.
///
/// [`run`](Self::run) enters it: code inside sees its values, and what it
/// sets stays in it. It is `&mut self`, so entering one context twice at
/// once (a `RuntimeError` in Python) cannot compile. Cloning is O(1) and
/// makes an independent context (Python's `ctx.copy()`). Two contexts are
/// equal when they hold the same values (the same `Arc`s, not merely equal
/// ones: values need not be `PartialEq`).
///
/// Named `Context` inside `weft::contextvars` only; the facade does not put
/// it at the top level, where it would read like `std::task::Context`.
///
/// ```
/// use weft::contextvars::{copy_context, Context, ContextVar};
///
/// let v = ContextVar::new("v");
/// let mut ctx = Context::new();
/// ctx.run(|| v.set(7));
/// assert_eq!(ctx.get(&v), Some(7));
/// assert_eq!(v.get(), None); // set in `ctx` only
/// assert_eq!(copy_context().len(), 0);
/// ```
#[derive(Default)]
pub struct Context {
    vars: Snapshot,
    owner: u64,
}

impl Context {
    /// An empty context.
    ///
    /// ```
    /// assert!(weft::contextvars::Context::new().is_empty());
    /// ```
    pub fn new() -> Context {
        Context::default()
    }

    pub(crate) fn from_snapshot(vars: Snapshot) -> Context {
        Context { vars, owner: 0 }
    }

    /// Runs `f` with this context entered, and keeps what `f` sets (Python's
    /// `ctx.run(f)`). If `f` panics the context is left as it was.
    ///
    /// ```
    /// let v = weft::ContextVar::with_default("v", 0);
    /// let mut ctx = weft::copy_context();
    /// assert_eq!(ctx.run(|| { v.set(1); v.get() }), Some(1));
    /// assert_eq!(ctx.run(|| v.get()), Some(1));
    /// assert_eq!(v.get(), Some(0));
    /// ```
    ///
    /// Entering a context from inside its own `run` (Python's "is already
    /// entered" `RuntimeError`) does not compile:
    ///
    /// ```compile_fail
    /// let mut ctx = weft::contextvars::Context::new();
    /// ctx.run(|| ctx.run(|| ()));
    /// ```
    pub fn run<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let owner = match self.owner {
            IMPLICIT => UNNUMBERED,
            n => n,
        };
        let entered = varmap::enter(self.vars.clone(), owner);
        let out = f();
        let left = entered.leave();
        self.owner = if left.owner == UNNUMBERED {
            IMPLICIT
        } else {
            left.owner
        };
        drop(std::mem::replace(&mut self.vars, left.vars));
        out
    }

    /// `var`'s value in this context, if set there (the default is not
    /// consulted: Python's `ctx.get(var)`).
    ///
    /// ```
    /// let v = weft::ContextVar::with_default("v", 1);
    /// let mut ctx = weft::contextvars::Context::new();
    /// assert_eq!(ctx.get(&v), None);
    /// ctx.run(|| v.set(2));
    /// assert_eq!(ctx.get(&v), Some(2));
    /// ```
    pub fn get<T: Clone + Send + Sync + 'static>(&self, var: &ContextVar<T>) -> Option<T> {
        let value = Vars::find(&self.vars, var.id())?.value.clone();
        value.downcast_ref::<T>().cloned()
    }

    /// Whether `var` is set in this context (Python's `var in ctx`).
    ///
    /// ```
    /// let v = weft::ContextVar::new("v");
    /// v.set(1);
    /// assert!(weft::copy_context().contains(&v));
    /// ```
    pub fn contains<T: Clone + Send + Sync + 'static>(&self, var: &ContextVar<T>) -> bool {
        Vars::find(&self.vars, var.id()).is_some()
    }

    /// How many variables are set in it.
    ///
    /// ```
    /// assert_eq!(weft::contextvars::Context::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.vars.as_ref().map_or(0, |v| v.entries.len())
    }

    /// Whether no variable is set in it.
    ///
    /// ```
    /// assert!(weft::contextvars::Context::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.vars.is_none()
    }

    /// The names of the variables set in it, in the order the variables
    /// were first used (Python iterates a context's variables; values are
    /// typed by their variable, so read them with [`get`](Self::get)).
    ///
    /// ```
    /// let a = weft::ContextVar::new("a");
    /// let b = weft::ContextVar::new("b");
    /// let mut ctx = weft::contextvars::Context::new();
    /// ctx.run(|| {
    ///     a.set(1);
    ///     b.set(2);
    ///     a.set(3);
    /// });
    /// assert_eq!(ctx.names().collect::<Vec<_>>(), ["a", "b"]);
    /// ```
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.vars
            .iter()
            .flat_map(|v| v.entries.iter().map(|e| e.name))
    }
}

impl Clone for Context {
    /// An independent copy (Python's `ctx.copy()`), O(1).
    fn clone(&self) -> Context {
        Context::from_snapshot(self.vars.clone())
    }
}

impl PartialEq for Context {
    fn eq(&self, other: &Context) -> bool {
        let (a, b) = match (&self.vars, &other.vars) {
            (None, None) => return true,
            (Some(a), Some(b)) => (a, b),
            _ => return false,
        };
        Arc::ptr_eq(a, b)
            || (a.entries.len() == b.entries.len()
                && a.entries
                    .iter()
                    .zip(b.entries.iter())
                    .all(|(x, y)| x.var == y.var && Arc::ptr_eq(&x.value, &y.value)))
    }
}

impl Eq for Context {}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("vars", &self.names().collect::<Vec<_>>())
            .finish()
    }
}

/// A copy of the current context (Python's `contextvars.copy_context()`):
/// the running task's, or this thread's outside tasks. O(1).
///
/// ```
/// let v = weft::ContextVar::new("v");
/// v.set(1);
/// let mut copy = weft::copy_context();
/// copy.run(|| v.set(2));
/// assert_eq!(v.get(), Some(1));
/// assert_eq!(copy.get(&v), Some(2));
/// ```
pub fn copy_context() -> Context {
    Context::from_snapshot(varmap::snapshot())
}
