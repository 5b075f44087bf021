//! The checks behind logkit's fuzz targets, shared by the targets in `fuzz_targets/`
//! and the regression replayer (`tests/regressions.rs`), so a saved crash input is
//! replayed through exactly the code that found it.
//!
//! - [`input`]: the fuzz inputs. Each implements `Arbitrary` (what `fuzz_target!`
//!   decodes the raw bytes into) and prints a Rust reproducer with `Debug` (what
//!   `cargo fuzz fmt` and a failing replay show).
//! - [`checks`]: the properties; each panics with a message naming the broken one.
//! - [`replay`]: runs one saved input (raw fuzzer bytes) through its target's check.

#![warn(missing_docs)]

pub mod checks;
pub mod input;
pub mod replay;

pub use input::{DirectivesInput, KnobInput, RecordInput, TraceIdInput};
