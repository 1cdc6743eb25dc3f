//! asyncio's combinators for weft: `gather`, `wait`, `as_completed`,
//! `wait_for`, `timeout`, `shield` and `TaskGroup`.
//!
//! This crate sits between the loops (`weft-loop`) and the facade (`weft`) and
//! uses only their public API. It is empty until the combinators issue lands:
//! they need the timers of the time-and-I/O issue (`wait_for`, `timeout`,
//! `as_completed` with a deadline) and per-child wake-ups that keep `gather` of
//! 10^5 tasks linear, and are built together with their asyncio conformance
//! tests rather than piecemeal.
