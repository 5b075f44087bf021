//! Fuzz target `json_record`: see [`logkit_fuzz::checks::json_record`] for what it
//! checks.
#![no_main]

use libfuzzer_sys::{fuzz_target, Corpus};
use logkit_fuzz::input::huge_enabled;
use logkit_fuzz::RecordInput;

// Oversized inputs fail to decode (`RecordInput::from_bytes`), so libFuzzer skips
// them. Inputs with a 4 MiB string are skipped (and kept out of the corpus) unless
// LOGKIT_FUZZ_HUGE is set: under ASan each takes seconds. The replayer runs them all.
fuzz_target!(|input: RecordInput| -> Corpus {
    if input.has_huge() && !huge_enabled() {
        return Corpus::Reject;
    }
    logkit_fuzz::checks::json_record(&input);
    Corpus::Keep
});
