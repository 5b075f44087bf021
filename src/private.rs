//! What the macros expand to. Not API: may change in any release.

use std::fmt;

pub use crate::callsite::Callsite;
pub use crate::level::Level;
pub use crate::value::{debug, display, Value};
pub use core::format_args;

use crate::record::{Encoder, HAS_MESSAGE};
use crate::{clock, context, filter, runtime};

/// The gate: level floor, per-target directives, sampling. Loads a few atomics and
/// evaluates none of the record's arguments.
#[inline(always)]
pub fn enabled(cs: &'static Callsite) -> bool {
    filter::enabled(cs)
}

/// Records one event. Non-generic: every call site shares this one body.
pub fn log(cs: &'static Callsite, message: Option<fmt::Arguments<'_>>, fields: &[&dyn Value]) {
    let rt = match runtime::get() {
        Some(rt) => rt,
        None => {
            let rt = runtime::ensure_started();
            // The gate let everything through before the filters were installed.
            if !filter::enabled(cs) {
                return;
            }
            rt
        }
    };
    let ts = clock::now_ns();
    let flags = if message.is_some() { HAS_MESSAGE } else { 0 };
    rt.frontend.write(&mut |buf| {
        let mut enc = Encoder::begin(buf, cs.level(), flags, Some(cs), ts);
        if let Some(m) = message {
            enc.raw_fmt(m);
        }
        context::encode_current(&mut enc);
        let mut values = enc.values();
        for f in fields {
            f.encode(&mut values);
        }
        enc.finish();
    });
}
