//! `Config`: everything the `LOG_*` environment knobs set, as a builder for code.
//!
//! | var | default | effect |
//! | --- | --- | --- |
//! | `LOG_PROFILE` | `dev` | `dev`: pretty console, DEBUG floor; `prod`: JSON console, INFO floor |
//! | `LOG_LEVEL` | by profile | floor, or directives `info,hyper=warn,app::db=debug` |
//! | `LOG_SAMPLE` | `1` | fraction of DEBUG/INFO/TRACE records kept; WARN+ always kept |
//! | `LOG_FILE` | `run.log` | JSONL file; empty disables |
//! | `LOG_ROTATE_MB` | `10` | rotate at N MiB (decimals allowed), keep 5 backups; `0` never rotates |
//! | `LOG_REDACT` | `password,secret,token,authorization,api_key` | keys whose values are masked |
//! | `LOG_BUFFER` | `16384` | ring capacity, in records |
//! | `LOG_OVERFLOW` | `block` | `block` (lossless) or `drop` (counted and reported) |
//! | `LOG_FSYNC` | `1000` | `always`, `never`, or milliseconds between fsyncs |
//! | `LOG_CONSOLE` | `stderr` | `stderr`, `stdout` or `off` |
//! | `LOG_FILE_MODE` | `600` | octal permission bits of a newly created log file |
//! | `LOG_SPAN_START` | `1` | `1`: a span logs a `START` record when it opens; `0`: only its `END` |
//! | `LOG_OTLP` | unset | OTLP/HTTP base URL of a collector (feature `otlp`; see `sink/otlp`) |
//!
//! An empty value counts as unset.

use std::error::Error;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

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
#[derive(Clone, Debug)]
pub struct Config {
    /// `LOG_PROFILE`.
    pub(crate) profile: Profile,
    /// `LOG_LEVEL` as given (parsed in `build`), `None` = the profile's floor.
    pub(crate) level: Option<String>,
    /// `LOG_SAMPLE`.
    pub(crate) sample: f64,
    /// `LOG_FILE`; `None` disables the file.
    pub(crate) file: Option<PathBuf>,
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
}

impl Default for Config {
    /// The defaults of the `dev` profile, ignoring the environment.
    fn default() -> Config {
        Config {
            profile: Profile::Dev,
            level: None,
            sample: 1.0,
            file: Some(PathBuf::from("run.log")),
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
        }
    }
}

/// What was wrong with a knob, a builder value, or starting logkit.
#[derive(Debug)]
pub struct ConfigError {
    kind: ConfigErrorKind,
    var: String,
    value: String,
    reason: String,
    source: Option<std::io::Error>,
}

/// The kind of a [`ConfigError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// A variable or builder value could not be parsed.
    Invalid,
    /// The log file could not be opened.
    Io,
    /// logkit was already started (by an earlier `init` or the first log call) with
    /// another configuration.
    AlreadyStarted,
}

impl ConfigError {
    pub(crate) fn invalid(var: &str, value: &str, reason: &str) -> ConfigError {
        ConfigError {
            kind: ConfigErrorKind::Invalid,
            var: var.to_owned(),
            value: value.to_owned(),
            reason: reason.to_owned(),
            source: None,
        }
    }

    pub(crate) fn io(var: &str, value: &str, reason: &str, e: std::io::Error) -> ConfigError {
        ConfigError {
            kind: ConfigErrorKind::Io,
            var: var.to_owned(),
            value: value.to_owned(),
            reason: reason.to_owned(),
            source: Some(e),
        }
    }

    pub(crate) fn already_started() -> ConfigError {
        ConfigError {
            kind: ConfigErrorKind::AlreadyStarted,
            var: String::new(),
            value: String::new(),
            reason: "logkit is already running with another configuration".to_owned(),
            source: None,
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> ConfigErrorKind {
        self.kind
    }

    /// The variable (or builder method) whose value was wrong, e.g. `LOG_SAMPLE`.
    pub fn var(&self) -> &str {
        &self.var
    }

    /// The offending value as given.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ConfigErrorKind::Invalid => write!(f, "logkit: invalid {}={:?}: {}", self.var, self.value, self.reason),
            // The I/O error itself is `source()`, not part of this message: a caller
            // printing the chain then shows it once.
            ConfigErrorKind::Io => write!(f, "logkit: {} {}={:?}", self.reason, self.var, self.value),
            ConfigErrorKind::AlreadyStarted => write!(f, "logkit: {}", self.reason),
        }
    }
}

impl Error for ConfigError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_ref().map(|e| e as &(dyn Error + 'static))
    }
}

/// Reads one knob; `None` when unset or empty.
fn var(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(v) if v.trim().is_empty() => None,
        Ok(v) => Some(v),
        Err(std::env::VarError::NotPresent) => None,
        Err(std::env::VarError::NotUnicode(v)) => Some(v.to_string_lossy().into_owned()),
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
        "LOG_OTLP" => crate::sink::otlp::check_url(value.trim()),
        #[cfg(feature = "otlp")]
        "LOG_OTLP_PROTOCOL" => crate::sink::otlp::check_protocol(value),
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

impl Config {
    /// The defaults overridden by every `LOG_*` variable that is set.
    ///
    /// # Errors
    /// The first bad variable, named with its value and what was expected.
    pub fn from_env() -> Result<Config, ConfigError> {
        let mut errors = Vec::new();
        let c = Config::from_env_collect(&mut errors);
        match errors.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(c),
        }
    }

    /// Like [`Config::from_env`], but a bad variable prints one line to stderr and
    /// keeps its default: how the first log call starts logkit without `init`.
    pub(crate) fn from_env_lenient() -> Config {
        let mut errors = Vec::new();
        let c = Config::from_env_collect(&mut errors);
        for e in errors {
            eprintln!("{e}; using the default");
        }
        c
    }

    fn from_env_collect(errors: &mut Vec<ConfigError>) -> Config {
        fn knob<T>(
            name: &str,
            errors: &mut Vec<ConfigError>,
            parse: impl Fn(&str) -> Result<T, &'static str>,
        ) -> Option<T> {
            let v = var(name)?;
            match parse(&v) {
                Ok(t) => Some(t),
                Err(reason) => {
                    errors.push(ConfigError::invalid(name, &v, reason));
                    None
                }
            }
        }
        let mut c = Config::default();
        if let Some(p) = knob("LOG_PROFILE", errors, parse_profile) {
            c.profile = p;
        }
        if let Some(l) = var("LOG_LEVEL") {
            match Directives::parse(&l, c.default_floor()) {
                Ok(_) => c.level = Some(l),
                Err(e) => errors.push(ConfigError::invalid("LOG_LEVEL", &l, &e.0)),
            }
        }
        if let Some(s) = knob("LOG_SAMPLE", errors, parse_sample) {
            c.sample = s;
        }
        // LOG_FILE: set-but-empty disables the file, so it is read without `var`.
        match std::env::var_os("LOG_FILE") {
            Some(v) if v.is_empty() => c.file = None,
            Some(v) => c.file = Some(PathBuf::from(v)),
            None => {}
        }
        if let Some(r) = knob("LOG_ROTATE_MB", errors, parse_rotate) {
            c.rotate_bytes = r;
        }
        // LOG_REDACT: set-but-empty masks nothing.
        if let Ok(v) = std::env::var("LOG_REDACT") {
            c.redact = parse_redact(&v);
        }
        if let Some(b) = knob("LOG_BUFFER", errors, parse_buffer) {
            c.buffer = b;
        }
        if let Some(o) = knob("LOG_OVERFLOW", errors, parse_overflow) {
            c.overflow = o;
        }
        if let Some(f) = knob("LOG_FSYNC", errors, parse_fsync) {
            c.fsync = f;
        }
        if let Some(k) = knob("LOG_CONSOLE", errors, parse_console) {
            c.console = k;
        }
        if let Some(m) = knob("LOG_FILE_MODE", errors, parse_mode) {
            c.file_mode = m;
        }
        c.otlp = var("LOG_OTLP");
        if let Some(on) = knob("LOG_SPAN_START", errors, parse_switch) {
            c.span_start = on;
        }
        c
    }

    fn default_floor(&self) -> LevelFilter {
        match self.profile {
            Profile::Dev => LevelFilter::Debug,
            Profile::Prod => LevelFilter::Info,
        }
    }

    /// Parses the level directives (checked again here for builder values).
    pub(crate) fn directives(&self) -> Result<Directives, ConfigError> {
        match &self.level {
            None => Ok(Directives::new(self.default_floor())),
            Some(l) => {
                Directives::parse(l, self.default_floor()).map_err(|e| ConfigError::invalid("LOG_LEVEL", l, &e.0))
            }
        }
    }

    /// Sets the profile (`LOG_PROFILE`).
    pub fn profile(mut self, p: Profile) -> Config {
        self.profile = p;
        self
    }

    /// Sets the level floor or directives (`LOG_LEVEL`), e.g. `"info,hyper=warn"`.
    /// Checked by [`Config::init`].
    pub fn level(mut self, directives: &str) -> Config {
        self.level = Some(directives.to_owned());
        self
    }

    /// Sets the fraction of DEBUG/INFO/TRACE records kept (`LOG_SAMPLE`), clamped to `0..=1`.
    pub fn sample(mut self, fraction: f64) -> Config {
        self.sample = if fraction.is_nan() { 1.0 } else { fraction.clamp(0.0, 1.0) };
        self
    }

    /// Sets the JSONL file (`LOG_FILE`).
    pub fn file(mut self, path: impl Into<PathBuf>) -> Config {
        self.file = Some(path.into());
        self
    }

    /// Disables the file (`LOG_FILE=`).
    pub fn no_file(mut self) -> Config {
        self.file = None;
        self
    }

    /// Rotates the file at `bytes` (0 never rotates).
    pub fn rotate_bytes(mut self, bytes: u64) -> Config {
        self.rotate_bytes = bytes;
        self
    }

    /// Sets the number of rotated files kept (default 5).
    pub fn backups(mut self, n: u32) -> Config {
        self.backups = n;
        self
    }

    /// Sets the keys whose values are masked (`LOG_REDACT`).
    pub fn redact<I: IntoIterator<Item = S>, S: Into<String>>(mut self, keys: I) -> Config {
        self.redact = keys.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the ring capacity in records (`LOG_BUFFER`), at least 1.
    pub fn buffer(mut self, records: usize) -> Config {
        self.buffer = records.clamp(1, 1 << 26);
        self
    }

    /// Sets the overflow policy (`LOG_OVERFLOW`).
    pub fn overflow(mut self, o: Overflow) -> Config {
        self.overflow = o;
        self
    }

    /// Sets the fsync policy (`LOG_FSYNC`).
    pub fn fsync(mut self, f: Fsync) -> Config {
        self.fsync = f;
        self
    }

    /// Sets the console stream (`LOG_CONSOLE`).
    pub fn console(mut self, c: Console) -> Config {
        self.console = c;
        self
    }

    /// Forces colour on or off on the console (default: on for a tty unless `NO_COLOR`).
    pub fn color(mut self, on: bool) -> Config {
        self.color = Some(on);
        self
    }

    /// Whether a span logs a `START` record when it opens (`LOG_SPAN_START`, default
    /// on): `span`, `span_id`, `parent_span_id` and the span's keys, so a span that
    /// never ends (a process killed or hung inside it) is still named in the log.
    pub fn span_start(mut self, on: bool) -> Config {
        self.span_start = on;
        self
    }

    /// Exports records and spans to the OpenTelemetry collector at `base_url`
    /// (`LOG_OTLP`), e.g. `http://127.0.0.1:4318`; `/v1/logs` and `/v1/traces` are
    /// appended. The standard `OTEL_EXPORTER_OTLP_*`, `OTEL_SERVICE_NAME` and
    /// `OTEL_RESOURCE_ATTRIBUTES` variables apply; a bad value makes `init` fail
    /// naming it.
    #[cfg(feature = "otlp")]
    pub fn otlp(mut self, base_url: impl Into<String>) -> Config {
        self.otlp = Some(base_url.into());
        self
    }

    /// Sets the permission bits of a newly created log file (`LOG_FILE_MODE`, default `0o600`).
    pub fn file_mode(mut self, mode: u32) -> Config {
        self.file_mode = mode & 0o777;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn error_message_names_variable_and_value() {
        let e = ConfigError::invalid("LOG_SAMPLE", "lots", "expected a number from 0 to 1");
        assert_eq!(e.to_string(), "logkit: invalid LOG_SAMPLE=\"lots\": expected a number from 0 to 1");
        assert_eq!(e.var(), "LOG_SAMPLE");
        assert_eq!(e.value(), "lots");
    }

    #[test]
    fn an_io_error_is_the_source_and_not_repeated_in_the_message() {
        let io = std::io::Error::other("disk on fire");
        let e = ConfigError::io("LOG_FILE", "x/run.log", "cannot open", io);
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
