//! Runs the file sink's system calls on a thread of their own (`logkit-file`), so that
//! the writer renders the next batch while the kernel copies the previous one into the
//! page cache, and an interval `fdatasync` no longer stops rendering.
//!
//! The [`FileSink`] is owned by one thread at a time. It travels to the file thread with
//! a job (a rendered buffer, and whether to sync after writing it) and comes back with
//! the emptied buffer, so the writer double-buffers: it renders into one buffer while the
//! other is being written. At most one job is in flight, and anything else the writer
//! does with the sink (a flush's sync, a retry after a failure, the last write at exit)
//! first waits for it to come home. Writes therefore happen in exactly the order they
//! were submitted, and every guarantee of the sink (whole lines in every `write(2)`, the
//! hold buffer on failure, rotation, following a moved file) is unchanged.
//!
//! If the thread cannot be started, the same calls run on the writer, as before. A job
//! runs under `catch_unwind`, so a panic in the sink comes back as the sink itself plus a
//! count of lost records rather than as a dead thread.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crossbeam_channel::{bounded, Receiver, Sender};

use super::file::FileSink;

/// Starting capacity of each of the two render buffers.
const BUFFER_CAPACITY: usize = 1 << 20;
/// A buffer that grew past this (a burst) is shrunk back when it comes home empty.
const BUFFER_KEEP: usize = 8 << 20;

/// A write (and maybe a sync) for the file thread.
struct Job {
    sink: FileSink,
    buf: Vec<u8>,
    records: u64,
    sync: bool,
}

/// A finished job: the sink, the emptied buffer and the records it reports lost.
struct Done {
    sink: FileSink,
    buf: Vec<u8>,
    lost: u64,
}

/// The writer's handle on the file sink and the thread that runs its system calls.
pub(crate) struct FileThread {
    /// The sink while no job has it.
    home: Option<FileSink>,
    /// A job is in flight: `home` is `None` until its `Done` is received.
    away: bool,
    /// The empty buffer to swap with the writer's full one.
    spare: Vec<u8>,
    /// Records the sink reported lost, not yet taken by [`FileThread::take_lost`].
    lost: u64,
    /// The channels to the file thread; `None` runs jobs on the caller's thread.
    chan: Option<(Sender<Job>, Receiver<Done>)>,
}

impl FileThread {
    /// Starts the file thread for `sink`; if it cannot be started, jobs run inline.
    pub(crate) fn start(sink: FileSink) -> FileThread {
        let (job_tx, job_rx) = bounded::<Job>(1);
        let (done_tx, done_rx) = bounded::<Done>(1);
        let spawned = std::thread::Builder::new().name("logkit-file".into()).spawn(move || {
            while let Ok(job) = job_rx.recv() {
                if done_tx.send(run(job)).is_err() {
                    return;
                }
            }
        });
        let chan = match spawned {
            Ok(_) => Some((job_tx, done_rx)),
            Err(e) => {
                eprintln!("logkit: cannot start the file thread ({e}); writing from the writer thread");
                None
            }
        };
        FileThread::with(sink, chan)
    }

    /// A handle that runs every job on the caller's thread.
    #[cfg(test)]
    fn inline(sink: FileSink) -> FileThread {
        FileThread::with(sink, None)
    }

    fn with(sink: FileSink, chan: Option<(Sender<Job>, Receiver<Done>)>) -> FileThread {
        FileThread { home: Some(sink), away: false, spare: Vec::with_capacity(BUFFER_CAPACITY), lost: 0, chan }
    }

    /// Hands `buf` (`records` whole lines, possibly none) to the file thread, to be
    /// written and then, if `sync`, fdatasynced; `buf` is replaced by an empty buffer.
    /// Waits only for the previous job.
    pub(crate) fn submit(&mut self, buf: &mut Vec<u8>, records: u64, sync: bool) {
        let Some(sink) = self.take_home() else {
            self.lost += records;
            buf.clear();
            return;
        };
        let job = Job { sink, buf: std::mem::replace(buf, std::mem::take(&mut self.spare)), records, sync };
        let job = match &self.chan {
            Some((tx, _)) => match tx.send(job) {
                Ok(()) => {
                    self.away = true;
                    return;
                }
                // The thread is gone (it never exits while we hold its channels, but a
                // failure here must not lose the sink): run the job here from now on.
                Err(e) => {
                    self.chan = None;
                    e.into_inner()
                }
            },
            None => job,
        };
        self.come_home(run(job));
    }

    /// Whether a job is still in flight. Never waits.
    pub(crate) fn busy(&mut self) -> bool {
        self.take_finished();
        self.away
    }

    /// Takes home the job in flight if it has finished. Never waits.
    fn take_finished(&mut self) {
        if self.away {
            if let Some((_, rx)) = &self.chan {
                if let Ok(done) = rx.try_recv() {
                    self.come_home(done);
                }
            }
        }
    }

    /// The sink, once any job in flight has finished (waits for it).
    pub(crate) fn sink(&mut self) -> Option<&mut FileSink> {
        if self.away {
            self.wait_home();
        }
        self.home.as_mut()
    }

    /// Records lost since the last call, as far as finished jobs (and the sink, if it is
    /// home and healthy) know. Never waits.
    pub(crate) fn take_lost(&mut self) -> u64 {
        self.take_finished();
        if let Some(sink) = &mut self.home {
            self.lost += lost_if_healthy(sink);
        }
        std::mem::take(&mut self.lost)
    }

    fn take_home(&mut self) -> Option<FileSink> {
        if self.away {
            self.wait_home();
        }
        self.home.take()
    }

    fn wait_home(&mut self) {
        let done = self.chan.as_ref().map(|(_, rx)| rx.recv());
        match done {
            Some(Ok(done)) => self.come_home(done),
            // Unreachable short of an abort on the file thread: the sink went with it.
            _ => {
                self.away = false;
                self.chan = None;
                eprintln!("logkit: the file thread is gone; records for the file are counted as lost");
            }
        }
    }

    fn come_home(&mut self, done: Done) {
        let Done { sink, mut buf, lost } = done;
        self.away = false;
        self.home = Some(sink);
        self.lost += lost;
        if buf.capacity() > BUFFER_KEEP {
            buf.shrink_to(BUFFER_CAPACITY);
        }
        self.spare = buf;
    }
}

/// Runs one job; a panic in the sink loses the job's records, not the sink.
fn run(job: Job) -> Done {
    let Job { mut sink, mut buf, records, sync } = job;
    let ok = catch_unwind(AssertUnwindSafe(|| {
        sink.write(&buf, records);
        if sync {
            let _ = sink.sync();
        }
    }));
    let mut lost = lost_if_healthy(&mut sink);
    if ok.is_err() {
        eprintln!("logkit: internal error in the file thread; {records} records may be lost; continuing");
        lost += records;
    }
    buf.clear();
    Done { sink, buf, lost }
}

/// The sink's lost records, taken only once it is healthy again (while it fails it
/// still holds what it may yet write).
fn lost_if_healthy(sink: &mut FileSink) -> u64 {
    if sink.is_healthy() {
        sink.take_lost()
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::file::FileConfig;
    use std::path::Path;

    fn sink(path: &Path) -> FileSink {
        FileSink::open(FileConfig { path: path.to_path_buf(), rotate_bytes: 0, backups: 0, mode: 0o600 }).unwrap()
    }

    fn lines(range: std::ops::Range<u64>) -> Vec<u8> {
        range.flat_map(|n| format!("{{\"n\":{n}}}\n").into_bytes()).collect()
    }

    fn numbers(path: &Path) -> Vec<u64> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| l.trim_start_matches("{\"n\":").trim_end_matches('}').parse().unwrap())
            .collect()
    }

    #[test]
    fn writes_every_job_in_submission_order_and_hands_back_empty_buffers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.log");
        let mut ft = FileThread::start(sink(&path));
        for i in 0..200u64 {
            let mut buf = lines(i * 50..(i + 1) * 50);
            ft.submit(&mut buf, 50, i % 17 == 0);
            assert!(buf.is_empty(), "the writer gets an empty buffer back");
        }
        // The sink comes home only after the job in flight is done.
        ft.sink().unwrap().sync().unwrap();
        assert_eq!(numbers(&path), (0..10_000).collect::<Vec<_>>());
        assert_eq!(ft.take_lost(), 0);
    }

    #[test]
    fn busy_is_true_while_a_job_is_in_flight_and_never_waits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.log");
        let mut ft = FileThread::start(sink(&path));
        assert!(!ft.busy(), "nothing submitted yet");
        // A job the thread cannot finish yet: its sink waits on a gate we hold.
        let gate = std::sync::Arc::new(std::sync::Barrier::new(2));
        ft.sink().unwrap().block_next_write_on(gate.clone());
        let mut buf = lines(0..10);
        ft.submit(&mut buf, 10, false);
        assert!(ft.busy(), "the job waits for the gate");
        assert!(ft.busy(), "asking again does not wait either");
        gate.wait();
        while ft.busy() {
            std::thread::yield_now();
        }
        assert!(ft.home.is_some(), "the sink came home with the finished job");
        assert_eq!(numbers(&path), (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn a_sync_only_job_leaves_nothing_unsynced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.log");
        let mut ft = FileThread::start(sink(&path));
        let mut buf = lines(0..10);
        ft.submit(&mut buf, 10, false);
        ft.submit(&mut Vec::new(), 0, true);
        let s = ft.sink().unwrap();
        assert!(!s.is_dirty(), "the sync job ran after the write");
        assert_eq!(numbers(&path), (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn inline_handle_behaves_like_the_thread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.log");
        let mut ft = FileThread::inline(sink(&path));
        let mut buf = lines(0..100);
        ft.submit(&mut buf, 100, true);
        assert!(buf.is_empty());
        assert!(!ft.sink().unwrap().is_dirty());
        assert_eq!(numbers(&path), (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn a_panic_in_the_sink_loses_that_batch_counted_and_the_thread_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.log");
        let mut ft = FileThread::start(sink(&path));
        let mut buf = lines(0..10);
        ft.submit(&mut buf, 10, false);
        ft.sink().unwrap().panic_on_next_write();
        let mut buf = lines(10..20);
        ft.submit(&mut buf, 10, false);
        let mut buf = lines(20..30);
        ft.submit(&mut buf, 10, true);
        assert!(ft.sink().is_some(), "the sink came back from the panicking job");
        assert_eq!(ft.take_lost(), 10, "the panicking job's records are counted");
        assert_eq!(numbers(&path), (0..10).chain(20..30).collect::<Vec<_>>());
    }

    #[test]
    fn records_lost_by_the_sink_reach_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.log");
        let mut s = sink(&path);
        // The disk accepts nothing: the first job is held, and the hold overflows.
        s.fail_writes_after(0);
        let mut ft = FileThread::start(s);
        let big = lines(0..1_000);
        let per = big.len();
        let jobs = crate::sink::file::HOLD_LIMIT / per + 3;
        for _ in 0..jobs {
            let mut buf = big.clone();
            ft.submit(&mut buf, 1_000, false);
        }
        // Let the disk recover and the sink write what it held.
        let s = ft.sink().unwrap();
        s.heal();
        s.retry();
        assert!(s.is_healthy());
        let lost = ft.take_lost();
        assert!(lost >= 1_000, "held batches beyond the limit are lost, and counted: {lost}");
        let written = numbers(&path).len() as u64;
        assert_eq!(written + lost, jobs as u64 * 1_000, "every record is written or counted");
    }
}
