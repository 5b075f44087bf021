//! The latency floor of logkit's producer path without logkit: what a call costs on this
//! machine when all it does is copy a 75-byte record into a pre-faulted per-thread
//! buffer and, every 64 KiB, hand the buffer to a consumer thread and take a recycled
//! one from a last-in-first-out pool. Paced and timed exactly like the peers' `latency`
//! scenario (one call per µs, `rdtsc` around each call).
//!
//! ```sh
//! cargo run --release --manifest-path peers/Cargo.toml --bin handoff-floor            # with the consumer
//! cargo run --release --manifest-path peers/Cargo.toml --bin handoff-floor -- alone   # one buffer, reused
//! ```
//!
//! If this floor's p99.9 is as high as logkit's, the tail belongs to the machine
//! (page crossings of a buffer, the other core's traffic), not to logkit's code.

#[path = "../harness.rs"]
#[allow(dead_code)]
mod harness;

use std::hint::black_box;
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};

use harness::{ns_per_tick, paced_into, Dist};

const BUFFER: usize = 64 * 1024;
const CAPACITY: usize = BUFFER + 4 * 1024;
const POOL: usize = 72;
const RECORD: usize = 75;
const CALLS: usize = 1_000_000;
const WARM: usize = 20_000;

fn touched() -> Vec<u8> {
    let mut v = vec![0u8; CAPACITY];
    v.clear();
    v
}

fn main() {
    let alone = std::env::args().any(|a| a == "alone");
    let pool: Arc<Mutex<Vec<Vec<u8>>>> = Arc::new(Mutex::new((0..POOL).map(|_| touched()).collect()));
    let (tx, rx) = sync_channel::<Vec<u8>>(32);
    let consumer = {
        let pool = Arc::clone(&pool);
        std::thread::spawn(move || {
            let mut sum = 0u64;
            // Polls like logkit's writer (which a producer never wakes per hand-off):
            // drain what is there, then sleep 1 ms.
            loop {
                match rx.try_recv() {
                    Ok(mut buf) => {
                        // Read every byte, as a renderer would, then recycle the buffer.
                        sum = buf.iter().fold(sum, |s, &b| s.wrapping_add(u64::from(b)));
                        buf.clear();
                        pool.lock().expect("pool").push(buf);
                    }
                    Err(std::sync::mpsc::TryRecvError::Empty) => {
                        std::thread::sleep(std::time::Duration::from_millis(1))
                    }
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => return sum,
                }
            }
        })
    };
    let mut buf = pool.lock().expect("pool").pop().expect("a buffer");
    let mut record = [0u8; RECORD];
    let mut log = |i: u64| {
        record[..8].copy_from_slice(&i.to_ne_bytes());
        record[8..16].copy_from_slice(&(i as f64 * 0.5).to_bits().to_ne_bytes());
        buf.extend_from_slice(black_box(&record));
        if buf.len() >= BUFFER {
            if alone {
                buf.clear();
            } else {
                let fresh = pool.lock().expect("pool").pop().unwrap_or_else(touched);
                tx.send(std::mem::replace(&mut buf, fresh)).expect("consumer");
            }
        }
    };
    let npt = ns_per_tick();
    let mut lat = Vec::with_capacity(WARM + CALLS);
    paced_into(&mut lat, WARM, 0, &mut log);
    lat.clear();
    paced_into(&mut lat, CALLS, WARM as u64, &mut log);
    let mut floor = Vec::with_capacity(CALLS);
    paced_into(&mut floor, CALLS, 0, |_| {});
    drop(tx);
    black_box(consumer.join().expect("consumer"));
    let (d, f) = (Dist::new(lat, npt), Dist::new(floor, npt));
    println!("mode={}", if alone { "alone" } else { "handoff" });
    for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999), ("p9999", 0.9999)] {
        println!("{name}={:.1} floor_{name}={:.1}", d.q(q), f.q(q));
    }
}
