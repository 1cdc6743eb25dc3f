//! A hierarchical timing wheel: six levels of 64 slots of ticks (level `l`
//! slots are 64^l ticks wide, so the wheel spans 2^36 ticks: about 200 days
//! at the 250 µs tick `timer/mod.rs` uses).
//!
//! # Layout
//!
//! Entries live in a slab (`entries`, with a free list) and are linked into
//! the slot their deadline falls in, in a doubly linked list of slab indices,
//! so insert and remove are O(1) and cancelling a timer frees it at once (a
//! server wrapping every request in a 30 s timeout does not pile up dead
//! entries, as a heap with lazy deletion would). Each level keeps a 64-bit
//! occupancy mask, so finding the next expiration is a few bit scans.
//!
//! # Placement invariant
//!
//! `elapsed` is the tick up to which the wheel has been advanced; every entry
//! has `tick > elapsed`. An entry sits at the level of the highest 6-bit group
//! in which its tick differs from `elapsed`, in the slot its tick has there.
//! So level-0 slots hold exact ticks, and a higher slot holds ticks sharing
//! everything above that level with `elapsed`: when time reaches the start of
//! such a slot, its entries are re-placed relative to the new `elapsed` and
//! land on lower levels (the cascade), until they reach level 0 and fire.
//!
//! # Keys
//!
//! A [`TimerKey`] is a slab index and the generation the slot had when the
//! entry was made. Firing or removing an entry bumps the generation, so a
//! stale key (a timer that already fired) is recognised and ignored.

use std::task::Waker;

const LEVELS: usize = 6;
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
const SLOT_MASK: u64 = SLOTS as u64 - 1;
/// Ticks the wheel spans; later deadlines are parked in the last slot and
/// re-placed when that slot is reached: an entry fires only at its own tick.
const MAX_SPAN: u64 = 1 << (SLOT_BITS as usize * LEVELS);
const NIL: u32 = u32::MAX;

/// Names one pending entry of a [`Wheel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerKey {
    index: u32,
    generation: u64,
}

/// A timer that came due: wake `waker`. `exact` and `seq` order the ones that
/// fire together (due time, then scheduling order).
pub(crate) struct Fired {
    pub(crate) exact: u64,
    pub(crate) seq: u64,
    pub(crate) waker: Waker,
}

struct Entry {
    tick: u64,
    exact: u64,
    seq: u64,
    waker: Option<Waker>,
    prev: u32,
    next: u32,
    generation: u64,
    /// `level * SLOTS + slot` while linked; `NIL` while free.
    place: u32,
}

#[derive(Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
}

const EMPTY_LIST: List = List {
    head: NIL,
    tail: NIL,
};

pub(crate) struct Wheel {
    elapsed: u64,
    occupied: [u64; LEVELS],
    slots: Box<[List; LEVELS * SLOTS]>,
    entries: Vec<Entry>,
    free: u32,
    len: usize,
    seq: u64,
}

impl Wheel {
    pub(crate) fn new() -> Wheel {
        Wheel {
            elapsed: 0,
            occupied: [0; LEVELS],
            slots: Box::new([EMPTY_LIST; LEVELS * SLOTS]),
            entries: Vec::new(),
            free: NIL,
            len: 0,
            seq: 0,
        }
    }

    /// Pending entries.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The tick the wheel has been advanced to: every entry it holds is due
    /// later (the placement invariant), so one due at or before it has fired
    /// or been removed.
    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Adds an entry due at `tick` (`exact` orders it among entries firing
    /// together); returns its key and the tick it will fire at. A tick
    /// already reached is moved to the next one: it fires at the next
    /// advance, after any batch already taken off the wheel, so entries for
    /// one instant still come out in scheduling order.
    pub(crate) fn insert(&mut self, tick: u64, exact: u64, waker: Waker) -> (TimerKey, u64) {
        let tick = tick.max(self.elapsed + 1);
        self.seq += 1;
        let entry = Entry {
            tick,
            exact,
            seq: self.seq,
            waker: Some(waker),
            prev: NIL,
            next: NIL,
            generation: 0,
            place: NIL,
        };
        let index = if self.free != NIL {
            let index = self.free;
            let slot = &mut self.entries[index as usize];
            self.free = slot.next;
            let generation = slot.generation;
            *slot = Entry {
                generation,
                ..entry
            };
            index
        } else {
            let index = u32::try_from(self.entries.len()).expect("more than 2^32 timers");
            self.entries.push(entry);
            index
        };
        self.link(index);
        self.len += 1;
        let key = TimerKey {
            index,
            generation: self.entries[index as usize].generation,
        };
        (key, tick)
    }

    fn live(&self, key: TimerKey) -> bool {
        self.entries
            .get(key.index as usize)
            .is_some_and(|e| e.generation == key.generation && e.place != NIL)
    }

    /// Replaces the waker of a pending entry; false if it fired or was removed.
    pub(crate) fn set_waker(&mut self, key: TimerKey, waker: &Waker) -> bool {
        if !self.live(key) {
            return false;
        }
        let slot = &mut self.entries[key.index as usize].waker;
        match slot {
            Some(w) if w.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
        true
    }

    /// Removes a pending entry, returning its waker; `None` if it already
    /// fired or was removed.
    pub(crate) fn remove(&mut self, key: TimerKey) -> Option<Waker> {
        if !self.live(key) {
            return None;
        }
        self.unlink(key.index);
        Some(self.release(key.index))
    }

    /// The tick at which [`advance`](Self::advance) next has work: an entry
    /// to fire, or a slot to cascade. Never later than the earliest entry.
    pub(crate) fn next_tick(&self) -> Option<u64> {
        self.next_expiration().map(|(_, _, tick)| tick)
    }

    /// Removes every entry, appending its waker to `out` (runtime shutdown).
    pub(crate) fn drain(&mut self, out: &mut Vec<Waker>) {
        for place in 0..LEVELS * SLOTS {
            let mut next = std::mem::replace(&mut self.slots[place], EMPTY_LIST).head;
            while next != NIL {
                let index = next;
                next = self.entries[index as usize].next;
                out.push(self.release(index));
            }
        }
        self.occupied = [0; LEVELS];
    }

    /// Fires every entry due at or before `now`, appending them to `fired` in
    /// (due time, scheduling order).
    pub(crate) fn advance(&mut self, now: u64, fired: &mut Vec<Fired>) {
        let start = fired.len();
        while let Some((level, slot, tick)) = self.next_expiration() {
            if tick > now {
                break;
            }
            self.elapsed = tick;
            let place = level * SLOTS + slot;
            let mut next = std::mem::replace(&mut self.slots[place], EMPTY_LIST).head;
            self.occupied[level] &= !(1 << slot);
            while next != NIL {
                let index = next;
                next = self.entries[index as usize].next;
                if self.entries[index as usize].tick <= self.elapsed {
                    let entry = &self.entries[index as usize];
                    let (exact, seq) = (entry.exact, entry.seq);
                    let waker = self.release(index);
                    fired.push(Fired { exact, seq, waker });
                } else {
                    self.link(index);
                }
            }
        }
        self.elapsed = self.elapsed.max(now);
        if fired.len() - start > 1 {
            fired[start..].sort_unstable_by_key(|f| (f.exact, f.seq));
        }
    }

    /// (level, slot, tick) of the next slot to process.
    fn next_expiration(&self) -> Option<(usize, usize, u64)> {
        for level in 0..LEVELS {
            let occupied = self.occupied[level];
            if occupied == 0 {
                continue;
            }
            let shift = SLOT_BITS * level as u32;
            let slot_span = 1u64 << shift;
            let level_span = slot_span << SLOT_BITS;
            let now_slot = (self.elapsed >> shift) & SLOT_MASK;
            let ahead = u64::from(occupied.rotate_right(now_slot as u32).trailing_zeros());
            let slot = (now_slot + ahead) & SLOT_MASK;
            let level_start = self.elapsed & !(level_span - 1);
            let mut tick = level_start + slot * slot_span;
            if tick <= self.elapsed {
                // Only the top level wraps (deadlines clamped to the span).
                tick += level_span;
            }
            return Some((level, slot as usize, tick));
        }
        None
    }

    fn place_for(&self, tick: u64) -> (usize, usize) {
        // Clamp: beyond the span, park it in the farthest slot of the top level.
        let tick = tick.min(self.elapsed + MAX_SPAN - 1);
        let differing = (self.elapsed ^ tick) | SLOT_MASK;
        let level = ((63 - differing.leading_zeros()) / SLOT_BITS) as usize;
        let level = level.min(LEVELS - 1);
        let slot = ((tick >> (SLOT_BITS * level as u32)) & SLOT_MASK) as usize;
        (level, slot)
    }

    /// Appends entry `index` to the tail of its slot.
    fn link(&mut self, index: u32) {
        let (level, slot) = self.place_for(self.entries[index as usize].tick);
        let place = level * SLOTS + slot;
        let list = &mut self.slots[place];
        let tail = list.tail;
        if tail == NIL {
            list.head = index;
        } else {
            self.entries[tail as usize].next = index;
        }
        list.tail = index;
        let entry = &mut self.entries[index as usize];
        entry.prev = tail;
        entry.next = NIL;
        entry.place = place as u32;
        self.occupied[level] |= 1 << slot;
    }

    fn unlink(&mut self, index: u32) {
        let (prev, next, place) = {
            let e = &self.entries[index as usize];
            (e.prev, e.next, e.place as usize)
        };
        if prev == NIL {
            self.slots[place].head = next;
        } else {
            self.entries[prev as usize].next = next;
        }
        if next == NIL {
            self.slots[place].tail = prev;
        } else {
            self.entries[next as usize].prev = prev;
        }
        if self.slots[place].head == NIL {
            self.occupied[place / SLOTS] &= !(1 << (place % SLOTS));
        }
    }

    /// Frees an unlinked entry and returns its waker.
    fn release(&mut self, index: u32) -> Waker {
        let entry = &mut self.entries[index as usize];
        entry.place = NIL;
        entry.generation = entry.generation.wrapping_add(1);
        entry.next = self.free;
        self.free = index;
        self.len -= 1;
        entry.waker.take().expect("a linked entry has a waker")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn waker() -> Waker {
        Waker::from(Arc::new(Count(AtomicUsize::new(0))))
    }

    /// Every entry fires exactly at its tick (never before, never after the
    /// advance that reaches it), across all levels, in due order.
    #[test]
    fn fires_each_entry_at_its_tick() {
        let mut wheel = Wheel::new();
        let mut x = 12345u64;
        let mut due = Vec::new();
        for i in 0..5000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Spread over levels 0-3 (up to ~16 M ticks), plus some far ones.
            let tick = 1 + x % [64, 4096, 262_144, 16_777_216][(i % 4) as usize];
            wheel.insert(tick, tick, waker());
            due.push(tick);
        }
        due.sort_unstable();
        let mut fired = Vec::new();
        let mut now = 0;
        let mut i = 0;
        while wheel.len() > 0 {
            let next = wheel.next_tick().unwrap();
            assert!(next > now);
            // Jump in uneven steps, sometimes past several deadlines.
            now = next + (next % 3) * 17;
            fired.clear();
            wheel.advance(now, &mut fired);
            for f in &fired {
                assert_eq!(f.exact, due[i], "in due order");
                assert!(f.exact <= now);
                i += 1;
            }
            if i < due.len() {
                assert!(due[i] > now, "nothing due is left behind");
            }
        }
        assert_eq!(i, due.len());
    }

    #[test]
    fn remove_and_stale_keys() {
        let mut wheel = Wheel::new();
        let (a, _) = wheel.insert(10, 10, waker());
        let (b, _) = wheel.insert(5000, 5000, waker());
        assert!(wheel.remove(a).is_some());
        assert!(wheel.remove(a).is_none(), "a removed key is stale");
        let (c, _) = wheel.insert(10, 10, waker());
        assert_ne!(a, c, "a reused slot gets a new generation");
        let mut fired = Vec::new();
        wheel.advance(10, &mut fired);
        assert_eq!(fired.len(), 1);
        assert!(!wheel.set_waker(c, &waker()), "fired");
        assert!(wheel.set_waker(b, &waker()));
        assert_eq!(wheel.len(), 1);
        // A tick already reached goes to the next tick, behind what fired.
        assert_eq!(wheel.insert(10, 10, waker()).1, 11);
        fired.clear();
        wheel.advance(11, &mut fired);
        assert_eq!(fired.len(), 1);
        wheel.advance(u64::MAX / 2, &mut fired);
        assert_eq!(wheel.len(), 0);
    }

    #[test]
    fn ties_fire_in_scheduling_order_and_exact_order_within_a_tick() {
        let mut wheel = Wheel::new();
        wheel.insert(3, 30, waker()); // seq 1
        wheel.insert(3, 25, waker()); // seq 2, earlier within tick
        wheel.insert(3, 30, waker()); // seq 3, tie with seq 1
        let mut fired = Vec::new();
        wheel.advance(3, &mut fired);
        let order: Vec<_> = fired.iter().map(|f| (f.exact, f.seq)).collect();
        assert_eq!(order, [(25, 2), (30, 1), (30, 3)]);
    }

    #[test]
    fn beyond_the_span_is_held_not_lost() {
        let mut wheel = Wheel::new();
        let far = MAX_SPAN * 3;
        wheel.insert(far, far, waker());
        let mut fired = Vec::new();
        let mut steps = 0;
        while fired.is_empty() {
            let next = wheel.next_tick().unwrap();
            wheel.advance(next, &mut fired);
            steps += 1;
            assert!(steps < 1000);
        }
        assert_eq!(wheel.elapsed(), far);
    }
}
