//! Replays every saved fuzz input under `fuzz/regressions/<target>/` through the
//! checks its fuzz target runs, so a crash found once stays fixed. (The same replay
//! also runs as `cargo test --manifest-path fuzz/Cargo.toml --no-default-features`.)
//!
//! The checks live in the `logkit-fuzz` crate (`fuzz/src/`), which is its own cargo
//! workspace, so it cannot be a dev-dependency here (cargo: "multiple workspace roots
//! found in the same workspace"). Its modules are compiled into this test instead,
//! which needs these dev-dependencies in the root `Cargo.toml`:
//!
//! ```toml
//! arbitrary = "1"
//! serde_json = { version = "1", features = ["raw_value"] }  # was: serde_json = "1"
//! ```
//!
//! (`serde` is already one; `raw_value` only adds a type, it changes nothing else.)

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code, unused_imports)] // the fuzz targets' entry points are unused here
mod logkit_fuzz;

use std::path::Path;

#[test]
fn fuzz_regressions_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    match logkit_fuzz::replay::replay_all(&dir) {
        Ok(n) => assert!(n > 0, "no regression inputs under {}", dir.display()),
        Err(failures) => panic!("{} regression input(s) fail:\n\n{}", failures.len(), failures.join("\n\n")),
    }
}
