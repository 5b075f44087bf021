//! Levels, level filters and `LOG_LEVEL` directives.
//!
//! A directive string is a comma-separated list of `level` (the default floor) and
//! `target=level` entries, e.g. `info,hyper=warn,app::db=debug`.
//!
//! Matching follows `env_logger` and `tracing-subscriber`'s `EnvFilter`, so a
//! `RUST_LOG` value means the same to logkit as to them: a target directive matches
//! every record whose target *starts with* it, as a plain string prefix (both crates
//! test `target.starts_with(directive)`). `hyper=warn` therefore covers `hyper`,
//! `hyper::client` and also `hyper_util::client`; `hyper=warn,hyper_util=info` treats
//! the two crates apart. Among the matching directives the longest wins; when none
//! matches, the default floor applies. A bare word that is not a level is rejected
//! rather than read as a target (which `env_logger` does), so a misspelt level
//! (`LOG_LEVEL=verbose`) is reported instead of silently enabling one target.
//!
//! Matching runs on the gate's cold path only: a call site caches its decision per
//! directive generation (see `filter`), so the cost of a match is paid once per call
//! site and `set_level`.

use std::fmt;
use std::str::FromStr;

/// The severity of a record. `Error` is the most severe.
///
/// Ordering follows verbosity: `Error < Warn < Info < Debug < Trace`, so a record is
/// enabled when `level <= filter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Level {
    /// Something failed.
    Error = 1,
    /// Something unexpected that the program survived.
    Warn = 2,
    /// The normal story of a run.
    Info = 3,
    /// Detail for a developer.
    Debug = 4,
    /// Very fine detail.
    Trace = 5,
}

impl Level {
    /// [`Level::Error`], spelt as `tracing` spells it (`event!(Level::ERROR, ..)`).
    pub const ERROR: Level = Level::Error;
    /// [`Level::Warn`], spelt as `tracing` spells it.
    pub const WARN: Level = Level::Warn;
    /// [`Level::Info`], spelt as `tracing` spells it.
    pub const INFO: Level = Level::Info;
    /// [`Level::Debug`], spelt as `tracing` spells it.
    pub const DEBUG: Level = Level::Debug;
    /// [`Level::Trace`], spelt as `tracing` spells it.
    pub const TRACE: Level = Level::Trace;

    /// The lowercase name written in the `level` key of a record
    /// (`trace|debug|info|warning|error`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warning",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }

    #[inline]
    pub(crate) const fn from_u8(v: u8) -> Option<Level> {
        match v {
            1 => Some(Level::Error),
            2 => Some(Level::Warn),
            3 => Some(Level::Info),
            4 => Some(Level::Debug),
            5 => Some(Level::Trace),
            _ => None,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A level floor: `Off` or the most verbose level let through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum LevelFilter {
    /// Nothing is logged.
    Off = 0,
    /// Only errors.
    Error = 1,
    /// Warnings and errors.
    Warn = 2,
    /// Info and more severe.
    Info = 3,
    /// Debug and more severe.
    Debug = 4,
    /// Everything.
    Trace = 5,
}

impl LevelFilter {
    /// Whether a record at `level` passes this floor.
    #[inline]
    pub const fn allows(self, level: Level) -> bool {
        level as u8 <= self as u8
    }

    pub(crate) const fn from_u8(v: u8) -> LevelFilter {
        match v {
            0 => LevelFilter::Off,
            1 => LevelFilter::Error,
            2 => LevelFilter::Warn,
            3 => LevelFilter::Info,
            4 => LevelFilter::Debug,
            _ => LevelFilter::Trace,
        }
    }
}

impl From<Level> for LevelFilter {
    fn from(l: Level) -> LevelFilter {
        LevelFilter::from_u8(l as u8)
    }
}

impl FromStr for LevelFilter {
    type Err = ();
    /// Case-insensitive: `off`, `error`, `warn`/`warning`, `info`, `debug`, `trace`.
    fn from_str(s: &str) -> Result<LevelFilter, ()> {
        let s = s.trim();
        let f = if s.eq_ignore_ascii_case("off") {
            LevelFilter::Off
        } else if s.eq_ignore_ascii_case("error") {
            LevelFilter::Error
        } else if s.eq_ignore_ascii_case("warn") || s.eq_ignore_ascii_case("warning") {
            LevelFilter::Warn
        } else if s.eq_ignore_ascii_case("info") {
            LevelFilter::Info
        } else if s.eq_ignore_ascii_case("debug") {
            LevelFilter::Debug
        } else if s.eq_ignore_ascii_case("trace") {
            LevelFilter::Trace
        } else {
            return Err(());
        };
        Ok(f)
    }
}

impl fmt::Display for LevelFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            LevelFilter::Off => "off",
            LevelFilter::Error => "error",
            LevelFilter::Warn => "warn",
            LevelFilter::Info => "info",
            LevelFilter::Debug => "debug",
            LevelFilter::Trace => "trace",
        })
    }
}

/// A parsed `LOG_LEVEL` value: a default floor plus per-target floors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directives {
    default: LevelFilter,
    /// Sorted by descending target length, so the first match is the most specific.
    targets: Vec<(String, LevelFilter)>,
}

/// Why a directive string was rejected; the message names the offending part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DirectiveError(pub(crate) String);

impl Directives {
    /// Directives with only a default floor.
    pub fn new(default: LevelFilter) -> Directives {
        Directives { default, targets: Vec::new() }
    }

    /// Parses `info,hyper=warn,app::db=debug`. A bare level sets the default floor
    /// (the last one wins); when none is given, `default` is kept.
    ///
    /// # Errors
    /// Every bad directive, named, in one message (`; `-separated).
    pub(crate) fn parse(s: &str, default: LevelFilter) -> Result<Directives, DirectiveError> {
        let (d, errors) = Directives::parse_lenient(s, default);
        if errors.is_empty() {
            return Ok(d);
        }
        let parts: Vec<String> = errors.into_iter().map(|e| e.0).collect();
        Err(DirectiveError(parts.join("; ")))
    }

    /// Parses like [`Directives::parse`], keeping every valid directive: the bad ones
    /// are left out and returned, one error each, in the order given.
    pub(crate) fn parse_lenient(s: &str, default: LevelFilter) -> (Directives, Vec<DirectiveError>) {
        let mut d = Directives::new(default);
        let mut errors = Vec::new();
        for part in s.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            match parse_directive(part) {
                Ok((None, level)) => d.default = level,
                Ok((Some(target), level)) => {
                    d.targets.retain(|(t, _)| t != target);
                    d.targets.push((target.to_owned(), level));
                }
                Err(e) => errors.push(e),
            }
        }
        d.targets.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        (d, errors)
    }

    /// The default floor.
    pub fn default_level(&self) -> LevelFilter {
        self.default
    }

    /// The floor that applies to `target`: that of the longest directive `target`
    /// starts with (a plain string prefix, as `env_logger` and `EnvFilter` match, so
    /// `hyper` covers `hyper::client` and `hyper_util`), else the default floor.
    pub fn level_for(&self, target: &str) -> LevelFilter {
        // `targets` is sorted longest first, so the first match is the most specific.
        for (t, lvl) in &self.targets {
            if target.starts_with(t.as_str()) {
                return *lvl;
            }
        }
        self.default
    }

    /// The most verbose floor of any directive: records above it are off everywhere.
    pub fn max_level(&self) -> LevelFilter {
        self.targets.iter().map(|(_, l)| *l).fold(self.default, LevelFilter::max)
    }

    /// Whether any per-target directive exists (the hot gate can skip the per-callsite
    /// check when there is none).
    pub(crate) fn has_targets(&self) -> bool {
        !self.targets.is_empty()
    }
}

/// One directive: `level` (the default floor, target `None`) or `target=level`.
fn parse_directive(part: &str) -> Result<(Option<&str>, LevelFilter), DirectiveError> {
    const EXPECTED: &str = "expected off, error, warn, info, debug or trace";
    let Some((target, level)) = part.split_once('=') else {
        return match part.parse() {
            Ok(level) => Ok((None, level)),
            Err(()) => Err(DirectiveError(format!(
                "unknown level `{part}` ({EXPECTED}; a target takes a level: `{part}=trace`)"
            ))),
        };
    };
    let target = target.trim();
    let valid = !target.is_empty()
        && target
            .split("::")
            .all(|seg| !seg.is_empty() && seg.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.'));
    if !valid {
        return Err(DirectiveError(format!("invalid target `{target}` in directive `{part}`")));
    }
    match level.parse() {
        Ok(level) => Ok((Some(target), level)),
        Err(()) => Err(DirectiveError(format!("unknown level `{}` in directive `{part}` ({EXPECTED})", level.trim()))),
    }
}

impl fmt::Display for Directives {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.default)?;
        for (t, l) in self.targets.iter().rev() {
            write!(f, ",{t}={l}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_specific_directive_wins() {
        let d = Directives::parse("info,hyper=warn,app::db=debug,app=error", LevelFilter::Trace).unwrap();
        assert_eq!(d.default_level(), LevelFilter::Info);
        assert_eq!(d.level_for("hyper"), LevelFilter::Warn);
        assert_eq!(d.level_for("hyper::client"), LevelFilter::Warn);
        assert_eq!(d.level_for("hyp"), LevelFilter::Info);
        assert_eq!(d.level_for("app::db::pool"), LevelFilter::Debug);
        assert_eq!(d.level_for("app::web"), LevelFilter::Error);
        assert_eq!(d.max_level(), LevelFilter::Debug);
    }

    #[test]
    fn a_target_directive_covers_every_target_it_is_a_string_prefix_of() {
        // As env_logger and EnvFilter match: `hyper` covers `hyper_util` too.
        let d = Directives::parse("info,hyper=warn", LevelFilter::Trace).unwrap();
        for t in ["hyper", "hyper::client", "hyper_util", "hyper_util::client::legacy", "hyperx"] {
            assert_eq!(d.level_for(t), LevelFilter::Warn, "{t}");
        }
        assert_eq!(d.level_for("hype"), LevelFilter::Info);
        assert_eq!(d.level_for("tokio"), LevelFilter::Info);
        // A longer directive for the other crate wins over the shorter prefix.
        let d = Directives::parse("hyper=warn,hyper_util=debug,app::db=trace", LevelFilter::Info).unwrap();
        assert_eq!(d.level_for("hyper::client"), LevelFilter::Warn);
        assert_eq!(d.level_for("hyper_util::client"), LevelFilter::Debug);
        assert_eq!(d.level_for("app::dbx"), LevelFilter::Trace);
        assert_eq!(d.level_for("app::web"), LevelFilter::Info);
    }

    #[test]
    fn lenient_parse_keeps_the_valid_directives_and_returns_each_bad_one() {
        let (d, errors) = Directives::parse_lenient("info,spam::db=loud,app=debug,verbose", LevelFilter::Debug);
        assert_eq!(d.to_string(), "info,app=debug");
        let shown: Vec<&str> = errors.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert!(shown[0].contains("`spam::db=loud`"), "{}", shown[0]);
        assert!(shown[1].contains("`verbose`"), "{}", shown[1]);
        // Nothing valid: the default floor stays.
        let (d, errors) = Directives::parse_lenient("loud", LevelFilter::Debug);
        assert_eq!((d, errors.len()), (Directives::new(LevelFilter::Debug), 1));
    }

    #[test]
    fn strict_parse_names_every_bad_directive() {
        let e = Directives::parse("a=loud,info,b=quiet", LevelFilter::Info).unwrap_err();
        assert!(e.0.contains("`a=loud`") && e.0.contains("`b=quiet`"), "{}", e.0);
    }

    #[test]
    fn a_bare_word_that_is_not_a_level_says_how_to_write_a_target() {
        let e = Directives::parse("myapp", LevelFilter::Info).unwrap_err();
        assert!(e.0.contains("`myapp=trace`"), "{}", e.0);
    }

    #[test]
    fn bad_directives_name_the_part() {
        let e = Directives::parse("info,hyper=loud", LevelFilter::Info).unwrap_err();
        assert!(e.0.contains("loud"), "{}", e.0);
        let e = Directives::parse("verbose", LevelFilter::Info).unwrap_err();
        assert!(e.0.contains("verbose"), "{}", e.0);
        assert!(Directives::parse("=info", LevelFilter::Info).is_err());
        assert!(Directives::parse("a b=info", LevelFilter::Info).is_err());
    }

    #[test]
    fn levels_parse_case_insensitively() {
        assert_eq!("WARNING".parse::<LevelFilter>(), Ok(LevelFilter::Warn));
        assert_eq!("Off".parse::<LevelFilter>(), Ok(LevelFilter::Off));
        assert!(LevelFilter::Info.allows(Level::Warn));
        assert!(!LevelFilter::Info.allows(Level::Debug));
        assert!(!LevelFilter::Off.allows(Level::Error));
    }
}
