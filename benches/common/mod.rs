//! Set-up shared by the benches (`mod common;`).

/// Starts logkit from `config`, writing `run.log` in a fresh temporary directory with
/// the console off and INFO and above kept: the directory and the guard, to hold until
/// the benches end.
pub fn setup(config: logkit::Config) -> (tempfile::TempDir, logkit::Guard) {
    let dir = tempfile::tempdir().expect("tempdir");
    let guard =
        config.file(dir.path().join("run.log")).console(logkit::Console::Off).level("info").init().expect("init");
    (dir, guard)
}
