//! The bound context of the current work unit (trace id, span id, bound keys),
//! pre-encoded once when bound so that a record copies it instead of re-encoding it.
//!
//! (The context API — `new_context!`, spans — builds on this; until then every record
//! carries an empty context.)

use crate::record::Encoder;

/// Copies the current context into a record being encoded.
#[inline]
pub(crate) fn encode_current(enc: &mut Encoder<'_>) {
    enc.context(&[]);
}
