//! `logkit`: turns logkit's `run.log` (JSONL) into answers — errors, trace trees,
//! waterfalls, slow spans, a live tail and totals — for people and for programs.
//!
//! ```text
//! logkit errors [--json] [--fail] [FILES]
//! logkit trace ID [--last-error] [--waterfall] [--html FILE] [--json] [FILES]
//! logkit slow [--by span] [--top N] [--json] [FILES]
//! logkit tail [-f] [--level L] [--where k=v ...] [--json] [FILES]
//! logkit stats [--json] [FILES]
//! ```
//!
//! Input: `run.log` and its rotated backups (oldest first), or the files and globs
//! given, or `-` for stdin; `.gz` backups are decompressed. Bad lines, and a damaged
//! `.gz` backup (read up to the damage), are reported on stderr, never fatal. Exit code 0 when the command ran, 1 on a usage or
//! I/O error (and for `errors --fail` when it found any).

mod args;
mod errors;
mod escape;
mod hist;
mod input;
mod pretty;
mod record;
mod slow;
mod stats;
mod tail;
mod trace;

use args::Args;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

const USAGE: &str = "\
usage: logkit <command> [options] [FILES]

commands:
  errors [--json] [--fail]           every error record and failed span, in time order
  trace ID [--last-error] [--waterfall] [--html FILE] [--json]
                                     one trace as a span tree (an id prefix is enough)
  slow [--by span] [--top N] [--json]
                                     the slowest spans, and dur_ms percentiles per span name
                                     (count, errors, max exact; p50/p95/p99 exact up to 1024
                                     spans of a name, beyond within 0.5% of the exact value)
  tail [-f] [--level L] [--where k=v ...] [--json]
                                     records as the dev console shows them; -f follows
                                     (bad lines met while following: a running count on stderr)
  stats [--json]                     records per level and target, spans, drops, runs, bad lines

FILES: default run.log and its backups (run.log.5 ... run.log.1, run.log, also .gz),
or the files and globs given, or - for stdin.
Colour only on a terminal, never when NO_COLOR is set.
exit code: 0 ran, 1 usage or I/O error (errors --fail: 1 when any error was found)";

/// What a command ended with.
pub enum Outcome {
    /// Ran; exit 0.
    Ok,
    /// Ran and `--fail` found something; exit 1.
    Found,
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    match run(argv) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Found) => ExitCode::FAILURE,
        Err(e) if e.is_empty() => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(io::stderr(), "logkit: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one command line; `Err("")` is a quiet stop (a closed pipe, `--help`).
fn run(argv: Vec<String>) -> Result<Outcome, String> {
    let Some((cmd, rest)) = argv.split_first() else {
        return Err(format!("no command given\n{USAGE}"));
    };
    let mut args = Args::new(rest.to_vec());
    if matches!(cmd.as_str(), "-h" | "--help" | "help") || args.flag("--help") || args.flag("-h") {
        println!("{USAGE}");
        return Err(String::new());
    }
    if matches!(cmd.as_str(), "-V" | "--version") {
        println!("logkit {}", env!("CARGO_PKG_VERSION"));
        return Err(String::new());
    }
    let color = io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut out = Output::new();
    let outcome = match cmd.as_str() {
        "errors" => cmd_errors(&mut args, &mut out, color),
        "tail" => cmd_tail(&mut args, &mut out, color),
        "stats" => cmd_stats(&mut args, &mut out),
        "trace" => cmd_trace(&mut args, &mut out, color),
        "slow" => cmd_slow(&mut args, &mut out),
        other => Err(format!("unknown command {other:?}\n{USAGE}")),
    }?;
    out.flush()?;
    Ok(outcome)
}

/// Buffered stdout; a closed pipe (`logkit errors | head`) stops quietly.
pub struct Output {
    w: io::BufWriter<io::Stdout>,
}

impl Output {
    fn new() -> Output {
        Output { w: io::BufWriter::with_capacity(1 << 16, io::stdout()) }
    }

    pub fn write(&mut self, s: &[u8]) -> Result<(), String> {
        self.w.write_all(s).map_err(io_error)
    }

    pub fn flush(&mut self) -> Result<(), String> {
        self.w.flush().map_err(io_error)
    }
}

fn io_error(e: io::Error) -> String {
    if e.kind() == io::ErrorKind::BrokenPipe {
        String::new()
    } else {
        format!("cannot write the output: {e}")
    }
}

/// Reports the bad lines on stderr.
fn report_bad(bad: &input::BadLines, sources: &[input::Source]) {
    if let Some(msg) = bad.report(sources) {
        let _ = writeln!(io::stderr(), "{msg}");
    }
}

fn cmd_errors(args: &mut Args, out: &mut Output, color: bool) -> Result<Outcome, String> {
    let json = args.flag("--json");
    let fail = args.flag("--fail");
    let files = args.files()?;
    let sources = input::resolve(&files)?;
    let mut found: errors::Errors = input::scan(&sources, input::workers())?;
    found.sort();
    for f in &found.found {
        if json {
            out.write(&f.line)?;
            out.write(b"\n")?;
        } else {
            let rec = record::Record::parse(&f.line).map_err(|_| "a selected line no longer parses".to_owned())?;
            out.write(errors::render(&rec, color).as_bytes())?;
        }
    }
    if !json {
        let n = found.found.len();
        out.write(format!("{n} error{}\n", if n == 1 { "" } else { "s" }).as_bytes())?;
    }
    report_bad(&found.bad, &sources);
    Ok(if fail && !found.found.is_empty() { Outcome::Found } else { Outcome::Ok })
}

fn cmd_tail(args: &mut Args, out: &mut Output, color: bool) -> Result<Outcome, String> {
    let json = args.flag("--json");
    let follow = args.flag("-f") || args.flag("--follow");
    let filter = tail::Filter::new(args.value("--level")?, args.values("--where")?)?;
    let files = args.files()?;
    let sources = input::resolve(&files)?;
    if !follow {
        let bad = tail::run(&sources, &filter, json, color, |b| out.write(b))?;
        report_bad(&bad, &sources);
        return Ok(Outcome::Ok);
    }
    // The live file is read by the follower from its start, so no line written
    // between reading it and following it is missed.
    let Some((last, input::Source::File(path))) = sources.iter().enumerate().next_back() else {
        return Err("-f follows a file, not stdin".to_owned());
    };
    let bad = tail::run(&sources[..last], &filter, json, color, |b| out.write(b))?;
    report_bad(&bad, &sources);
    out.flush()?;
    tail::follow(
        path,
        last,
        &filter,
        json,
        color,
        |b| {
            out.write(b)?;
            out.flush()
        },
        |bad| {
            if let Some(msg) = bad.report_so_far(&sources) {
                let _ = writeln!(io::stderr(), "{msg}");
            }
        },
    )?;
    Ok(Outcome::Ok)
}

fn cmd_stats(args: &mut Args, out: &mut Output) -> Result<Outcome, String> {
    let json = args.flag("--json");
    let files = args.files()?;
    let sources = input::resolve(&files)?;
    let stats: stats::Stats = input::scan(&sources, input::workers())?;
    out.write(if json { stats.json() } else { stats.render() }.as_bytes())?;
    report_bad(&stats.bad, &sources);
    Ok(Outcome::Ok)
}

fn cmd_trace(args: &mut Args, out: &mut Output, color: bool) -> Result<Outcome, String> {
    let json = args.flag("--json");
    let last_error = args.flag("--last-error");
    let waterfall = args.flag("--waterfall");
    let html = args.value("--html")?;
    let mut files = args.files()?;
    let id = if last_error {
        None
    } else if files.is_empty() {
        return Err("trace needs an ID (or --last-error)".to_owned());
    } else {
        Some(files.remove(0))
    };
    let sources = input::resolve(&files)?;
    if last_error && sources.contains(&input::Source::Stdin) {
        return Err("--last-error reads the input twice: give files, not stdin".to_owned());
    }
    let id = match id {
        Some(id) => id,
        None => {
            let mut found: errors::Errors = input::scan(&sources, input::workers())?;
            found.sort();
            found
                .found
                .iter()
                .rev()
                .find_map(|f| {
                    record::Record::parse(&f.line).ok().and_then(|r| r.str("trace_id").map(|s| s.into_owned()))
                })
                .ok_or("--last-error: no error record with a trace_id in the input")?
        }
    };
    trace::select(&id)?;
    let found: trace::Trace = input::scan(&sources, input::workers())?;
    report_bad(&found.bad, &sources);
    let full = match found.ids.len() {
        0 => return Err(format!("no record of trace {id}")),
        1 => found.ids.iter().next().cloned().unwrap_or_default(),
        n => {
            let some: Vec<&str> = found.ids.iter().take(5).map(String::as_str).collect();
            return Err(format!("trace id prefix {id} is ambiguous: {n} traces match ({}, ...)", some.join(", ")));
        }
    };
    let tree = trace::Tree::build(full, found.found);
    if let Some(path) = html {
        std::fs::write(&path, tree.html()).map_err(|e| format!("cannot write {path}: {e}"))?;
    }
    if json {
        out.write(tree.json().as_bytes())?;
    } else if waterfall {
        let width = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).unwrap_or(100);
        out.write(tree.waterfall(width, color).as_bytes())?;
    } else {
        out.write(tree.render(color).as_bytes())?;
    }
    Ok(Outcome::Ok)
}

fn cmd_slow(args: &mut Args, out: &mut Output) -> Result<Outcome, String> {
    let json = args.flag("--json");
    if let Some(by) = args.value("--by")? {
        if by != "span" {
            return Err(format!("--by {by:?}: only --by span is known"));
        }
    }
    if let Some(top) = args.value("--top")? {
        let n = top.parse::<usize>().map_err(|_| format!("--top needs a number, not {top:?}"))?;
        slow::TOP.store(n, std::sync::atomic::Ordering::Relaxed);
    }
    let files = args.files()?;
    let sources = input::resolve(&files)?;
    let mut s: slow::Slow = input::scan(&sources, input::workers())?;
    out.write(if json { s.json() } else { s.render() }.as_bytes())?;
    report_bad(&s.bad, &sources);
    Ok(Outcome::Ok)
}
