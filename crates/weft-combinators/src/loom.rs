//! weft-combinators' view of the workspace's one loom shim
//! (`weft_task::loom`): `std` and `parking_lot` normally, loom's under
//! `--cfg loom` so the wake set (`wake_set.rs`) can be model-checked on the
//! shipped code.

pub(crate) use weft_task::loom::*;
