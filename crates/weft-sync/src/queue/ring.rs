//! The FIFO queue's items, outside every lock: a lock-free ring
//! (concurrent-queue's, the one under async-channel), so that a put and a get
//! running at once on two threads share no lock (see the queue's module
//! header, "The lock-free ring").
//!
//! The ring is the truth for "is there an item": the queue's `items` wait
//! list only puts getters to sleep and wakes them. It is not what bounds the
//! queue: its `places` count is. A put pushes only while it holds a place,
//! and a get gives its place back only after its pop returned, so
//! the pushes in flight never outnumber the free places of a ring sized
//! `maxsize`. Very large or zero `maxsize` gets the unbounded kind (a list of
//! blocks), which allocates as it grows instead of reserving `maxsize` places
//! up front.

use concurrent_queue::{ConcurrentQueue, PopError, PushError};

/// The largest `maxsize` given a ring of its own size; a larger one takes the
/// unbounded kind (the slots still bound it).
const RING_MAX: usize = 1 << 12;

/// A FIFO of items with an atomic close. See the module header.
pub(super) struct Ring<T>(ConcurrentQueue<T>);

impl<T> Ring<T> {
    /// A ring for a queue of `maxsize` (0: unbounded).
    pub(super) fn new(maxsize: usize) -> Self {
        if maxsize == 0 || maxsize > RING_MAX {
            Ring(ConcurrentQueue::unbounded())
        } else {
            Ring(ConcurrentQueue::bounded(maxsize))
        }
    }

    /// Appends `item`, or gives it back if the ring was closed first. The
    /// push and the close are ordered by the ring's one tail word: a push
    /// either lands before the close (and a pop after the close finds it) or
    /// is refused.
    ///
    /// The caller holds a place (bounded queues), so there is room: see
    /// the module header.
    pub(super) fn push(&self, item: T) -> Result<(), T> {
        match self.0.push(item) {
            Ok(()) => Ok(()),
            Err(PushError::Closed(item)) => Err(item),
            // A bounded ring has `maxsize` places and a pusher holds one of
            // the `maxsize` places, each given back only after its pop
            // returned (`freed`'s Release/Acquire orders that pop
            // before this push): full is impossible, whatever the user does.
            Err(PushError::Full(_)) => unreachable!("queue ring full while a slot was held"),
        }
    }

    /// Whether [`close`](Self::close) ran.
    pub(super) fn is_closed(&self) -> bool {
        self.0.is_closed()
    }

    /// The oldest item (`Some(Some)`), or `Some(None)` once the ring is closed
    /// and empty; `None` if it is empty and open.
    pub(super) fn pop_or_closed(&self) -> Option<Option<T>> {
        match self.0.pop() {
            Ok(item) => Some(Some(item)),
            Err(PopError::Empty) => None,
            Err(PopError::Closed) => Some(None),
        }
    }

    /// [`pop_or_closed`](Self::pop_or_closed), but `None` unless more than
    /// `owed` items are there (those are for getters woken and not yet run).
    pub(super) fn pop_beyond(&self, owed: usize) -> Option<Option<T>> {
        if owed > 0 && self.0.len() <= owed && !self.0.is_closed() {
            return None;
        }
        self.pop_or_closed()
    }

    /// Removes the oldest item; `None` if there is none. After a close it
    /// still returns what was pushed before it, waiting out a push that had
    /// claimed its place but not yet written it.
    pub(super) fn pop(&self) -> Option<T> {
        self.0.pop().ok()
    }

    /// How many items it holds.
    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    /// Refuses every later push. Pops still drain what is there.
    pub(super) fn close(&self) {
        self.0.close();
    }
}

#[cfg(not(loom))]
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_fifo_and_a_close_refuses_pushes_but_drains() {
        for maxsize in [0, 1, 2, RING_MAX, RING_MAX + 1] {
            let ring = Ring::new(maxsize);
            ring.push(1).unwrap();
            if maxsize != 1 {
                ring.push(2).unwrap();
            }
            ring.close();
            assert_eq!(ring.push(3), Err(3), "maxsize {maxsize}");
            assert_eq!(ring.pop(), Some(1));
            if maxsize != 1 {
                assert_eq!(ring.len(), 1);
                assert_eq!(ring.pop(), Some(2));
            }
            assert_eq!(ring.pop(), None);
            assert_eq!(ring.len(), 0);
        }
    }
}
