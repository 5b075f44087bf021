//! The call-site clock: wall time in nanoseconds since the Unix epoch.

use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch (UTC). `CLOCK_REALTIME` through the vDSO.
#[inline]
pub(crate) fn now_ns() -> u64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as u64,
        Err(_) => 0,
    }
}
