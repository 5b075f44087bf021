//! A command-line tool (clap) with `#[capture]` on its work: one trace per run, one
//! span per command and per shard, a failed shard with its error chain.
//!
//! `cargo run --example cli` (defaults: `reindex --shards 4 --fail-shard 3`), or
//! `cargo run --example cli -- reindex --shards 8`, `cargo run --example cli -- verify`;
//! then read `run.log`.

use clap::{Parser, Subcommand};
use logkit::{capture, info, new_context, warn};

#[derive(Parser, Debug)]
#[command(name = "cli", about = "logkit's command-line example")]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Rebuild the index shard by shard.
    Reindex {
        /// How many shards.
        #[arg(long, default_value_t = 4)]
        shards: u32,
        /// A shard that fails (to show an error chain in the log).
        #[arg(long)]
        fail_shard: Option<u32>,
    },
    /// Check the index.
    Verify,
}

#[derive(Debug)]
struct ShardError {
    shard: u32,
    source: std::io::Error,
}

impl std::fmt::Display for ShardError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "shard {} could not be rebuilt", self.shard)
    }
}

impl std::error::Error for ShardError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

#[capture(shard)]
fn rebuild(shard: u32, fail: Option<u32>) -> Result<u64, ShardError> {
    if Some(shard) == fail {
        return Err(ShardError { shard, source: std::io::Error::other("segment file truncated") });
    }
    let docs = u64::from(shard + 1) * 1_000;
    info!(docs, "shard rebuilt");
    Ok(docs)
}

#[capture(shards)]
fn reindex(shards: u32, fail: Option<u32>) -> u32 {
    let mut failed = 0;
    for shard in 0..shards {
        if let Err(e) = rebuild(shard, fail) {
            warn!(error = %e, "continuing without it");
            failed += 1;
        }
    }
    failed
}

#[capture]
fn verify() -> bool {
    info!(checked = 4, "index consistent");
    true
}

fn main() {
    let args = Args::parse();
    let command = args.command.unwrap_or(Command::Reindex { shards: 4, fail_shard: Some(3) });
    new_context!(command = format!("{command:?}"));
    match command {
        Command::Reindex { shards, fail_shard } => {
            let failed = reindex(shards, fail_shard);
            info!(failed, "reindex finished");
            if failed > 0 {
                println!("{failed} shard(s) failed: jq -c 'select(.status==\"error\")' run.log");
            }
        }
        Command::Verify => {
            verify();
        }
    }
}
