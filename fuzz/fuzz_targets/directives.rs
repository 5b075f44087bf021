//! Fuzz target `directives`: see [`logkit_fuzz::checks::directives`] for what it checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logkit_fuzz::DirectivesInput;

// Oversized inputs fail to decode (`DirectivesInput::from_bytes`), so libFuzzer skips them.
fuzz_target!(|input: DirectivesInput| logkit_fuzz::checks::directives(&input));
