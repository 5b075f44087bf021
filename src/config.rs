//! `Config`: everything the `LOG_*` environment knobs set, as a builder for code.
//!
//! The knobs are read through [`Lookup`], a function from a name to its value, so the
//! parsing is a pure function of a map: the process environment in production, a
//! literal map in the unit tests. The table of knobs is on [`Config`]'s rustdoc.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

pub(crate) use crate::config_error::Origin;
pub use crate::config_error::{ConfigError, ConfigErrorKind};
use crate::level::{Directives, LevelFilter};

/// Default ring capacity, in records.
pub const DEFAULT_BUFFER: usize = 16_384;
/// Default rotation size.
pub const DEFAULT_ROTATE_BYTES: u64 = 10 * 1024 * 1024;
/// Number of rotated files kept (`run.log.1` … `run.log.5`).
pub const DEFAULT_BACKUPS: u32 = 5;
/// Default interval between fsyncs of the log file.
pub const DEFAULT_FSYNC_INTERVAL: Duration = Duration::from_millis(1000);
/// Default keys whose values are masked.
pub const DEFAULT_REDACT: &str = "password,secret,token,authorization,api_key";
/// Default permission bits of a newly created log file (owner read/write only).
pub const DEFAULT_FILE_MODE: u32 = 0o600;

/// `dev` (pretty console, DEBUG floor) or `prod` (JSON console, INFO floor).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// Pretty, coloured console; DEBUG floor.
    Dev,
    /// One JSON object per console line; INFO floor.
    Prod,
}

/// What happens when the ring is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// The producer waits for room: nothing is lost.
    Block,
    /// The record is dropped and counted; a `logkit.dropped` record reports the count.
    Drop,
}

/// When the log file is fsynced (flush, rotation and exit always fsync).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fsync {
    /// After every batch the writer writes.
    Always,
    /// Only on flush, rotation and exit.
    Never,
    /// At most this long after a write.
    Interval(Duration),
}

/// Where console output goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Console {
    /// Standard error (the default).
    Stderr,
    /// Standard output.
    Stdout,
    /// No console output.
    Off,
}

/// logkit's configuration: built from the environment, adjusted in code, then
/// [`Config::init`].
///
/// ```no_run
/// let _guard = logkit::Config::from_env()?.level("info,hyper=warn").file("logs/app.log").init()?;
/// # Ok::<(), logkit::ConfigError>(())
/// ```
///
/// # Environment knobs
///
/// [`Config::from_env`], [`init`](crate::init) and the first log call (when nothing
/// called `init`) read these variables. An empty value counts as unset, except for
/// `LOG_FILE` and `LOG_REDACT`, where empty means none.
///
/// | var | default | effect |
/// | --- | --- | --- |
/// | `LOG_PROFILE` | `dev` | `dev`: pretty console, DEBUG floor; `prod`: JSON console, INFO floor |
/// | `LOG_LEVEL` | by profile | floor, or directives `info,hyper=warn,app::db=debug` (below) |
/// | `RUST_LOG` | unset | read as `LOG_LEVEL` when `LOG_LEVEL` is unset; when both are set and differ, `LOG_LEVEL` wins and logkit says so on stderr once |
/// | `LOG_SAMPLE` | `1` | fraction of DEBUG/INFO/TRACE records kept; WARN+ always kept |
/// | `LOG_FILE` | `run.log` | JSONL file; empty disables; missing directories are created |
/// | `LOG_ROTATE_MB` | `10` | rotate at N MiB (decimals allowed), keep 5 backups; `0` never rotates |
/// | `LOG_REDACT` | `password,secret,token,authorization,api_key` | keys (case-insensitive) whose values are written as `"***"` |
/// | `LOG_BUFFER` | `16384` | ring capacity, in records |
/// | `LOG_OVERFLOW` | `block` | `block` (a full ring makes the producer wait: lossless) or `drop` (counted and reported) |
/// | `LOG_FSYNC` | `1000` | `always`, `never`, or milliseconds between fsyncs; flush, rotation and exit always fsync |
/// | `LOG_CONSOLE` | `stderr` | `stderr`, `stdout` or `off` |
/// | `LOG_FILE_MODE` | `600` | octal permission bits of a newly created log file |
/// | `LOG_SPAN_START` | `1` | `1`: a span logs a `START` record when it opens; `0`: only its `END` |
/// | `LOG_OTLP` | unset | OTLP/HTTP base URL of a collector (feature `otlp`; without it, a run with it set says so on stderr) |
/// | `LOG_OTLP_PROTOCOL` | `http/protobuf` | or `http/json` (feature `otlp`; `OTEL_EXPORTER_OTLP_PROTOCOL` too, `LOG_OTLP_PROTOCOL` wins); the other `OTEL_EXPORTER_OTLP_*`, `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` apply as usual |
/// | `NO_COLOR` | unset | any non-empty value turns console colour off |
///
/// **Level directives** (`LOG_LEVEL`, `RUST_LOG`, [`Config::level`],
/// [`set_level`](crate::set_level)) are a comma-separated list of a bare level (the
/// default floor: `off`, `error`, `warn`, `info`, `debug`, `trace`, any case) and
/// `target=level` entries. A record's target is its module path unless the call site
/// gives `target:`. A directive matches every target that *starts with* it, as a plain
/// string prefix — the rule of `env_logger` and `tracing-subscriber`'s `EnvFilter`, so
/// a `RUST_LOG` value filters the same way in logkit as there: `hyper=warn` covers
/// `hyper::client` and also `hyper_util::client`; add `hyper_util=info` to treat that
/// crate apart. The longest matching directive wins; with none, the default floor
/// (the profile's unless a bare level is given). A bare word that is not a level is
/// an error (`env_logger` would read it as a target), so a misspelt level is reported
/// rather than silently enabling one target; write `myapp=trace` for a target.
///
/// **Bad values.** [`Config::from_env`] and [`init`](crate::init) return one
/// [`ConfigError`] naming *every* bad variable with its value and what was expected.
/// Without `init`, the first log call prints one stderr line per bad variable, naming
/// the default it uses instead; a `LOG_LEVEL` with some bad directives keeps its valid
/// ones (`LOG_LEVEL=info,spam::db=loud` runs at `info` and reports `spam::db=loud`).
/// A bad value given in code ([`Config::level`]) is reported as coming from code.
#[derive(Clone, Debug)]
pub struct Config {
    /// `LOG_PROFILE`.
    pub(crate) profile: Profile,
    /// `LOG_LEVEL` / `RUST_LOG` / [`Config::level`] as given (parsed in `directives`),
    /// `None` = the profile's floor.
    pub(crate) level: Option<Setting>,
    /// `LOG_LEVEL` and `RUST_LOG`, when both were set and differ (said once at start).
    pub(crate) shadowed_rust_log: Option<(String, String)>,
    /// `LOG_SAMPLE`.
    pub(crate) sample: f64,
    /// `LOG_FILE`; `None` disables the file.
    pub(crate) file: Option<PathBuf>,
    /// Where `file` came from, to name it when it cannot be opened.
    pub(crate) file_origin: Origin,
    /// `LOG_ROTATE_MB` in bytes; 0 never rotates.
    pub(crate) rotate_bytes: u64,
    /// Rotated files kept.
    pub(crate) backups: u32,
    /// `LOG_REDACT`.
    pub(crate) redact: Vec<String>,
    /// `LOG_BUFFER`, in records.
    pub(crate) buffer: usize,
    /// `LOG_OVERFLOW`.
    pub(crate) overflow: Overflow,
    /// `LOG_FSYNC`.
    pub(crate) fsync: Fsync,
    /// `LOG_CONSOLE`.
    pub(crate) console: Console,
    /// Colour on the console: `None` = automatic (a tty and `NO_COLOR` unset).
    pub(crate) color: Option<bool>,
    /// `LOG_FILE_MODE`.
    pub(crate) file_mode: u32,
    /// `LOG_SPAN_START`: spans log a `START` record when they open.
    pub(crate) span_start: bool,
    /// `LOG_OTLP`: the collector's base URL (used with the feature `otlp`).
    pub(crate) otlp: Option<String>,
    /// Where each setting that is not its default came from (a knob's name, then the
    /// variable or the builder method), for the `logkit.start` record.
    pub(crate) sources: Vec<(&'static str, Origin)>,
}

/// A value as given, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Setting {
    pub(crate) text: String,
    pub(crate) origin: Origin,
}

impl Default for Config {
    /// The defaults of the `dev` profile, ignoring the environment.
    fn default() -> Config {
        Config {
            profile: Profile::Dev,
            level: None,
            shadowed_rust_log: None,
            sample: 1.0,
            file: Some(PathBuf::from("run.log")),
            file_origin: Origin::Env("LOG_FILE"),
            rotate_bytes: DEFAULT_ROTATE_BYTES,
            backups: DEFAULT_BACKUPS,
            redact: DEFAULT_REDACT.split(',').map(str::to_owned).collect(),
            buffer: DEFAULT_BUFFER,
            overflow: Overflow::Block,
            fsync: Fsync::Interval(DEFAULT_FSYNC_INTERVAL),
            console: Console::Stderr,
            color: None,
            file_mode: DEFAULT_FILE_MODE,
            span_start: true,
            otlp: None,
            sources: Vec::new(),
        }
    }
}

/// How knobs are read: a variable's value, or `None` when it is unset. The process
/// environment in production ([`process_env`]), a map in tests.
pub(crate) type Lookup<'a> = &'a dyn Fn(&str) -> Option<OsString>;

/// The process environment as a [`Lookup`].
pub(crate) fn process_env(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

/// Each parsed knob's default as a user writes it, for the "using the default"
/// messages (a unit test checks each one parses to the default `Config` holds).
const DEFAULTS_SHOWN: &[(&str, &str)] = &[
    ("LOG_PROFILE", "dev"),
    ("LOG_SAMPLE", "1"),
    ("LOG_ROTATE_MB", "10"),
    ("LOG_BUFFER", "16384"),
    ("LOG_OVERFLOW", "block"),
    ("LOG_FSYNC", "1000"),
    ("LOG_CONSOLE", "stderr"),
    ("LOG_FILE_MODE", "600"),
];

fn default_shown(name: &str) -> &'static str {
    DEFAULTS_SHOWN.iter().find(|(n, _)| *n == name).map_or("", |(_, d)| d)
}

/// The knobs being read, and the problems found so far.
struct Vars<'a> {
    lookup: Lookup<'a>,
    problems: Vec<ConfigError>,
    /// The knobs read with a good value.
    used: Vec<&'static str>,
}

impl Vars<'_> {
    /// A knob's value; `None` when unset or blank (non-UTF-8 is replaced, then judged).
    fn text(&self, name: &str) -> Option<String> {
        let v = (self.lookup)(name)?;
        let v = v.to_string_lossy();
        if v.trim().is_empty() {
            None
        } else {
            Some(v.into_owned())
        }
    }

    /// A knob parsed with `parse`; a bad value is recorded, with its default, and gives `None`.
    fn knob<T>(&mut self, name: &'static str, parse: impl Fn(&str) -> Result<T, &'static str>) -> Option<T> {
        let v = self.text(name)?;
        match parse(&v) {
            Ok(t) => {
                self.used.push(name);
                Some(t)
            }
            Err(reason) => {
                let e = ConfigError::invalid(Origin::Env(name), &v, reason)
                    .falling_back(format!("using the default {}", default_shown(name)));
                self.problems.push(e);
                None
            }
        }
    }
}

fn parse_profile(v: &str) -> Result<Profile, &'static str> {
    match v.trim().to_ascii_lowercase().as_str() {
        "dev" | "development" => Ok(Profile::Dev),
        "prod" | "production" => Ok(Profile::Prod),
        _ => Err("expected `dev` or `prod`"),
    }
}

fn parse_sample(v: &str) -> Result<f64, &'static str> {
    match v.trim().parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err("expected a number from 0 to 1"),
    }
}

fn parse_rotate(v: &str) -> Result<u64, &'static str> {
    match v.trim().parse::<f64>() {
        Ok(mb) if mb.is_finite() && mb >= 0.0 && mb <= (u64::MAX >> 21) as f64 => {
            Ok((mb * 1024.0 * 1024.0).round() as u64)
        }
        _ => Err("expected a size in MiB (a number >= 0; 0 never rotates)"),
    }
}

fn parse_buffer(v: &str) -> Result<usize, &'static str> {
    match v.trim().parse::<usize>() {
        Ok(n) if (1..=1 << 26).contains(&n) => Ok(n),
        _ => Err("expected a whole number of records from 1 to 67108864"),
    }
}

fn parse_overflow(v: &str) -> Result<Overflow, &'static str> {
    match v.trim().to_ascii_lowercase().as_str() {
        "block" => Ok(Overflow::Block),
        "drop" => Ok(Overflow::Drop),
        _ => Err("expected `block` or `drop`"),
    }
}

fn parse_fsync(v: &str) -> Result<Fsync, &'static str> {
    let t = v.trim().to_ascii_lowercase();
    match t.as_str() {
        "always" => Ok(Fsync::Always),
        "never" => Ok(Fsync::Never),
        _ => match t.strip_suffix("ms").unwrap_or(&t).trim().parse::<u64>() {
            Ok(0) => Ok(Fsync::Always),
            Ok(ms) => Ok(Fsync::Interval(Duration::from_millis(ms))),
            Err(_) => Err("expected `always`, `never` or a number of milliseconds"),
        },
    }
}

fn parse_console(v: &str) -> Result<Console, &'static str> {
    match v.trim().to_ascii_lowercase().as_str() {
        "stderr" => Ok(Console::Stderr),
        "stdout" => Ok(Console::Stdout),
        "off" | "none" => Ok(Console::Off),
        _ => Err("expected `stderr`, `stdout` or `off`"),
    }
}

fn parse_mode(v: &str) -> Result<u32, &'static str> {
    let t = v.trim();
    let t = t.strip_prefix("0o").or_else(|| t.strip_prefix("0O")).unwrap_or(t);
    match u32::from_str_radix(t, 8) {
        Ok(m) if m <= 0o777 => Ok(m),
        _ => Err("expected octal permission bits such as 600 or 640"),
    }
}

fn parse_switch(v: &str) -> Result<bool, &'static str> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" => Ok(true),
        "0" | "false" | "off" | "no" => Ok(false),
        _ => Err("expected `1` (on) or `0` (off)"),
    }
}

/// Parses one knob's value as the environment would (`LOG_LEVEL` included): for the
/// fuzz targets. `Err` is the reason shown to the user.
#[cfg(feature = "__fuzz")]
pub(crate) fn check_knob(name: &str, value: &str) -> Result<(), String> {
    let r = match name {
        "LOG_PROFILE" => parse_profile(value).map(drop),
        "LOG_SAMPLE" => parse_sample(value).map(drop),
        "LOG_ROTATE_MB" => parse_rotate(value).map(drop),
        "LOG_BUFFER" => parse_buffer(value).map(drop),
        "LOG_OVERFLOW" => parse_overflow(value).map(drop),
        "LOG_FSYNC" => parse_fsync(value).map(drop),
        "LOG_CONSOLE" => parse_console(value).map(drop),
        "LOG_FILE_MODE" => parse_mode(value).map(drop),
        "LOG_SPAN_START" => parse_switch(value).map(drop),
        "LOG_REDACT" => {
            parse_redact(value);
            Ok(())
        }
        "LOG_LEVEL" => return Directives::parse(value, LevelFilter::Info).map(drop).map_err(|e| e.0),
        // Any path (empty disables the file); any endpoint (reserved for OTLP).
        #[cfg(feature = "otlp")]
        "LOG_OTLP" => crate::sink::otlp::knobs::check_url(value.trim()),
        #[cfg(feature = "otlp")]
        "LOG_OTLP_PROTOCOL" => crate::sink::otlp::knobs::check_protocol(value),
        #[cfg(not(feature = "otlp"))]
        "LOG_OTLP" => Ok(()),
        "LOG_FILE" => Ok(()),
        _ => Err("not a logkit knob"),
    };
    r.map_err(str::to_owned)
}

fn parse_redact(v: &str) -> Vec<String> {
    v.split(',').map(|k| k.trim().to_owned()).filter(|k| !k.is_empty()).collect()
}

/// Whether two directive strings mean the same (`info` and `INFO` do).
fn same_directives(a: &str, b: &str, floor: LevelFilter) -> bool {
    match (Directives::parse(a, floor), Directives::parse(b, floor)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a.trim() == b.trim(),
    }
}

impl Config {
    /// The defaults overridden by every `LOG_*` variable that is set (see the
    /// [table](Config#environment-knobs)); `RUST_LOG` stands in for an unset `LOG_LEVEL`.
    ///
    /// # Errors
    /// Every bad variable, each named with its value and what was expected (the first
    /// leads; [`ConfigError::others`] has the rest).
    pub fn from_env() -> Result<Config, ConfigError> {
        let (c, problems) = Config::from_vars(&process_env);
        match ConfigError::combine(problems) {
            Some(e) => Err(e),
            None => Ok(c),
        }
    }

    /// Like [`Config::from_env`], but each bad variable prints one line to stderr
    /// naming the default used instead: how the first log call starts logkit without
    /// `init`.
    pub(crate) fn from_env_lenient() -> Config {
        let (c, problems) = Config::from_vars(&process_env);
        for e in problems {
            eprintln!("{}", e.fallback_line("using the default"));
        }
        c
    }

    /// The configuration `vars` describe, and every problem found. Where a value is
    /// bad the result holds its default (or, for level directives, the valid ones), so
    /// it is what a lenient start runs with.
    pub(crate) fn from_vars(vars: Lookup<'_>) -> (Config, Vec<ConfigError>) {
        let mut v = Vars { lookup: vars, problems: Vec::new(), used: Vec::new() };
        let mut c = Config::default();
        if let Some(p) = v.knob("LOG_PROFILE", parse_profile) {
            c.profile = p;
        }
        c.read_level(&mut v);
        if let Some(s) = v.knob("LOG_SAMPLE", parse_sample) {
            c.sample = s;
        }
        // LOG_FILE: set-but-empty disables the file, so it is read without `text`.
        match (v.lookup)("LOG_FILE") {
            Some(f) if f.is_empty() => c.file = None,
            Some(f) => c.file = Some(PathBuf::from(f)),
            None => {}
        }
        if (v.lookup)("LOG_FILE").is_some() {
            v.used.push("LOG_FILE");
        }
        if let Some(r) = v.knob("LOG_ROTATE_MB", parse_rotate) {
            c.rotate_bytes = r;
        }
        // LOG_REDACT: set-but-empty masks nothing.
        if let Some(r) = (v.lookup)("LOG_REDACT") {
            c.redact = parse_redact(&r.to_string_lossy());
            v.used.push("LOG_REDACT");
        }
        if let Some(b) = v.knob("LOG_BUFFER", parse_buffer) {
            c.buffer = b;
        }
        if let Some(o) = v.knob("LOG_OVERFLOW", parse_overflow) {
            c.overflow = o;
        }
        if let Some(f) = v.knob("LOG_FSYNC", parse_fsync) {
            c.fsync = f;
        }
        if let Some(k) = v.knob("LOG_CONSOLE", parse_console) {
            c.console = k;
        }
        if let Some(m) = v.knob("LOG_FILE_MODE", parse_mode) {
            c.file_mode = m;
        }
        c.otlp = v.text("LOG_OTLP");
        if c.otlp.is_some() {
            v.used.push("LOG_OTLP");
        }
        if let Some(on) = v.knob("LOG_SPAN_START", parse_switch) {
            c.span_start = on;
        }
        c.sources = v.used.iter().map(|&n| (n, Origin::Env(n))).collect();
        (c, v.problems)
    }

    /// `LOG_LEVEL`, else `RUST_LOG` (after `LOG_PROFILE`, whose floor is the default).
    /// Bad directives are reported and left out; the valid ones are kept.
    fn read_level(&mut self, v: &mut Vars<'_>) {
        let floor = self.default_floor();
        let (var, text) = match (v.text("LOG_LEVEL"), v.text("RUST_LOG")) {
            (Some(level), Some(rust)) => {
                if !same_directives(&level, &rust, floor) {
                    self.shadowed_rust_log = Some((level.clone(), rust));
                }
                ("LOG_LEVEL", level)
            }
            (Some(level), None) => ("LOG_LEVEL", level),
            (None, Some(rust)) => ("RUST_LOG", rust),
            (None, None) => return,
        };
        let (used, bad) = Directives::parse_lenient(&text, floor);
        if bad.is_empty() {
            self.level = Some(Setting { text, origin: Origin::Env(var) });
            return;
        }
        let reasons: Vec<String> = bad.into_iter().map(|e| e.0).collect();
        let valid: Vec<&str> = text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty() && Directives::parse(part, floor).is_ok())
            .collect();
        let fallback = if valid.is_empty() {
            format!("using the default {used} (the {} profile's floor)", self.profile_name())
        } else {
            format!("keeping the valid directives: {used}")
        };
        v.problems.push(ConfigError::invalid(Origin::Env(var), &text, &reasons.join("; ")).falling_back(fallback));
        if !valid.is_empty() {
            self.level = Some(Setting { text: valid.join(","), origin: Origin::Env(var) });
        }
    }

    /// What logkit says once when it starts with this configuration (not errors):
    /// today, that `LOG_LEVEL` overrides a different `RUST_LOG`.
    pub(crate) fn notices(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let (Some((level, rust)), Some(Setting { origin: Origin::Env("LOG_LEVEL"), .. })) =
            (&self.shadowed_rust_log, &self.level)
        {
            out.push(format!(
                "logkit: LOG_LEVEL={level:?} and RUST_LOG={rust:?} are both set and differ; using LOG_LEVEL"
            ));
        }
        out
    }

    /// Records that the setting `knob` was given in code by `method`.
    fn set_by(mut self, knob: &'static str, method: &'static str) -> Config {
        self.sources.retain(|(k, _)| *k != knob);
        self.sources.push((knob, Origin::Code(method)));
        self
    }

    /// Where the setting `knob` came from: `None` = its default.
    fn source(&self, knob: &str) -> Option<Origin> {
        if knob == "LOG_LEVEL" {
            return self.level.as_ref().map(|l| l.origin);
        }
        self.sources.iter().rev().find(|(k, _)| *k == knob).map(|(_, o)| *o)
    }

    /// The effective configuration as a JSON object, for the `logkit.start` record:
    /// each knob's value as it is used (after defaults and fallbacks) and where it
    /// came from: `{"LOG_SAMPLE":{"value":1,"from":"default"},
    /// "LOG_LEVEL":{"value":"info","from":"env","var":"RUST_LOG"},
    /// "LOG_FILE":{"value":"app.log","from":"code","set_by":"Config::file"},...}`.
    pub(crate) fn effective_json(&self) -> String {
        use crate::render::json::write_str;
        let mut out = Vec::with_capacity(1024);
        out.push(b'{');
        let mut entry = |knob: &str, value: &dyn Fn(&mut Vec<u8>)| {
            if out.len() > 1 {
                out.push(b',');
            }
            write_str(&mut out, knob);
            out.extend_from_slice(b":{\"value\":");
            value(&mut out);
            match self.source(knob) {
                None => out.extend_from_slice(b",\"from\":\"default\""),
                Some(Origin::Env(var)) => {
                    out.extend_from_slice(b",\"from\":\"env\"");
                    if var != knob {
                        out.extend_from_slice(b",\"var\":");
                        write_str(&mut out, var);
                    }
                }
                Some(Origin::Code(method)) => {
                    out.extend_from_slice(b",\"from\":\"code\",\"set_by\":");
                    write_str(&mut out, method);
                }
            }
            out.push(b'}');
        };
        let text = |t: String| move |o: &mut Vec<u8>| write_str(o, &t);
        let num = |n: String| move |o: &mut Vec<u8>| o.extend_from_slice(n.as_bytes());
        entry("LOG_PROFILE", &text(self.profile_name().to_owned()));
        let level = match self.directives() {
            Ok(d) => d.to_string(),
            Err(_) => self.level.as_ref().map(|l| l.text.clone()).unwrap_or_default(),
        };
        entry("LOG_LEVEL", &text(level));
        entry("LOG_SAMPLE", &num(format!("{}", self.sample)));
        match &self.file {
            Some(p) => entry("LOG_FILE", &text(p.to_string_lossy().into_owned())),
            None => entry("LOG_FILE", &num("null".to_owned())),
        }
        entry("LOG_ROTATE_MB", &num(format!("{}", self.rotate_bytes as f64 / (1024.0 * 1024.0))));
        entry("backups", &num(self.backups.to_string()));
        entry("LOG_REDACT", &text(self.redact.join(",")));
        entry("LOG_BUFFER", &num(self.buffer.to_string()));
        entry("LOG_OVERFLOW", &text(if self.overflow == Overflow::Block { "block" } else { "drop" }.to_owned()));
        entry(
            "LOG_FSYNC",
            &text(match self.fsync {
                Fsync::Always => "always".to_owned(),
                Fsync::Never => "never".to_owned(),
                Fsync::Interval(d) => d.as_millis().to_string(),
            }),
        );
        let console = match self.console {
            Console::Stderr => "stderr",
            Console::Stdout => "stdout",
            Console::Off => "off",
        };
        entry("LOG_CONSOLE", &text(console.to_owned()));
        entry("LOG_FILE_MODE", &text(format!("{:o}", self.file_mode)));
        entry("LOG_SPAN_START", &text(if self.span_start { "1" } else { "0" }.to_owned()));
        match &self.otlp {
            Some(u) => entry("LOG_OTLP", &text(u.clone())),
            None => entry("LOG_OTLP", &num("null".to_owned())),
        }
        let color = match self.color {
            None => "auto".to_owned(),
            Some(on) => on.to_string(),
        };
        entry("color", &text(color));
        out.push(b'}');
        String::from_utf8(out).unwrap_or_default()
    }

    fn default_floor(&self) -> LevelFilter {
        match self.profile {
            Profile::Dev => LevelFilter::Debug,
            Profile::Prod => LevelFilter::Info,
        }
    }

    fn profile_name(&self) -> &'static str {
        match self.profile {
            Profile::Dev => "dev",
            Profile::Prod => "prod",
        }
    }

    /// Parses the level directives (checked again here for values given in code).
    pub(crate) fn directives(&self) -> Result<Directives, ConfigError> {
        match &self.level {
            None => Ok(Directives::new(self.default_floor())),
            Some(l) => Directives::parse(&l.text, self.default_floor())
                .map_err(|e| ConfigError::invalid(l.origin, &l.text, &e.0)),
        }
    }

    /// Sets the profile (`LOG_PROFILE`).
    pub fn profile(mut self, p: Profile) -> Config {
        self.profile = p;
        self.set_by("LOG_PROFILE", "Config::profile")
    }

    /// Sets the level floor or directives (`LOG_LEVEL`), e.g. `"info,hyper=warn"`.
    /// Checked by [`Config::init`].
    pub fn level(mut self, directives: &str) -> Config {
        self.level = Some(Setting { text: directives.to_owned(), origin: Origin::Code("Config::level") });
        self
    }

    /// Sets the fraction of DEBUG/INFO/TRACE records kept (`LOG_SAMPLE`), clamped to `0..=1`.
    pub fn sample(mut self, fraction: f64) -> Config {
        self.sample = if fraction.is_nan() { 1.0 } else { fraction.clamp(0.0, 1.0) };
        self.set_by("LOG_SAMPLE", "Config::sample")
    }

    /// Sets the JSONL file (`LOG_FILE`).
    pub fn file(mut self, path: impl Into<PathBuf>) -> Config {
        self.file = Some(path.into());
        self.file_origin = Origin::Code("Config::file");
        self.set_by("LOG_FILE", "Config::file")
    }

    /// Disables the file (`LOG_FILE=`).
    pub fn no_file(mut self) -> Config {
        self.file = None;
        self.set_by("LOG_FILE", "Config::no_file")
    }

    /// Rotates the file at `bytes` (0 never rotates).
    pub fn rotate_bytes(mut self, bytes: u64) -> Config {
        self.rotate_bytes = bytes;
        self.set_by("LOG_ROTATE_MB", "Config::rotate_bytes")
    }

    /// Sets the number of rotated files kept (default 5).
    pub fn backups(mut self, n: u32) -> Config {
        self.backups = n;
        self.set_by("backups", "Config::backups")
    }

    /// Sets the keys whose values are masked (`LOG_REDACT`).
    pub fn redact<I: IntoIterator<Item = S>, S: Into<String>>(mut self, keys: I) -> Config {
        self.redact = keys.into_iter().map(Into::into).collect();
        self.set_by("LOG_REDACT", "Config::redact")
    }

    /// Sets the ring capacity in records (`LOG_BUFFER`), at least 1.
    pub fn buffer(mut self, records: usize) -> Config {
        self.buffer = records.clamp(1, 1 << 26);
        self.set_by("LOG_BUFFER", "Config::buffer")
    }

    /// Sets the overflow policy (`LOG_OVERFLOW`).
    pub fn overflow(mut self, o: Overflow) -> Config {
        self.overflow = o;
        self.set_by("LOG_OVERFLOW", "Config::overflow")
    }

    /// Sets the fsync policy (`LOG_FSYNC`).
    pub fn fsync(mut self, f: Fsync) -> Config {
        self.fsync = f;
        self.set_by("LOG_FSYNC", "Config::fsync")
    }

    /// Sets the console stream (`LOG_CONSOLE`).
    pub fn console(mut self, c: Console) -> Config {
        self.console = c;
        self.set_by("LOG_CONSOLE", "Config::console")
    }

    /// Forces colour on or off on the console (default: on for a tty unless `NO_COLOR`).
    pub fn color(mut self, on: bool) -> Config {
        self.color = Some(on);
        self.set_by("color", "Config::color")
    }

    /// Whether a span logs a `START` record when it opens (`LOG_SPAN_START`, default
    /// on): `span`, `span_id`, `parent_span_id` and the span's keys, so a span that
    /// never ends (a process killed or hung inside it) is still named in the log.
    pub fn span_start(mut self, on: bool) -> Config {
        self.span_start = on;
        self.set_by("LOG_SPAN_START", "Config::span_start")
    }

    /// Exports records and spans to the OpenTelemetry collector at `base_url`
    /// (`LOG_OTLP`), e.g. `http://127.0.0.1:4318`; `/v1/logs` and `/v1/traces` are
    /// appended. The standard `OTEL_EXPORTER_OTLP_*`, `OTEL_SERVICE_NAME` and
    /// `OTEL_RESOURCE_ATTRIBUTES` variables apply; a bad value makes `init` fail
    /// naming it.
    #[cfg(feature = "otlp")]
    pub fn otlp(mut self, base_url: impl Into<String>) -> Config {
        self.otlp = Some(base_url.into());
        self.set_by("LOG_OTLP", "Config::otlp")
    }

    /// Sets the permission bits of a newly created log file (`LOG_FILE_MODE`, default `0o600`).
    pub fn file_mode(mut self, mode: u32) -> Config {
        self.file_mode = mode & 0o777;
        self.set_by("LOG_FILE_MODE", "Config::file_mode")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    /// A [`Lookup`] over `pairs` alone (the process environment is never read).
    fn env(pairs: &[(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        let pairs = pairs.to_vec();
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
    }

    fn read(pairs: &[(&'static str, &'static str)]) -> (Config, Vec<ConfigError>) {
        Config::from_vars(&env(pairs))
    }

    #[test]
    fn knob_parsers_accept_documented_forms() {
        assert_eq!(parse_profile("PROD"), Ok(Profile::Prod));
        assert_eq!(parse_sample("0.05"), Ok(0.05));
        assert!(parse_sample("1.5").is_err());
        assert!(parse_sample("NaN").is_err());
        assert_eq!(parse_rotate("10"), Ok(10 * 1024 * 1024));
        assert_eq!(parse_rotate("0.5"), Ok(512 * 1024));
        assert!(parse_rotate("-1").is_err());
        assert_eq!(parse_buffer("16"), Ok(16));
        assert!(parse_buffer("0").is_err());
        assert_eq!(parse_fsync("always"), Ok(Fsync::Always));
        assert_eq!(parse_fsync("250"), Ok(Fsync::Interval(Duration::from_millis(250))));
        assert_eq!(parse_fsync("250ms"), Ok(Fsync::Interval(Duration::from_millis(250))));
        assert!(parse_fsync("sometimes").is_err());
        assert_eq!(parse_console("off"), Ok(Console::Off));
        assert_eq!(parse_mode("640"), Ok(0o640));
        assert!(parse_mode("999").is_err());
        assert_eq!(parse_redact(" a, b ,,c"), vec!["a", "b", "c"]);
        assert_eq!(parse_switch("0"), Ok(false));
        assert_eq!(parse_switch("ON"), Ok(true));
        assert!(parse_switch("maybe").is_err());
    }

    #[test]
    fn the_effective_configuration_names_each_knobs_value_and_whether_env_code_or_default_set_it() {
        let (c, _) = read(&[("RUST_LOG", "warn"), ("LOG_SAMPLE", "0.25"), ("LOG_BUFFER", "zero")]);
        let j: serde_json::Value = serde_json::from_str(&c.buffer(64).file("app.log").effective_json()).expect("JSON");
        let knob = |k: &str| (j[k]["value"].clone(), j[k]["from"].as_str().unwrap_or("?").to_owned());
        assert_eq!(knob("LOG_LEVEL"), (serde_json::json!("warn"), "env".to_owned()));
        assert_eq!(j["LOG_LEVEL"]["var"], "RUST_LOG", "{j}");
        assert_eq!(knob("LOG_SAMPLE"), (serde_json::json!(0.25), "env".to_owned()));
        // A bad value fell back to the default, then code set it.
        assert_eq!(knob("LOG_BUFFER"), (serde_json::json!(64), "code".to_owned()));
        assert_eq!(j["LOG_BUFFER"]["set_by"], "Config::buffer");
        assert_eq!(knob("LOG_FILE"), (serde_json::json!("app.log"), "code".to_owned()));
        assert_eq!(knob("LOG_PROFILE"), (serde_json::json!("dev"), "default".to_owned()));
        assert_eq!(knob("LOG_FSYNC"), (serde_json::json!("1000"), "default".to_owned()));
        assert_eq!(knob("LOG_OTLP"), (serde_json::Value::Null, "default".to_owned()));
        assert!(j.as_object().unwrap().keys().any(|k| k == "LOG_SPAN_START"), "{j}");
    }

    #[test]
    fn error_message_names_variable_and_value() {
        let e = ConfigError::invalid(Origin::Env("LOG_SAMPLE"), "lots", "expected a number from 0 to 1");
        assert_eq!(e.to_string(), "logkit: invalid LOG_SAMPLE=\"lots\": expected a number from 0 to 1");
        assert_eq!(e.var(), "LOG_SAMPLE");
        assert_eq!(e.value(), "lots");
        assert!(!e.is_from_code());
    }

    #[test]
    fn no_variables_give_the_default_config() {
        let (c, problems) = read(&[]);
        assert!(problems.is_empty());
        assert_eq!(format!("{c:?}"), format!("{:?}", Config::default()));
    }

    #[test]
    fn every_default_named_in_a_message_is_the_default_used() {
        // Setting each knob to the default its messages name changes nothing.
        let (c, problems) = read(DEFAULTS_SHOWN);
        assert!(problems.is_empty(), "{problems:?}");
        // The same values; only where they came from differs.
        let c = Config { sources: Vec::new(), ..c };
        assert_eq!(format!("{c:?}"), format!("{:?}", Config::default()));
        // And each bad value's line names that default.
        let bad: &[(&str, &str)] = &[
            ("LOG_PROFILE", "staging"),
            ("LOG_SAMPLE", "lots"),
            ("LOG_ROTATE_MB", "ten"),
            ("LOG_BUFFER", "0"),
            ("LOG_OVERFLOW", "discard"),
            ("LOG_FSYNC", "sometimes"),
            ("LOG_CONSOLE", "both"),
            ("LOG_FILE_MODE", "999"),
        ];
        assert_eq!(bad.len(), DEFAULTS_SHOWN.len());
        for &(var, value) in bad {
            let (_, problems) = read(&[(var, value)]);
            assert_eq!(problems.len(), 1, "{var}");
            let line = problems[0].fallback_line("?");
            let want = format!("; using the default {}", default_shown(var));
            assert!(line.ends_with(&want), "{var}: {line}");
            assert!(line.contains(&format!("{var}={value:?}")), "{line}");
        }
    }

    #[test]
    fn from_env_reports_every_bad_knob_not_only_the_first() {
        let (c, problems) = read(&[("LOG_SAMPLE", "lots"), ("LOG_BUFFER", "0"), ("LOG_CONSOLE", "both")]);
        assert_eq!(c.buffer, DEFAULT_BUFFER);
        let e = ConfigError::combine(problems).expect("three problems");
        assert_eq!((e.var(), e.value()), ("LOG_SAMPLE", "lots"));
        let others: Vec<(&str, &str)> = e.others().iter().map(|o| (o.var(), o.value())).collect();
        assert_eq!(others, [("LOG_BUFFER", "0"), ("LOG_CONSOLE", "both")]);
        let shown = e.to_string();
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(lines.len(), 3, "{shown}");
        for (line, var) in lines.iter().zip(["LOG_SAMPLE", "LOG_BUFFER", "LOG_CONSOLE"]) {
            assert!(line.starts_with("logkit: invalid ") && line.contains(var), "{line}");
        }
    }

    #[test]
    fn a_partly_bad_log_level_keeps_its_valid_directives() {
        let (c, problems) = read(&[("LOG_LEVEL", "info,spam::db=loud,app=trace")]);
        assert_eq!(c.directives().expect("the valid part").to_string(), "info,app=trace");
        assert_eq!(problems.len(), 1);
        let line = problems[0].fallback_line("?");
        assert!(line.contains("LOG_LEVEL=\"info,spam::db=loud,app=trace\""), "{line}");
        assert!(line.contains("`spam::db=loud`"), "{line}");
        assert!(line.ends_with("; keeping the valid directives: info,app=trace"), "{line}");
    }

    #[test]
    fn a_wholly_bad_log_level_names_the_profile_floor_it_uses() {
        for (profile, floor) in [("dev", "debug"), ("prod", "info")] {
            let (c, problems) = read(&[("LOG_PROFILE", profile), ("LOG_LEVEL", "loud,x=quiet")]);
            assert_eq!(c.directives().expect("the default").to_string(), floor);
            let line = problems[0].fallback_line("?");
            let want = format!("; using the default {floor} (the {profile} profile's floor)");
            assert!(line.ends_with(&want), "{line}");
            assert!(line.contains("`loud`") && line.contains("`x=quiet`"), "both bad parts named: {line}");
        }
    }

    #[test]
    fn rust_log_is_read_when_log_level_is_unset() {
        let (c, problems) = read(&[("RUST_LOG", "warn,hyper=debug")]);
        assert!(problems.is_empty());
        assert_eq!(c.directives().unwrap().to_string(), "warn,hyper=debug");
        assert!(c.notices().is_empty());
        // An empty LOG_LEVEL is unset: RUST_LOG still applies.
        let (c, _) = read(&[("LOG_LEVEL", " "), ("RUST_LOG", "error")]);
        assert_eq!(c.directives().unwrap().to_string(), "error");
        // A bad RUST_LOG is named as RUST_LOG.
        let (_, problems) = read(&[("RUST_LOG", "info,x=loud")]);
        assert_eq!(problems[0].var(), "RUST_LOG");
        assert!(problems[0].to_string().contains("RUST_LOG=\"info,x=loud\""), "{}", problems[0]);
    }

    #[test]
    fn log_level_wins_over_a_different_rust_log_and_says_so() {
        let (c, _) = read(&[("LOG_LEVEL", "warn"), ("RUST_LOG", "trace")]);
        assert_eq!(c.directives().unwrap().to_string(), "warn");
        let notices = c.notices();
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert!(notices[0].contains("LOG_LEVEL=\"warn\"") && notices[0].contains("RUST_LOG=\"trace\""), "{notices:?}");
        // The same directives written differently: nothing to say.
        let (c, _) = read(&[("LOG_LEVEL", "INFO,a=warn"), ("RUST_LOG", "a=warning,info")]);
        assert!(c.notices().is_empty(), "{:?}", c.notices());
        // A level given in code overrides both: nothing to say about them.
        let (c, _) = read(&[("LOG_LEVEL", "warn"), ("RUST_LOG", "trace")]);
        assert!(c.level("error").notices().is_empty());
    }

    #[test]
    fn a_bad_level_given_in_code_is_reported_as_code_not_log_level() {
        let (c, _) = read(&[("LOG_LEVEL", "info")]);
        let e = c.level("loud").directives().expect_err("loud is not a level");
        assert_eq!((e.var(), e.value(), e.is_from_code()), ("Config::level", "loud", true));
        let shown = e.to_string();
        assert!(!shown.contains("LOG_LEVEL"), "{shown}");
        assert!(
            shown.starts_with("logkit: invalid \"loud\" (given to Config::level in code): unknown level"),
            "{shown}"
        );
    }

    #[test]
    fn a_log_file_given_in_code_is_named_as_code_when_it_cannot_be_opened() {
        let io = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let c = Config::default().file("/x.log");
        let e = ConfigError::io(c.file_origin, "/x.log", "cannot open", io);
        assert_eq!(e.var(), "Config::file");
        assert_eq!(e.to_string(), "logkit: cannot open \"/x.log\" (given to Config::file in code)");
        assert_eq!(Config::default().file_origin, Origin::Env("LOG_FILE"));
    }

    #[test]
    fn display_and_source_never_print_the_same_text_twice() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "Permission denied (os error 13)");
        let e = ConfigError::io(Origin::Env("LOG_FILE"), "/var/log/app.log", "cannot open", io);
        // What a reporter prints: each error of the chain's Display, in turn.
        let mut chain = vec![e.to_string()];
        let mut cause = e.source();
        while let Some(c) = cause {
            chain.push(c.to_string());
            cause = c.source();
        }
        assert_eq!(chain, ["logkit: cannot open LOG_FILE=\"/var/log/app.log\"", "Permission denied (os error 13)"]);
    }

    #[test]
    fn debug_reads_like_display_with_its_causes() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "Permission denied (os error 13)");
        let e = ConfigError::io(Origin::Env("LOG_FILE"), "/app.log", "cannot open", io);
        // What `fn main() -> Result<(), ConfigError>` prints after `Error: `.
        assert_eq!(format!("{e:?}"), "logkit: cannot open LOG_FILE=\"/app.log\": Permission denied (os error 13)");
        let e = ConfigError::invalid(Origin::Env("LOG_SAMPLE"), "lots", "expected a number from 0 to 1");
        assert_eq!(format!("{e:?}"), e.to_string());
        // The fields are still there for whoever asks.
        let fields = format!("{e:#?}");
        assert!(fields.starts_with("ConfigError {") && fields.contains("LOG_SAMPLE"), "{fields}");
    }

    #[test]
    fn an_io_error_is_the_source_and_not_repeated_in_the_message() {
        let io = std::io::Error::other("disk on fire");
        let e = ConfigError::io(Origin::Env("LOG_FILE"), "x/run.log", "cannot open", io);
        assert_eq!(e.to_string(), "logkit: cannot open LOG_FILE=\"x/run.log\"");
        assert_eq!(Error::source(&e).map(|s| s.to_string()).as_deref(), Some("disk on fire"));
        let mut chain = e.to_string();
        let mut src = Error::source(&e);
        while let Some(s) = src {
            chain = format!("{chain}: {s}");
            src = s.source();
        }
        assert_eq!(chain.matches("disk on fire").count(), 1, "{chain}");
    }
}
