//! Console sink: writes each batch of rendered lines to stderr or stdout.
//!
//! The writer thread hands over a whole batch (complete lines) at a time, which goes
//! out in one `write(2)` unless the kernel takes less; short writes and `EINTR` are
//! retried, and a descriptor someone left non-blocking is waited on with `poll(2)`, so
//! a batch is never cut between lines. Any other error (`EPIPE` from a closed pipe,
//! `EBADF` from a closed descriptor, `EIO` from a gone terminal) disables the sink for
//! good and is reported once on stderr — unless stderr is the stream that failed. The
//! console is a convenience: its failure never stops the file sink, never panics and
//! never spins.
//!
//! A closed pipe raises `SIGPIPE` before `write` returns `EPIPE`. Rust programs ignore
//! that signal from `main`, but a non-Rust host (or `-Zon-broken-pipe=kill`) keeps
//! the default action, which kills the process. So the first write blocks `SIGPIPE` in
//! the calling thread only — the writer thread, which logkit owns — and a broken pipe
//! is then just an `EPIPE` here.

use std::io::{self, Write as _};
use std::os::fd::RawFd;
use std::thread::{self, ThreadId};

/// Which standard stream the console writes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stream {
    /// Standard error (the default: logs stay out of a program's output).
    Stderr,
    /// Standard output.
    Stdout,
}

impl Stream {
    #[inline]
    fn fd(self) -> RawFd {
        match self {
            Stream::Stderr => libc::STDERR_FILENO,
            Stream::Stdout => libc::STDOUT_FILENO,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Stream::Stderr => "stderr",
            Stream::Stdout => "stdout",
        }
    }
}

/// Whether colour suits `stream` by default: it is a terminal, `NO_COLOR` is unset or
/// empty (<https://no-color.org>), and `TERM` is not `dumb`.
pub(crate) fn color_default(stream: Stream) -> bool {
    // SAFETY: `isatty` only inspects the descriptor number; any value is acceptable
    // (a closed descriptor gives 0 with `EBADF`).
    let tty = unsafe { libc::isatty(stream.fd()) } == 1;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
    tty && !no_color && !dumb
}

/// Writes rendered lines to stderr or stdout; disables itself on the first error.
#[derive(Debug)]
pub(crate) struct ConsoleSink {
    /// The descriptor written to; not owned (never closed here).
    fd: RawFd,
    /// The stream `fd` stands for, for the failure report.
    stream: Stream,
    color: bool,
    /// Set on the first write error; later writes are no-ops.
    failed: bool,
    /// The thread in which `SIGPIPE` was blocked (the first writer's), if any yet.
    sigpipe_blocked_in: Option<ThreadId>,
    /// A pipe or socket: a reader that stops reading can make writes block, so they
    /// are bounded (see [`STALL_TIMEOUT`]). Regular files and terminals are not.
    bounded: bool,
    /// Lines not shown because the reader stalled, since the console last caught up.
    skipped_lines: u64,
}

/// How long one batch may wait for a pipe reader (`| less` left at a prompt, a
/// stopped `tail`): then the console skips lines until the pipe drains, so the writer
/// thread — and behind it, in block mode, the application — never waits on it for
/// longer. The file still gets every record.
pub(crate) const STALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether `fd` is a pipe or a socket.
fn is_pipe_or_socket(fd: RawFd) -> bool {
    // SAFETY: `st` is a valid out-pointer for `fstat`; a bad `fd` only returns -1.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return false;
    }
    let kind = st.st_mode & libc::S_IFMT;
    kind == libc::S_IFIFO || kind == libc::S_IFSOCK
}

impl ConsoleSink {
    /// A sink writing to `stream`, with ANSI colours when `color`.
    pub(crate) fn new(stream: Stream, color: bool) -> ConsoleSink {
        ConsoleSink::from_fd(stream.fd(), stream, color)
    }

    /// A sink writing to `fd`, reporting failures as `stream`'s. `fd` must stay open
    /// for the sink's life or be a closed descriptor number not reused meanwhile (a
    /// closed one only makes the writes fail with `EBADF`).
    fn from_fd(fd: RawFd, stream: Stream, color: bool) -> ConsoleSink {
        ConsoleSink {
            fd,
            stream,
            color,
            failed: false,
            sigpipe_blocked_in: None,
            bounded: is_pipe_or_socket(fd),
            skipped_lines: 0,
        }
    }

    /// Whether colour suits `stream` by default; see [`color_default`].
    pub(crate) fn color_default(stream: Stream) -> bool {
        color_default(stream)
    }

    /// Whether this sink's lines are rendered with ANSI colours.
    #[inline]
    pub(crate) fn color(&self) -> bool {
        self.color
    }

    /// Writes a batch of complete lines, retrying `EINTR` and short writes. On any
    /// other error the sink disables itself and reports once; it never panics.
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        if self.failed || bytes.is_empty() {
            return;
        }
        if self.sigpipe_blocked_in.is_none() {
            self.sigpipe_blocked_in = block_sigpipe_in_this_thread();
        }
        if !self.bounded {
            if let Err(err) = write_all(self.fd, bytes) {
                self.fail(&err);
            }
            return;
        }
        if self.skipped_lines > 0 && !self.catch_up(0) {
            // Stalled before: show nothing until the reader has made room again.
            self.skipped_lines += count_lines(bytes);
            return;
        }
        match write_bounded(self.fd, bytes) {
            Ok(()) => {}
            Err(None) => self.skipped_lines += count_lines(bytes).max(1),
            Err(Some(err)) => self.fail(&err),
        }
    }

    /// After a stall: once the reader has made room (waiting at most `wait_ms`), says
    /// how many lines were skipped. Returns whether the console is writable again.
    /// The writer also calls this at each flush, so the note is not lost when nothing
    /// else is logged after the stall.
    pub(crate) fn catch_up(&mut self, wait_ms: i32) -> bool {
        if self.skipped_lines == 0 || self.failed {
            return !self.failed;
        }
        if !poll_writable(self.fd, wait_ms) {
            return false;
        }
        let note = format!(
            "logkit: the console reader stalled; {} lines were not shown here (the log file has them)\n",
            self.skipped_lines
        );
        self.skipped_lines = 0;
        match write_bounded(self.fd, note.as_bytes()) {
            Ok(()) => true,
            Err(None) => {
                self.skipped_lines = 1;
                false
            }
            Err(Some(err)) => {
                self.fail(&err);
                false
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn fail(&mut self, err: &io::Error) {
        self.failed = true;
        if let Some(report) = self.failure_report(err) {
            // Nowhere left to report a failure of this report; never panic over it.
            let _ = io::stderr().write_all(report.as_bytes());
        }
    }

    /// The one line written to stderr when the console fails, unless the console is
    /// stderr itself.
    fn failure_report(&self, err: &io::Error) -> Option<String> {
        (self.stream != Stream::Stderr)
            .then(|| format!("logkit: console output on {} failed: {err}; console disabled\n", self.stream.name()))
    }
}

/// Writes all of `bytes` to `fd`: as one `write(2)` when the kernel takes it all, else
/// as many as it needs. `EINTR` is retried; `EAGAIN` (a non-blocking descriptor) waits
/// for room as a blocking write would.
fn write_all(fd: RawFd, bytes: &[u8]) -> io::Result<()> {
    let mut rest = bytes;
    while !rest.is_empty() {
        // SAFETY: `rest` is a live, initialised slice, so `rest.len()` bytes from its
        // pointer are readable for the duration of the call; `write` reads no more than
        // that and keeps no reference. An invalid `fd` is reported as `EBADF`.
        let n = unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) };
        match n {
            n if n > 0 => rest = rest.get(n as usize..).unwrap_or_default(),
            0 => return Err(io::ErrorKind::WriteZero.into()),
            _ => {
                let err = io::Error::last_os_error();
                match err.raw_os_error() {
                    Some(libc::EINTR) => {}
                    Some(e) if e == libc::EAGAIN || e == libc::EWOULDBLOCK => wait_writable(fd)?,
                    _ => return Err(err),
                }
            }
        }
    }
    Ok(())
}

fn count_lines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// Whether `fd` can take a write without blocking, waiting at most `timeout_ms`.
fn poll_writable(fd: RawFd, timeout_ms: i32) -> bool {
    let mut pfd = libc::pollfd { fd, events: libc::POLLOUT, revents: 0 };
    loop {
        // SAFETY: `pfd` is a valid `pollfd` that lives across the call; count 1.
        let r = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if r > 0 {
            return true; // writable, or an error the next write reports
        }
        if r == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return false;
        }
    }
}

/// Writes `bytes` to a pipe or socket in pieces the kernel takes without blocking
/// (at most `PIPE_BUF`, cut after a newline where one falls in the piece), each after
/// `poll` says there is room, within [`STALL_TIMEOUT`] for the whole batch.
/// `Err(None)`: the reader stalled (the rest is dropped); `Err(Some(e))`: `e` failed.
fn write_bounded(fd: RawFd, bytes: &[u8]) -> Result<(), Option<io::Error>> {
    const PIECE: usize = libc::PIPE_BUF;
    let deadline = std::time::Instant::now() + STALL_TIMEOUT;
    let mut rest = bytes;
    while !rest.is_empty() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if !poll_writable(fd, left.as_millis().min(i32::MAX as u128) as i32) {
            return Err(None);
        }
        let mut n = rest.len().min(PIECE);
        if n < rest.len() {
            if let Some(nl) = rest[..n].iter().rposition(|&b| b == b'\n') {
                n = nl + 1;
            }
        }
        write_all(fd, &rest[..n]).map_err(Some)?;
        rest = &rest[n..];
    }
    Ok(())
}

/// Waits until `fd` can take more bytes (or has an error the next write will return).
#[cold]
fn wait_writable(fd: RawFd) -> io::Result<()> {
    let mut pfd = libc::pollfd { fd, events: libc::POLLOUT, revents: 0 };
    loop {
        // SAFETY: `pfd` is a valid `pollfd` that lives across the call, and the count
        // passed is 1, the number of entries it points to.
        let r = unsafe { libc::poll(&mut pfd, 1, -1) };
        if r >= 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(err);
        }
    }
}

/// Blocks `SIGPIPE` in the calling thread, so that writing to a closed pipe returns
/// `EPIPE` instead of killing the process where the signal's action is the default.
/// Returns the thread, or `None` if the mask could not be changed (then `EPIPE`
/// behaves as the process's `SIGPIPE` disposition says; Rust programs ignore it).
fn block_sigpipe_in_this_thread() -> Option<ThreadId> {
    // SAFETY: `set` is a local `sigset_t` initialised by `sigemptyset` before
    // `sigaddset` and `pthread_sigmask` read it; passing a null old-set pointer is
    // allowed. Only the calling thread's mask changes.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return None;
        }
    }
    Some(thread::current().id())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pipe: `(read end, write end)`.
    fn pipe() -> (RawFd, RawFd) {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors `pipe` writes.
        let r = unsafe { libc::pipe(fds.as_mut_ptr()) };
        assert_eq!(r, 0, "pipe: {}", io::Error::last_os_error());
        (fds[0], fds[1])
    }

    fn close(fd: RawFd) {
        // SAFETY: the test owns `fd` and closes it once.
        unsafe { libc::close(fd) };
    }

    /// Reads everything from `fd` until EOF, in a thread, `chunk` bytes at a time.
    fn drain(fd: RawFd, chunk: usize) -> thread::JoinHandle<Vec<u8>> {
        thread::spawn(move || {
            let mut all = Vec::new();
            let mut buf = vec![0u8; chunk];
            loop {
                // SAFETY: `buf` has `buf.len()` writable bytes.
                let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
                if n <= 0 {
                    break;
                }
                all.extend_from_slice(&buf[..n as usize]);
                thread::sleep(std::time::Duration::from_micros(50));
            }
            close(fd);
            all
        })
    }

    fn lines(n: usize) -> Vec<u8> {
        (0..n).flat_map(|i| format!("{{\"line\":{i},\"pad\":\"{}\"}}\n", "x".repeat(i % 97)).into_bytes()).collect()
    }

    #[test]
    fn a_closed_pipe_disables_the_sink_without_panicking() {
        let (r, w) = pipe();
        close(r);
        // Reported as stderr so the test prints no report line.
        let mut sink = ConsoleSink::from_fd(w, Stream::Stderr, false);
        sink.write(b"first line\n");
        assert!(sink.failed, "EPIPE disables the sink");
        sink.write(b"second line\n");
        sink.write(&lines(10_000));
        assert!(sink.failed);
        close(w);
    }

    /// Run in a child process by the next test: with `SIGPIPE`'s default action (what a
    /// non-Rust host has), a closed pipe must still only disable the sink.
    #[test]
    #[ignore = "run by a_closed_pipe_does_not_kill_a_process_that_keeps_the_default_sigpipe_action"]
    fn sigpipe_default_action_child() {
        if std::env::var_os("LOGKIT_SIGPIPE_CHILD").is_none() {
            return;
        }
        // SAFETY: this process runs only this test, so changing the process-wide
        // disposition affects nothing else.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        let (r, w) = pipe();
        close(r);
        let mut sink = ConsoleSink::from_fd(w, Stream::Stderr, false);
        sink.write(b"line\n");
        assert!(sink.failed);
    }

    #[test]
    fn a_closed_pipe_does_not_kill_a_process_that_keeps_the_default_sigpipe_action() {
        let exe = std::env::current_exe().expect("test binary");
        let status = std::process::Command::new(exe)
            .args(["--ignored", "--test-threads=1", "sigpipe_default_action_child"])
            .env("LOGKIT_SIGPIPE_CHILD", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("spawn the child test");
        assert!(status.success(), "child: {status:?}");
    }

    #[test]
    fn a_failing_stdout_is_reported_once_on_stderr_but_a_failing_stderr_is_not() {
        let err = io::Error::from_raw_os_error(libc::EPIPE);
        let out = ConsoleSink::from_fd(-1, Stream::Stdout, false);
        let report = out.failure_report(&err).expect("stdout failures are reported");
        assert!(report.starts_with("logkit: console output on stdout failed: "), "{report}");
        assert!(report.ends_with("; console disabled\n"), "{report}");
        assert!(report.to_lowercase().contains("broken pipe"), "{report}");
        let err_sink = ConsoleSink::from_fd(-1, Stream::Stderr, false);
        assert_eq!(err_sink.failure_report(&err), None);
    }

    #[test]
    fn a_bad_descriptor_disables_the_sink() {
        // Not a closed pipe's number: tests run in parallel and another may reuse it.
        let mut sink = ConsoleSink::from_fd(-1, Stream::Stderr, false);
        sink.write(b"x\n");
        assert!(sink.failed, "EBADF disables the sink");
    }

    #[test]
    fn a_batch_larger_than_the_pipe_buffer_arrives_whole_and_in_order() {
        let (r, w) = pipe();
        let reader = drain(r, 4096);
        let batch = lines(100_000); // several MiB: many short writes
        assert!(batch.len() > 1 << 20);
        let mut sink = ConsoleSink::from_fd(w, Stream::Stdout, false);
        sink.write(&batch);
        sink.write(b"last\n");
        assert!(!sink.failed);
        close(w);
        let got = reader.join().expect("reader");
        assert_eq!(got.len(), batch.len() + 5);
        assert!(got[..batch.len()] == batch[..] && got.ends_with(b"last\n"));
    }

    #[test]
    fn a_non_blocking_descriptor_is_waited_on_not_dropped() {
        let (r, w) = pipe();
        // SAFETY: `w` is an open descriptor owned by the test.
        unsafe { libc::fcntl(w, libc::F_SETFL, libc::fcntl(w, libc::F_GETFL) | libc::O_NONBLOCK) };
        let reader = drain(r, 1000);
        let batch = lines(20_000);
        let mut sink = ConsoleSink::from_fd(w, Stream::Stdout, false);
        sink.write(&batch);
        assert!(!sink.failed, "EAGAIN is not a failure");
        close(w);
        assert!(reader.join().expect("reader") == batch);
    }

    #[test]
    fn colour_is_off_when_the_stream_is_not_a_terminal() {
        let sink = ConsoleSink::new(Stream::Stdout, true);
        assert!(sink.color());
        assert!(!ConsoleSink::new(Stream::Stderr, false).color());
        // Under `cargo test` the streams are pipes or files unless run from a terminal
        // with `--nocapture`; only assert what holds either way.
        // SAFETY: `isatty` only inspects the descriptor number.
        if unsafe { libc::isatty(libc::STDOUT_FILENO) } == 0 {
            assert!(!color_default(Stream::Stdout));
        }
    }
}
