//! Fuzz target `env_knobs`: see [`logkit_fuzz::checks::env_knobs`] for what it checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logkit_fuzz::KnobInput;

// Oversized inputs fail to decode (`KnobInput::from_bytes`), so libFuzzer skips them.
fuzz_target!(|input: KnobInput| logkit_fuzz::checks::env_knobs(&input));
