//! Per-call-site static metadata, built once at compile time by the macros.
//!
//! Plain data: the filter (`filter`) and the writer (`render::json`) keep their
//! per-call-site caches in it, but it decides nothing itself.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::level::Level;

/// What a log macro knows about itself at compile time: level, target, location and
/// field names. One `static` per call site; records carry a pointer to it instead of
/// copying any of it.
///
/// Not API: constructed only by logkit's macros.
#[doc(hidden)]
#[derive(Debug)]
pub struct Callsite {
    level: Level,
    target: &'static str,
    file: &'static str,
    line: u32,
    fields: &'static [&'static str],
    /// Cached per-target filter decision: `(generation << 1) | enabled`, where
    /// generation is the filter's generation when it was computed. `u32::MAX` = never.
    interest: AtomicU32,
    /// The writer's index (plus one) of this call site's pre-rendered keys; 0 = none
    /// yet. Read and written only by the writer thread.
    render_slot: AtomicU32,
}

impl Callsite {
    #[doc(hidden)]
    pub const fn new(
        level: Level,
        target: &'static str,
        file: &'static str,
        line: u32,
        fields: &'static [&'static str],
    ) -> Callsite {
        Callsite {
            level,
            target,
            file,
            line,
            fields,
            interest: AtomicU32::new(u32::MAX),
            render_slot: AtomicU32::new(0),
        }
    }

    /// The call site's level.
    #[inline(always)]
    pub fn level(&self) -> Level {
        self.level
    }

    /// Module path, or the `target:` given at the call site.
    pub fn target(&self) -> &'static str {
        self.target
    }

    /// Source file.
    pub fn file(&self) -> &'static str {
        self.file
    }

    /// Source line.
    pub fn line(&self) -> u32 {
        self.line
    }

    pub(crate) fn field_names(&self) -> &'static [&'static str] {
        self.fields
    }

    /// The writer's cache slot for this call site (see `render::json::Sites`).
    #[inline]
    pub(crate) fn render_slot(&self) -> u32 {
        self.render_slot.load(Ordering::Relaxed)
    }

    pub(crate) fn set_render_slot(&self, slot: u32) {
        self.render_slot.store(slot, Ordering::Relaxed);
    }

    /// The cached per-target decision, if it was made under `generation` (the
    /// filter's current one); `None` when it is missing or stale.
    #[inline(always)]
    pub(crate) fn cached_interest(&self, generation: u32) -> Option<bool> {
        let s = self.interest.load(Ordering::Relaxed);
        if s >> 1 == generation {
            Some(s & 1 == 1)
        } else {
            None
        }
    }

    /// Caches the per-target decision made under `generation`.
    pub(crate) fn cache_interest(&self, generation: u32, on: bool) {
        // Relaxed is enough: a stale cache only means one more slow-path lookup, and the
        // generation check makes a cache from before a `set_level` miss.
        self.interest.store((generation << 1) | on as u32, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static CS: Callsite = Callsite::new(Level::Debug, "app::db", "src/db.rs", 7, &["a", "b"]);

    #[test]
    fn a_call_site_is_plain_data_built_at_compile_time() {
        assert_eq!((CS.level(), CS.target(), CS.file(), CS.line()), (Level::Debug, "app::db", "src/db.rs", 7));
        assert_eq!(CS.field_names(), ["a", "b"]);
    }

    #[test]
    fn a_cached_decision_holds_only_for_the_generation_it_was_made_under() {
        let cs = Callsite::new(Level::Info, "t", "f.rs", 1, &[]);
        assert_eq!(cs.cached_interest(1), None, "nothing cached yet");
        cs.cache_interest(1, true);
        assert_eq!(cs.cached_interest(1), Some(true));
        assert_eq!(cs.cached_interest(2), None, "a later generation misses");
        cs.cache_interest(2, false);
        assert_eq!(cs.cached_interest(2), Some(false));
        assert_eq!(cs.cached_interest(1), None);
    }

    #[test]
    fn the_render_slot_starts_empty_and_keeps_what_the_writer_stores() {
        let cs = Callsite::new(Level::Info, "t", "f.rs", 1, &[]);
        assert_eq!(cs.render_slot(), 0);
        cs.set_render_slot(5);
        assert_eq!(cs.render_slot(), 5);
    }
}
