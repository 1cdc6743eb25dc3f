//! Where a queue keeps its items: the order `get` takes them in. One queue
//! implementation ([`GenericQueue`](super::GenericQueue)) serves every order,
//! as asyncio's `Queue` subclasses override only `_init`, `_put` and `_get`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// The item store of a [`GenericQueue`](super::GenericQueue): it decides which
/// item `get` returns. The queue calls these methods under its own lock, so
/// they need no synchronization; they must not call back into the queue.
/// A first-in, first-out store says so with [`FIFO`](Self::FIFO), and the
/// queue then keeps the items itself in a lock-free ring instead.
///
/// Implement it to make a queue with another order (asyncio's way is to
/// subclass `Queue` and override `_put` / `_get`):
///
/// ```
/// use weft::queue::{GenericQueue, Storage};
///
/// /// Takes the longest string first.
/// struct Longest(Vec<String>);
///
/// impl Storage for Longest {
///     type Item = String;
///     const KIND: &'static str = "LongestQueue";
///     fn new() -> Self {
///         Longest(Vec::new())
///     }
///     fn push(&mut self, item: String) {
///         self.0.push(item);
///         self.0.sort_by_key(|s| s.len());
///     }
///     fn pop(&mut self) -> Option<String> {
///         self.0.pop()
///     }
///     fn len(&self) -> usize {
///         self.0.len()
///     }
/// }
///
/// let q = GenericQueue::<Longest>::new(0);
/// q.put_nowait("ab".to_string()).unwrap();
/// q.put_nowait("abcd".to_string()).unwrap();
/// assert_eq!(q.get_nowait().unwrap(), "abcd");
/// ```
pub trait Storage {
    /// What the queue holds.
    type Item;
    /// The queue's name in its `Debug` form (`"Queue"`, `"LifoQueue"`, ...).
    const KIND: &'static str;
    /// An empty store.
    fn new() -> Self;
    /// Adds `item`.
    fn push(&mut self, item: Self::Item);
    /// Removes the item `get` returns next, if any.
    fn pop(&mut self) -> Option<Self::Item>;
    /// How many items it holds.
    fn len(&self) -> usize;
    /// Whether it holds none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether this store's order is first in, first out (as [`Fifo`]'s).
    /// A queue over such a store keeps its items itself, in a lock-free ring
    /// outside every lock, so that a put and a get running at once on two
    /// threads do not contend; it then never calls `push`, `pop` or `len`.
    /// Leave it `false` (the default) for any other order.
    ///
    /// ```
    /// use weft::queue::{Fifo, Lifo, Storage};
    ///
    /// assert!(<Fifo<u8> as Storage>::FIFO);
    /// assert!(!<Lifo<u8> as Storage>::FIFO);
    /// ```
    const FIFO: bool = false;
}

/// First in, first out: the store of [`Queue`](super::Queue). Being
/// [`FIFO`](Storage::FIFO), it stays empty under a queue (whose items are in
/// the queue's lock-free ring); it is a plain `VecDeque` store for other uses.
///
/// ```
/// let q = weft::queue::Queue::new(0);
/// q.put_nowait(1).unwrap();
/// q.put_nowait(2).unwrap();
/// assert_eq!(q.get_nowait(), Ok(1));
/// ```
#[derive(Debug)]
pub struct Fifo<T>(VecDeque<T>);

impl<T> Storage for Fifo<T> {
    type Item = T;
    const KIND: &'static str = "Queue";
    const FIFO: bool = true;
    fn new() -> Self {
        Fifo(VecDeque::new())
    }
    fn push(&mut self, item: T) {
        self.0.push_back(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop_front()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// Last in, first out: the store of [`LifoQueue`](super::LifoQueue).
///
/// ```
/// let q = weft::queue::LifoQueue::new(0);
/// q.put_nowait(1).unwrap();
/// q.put_nowait(2).unwrap();
/// assert_eq!(q.get_nowait(), Ok(2));
/// ```
#[derive(Debug)]
pub struct Lifo<T>(Vec<T>);

impl<T> Storage for Lifo<T> {
    type Item = T;
    const KIND: &'static str = "LifoQueue";
    fn new() -> Self {
        Lifo(Vec::new())
    }
    fn push(&mut self, item: T) {
        self.0.push(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// Smallest first (Python's `heapq`): the store of
/// [`PriorityQueue`](super::PriorityQueue). Equal items come out in no
/// particular order, as with `heapq`.
///
/// ```
/// let q = weft::queue::PriorityQueue::new(0);
/// q.put_nowait((2, "later")).unwrap();
/// q.put_nowait((1, "sooner")).unwrap();
/// assert_eq!(q.get_nowait(), Ok((1, "sooner")));
/// ```
#[derive(Debug)]
pub struct Priority<T: Ord>(BinaryHeap<Reverse<T>>);

impl<T: Ord> Storage for Priority<T> {
    type Item = T;
    const KIND: &'static str = "PriorityQueue";
    fn new() -> Self {
        Priority(BinaryHeap::new())
    }
    fn push(&mut self, item: T) {
        self.0.push(Reverse(item));
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop().map(|Reverse(item)| item)
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}
