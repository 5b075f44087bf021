//! Writes a large `run.log` with logkit itself, for the reader's benchmarks
//! (`cli/benches/compare.sh`): work units with bound context, nested spans (`START` /
//! `END`), records inside them, and about one unit in a hundred failing with an error
//! chain. `genlog SIZE_MIB` (default 1024) writes `LOG_FILE` (default `run.log`).

use logkit::{debug, info, new_context, span, warn};

#[derive(Debug)]
struct DbError(&'static str, Option<Box<DbError>>);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for DbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.1.as_deref().map(|e| e as _)
    }
}

fn main() {
    let mib: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1024);
    let path = std::env::var("LOG_FILE").unwrap_or_else(|_| "run.log".to_owned());
    let _guard = logkit::Config::from_env().expect("env").init().expect("init");
    let target = mib << 20;
    let mut unit: u64 = 0;
    loop {
        for _ in 0..1000 {
            unit += 1;
            new_context!(user = format!("u{}", unit % 997), request_id = unit);
            let _h = span!("handle", path = "/orders");
            info!(items = unit % 17, price = 1.5, symbol = "BTC-USD", "parsed request");
            {
                let q = span!("db.query", table = "orders");
                debug!(rows = unit % 100, "fetched rows");
                if unit % 100 == 0 {
                    q.fail(&DbError("query failed", Some(Box::new(DbError("connection reset", None)))));
                }
            }
            if unit % 10 == 0 {
                warn!(latency_ms = 250.5, "slow upstream");
            }
        }
        logkit::flush();
        if std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) >= target {
            break;
        }
    }
}
