//! Writes the hand-made `json_record` seeds to `regressions/json_record/seed-*` in the
//! target's input format (see `logkit_fuzz::input`). Run from anywhere:
//! `cargo run --manifest-path fuzz/Cargo.toml --no-default-features --example write_seeds`.

use std::path::Path;

use logkit_fuzz::input::{Redact, Str, Val, EDGE_INTS, SPECIAL_F64};
use logkit_fuzz::RecordInput;

/// 2026-11-24T07:02:51.123456789Z
const NS: u64 = 1_795_503_771_123_456_789;

fn lit(s: &str) -> Str {
    Str::lit(s)
}

fn record(message: Str, fields: Vec<(Str, Val)>) -> RecordInput {
    RecordInput {
        timestamp_ns: NS,
        target: lit("app::orders"),
        message,
        context: Vec::new(),
        fields,
        redact: Vec::new(),
    }
}

fn main() {
    let floats = |r: std::ops::Range<usize>| {
        r.map(|i| (lit(&format!("f{i}")), Val::F64(f64::from_bits(SPECIAL_F64[i])))).collect::<Vec<_>>()
    };
    let ints = EDGE_INTS.iter().take(15).enumerate().map(|(i, v)| (lit(&format!("i{i}")), v.clone())).collect();
    let seeds: Vec<(&str, RecordInput)> = vec![
        ("plain", record(lit("order filled"), vec![(lit("user"), Val::Str(lit("u1"))), (lit("qty"), Val::U64(3))])),
        ("floats-1", record(lit("floats"), floats(0..12))),
        ("floats-2", record(lit("floats"), floats(12..SPECIAL_F64.len()))),
        ("ints", record(lit("ints"), ints)),
        (
            "hostile-strings",
            record(
                lit("line\n{\"event\":\"forged\"}\r\u{1b}[2J\u{202e}gnp.exe\u{2028}\u{85}\u{0}\u{7f}"),
                vec![
                    (lit("k\"\\\u{1b}"), Val::Str(lit("\u{2066}x\u{2069}\u{61c}\u{200f}"))),
                    (lit("\u{2029}"), Val::Str(lit("\u{9b}31m\u{feff}\u{10ffff}😀é"))),
                ],
            ),
        ),
        (
            "duplicate-and-reserved-keys",
            RecordInput {
                context: vec![(Str::Word(1), Val::Null), (Str::Word(4), Val::Bool(false))],
                ..record(lit("dups"), vec![(Str::Word(2), Val::I64(-1)), (Str::Word(2), Val::Str(Str::Word(3)))])
            },
        ),
        (
            "redaction",
            RecordInput {
                context: vec![(lit("token"), Val::Str(lit("ctx-secret"))), (Str::Word(5), Val::Str(Str::Word(14)))],
                redact: vec![
                    Redact::CopyKey { index: 0, upper: true, pad: true },
                    Redact::Lit(Str::Word(13)),
                    Redact::Lit(lit("trace_id")),
                ],
                ..record(lit("login"), vec![(Str::Word(13), Val::Str(lit("hunter2"))), (lit("user"), Val::U64(7))])
            },
        ),
        (
            "span-end",
            RecordInput {
                context: vec![
                    (Str::Word(5), Val::Str(Str::Word(14))),
                    (Str::Word(6), Val::Str(lit("00f067aa0ba902b7"))),
                ],
                ..record(
                    Str::Word(8),
                    vec![
                        (Str::Word(9), Val::Str(lit("handle\u{1b}"))),
                        (Str::Word(10), Val::F64(2.013)),
                        (Str::Word(11), Val::Str(Str::Word(12))),
                    ],
                )
            },
        ),
        (
            "huge-value",
            record(
                lit("huge"),
                vec![(lit("blob"), Val::Str(Str::Repeat { unit: "ab\u{2028}€".to_owned(), times: 528_380 }))],
            ),
        ),
        (
            // 4 MiB falls inside a '€': the cut must move back to a char boundary.
            "huge-message-cut-mid-char",
            record(Str::Repeat { unit: "€".to_owned(), times: 0x5560 << 6 }, Vec::new()),
        ),
        ("timestamp-max", RecordInput { timestamp_ns: u64::MAX, ..record(lit(""), Vec::new()) }),
        ("timestamp-zero", RecordInput { timestamp_ns: 0, target: lit(""), ..record(lit("epoch"), Vec::new()) }),
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions/json_record");
    std::fs::create_dir_all(&dir).expect("create the seed directory");
    for (name, input) in seeds {
        let bytes = input.to_bytes().unwrap_or_else(|| panic!("seed {name} is not expressible in the format"));
        assert!(RecordInput::from_bytes(&bytes) == Some(input), "seed {name} does not decode back");
        std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("write a seed");
        println!("seed-{name}");
    }
}
