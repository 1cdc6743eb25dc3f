//! A coarse monotonic clock, in wrapping milliseconds, for task ages.
//!
//! A spawn reads it once (a task dump shows each task's age). On Linux it
//! is `CLOCK_MONOTONIC_COARSE` (a vDSO read of the kernel's last tick: no
//! time-stamp counter read, a few nanoseconds; its resolution is the
//! kernel's tick, 1 to 4 ms); elsewhere `Instant` since the first read.
//! Milliseconds in a `u32` wrap after about 49.7 days: ages are exact below
//! that.

/// Now, in coarse milliseconds (wrapping).
#[cfg(target_os = "linux")]
#[inline]
pub(crate) fn coarse_ms() -> u32 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a
    // constant Linux provides (since 2.6.32), so the call cannot fail.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1000)
        .wrapping_add(ts.tv_nsec as u64 / 1_000_000) as u32
}

/// Now, in milliseconds since the first read (wrapping).
#[cfg(not(target_os = "linux"))]
pub(crate) fn coarse_ms() -> u32 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u32
}

/// How long ago `then` (a [`coarse_ms`] reading) was.
pub(crate) fn since(then: u32) -> std::time::Duration {
    std::time::Duration::from_millis(u64::from(coarse_ms().wrapping_sub(then)))
}
