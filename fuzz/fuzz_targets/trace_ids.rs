//! Fuzz target `trace_ids`: see [`logkit_fuzz::checks::trace_ids`] for what it checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logkit_fuzz::TraceIdInput;

// Oversized inputs fail to decode (`TraceIdInput::from_bytes`), so libFuzzer skips them.
fuzz_target!(|input: TraceIdInput| logkit_fuzz::checks::trace_ids(&input));
