//! Replays every saved input under `fuzz/regressions/<target>/` through its target's
//! check. Runs on stable without libFuzzer:
//! `cargo test --manifest-path fuzz/Cargo.toml --no-default-features`.

use std::path::Path;

#[test]
fn fuzz_regressions_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    match logkit_fuzz::replay::replay_all(&dir) {
        Ok(n) => assert!(n > 0, "no regression inputs under {}", dir.display()),
        Err(failures) => panic!("{} regression input(s) fail:\n\n{}", failures.len(), failures.join("\n\n")),
    }
}
