//! [`ConfigError`]: what was wrong with a knob, a value given in code, or starting
//! logkit, and [`Origin`], where a value came from. Plain data at the bottom of the
//! crate, so every part that checks a value (the configuration, the OTLP exporter's
//! variables, the run-time setters) reports it the same way without depending on
//! `Config`.

use std::error::Error;
use std::fmt;

/// Where a setting's value came from, so that an error names the right place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// An environment variable (`LOG_SAMPLE`); also a default that stands for one.
    Env(&'static str),
    /// A function called by the program (`Config::level`, `logkit::set_level`).
    Code(&'static str),
}

impl Origin {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Origin::Env(n) | Origin::Code(n) => n,
        }
    }
}

/// What was wrong with the knobs, a value given in code, or starting logkit.
///
/// `Display` is one line per problem, each starting with `logkit:`; an I/O failure's
/// cause is not repeated there but returned by [`source`](Error::source), so an error
/// reporter that walks the chain prints each text once. `Debug` (what
/// `fn main() -> Result<(), logkit::ConfigError>` prints) reads like `Display`
/// followed by the causes; `{:#?}` shows the fields.
///
/// ```text
/// Error: logkit: invalid LOG_SAMPLE="lots": expected a number from 0 to 1
/// logkit: invalid LOG_BUFFER="0": expected a whole number of records from 1 to 67108864
/// ```
pub struct ConfigError(Box<Problem>);

struct Problem {
    kind: ConfigErrorKind,
    /// `None` for [`ConfigErrorKind::AlreadyStarted`].
    origin: Option<Origin>,
    value: String,
    reason: String,
    /// What the lazy start uses instead ("using the default 1").
    fallback: Option<String>,
    source: Option<std::io::Error>,
    /// The further problems found together with this one.
    others: Vec<ConfigError>,
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
    fn new(kind: ConfigErrorKind, origin: Option<Origin>, value: &str, reason: &str) -> ConfigError {
        ConfigError(Box::new(Problem {
            kind,
            origin,
            value: value.to_owned(),
            reason: reason.to_owned(),
            fallback: None,
            source: None,
            others: Vec::new(),
        }))
    }

    pub(crate) fn invalid(origin: Origin, value: &str, reason: &str) -> ConfigError {
        ConfigError::new(ConfigErrorKind::Invalid, Some(origin), value, reason)
    }

    pub(crate) fn io(origin: Origin, value: &str, reason: &str, e: std::io::Error) -> ConfigError {
        let mut err = ConfigError::new(ConfigErrorKind::Io, Some(origin), value, reason);
        err.0.source = Some(e);
        err
    }

    pub(crate) fn already_started() -> ConfigError {
        ConfigError::new(
            ConfigErrorKind::AlreadyStarted,
            None,
            "",
            "logkit is already running with another configuration",
        )
    }

    /// Says what the lazy start uses instead of the bad value.
    pub(crate) fn falling_back(mut self, fallback: String) -> ConfigError {
        self.0.fallback = Some(fallback);
        self
    }

    /// One error for several problems (`None` for none), the first one leading.
    pub(crate) fn combine(problems: Vec<ConfigError>) -> Option<ConfigError> {
        let mut it = problems.into_iter();
        let mut first = it.next()?;
        first.0.others.extend(it);
        Some(first)
    }

    /// The line the lazy start prints: the problem, its causes, and what is used instead.
    pub(crate) fn fallback_line(&self, default: &str) -> String {
        format!("{self:?}; {}", self.0.fallback.as_deref().unwrap_or(default))
    }

    /// What went wrong (for several problems: the first).
    pub fn kind(&self) -> ConfigErrorKind {
        self.0.kind
    }

    /// Where the wrong value came from: the variable (`LOG_SAMPLE`) or, for a value
    /// given in code, the function (`Config::level`, `logkit::set_level`).
    pub fn var(&self) -> &str {
        self.0.origin.map_or("", Origin::name)
    }

    /// Whether the wrong value was given in code rather than by the environment.
    pub fn is_from_code(&self) -> bool {
        matches!(self.0.origin, Some(Origin::Code(_)))
    }

    /// The offending value as given.
    pub fn value(&self) -> &str {
        &self.0.value
    }

    /// The problems found together with this one (every bad knob is reported, not only
    /// the first); each has no others of its own.
    pub fn others(&self) -> &[ConfigError] {
        &self.0.others
    }

    /// This problem alone, without the others.
    fn fmt_one(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.0;
        let subject = |f: &mut fmt::Formatter<'_>| match p.origin {
            Some(Origin::Env(var)) => write!(f, "{var}={:?}", p.value),
            Some(Origin::Code(func)) => write!(f, "{:?} (given to {func} in code)", p.value),
            None => Ok(()),
        };
        match p.kind {
            ConfigErrorKind::Invalid => {
                f.write_str("logkit: invalid ")?;
                subject(f)?;
                write!(f, ": {}", p.reason)
            }
            ConfigErrorKind::Io => {
                write!(f, "logkit: {} ", p.reason)?;
                subject(f)
            }
            ConfigErrorKind::AlreadyStarted => write!(f, "logkit: {}", p.reason),
        }
    }
}

impl fmt::Display for ConfigError {
    /// One line per problem; an I/O cause is left to [`Error::source`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_one(f)?;
        for other in &self.0.others {
            f.write_str("\n")?;
            other.fmt_one(f)?;
        }
        Ok(())
    }
}

impl fmt::Debug for ConfigError {
    /// Reads like `Display` followed by the causes (`: Permission denied (os error
    /// 13)`), so that `main` returning the error prints a message, not a struct;
    /// `{:#?}` shows the fields.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            let p = &self.0;
            return f
                .debug_struct("ConfigError")
                .field("kind", &p.kind)
                .field("var", &self.var())
                .field("from_code", &self.is_from_code())
                .field("value", &p.value)
                .field("reason", &p.reason)
                .field("source", &p.source)
                .field("others", &p.others)
                .finish();
        }
        fmt::Display::fmt(self, f)?;
        let mut cause = self.source();
        while let Some(c) = cause {
            write!(f, ": {c}")?;
            cause = c.source();
        }
        Ok(())
    }
}

impl Error for ConfigError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source.as_ref().map(|e| e as &(dyn Error + 'static))
    }
}
