//! Every command's exit code: 0 when it ran, 1 on a usage or I/O error (with one line
//! on stderr that says what was wrong); `errors --fail` is the one that exits 1 for
//! what it found (tests/errors.rs).
mod common;

const COMMANDS: &[&[&str]] = &[&["errors"], &["trace", "4bf9"], &["slow"], &["tail"], &["stats"]];

fn code(out: &std::process::Output) -> Option<i32> {
    out.status.code()
}

#[test]
fn every_command_exits_0_when_it_ran_and_1_on_a_usage_or_io_error() {
    let dir = common::tempdir();
    let d = dir.path();
    std::fs::write(
        d.join("run.log"),
        "{\"timestamp\":\"2026-11-24T07:02:51.123456Z\",\"level\":\"error\",\"event\":\"boom\",\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"target\":\"t\"}\n",
    )
    .unwrap();
    for cmd in COMMANDS {
        let ran = common::logkit(d, cmd);
        assert_eq!(code(&ran), Some(0), "logkit {cmd:?}: {}", common::stderr(&ran));
        assert!(!ran.stdout.is_empty(), "logkit {cmd:?} printed nothing");

        let missing = common::logkit(d, &[*cmd, &["nope.log"][..]].concat());
        assert_eq!(code(&missing), Some(1), "logkit {cmd:?} nope.log");
        assert_eq!(common::stderr(&missing), "logkit: cannot open nope.log: no such file\n", "{cmd:?}");

        let unknown = common::logkit(d, &[*cmd, &["--bogus"][..]].concat());
        assert_eq!(code(&unknown), Some(1), "logkit {cmd:?} --bogus");
        assert_eq!(common::stderr(&unknown), "logkit: unknown option \"--bogus\" (see logkit --help)\n", "{cmd:?}");
        assert!(unknown.stdout.is_empty(), "{cmd:?}");
    }
    let empty = common::tempdir();
    for cmd in COMMANDS {
        let none = common::logkit(empty.path(), cmd);
        assert_eq!(code(&none), Some(1), "logkit {cmd:?} without a run.log");
        assert!(common::stderr(&none).starts_with("logkit: no run.log here"), "{}", common::stderr(&none));
    }
    for (args, want) in [
        (&[][..], "logkit: no command given\n"),
        (&["grep"][..], "logkit: unknown command \"grep\"\n"),
        (&["tail", "-f", "-"][..], "logkit: -f follows a file, not stdin\n"),
        (&["slow", "--top"][..], "logkit: --top needs a value\n"),
        (&["trace"][..], "logkit: trace needs an ID (or --last-error)\n"),
    ] {
        let out = common::logkit(d, args);
        assert_eq!(code(&out), Some(1), "logkit {args:?}");
        assert!(common::stderr(&out).starts_with(want), "logkit {args:?}: {}", common::stderr(&out));
    }
    for args in [&["--help"][..], &["errors", "--help"][..], &["--version"][..]] {
        let out = common::logkit(d, args);
        assert_eq!(code(&out), Some(0), "logkit {args:?}");
        assert!(!out.stdout.is_empty() && out.stderr.is_empty(), "logkit {args:?}");
    }
}
