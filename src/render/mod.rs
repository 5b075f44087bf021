//! Writer-side rendering of compact records: JSON lines for the file (and the `prod`
//! console), aligned human lines for the `dev` console.

pub(crate) mod escape;
pub(crate) mod json;
pub(crate) mod pretty;
pub(crate) mod time;
pub(crate) mod value;

/// Keys whose values are written as `"***"` by every renderer (`LOG_REDACT`).
/// Matching is ASCII case-insensitive on the whole key.
#[derive(Clone, Debug, Default)]
pub(crate) struct Redactor {
    keys: Vec<String>,
}

impl Redactor {
    pub(crate) fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(keys: I) -> Redactor {
        Redactor {
            keys: keys.into_iter().map(|k| k.as_ref().trim().to_ascii_lowercase()).filter(|k| !k.is_empty()).collect(),
        }
    }

    /// Whether no key is masked.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    #[inline]
    pub(crate) fn is_redacted(&self, key: &str) -> bool {
        self.keys.iter().any(|k| k.eq_ignore_ascii_case(key))
    }
}
