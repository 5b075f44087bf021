//! Levels, level filters and `LOG_LEVEL` directives.
//!
//! A directive string is a comma-separated list of `level` (the default floor) and
//! `target=level` entries, e.g. `info,hyper=warn,app::db=debug`. A target directive
//! matches a record whose target equals it or starts with it followed by `::`; the
//! longest matching directive wins, else the default floor applies.

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
    pub(crate) fn parse(s: &str, default: LevelFilter) -> Result<Directives, DirectiveError> {
        let mut d = Directives::new(default);
        for part in s.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            match part.split_once('=') {
                None => {
                    d.default = part.parse().map_err(|()| {
                        DirectiveError(format!(
                            "unknown level `{part}` (expected off, error, warn, info, debug or trace)"
                        ))
                    })?;
                }
                Some((target, level)) => {
                    let target = target.trim();
                    let valid = !target.is_empty()
                        && target.split("::").all(|seg| {
                            !seg.is_empty()
                                && seg.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.')
                        });
                    if !valid {
                        return Err(DirectiveError(format!("invalid target `{target}` in directive `{part}`")));
                    }
                    let level: LevelFilter = level.parse().map_err(|()| {
                        DirectiveError(format!(
                            "unknown level `{}` in directive `{part}` (expected off, error, warn, info, debug or trace)",
                            level.trim()
                        ))
                    })?;
                    d.targets.retain(|(t, _)| t != target);
                    d.targets.push((target.to_owned(), level));
                }
            }
        }
        d.targets.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        Ok(d)
    }

    /// The default floor.
    pub fn default_level(&self) -> LevelFilter {
        self.default
    }

    /// The floor that applies to `target`.
    pub fn level_for(&self, target: &str) -> LevelFilter {
        for (t, lvl) in &self.targets {
            if let Some(rest) = target.strip_prefix(t.as_str()) {
                if rest.is_empty() || rest.starts_with("::") {
                    return *lvl;
                }
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
        assert_eq!(d.level_for("hyperx"), LevelFilter::Info);
        assert_eq!(d.level_for("app::db::pool"), LevelFilter::Debug);
        assert_eq!(d.level_for("app::web"), LevelFilter::Error);
        assert_eq!(d.max_level(), LevelFilter::Debug);
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
