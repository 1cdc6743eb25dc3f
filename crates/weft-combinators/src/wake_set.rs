//! A fixed set of wakers, one per slot, that tell their owner which slots
//! were woken: what lets a combinator over `n` children poll only the
//! children that finished, with one allocation for all of them.
//!
//! # Why not `FuturesUnordered`
//!
//! futures-util's `FuturesUnordered` does the same job for any futures, and
//! the combinators used it before this set. It allocates a node (an `Arc`)
//! per future. For `gather` of 10^5 tasks that was a second `malloc` and
//! `free` per child beside the task's own, about 30% of the
//! instructions per child (callgrind, `spawn_loop 100000 gather 1`). Here
//! the `n` slots are one boxed slice, allocated once per combinator call.
//!
//! # Protocol
//!
//! The shared part ([`Shared`]) holds the slots, a stack of the slots woken
//! since the owner last looked (`woken`, an intrusive Treiber stack through
//! each slot's `next`), the owner's waker, and a reference count.
//!
//! | who | step | what it does |
//! |---|---|---|
//! | waker of slot `i` | wake | `queued[i].swap(true)`; already `true`: done (the slot is on the stack, or taken and not yet polled, and the owner polls it after it clears the flag). Else push slot `i` onto `woken`; if the stack was empty, wake the owner's waker. |
//! | owner | [`WakeSet::take_woken`] | store the owner's waker (under the owner lock, when it is not the one stored already), then `woken.swap(null)`: the slots woken so far, newest first, which it relinks oldest first as its own `taken` list. |
//! | owner | [`WakeSet::pop_woken`] | unlinks the first slot of `taken`, reading its `next`, then `queued[i].swap(false)`, just before it polls slot `i`'s future again. |
//!
//! **Why no wake-up is lost.** A wake either finds `queued` set, or pushes.
//! - Found set: the owner has not yet cleared the flag, and clears it
//!   (`AcqRel`) before it polls the slot's future, so that poll sees what the
//!   waker published before its `swap` (`AcqRel`, the pair).
//! - Pushed onto a non-empty stack: an earlier push made the stack non-empty
//!   and wakes the owner (or already did), and the owner takes the whole stack
//!   after that wake. If that earlier push came before the owner stored any
//!   waker (it woke nobody), the owner's first take, which comes after it
//!   stores one, takes the stack.
//! - Pushed onto the empty stack: it wakes the owner's waker, read under the
//!   owner lock. The owner stores its waker under that lock *before* its
//!   `swap` of the stack; the push's CAS read the `null` that swap left (or
//!   one before it), so either the owner's swap comes after the push and takes
//!   the slot, or the push's lock comes after the owner's store and wakes the
//!   current waker.
//!
//! **Why the stack is sound without a counter (no ABA).** Slots are only
//! pushed one at a time and taken all at once, so a push's CAS that finds the
//! head it read links its slot in front of a live stack, whatever happened
//! in between. A slot is on the stack at most once: only the wake that turns
//! `queued` from `false` to `true` pushes it, and the owner reads a slot's
//! `next` (in `take_woken` and `pop_woken`) before it clears that slot's
//! `queued` (in `pop_woken`), so a later push that rewrites `next` happens
//! after the read (the clear's `AcqRel` swap pairs with the push's `AcqRel`
//! swap); until then only the owner touches a taken slot's `next`.
//!
//! **Lifetime.** [`Shared`] is freed when its count reaches zero: one count
//! for the [`WakeSet`], and one for each slot until that slot is closed
//! with no clone of its waker left. Clones are counted per slot
//! (`Slot::clones`), not on the shared count: the owner clones a slot's
//! waker when it registers it with a child, and the child's worker drops the
//! clone when it wakes it, so a shared count would be one more cache line
//! written by both workers for every child. (Measured, the difference was
//! within the noise of two-worker runs; the per-slot count costs nothing
//! the slot's wake does not already touch.) The wakers the owner lends through [`WakeSet::waker`] are borrowed, not
//! counted.
//!
//! So the slots live until the last clone goes: a `wait` or `as_completed`
//! that hands back children still running keeps its `n` slots (32 bytes
//! each) until each of those children ends or drops its waker.
//!
//! Dropping the set takes the owner's waker out first, so a child that
//! finishes after its combinator is gone wakes nobody. Then it closes each
//! slot: a slot with no clone left cannot get one any more (only the set
//! lends, and a clone is made from a live one), so its count is released
//! there; a slot with clones gets `CLOSED`, and whichever clone drop takes
//! the count to `CLOSED` alone releases it.

use crate::loom::sync::{fence, AtomicBool, AtomicPtr, AtomicUsize, Mutex, Ordering};
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ptr::{self, NonNull};
use std::task::{RawWaker, RawWakerVTable, Waker};

/// `n` wakers, and the list of the ones woken since the owner last looked.
/// Dropping it drops the owner's waker; wakers of its slots still held
/// elsewhere stay valid (they keep the shared part alive) and wake nobody.
pub(crate) struct WakeSet {
    shared: NonNull<Shared>,
    /// A clone of the owner's waker stored in `Shared::owner`, so that a
    /// take with the same waker (every take but the first, usually) does not
    /// lock: the lock is what the wakes of the other workers take.
    registered: Option<Waker>,
    /// The slots taken and not yet popped, oldest wake first, linked through
    /// `Slot::next` (the owner's alone until it clears their `queued`).
    taken: *mut Slot,
}

// SAFETY: the shared part is only touched through atomics and its mutex;
// the set itself holds one count of it, as an `Arc` would.
unsafe impl Send for WakeSet {}
// SAFETY: through `&WakeSet` only `waker` is reachable, which reads the
// slots; the shared part is synchronized (the owner-side fields are
// touched only through `&mut self`).
unsafe impl Sync for WakeSet {}

struct Shared {
    /// The set's count plus one per slot not yet released (see `Slot::clones`).
    refs: AtomicUsize,
    /// The slots woken since the owner last took them, newest first, linked
    /// through `Slot::next`; null when none.
    woken: AtomicPtr<Slot>,
    /// Woken when `woken` goes from empty to not; `None` once the set is
    /// dropped.
    owner: Mutex<Option<Waker>>,
    slots: Box<[Slot]>,
}

struct Slot {
    /// The shared part this slot is in (its waker's way back).
    shared: *const Shared,
    /// Whether the slot was woken and the owner has not cleared it since.
    queued: AtomicBool,
    /// The next slot down `woken`, while this one is on it.
    next: AtomicPtr<Slot>,
    /// `CLONE` times the live clones of this slot's waker, plus `CLOSED`
    /// once the set is dropped. The slot holds a count of the shared part
    /// until it is closed with no clone.
    clones: AtomicUsize,
}

/// `Slot::clones`: the set was dropped.
const CLOSED: usize = 1;
/// `Slot::clones`: one live clone.
const CLONE: usize = 2;

/// A slot's waker, lent by the set for one poll (not counted).
pub(crate) struct WakerRef<'a> {
    waker: ManuallyDrop<Waker>,
    _set: PhantomData<&'a WakeSet>,
}

impl std::ops::Deref for WakerRef<'_> {
    type Target = Waker;

    fn deref(&self) -> &Waker {
        &self.waker
    }
}

impl WakeSet {
    /// A set of `n` slots, none woken.
    pub(crate) fn new(n: usize) -> WakeSet {
        // One raw pointer for everything that reaches the shared part (the
        // set, each slot's way back, the final free), so none of them is
        // derived from a reference a later write would invalidate.
        let shared = NonNull::from(Box::leak(Box::new(Shared {
            refs: AtomicUsize::new(n + 1),
            woken: AtomicPtr::new(ptr::null_mut()),
            owner: Mutex::new(None),
            slots: Box::new([]),
        })));
        let slots = (0..n)
            .map(|_| Slot {
                shared: shared.as_ptr(),
                queued: AtomicBool::new(false),
                next: AtomicPtr::new(ptr::null_mut()),
                clones: AtomicUsize::new(0),
            })
            .collect();
        // SAFETY: just allocated, and not shared yet: no waker exists.
        unsafe { (*shared.as_ptr()).slots = slots };
        WakeSet {
            shared,
            registered: None,
            taken: ptr::null_mut(),
        }
    }

    fn shared(&self) -> &Shared {
        // SAFETY: the set holds a count, so the shared part is alive.
        unsafe { self.shared.as_ref() }
    }

    /// Slot `i`'s waker, for one poll of its future; whoever keeps it clones
    /// it (and so counts it).
    pub(crate) fn waker(&self, i: usize) -> WakerRef<'_> {
        let slot: *const Slot = &self.shared().slots[i];
        // SAFETY: the vtable's contract holds for a pointer to a slot of a
        // live shared part; `ManuallyDrop` keeps this uncounted copy from
        // being released.
        let waker = unsafe { Waker::from_raw(RawWaker::new(slot.cast(), &VTABLE)) };
        WakerRef {
            waker: ManuallyDrop::new(waker),
            _set: PhantomData,
        }
    }

    /// Makes `owner` the waker to wake when a slot is next woken, then
    /// takes the slots woken since the last call, to be handed out by
    /// [`pop_woken`](Self::pop_woken) after those taken before, oldest wake
    /// first. Each stays marked woken (a further wake of it is absorbed)
    /// until it is popped.
    pub(crate) fn take_woken(&mut self, owner: &Waker) {
        if !self.registered.as_ref().is_some_and(|w| w.will_wake(owner)) {
            // Only the owner writes the stored waker, so `registered` is what
            // the lock holds. The old one is dropped after the lock.
            let old = self.shared().owner.lock().replace(owner.clone());
            drop(old);
            self.registered = Some(owner.clone());
        }
        // AcqRel: Acquire pairs with a wake's Release CAS in `wake_slot` (the
        // slot's `next` is written); Release orders the owner store above
        // before the `null` a later push reads.
        let mut top = self.shared().woken.swap(ptr::null_mut(), Ordering::AcqRel);
        // Relink newest-first as oldest-first, in front of nothing: the
        // slots are the owner's until popped, `next` included.
        let mut oldest_first = ptr::null_mut();
        while let Some(slot) = NonNull::new(top) {
            // SAFETY: a slot on the stack is one of this shared part's.
            let slot = unsafe { slot.as_ref() };
            top = slot.next.load(Ordering::Relaxed);
            slot.next.store(oldest_first, Ordering::Relaxed);
            oldest_first = slot as *const Slot as *mut Slot;
        }
        // Behind what is still taken (`Pending` pops everything first).
        match NonNull::new(self.taken) {
            None => self.taken = oldest_first,
            Some(mut last) => {
                // SAFETY: taken slots are this shared part's and the owner's.
                unsafe {
                    while let Some(next) = NonNull::new(last.as_ref().next.load(Ordering::Relaxed))
                    {
                        last = next;
                    }
                    last.as_ref().next.store(oldest_first, Ordering::Relaxed);
                }
            }
        }
    }

    /// The next slot taken by [`take_woken`](Self::take_woken), unmarked
    /// just before its future is polled again: a wake from now on queues it
    /// anew. `None` when every taken slot was popped.
    pub(crate) fn pop_woken(&mut self) -> Option<usize> {
        // SAFETY: taken slots are this shared part's, alive while the set is.
        let slot = unsafe { NonNull::new(self.taken)?.as_ref() };
        // Read before the clear below lets a wake push the slot again.
        self.taken = slot.next.load(Ordering::Relaxed);
        // AcqRel: Acquire pairs with the Release of the wake's swap in
        // `wake_slot`, so the poll that follows sees what the waker's side
        // did before waking; Release orders the reads of `next` before a new
        // push's write of it.
        slot.queued.swap(false, Ordering::AcqRel);
        Some(self.shared().index_of(slot))
    }
}

impl Drop for WakeSet {
    fn drop(&mut self) {
        // Late wakes (children finishing after their combinator is gone)
        // then wake nobody.
        let owner = self.shared().owner.lock().take();
        drop(owner);
        let mut counts = 1; // the set's own
        for slot in self.shared().slots.iter() {
            // Acquire: pairs with the Release of the last clone's drop
            // (`drop_slot`), whose uses of the slot then happen before the
            // count released here.
            if slot.clones.load(Ordering::Acquire) == 0 {
                // No clone, and none can be made now: the slot's count is ours.
                counts += 1;
                continue;
            }
            // AcqRel: Acquire as above, for a drop that lands first; Release
            // so the clone drop that sees `CLOSED` releases after this.
            if slot.clones.fetch_or(CLOSED, Ordering::AcqRel) == 0 {
                counts += 1;
            }
        }
        // SAFETY: the set's own count and those of the slots found without a
        // clone, each released once (a closed slot's is released here or by
        // the clone drop that leaves it at `CLOSED`, never both).
        unsafe { release(self.shared.as_ptr(), counts) }
    }
}

impl Shared {
    fn index_of(&self, slot: &Slot) -> usize {
        // SAFETY: `slot` is an element of `self.slots` (every slot pointer
        // handed out points into it), so both are in one allocation.
        let offset = unsafe { (slot as *const Slot).offset_from(self.slots.as_ptr()) };
        offset as usize
    }

    /// A wake of `slot`: queues it unless it is queued already, and wakes
    /// the owner when the stack was empty.
    fn wake_slot(&self, slot: &Slot) {
        // AcqRel: Release pairs with `pop_woken`'s Acquire (what the waker's
        // side did before waking is seen by the owner's next poll); Acquire
        // pairs with `pop_woken`'s Release (the owner's reads of `next` are
        // done before the write below).
        if slot.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = slot as *const Slot as *mut Slot;
        let mut top = self.woken.load(Ordering::Relaxed);
        loop {
            slot.next.store(top, Ordering::Relaxed);
            // AcqRel: Release publishes `next` to `take_woken`'s Acquire swap;
            // Acquire pairs with that swap's Release (the owner's waker is
            // stored before the `null` read here).
            match self
                .woken
                .compare_exchange_weak(top, me, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => top = now,
            }
        }
        if top.is_null() {
            // Woken outside the lock: a waker is foreign code.
            let owner = self.owner.lock().clone();
            if let Some(owner) = owner {
                owner.wake();
            }
        }
    }
}

/// Drops `counts` counts of `shared`, freeing it with the last.
///
/// # Safety
///
/// `shared` is live and the caller owns `counts` of its counts.
unsafe fn release(shared: *const Shared, counts: usize) {
    // SAFETY: live, by the caller's counts.
    let refs = unsafe { &(*shared).refs };
    // Release: this holder's uses of the shared part happen before the free;
    // the Acquire fence below pairs with it in the last holder.
    if refs.fetch_sub(counts, Ordering::Release) != counts {
        return;
    }
    fence(Ordering::Acquire);
    // SAFETY: the last count: nothing else can reach the shared part, which
    // was made by `Box::leak` in `WakeSet::new`.
    drop(unsafe { Box::from_raw(shared as *mut Shared) });
}

static VTABLE: RawWakerVTable =
    RawWakerVTable::new(clone_slot, wake_slot, wake_slot_by_ref, drop_slot);

/// The shared part of the slot a waker's data points to.
///
/// # Safety
///
/// `data` is a slot pointer given to a waker by [`WakeSet::waker`] (or a
/// clone of one) whose count, or the set's, is still held.
unsafe fn shared_of<'a>(data: *const ()) -> (&'a Shared, &'a Slot) {
    // SAFETY: by the caller, the slot and its shared part are alive.
    unsafe {
        let slot = &*data.cast::<Slot>();
        (&*slot.shared, slot)
    }
}

unsafe fn clone_slot(data: *const ()) -> RawWaker {
    // SAFETY: the waker being cloned holds a clone's count, or borrows the
    // set's.
    let (_, slot) = unsafe { shared_of(data) };
    // Relaxed: a new clone from a live one (or from the set), as
    // `Arc::clone`.
    if slot.clones.fetch_add(CLONE, Ordering::Relaxed) > isize::MAX as usize {
        std::process::abort();
    }
    RawWaker::new(data, &VTABLE)
}

unsafe fn wake_slot(data: *const ()) {
    // SAFETY: a counted waker, woken by value: its count is released after.
    unsafe {
        wake_slot_by_ref(data);
        drop_slot(data);
    }
}

unsafe fn wake_slot_by_ref(data: *const ()) {
    // SAFETY: the waker holds (or borrows) a count.
    let (shared, slot) = unsafe { shared_of(data) };
    shared.wake_slot(slot);
}

unsafe fn drop_slot(data: *const ()) {
    // SAFETY: a clone's count, given up once, here.
    let (_, slot) = unsafe { shared_of(data) };
    // The pointer the set was made with (not one derived from the reference
    // above), for the free in `release`; read while the slot is surely alive.
    let shared = slot.shared;
    // AcqRel: Release so this clone's uses of the slot happen before the
    // set's drop that finds no clone (its Acquire load); Acquire pairs with
    // the Release of that drop's `fetch_or`, when this is the last clone of
    // a closed slot.
    if slot.clones.fetch_sub(CLONE, Ordering::AcqRel) == CLOSED | CLONE {
        // SAFETY: the last clone of a closed slot: the slot's count, which
        // the set's drop left to this drop.
        unsafe { release(shared, 1) }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize as StdCount;
    use std::sync::Arc;
    use std::task::Wake;

    struct CountWakes(StdCount);

    impl Wake for CountWakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn owner() -> (Arc<CountWakes>, Waker) {
        let count = Arc::new(CountWakes(StdCount::new(0)));
        (count.clone(), Waker::from(count))
    }

    /// Takes, then pops every slot taken.
    fn take_all(set: &mut WakeSet, owner: &Waker) -> Vec<usize> {
        set.take_woken(owner);
        std::iter::from_fn(|| set.pop_woken()).collect()
    }

    #[test]
    fn woken_slots_come_back_once_each_oldest_first() {
        let mut set = WakeSet::new(300);
        let (wakes, owner) = owner();
        assert!(take_all(&mut set, &owner).is_empty());
        let far = 299;
        set.waker(far).wake_by_ref();
        set.waker(0).wake_by_ref();
        set.waker(far).wake_by_ref(); // absorbed: still queued
        assert_eq!(
            wakes.0.load(Ordering::SeqCst),
            1,
            "one wake per empty stack"
        );
        set.take_woken(&owner);
        set.waker(0).wake_by_ref(); // taken, not popped: absorbed
        assert_eq!(set.pop_woken(), Some(far));
        assert_eq!(set.pop_woken(), Some(0));
        assert_eq!(set.pop_woken(), None);
        assert!(take_all(&mut set, &owner).is_empty(), "the absorbed wake");
        set.waker(far).wake_by_ref(); // popped: queued anew
        set.waker(1).wake_by_ref();
        assert_eq!(take_all(&mut set, &owner), [far, 1]);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_take_lines_up_behind_slots_not_yet_popped() {
        let mut set = WakeSet::new(4);
        let (_, owner) = owner();
        set.waker(3).wake_by_ref();
        set.waker(1).wake_by_ref();
        set.take_woken(&owner);
        assert_eq!(set.pop_woken(), Some(3));
        set.waker(0).wake_by_ref();
        set.take_woken(&owner);
        assert_eq!(take_all(&mut set, &owner), [1, 0]);
    }

    #[test]
    fn a_clone_outlives_the_set_and_wakes_nobody() {
        let mut set = WakeSet::new(2);
        let (wakes, owner) = owner();
        set.take_woken(&owner);
        drop(owner);
        assert_eq!(
            Arc::strong_count(&wakes),
            3,
            "the set keeps its owner's waker (stored, and its own copy)"
        );
        let kept = set.waker(1).clone();
        drop(set);
        assert_eq!(
            Arc::strong_count(&wakes),
            1,
            "the set let its owner's waker go"
        );
        kept.wake();
        assert_eq!(wakes.0.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn an_empty_set_has_no_slots() {
        let mut set = WakeSet::new(0);
        let (_, owner) = owner();
        assert!(take_all(&mut set, &owner).is_empty());
    }
}
