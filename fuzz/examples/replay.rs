//! Runs saved inputs through a target's check and prints each one's reproducer and
//! time: `cargo run --manifest-path fuzz/Cargo.toml --no-default-features --example
//! replay -- <target> <file>...` (for a crash found by `cargo fuzz run`, or a whole
//! corpus directory's files).

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let target = args.next().expect("usage: replay <target> <file>...");
    let verbose = std::env::var_os("VERBOSE").is_some();
    for path in args {
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        if verbose {
            println!("{path}:\n{}", logkit_fuzz::replay::describe(&target, &data));
        }
        let start = Instant::now();
        logkit_fuzz::replay::run(&target, &data).unwrap_or_else(|e| panic!("{e}"));
        println!("{path}: ok in {:?}", start.elapsed());
    }
}
