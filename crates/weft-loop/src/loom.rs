//! weft-loop's view of the workspace's one loom shim (`weft_task::loom`):
//! `std` and `parking_lot` normally, loom's under `--cfg loom` so the parking
//! protocol can be model-checked (see `park.rs`).

pub(crate) mod sync {
    pub(crate) use weft_task::loom::sync::*;
    // `std`'s `Arc` even under loom, not loom's (which the shim gives): `state.rs`
    // and `scheduler/` name `std::sync::Arc` directly (for `Arc<dyn Fn>` /
    // `Arc<Parker>` fields and `std::task::Wake`), and loom's `Arc` is a
    // different type that cannot be passed where they expect one. The models
    // only need the atomics, the mutex and the condvar inside the `Arc` to be
    // loom's. (An explicit import shadows the glob's `Arc`.)
    pub(crate) use std::sync::Arc;
}
