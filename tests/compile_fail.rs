//! The macros' compile errors: each file in `tests/compile_fail/` must fail to compile
//! with the message beside it (`.stderr`), which says what is wrong and what to write
//! instead. The messages are rustc's rendering, checked against the CI's rustc (1.95);
//! after a deliberate change, `TRYBUILD=overwrite cargo test --all-features --test
//! compile_fail` rewrites them (read the diff).

#[test]
fn misused_macros_fail_to_compile_with_a_message_that_says_why() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/compile_fail/*.rs");
}
