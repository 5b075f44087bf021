//! Replays saved inputs (`regressions/<target>/*`, raw fuzzer bytes as libFuzzer
//! writes them) through the same checks the fuzz targets run.

use std::path::{Path, PathBuf};

use super::checks;
use super::input::{DirectivesInput, KnobInput, RecordInput, TraceIdInput};

/// The fuzz targets, by name (`fuzz_targets/<name>.rs`, `regressions/<name>/`).
pub const TARGETS: [&str; 4] = ["json_record", "directives", "trace_ids", "env_knobs"];

/// Runs one raw input through `target`'s check, as the fuzz target would: inputs the
/// target rejects (oversized) are skipped. Panics like the check does; `Err` for an
/// unknown target.
pub fn run(target: &str, data: &[u8]) -> Result<(), String> {
    match target {
        "json_record" => RecordInput::from_bytes(data).iter().for_each(checks::json_record),
        "directives" => DirectivesInput::from_bytes(data).iter().for_each(checks::directives),
        "trace_ids" => TraceIdInput::from_bytes(data).iter().for_each(checks::trace_ids),
        "env_knobs" => KnobInput::from_bytes(data).iter().for_each(checks::env_knobs),
        _ => return Err(format!("unknown fuzz target {target:?}")),
    }
    Ok(())
}

/// The reproducer `Debug` of one raw input for `target` (what the fuzz target prints).
pub fn describe(target: &str, data: &[u8]) -> String {
    let d = match target {
        "json_record" => RecordInput::from_bytes(data).map(|i| format!("{i:?}")),
        "directives" => DirectivesInput::from_bytes(data).map(|i| format!("{i:?}")),
        "trace_ids" => TraceIdInput::from_bytes(data).map(|i| format!("{i:?}")),
        "env_knobs" => KnobInput::from_bytes(data).map(|i| format!("{i:?}")),
        _ => None,
    };
    d.unwrap_or_else(|| "(rejected by the target)".to_owned())
}

/// The saved inputs of `target` under `dir` (`dir/<target>/*`, README files and
/// dot-files excluded), sorted.
pub fn inputs(dir: &Path, target: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir.join(target)) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| !n.starts_with('.') && !n.starts_with("README"))
        })
        .collect();
    files.sort();
    files
}

/// Replays every saved input of every target under `dir`, each in its own
/// `catch_unwind`; returns how many ran, or one line per failing input (its path, the
/// panic message and the reproducer).
pub fn replay_all(dir: &Path) -> Result<usize, Vec<String>> {
    let mut failures = Vec::new();
    let mut ran = 0;
    for target in TARGETS {
        for path in inputs(dir, target) {
            let data = match std::fs::read(&path) {
                Ok(d) => d,
                Err(e) => {
                    failures.push(format!("{}: {e}", path.display()));
                    continue;
                }
            };
            ran += 1;
            if let Err(panic) = std::panic::catch_unwind(|| run(target, &data)) {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                failures.push(format!("{}: {msg}\nreproducer:\n{}", path.display(), describe(target, &data)));
            }
        }
    }
    if failures.is_empty() {
        Ok(ran)
    } else {
        Err(failures)
    }
}
