//! Jobs on threads and on tokio tasks, each in its own work unit: one fails with an
//! error chain, one panics (caught, as a pool would), and the pool goes on.
//!
//! `cargo run --example worker_pool --features tokio`, then read `run.log`
//! (`jq -c 'select(.status=="error")' run.log` shows the two failed jobs).

use logkit::{capture, info, new_context, scoped_context, warn};

#[derive(Debug)]
struct JobError {
    job: u32,
    source: std::io::Error,
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "job {} could not write its output", self.job)
    }
}

impl std::error::Error for JobError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// A job on a thread: `Err` ends its span with `status="error"` and the chain.
#[capture(job)]
fn run_job(job: u32) -> Result<u32, JobError> {
    info!(step = "start", "working");
    if job == 3 {
        return Err(JobError { job, source: std::io::Error::other("disk full") });
    }
    if job == 5 {
        panic!("job {job} hit a bug");
    }
    Ok(job * 10)
}

/// A job on a tokio task.
#[capture(job)]
async fn run_task(job: u32) -> u32 {
    tokio::task::yield_now().await;
    info!(step = "awaited", "task working");
    job + 100
}

fn main() {
    new_context!(pool = "example");
    info!(threads = 3, tasks = 4, "pool starting");

    let handles: Vec<_> = (1..=6u32)
        .map(|job| {
            // Each thread starts in the pool's context, then opens a unit per job.
            logkit::thread::spawn(move || {
                let _unit = scoped_context!(job);
                match std::panic::catch_unwind(|| run_job(job)) {
                    Ok(Ok(out)) => info!(out, "job done"),
                    Ok(Err(e)) => warn!(error = %e, "job failed"),
                    Err(_) => warn!("job panicked; the pool goes on"),
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let tasks: Vec<_> = (10..14u32)
            .map(|job| {
                logkit::spawn(async move {
                    new_context!(job);
                    run_task(job).await
                })
            })
            .collect();
        for t in tasks {
            if let Ok(out) = t.await {
                info!(out, "task done");
            }
        }
    });
    info!("pool stopped");
}
