//! Fuzz inputs: how raw fuzzer bytes become a record or a string, and how each input
//! prints itself as a Rust reproducer.
//!
//! The string targets (`directives`, `trace_ids`, `env_knobs`) take the bytes as UTF-8
//! (invalid sequences become U+FFFD), so a hand-written regression file is just the
//! text.
//!
//! The `json_record` target reads a small length-prefixed format (below), chosen so
//! that every byte string decodes to some record (libFuzzer's mutations stay useful),
//! interesting characters and numbers are one byte away, and an input can be written
//! back to bytes ([`RecordInput::to_bytes`]): that is how the hand-made seeds in
//! `regressions/json_record/` are made (`cargo run --example write_seeds`).
//!
//! # The record format
//!
//! Everything is read from the front; past the end every byte reads as 0, so a short
//! input is a record with empty strings and no fields.
//!
//! ```text
//! record  = timestamp_ns:u64le target:str message:str
//!           n:u8 (n % 8) × (key:str value)        context entries
//!           n:u8 (n % 16) × (key:str value)       fields
//!           n:u8 (n % 4) × redact                 LOG_REDACT entries
//! str     = h:u8, then
//!             h < 0xE0        h chars                         a literal
//!             0xE0..=0xEF     -                               WORDS[h - 0xE0]
//!             0xF0..=0xFE     l:u8 (l % 0xE0) chars, c:u16le  the l chars repeated c times, at most
//!                                                             MEDIUM_STRING_BYTES in all
//!             0xFF            l:u8 (l % 0xE0) chars, c:i16le  the l chars repeated to reach
//!                                                             MAX_VALUE_BYTES + c bytes (rounded up):
//!                                                             the truncation boundary; once per
//!                                                             record, later ones count as 0xF0
//! char    = b:u8, then
//!             b < 0x80        -                               the ASCII char b (controls included)
//!             0x80..=0xBF     -                               SPECIAL_CHARS[b - 0x80]
//!             0xC0..=0xFF     x:u16le                         U+((b & 0x3F) % 17 << 16 | x), U+FFFD if a surrogate
//! value   = t:u8, then by t % 10: null | bool (u8 & 1) | u64le | i64le | u128le | i128le
//!           | f64 bits (u64le) | SPECIAL_F64[u8] | str | EDGE_INTS[u8]
//! redact  = r:u8, then
//!             r & 0x80        -        the (r & 0x1F)-th key (context keys, then field keys),
//!                                      upper-cased if r & 0x40, padded with spaces if r & 0x20
//!             else            str      a literal entry
//! ```

use std::fmt;

use arbitrary::{Arbitrary, Unstructured};
use logkit::__fuzz::FieldValue;

/// Raw inputs longer than this are rejected before decoding (libFuzzer's default
/// `-max_len` is 4096; this only bounds what a regression file or `-max_len` can ask).
pub const MAX_INPUT_BYTES: usize = 64 << 10;

/// The longest string an ordinary repeat (header `0xF0..=0xFE`) expands to: long
/// enough for the escapers' word-at-a-time paths, short enough to keep thousands of
/// executions a second.
pub const MEDIUM_STRING_BYTES: usize = 8 << 10;

/// The longest single string a record input expands to (header `0xFF`, one per
/// record): past logkit's [`MAX_VALUE_BYTES`](logkit::MAX_VALUE_BYTES), so the
/// truncation path is reached. Such an input takes seconds under AddressSanitizer, so
/// the fuzz target skips it unless [`HUGE_ENV`] is set (see [`RecordInput::has_huge`]);
/// the replayer always runs it.
pub const MAX_STRING_BYTES: usize = logkit::MAX_VALUE_BYTES + (32 << 10);

/// Set (to anything) to let the `json_record` fuzz target run inputs with a huge
/// string: `LOGKIT_FUZZ_HUGE=1 cargo fuzz run -s none json_record`.
pub const HUGE_ENV: &str = "LOGKIT_FUZZ_HUGE";

/// Whether [`HUGE_ENV`] is set (read once).
pub fn huge_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os(HUGE_ENV).is_some())
}

/// Record inputs whose strings expand to more than this in total are rejected (with
/// one huge string per record this is never reached by decoded bytes; it bounds
/// hand-built inputs).
pub const MAX_TOTAL_BYTES: usize = 2 * logkit::MAX_VALUE_BYTES;

/// Strings one header byte away: the keys the renderers treat specially, redaction and
/// injection classics.
pub const WORDS: [&str; 16] = [
    "",
    "timestamp",
    "level",
    "event",
    "target",
    "trace_id",
    "span_id",
    "parent_span_id",
    "END",
    "span",
    "dur_ms",
    "status",
    "success",
    "password",
    "4bf92f3577b34da6a3ce929d0e0e4736",
    "\u{1b}[31mred\u{1b}[0m\n{\"event\":\"forged\"}\r\n",
];

/// Characters one byte away: everything the escapers single out (C1 controls, U+2028/9,
/// the bidi controls), their UTF-8 neighbours (same lead byte, not escaped), other
/// invisible or spacing characters, and multi-byte characters of every width.
#[rustfmt::skip]
pub const SPECIAL_CHARS: [char; 64] = [
    '\u{80}', '\u{85}', '\u{9b}', '\u{9f}', '\u{a0}', '\u{ad}', '\u{bf}', '\u{c0}', // C1 and after
    '\u{2028}', '\u{2029}', '\u{2027}', '\u{202f}', '\u{2000}', '\u{2fff}', '\u{2010}', '\u{205f}', // 0xE2 lead
    '\u{61c}', '\u{600}', '\u{61b}', '\u{61d}', '\u{63f}', '\u{640}', '\u{5ff}', '\u{6dd}', // 0xD8 lead
    '\u{200e}', '\u{200f}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', // bidi
    '\u{2067}', '\u{2068}', '\u{2069}', '\u{2065}', '\u{206a}', '\u{200b}', '\u{200d}', '\u{2060}', // bidi, ZW
    '\u{feff}', '\u{fffd}', '\u{ffff}', '\u{d7ff}', '\u{e000}', '\u{10ffff}', '\u{3000}', '\u{1680}', // misc
    '\u{180e}', '\u{301}', '\u{e9}', '\u{df}', '\u{20ac}', '\u{1f600}', '\u{1f468}', '\u{e0001}', // letters, emoji
    '\u{1b}', '\u{7f}', '"', '\\', '\n', '\r', '\u{0}', '=', // ASCII that matters (also reachable directly)
];

/// Floats one byte away (taken modulo the length).
pub const SPECIAL_F64: [u64; 24] = [
    0x7ff8_0000_0000_0000, // NaN
    0xfff8_0000_0000_0000, // -NaN
    0x7ff0_0000_0000_0001, // signalling NaN
    0x7ff0_0000_0000_0000, // inf
    0xfff0_0000_0000_0000, // -inf
    0x8000_0000_0000_0000, // -0.0
    0x0000_0000_0000_0000, // 0.0
    0x0000_0000_0000_0001, // smallest subnormal
    0x000f_ffff_ffff_ffff, // largest subnormal
    0x0010_0000_0000_0000, // MIN_POSITIVE
    0x7fef_ffff_ffff_ffff, // MAX
    0xffef_ffff_ffff_ffff, // MIN
    0x3ee4_f8b5_88e3_68f1, // 1e-5 (the short-decimal fast path starts here)
    0x3ee4_f8b5_88e3_68f0, // just below 1e-5
    0x41cd_cd65_0000_0000, // 1e9 (where it ends)
    0x41cd_cd64_ffff_ffff, // just below 1e9
    0x3fb9_9999_9999_999a, // 0.1
    0x3fd5_5555_5555_5555, // 1/3
    0x4340_0000_0000_0000, // 2^53
    0x4340_0000_0000_0001, // 2^53 + 2
    0x4341_c379_37e0_8000, // 1e16
    0x3ff0_0000_0000_0001, // 1 + ulp
    0xc08f_4000_0000_0000, // -1000.0
    0x4093_4a45_6d5c_fab0, // 1234.5678
];

/// Integers one byte away (taken modulo the length).
pub const EDGE_INTS: [Val; 16] = [
    Val::U64(0),
    Val::U64(u64::MAX),
    Val::I64(i64::MIN),
    Val::I64(-1),
    Val::I64(i64::MAX),
    Val::U64(1 << 53),
    Val::U64((1 << 53) + 1),
    Val::U128(u128::MAX),
    Val::U128(u64::MAX as u128 + 1),
    Val::I128(i128::MIN),
    Val::I128(i128::MAX),
    Val::I128(i64::MIN as i128 - 1),
    Val::I128(0),
    Val::U128(0),
    Val::I64(0),
    Val::U64(10_000_000_000_000_000_000),
];

/// A string of a record input: kept as written so a reproducer can print a huge one
/// as `.repeat(n)`.
#[derive(Clone, PartialEq, Eq)]
pub enum Str {
    /// The string itself.
    Lit(String),
    /// `WORDS[i]`.
    Word(u8),
    /// `unit` repeated `times` times.
    Repeat {
        /// The repeated part.
        unit: String,
        /// How many times.
        times: u32,
    },
}

impl Str {
    /// A literal.
    pub fn lit(s: &str) -> Str {
        Str::Lit(s.to_owned())
    }

    /// The expanded length in bytes.
    pub fn len(&self) -> usize {
        match self {
            Str::Lit(s) => s.len(),
            Str::Word(i) => WORDS[usize::from(*i) % WORDS.len()].len(),
            Str::Repeat { unit, times } => unit.len() * *times as usize,
        }
    }

    /// Whether [`Str::len`] is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The string.
    pub fn expand(&self) -> String {
        match self {
            Str::Lit(s) => s.clone(),
            Str::Word(i) => WORDS[usize::from(*i) % WORDS.len()].to_owned(),
            Str::Repeat { unit, times } => unit.repeat(*times as usize),
        }
    }
}

impl fmt::Debug for Str {
    /// A Rust expression for the string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Str::Lit(s) => write!(f, "{s:?}"),
            Str::Word(_) => write!(f, "{:?}", self.expand()),
            Str::Repeat { unit, times } => write!(f, "{unit:?}.repeat({times})"),
        }
    }
}

/// A field or context value of a record input: logkit's value type, with the input's
/// strings (nested JSON is never generated).
pub type Val = FieldValue<Str>;

/// Whether two values are the same input: floats by their bits (so NaN payloads and
/// -0.0 count, and a NaN equals itself).
fn same_value(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (FieldValue::F64(x), FieldValue::F64(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

/// The value as logkit's fuzz entry point takes it.
pub fn to_fuzz_value(v: &Val) -> FieldValue<String> {
    v.map_str(Str::expand)
}

fn expanded_len(v: &Val) -> usize {
    match v {
        FieldValue::Str(s) | FieldValue::Json(s) => s.len(),
        _ => 0,
    }
}

/// A value as the Rust expression of the `FieldValue` it gives logkit.
struct Expr<'a>(&'a Val);

impl fmt::Debug for Expr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            FieldValue::Null => write!(f, "FieldValue::Null"),
            FieldValue::Bool(b) => write!(f, "FieldValue::Bool({b})"),
            FieldValue::U64(x) => write!(f, "FieldValue::U64({x})"),
            FieldValue::I64(x) => write!(f, "FieldValue::I64({x})"),
            FieldValue::U128(x) => write!(f, "FieldValue::U128({x})"),
            FieldValue::I128(x) => write!(f, "FieldValue::I128({x})"),
            FieldValue::F64(x) => write!(f, "FieldValue::F64(f64::from_bits({:#018x}) /* {x:?} */)", x.to_bits()),
            FieldValue::Str(s) => write!(f, "FieldValue::Str({s:?}.to_owned())"),
            FieldValue::Json(s) => write!(f, "FieldValue::Json({s:?}.to_owned())"),
        }
    }
}

/// One `LOG_REDACT` entry of a record input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redact {
    /// A literal entry.
    Lit(Str),
    /// A copy of one of the record's keys (so redaction is actually exercised).
    CopyKey {
        /// Index into the context keys followed by the field keys (modulo their count).
        index: u8,
        /// ASCII upper-cased (matching is ASCII case-insensitive).
        upper: bool,
        /// Surrounded by spaces (entries are trimmed).
        pad: bool,
    },
}

/// The `json_record` target's input: one record to encode and render.
#[derive(Clone)]
pub struct RecordInput {
    /// Nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// The record's target.
    pub target: Str,
    /// The message.
    pub message: Str,
    /// Bound context entries.
    pub context: Vec<(Str, Val)>,
    /// The record's fields.
    pub fields: Vec<(Str, Val)>,
    /// `LOG_REDACT` entries.
    pub redact: Vec<Redact>,
}

/// A plain record: what [`RecordInput`] expands to and what
/// [`checks::json_record`](super::checks::json_record) checks.
#[derive(Clone, Debug)]
pub struct Record {
    /// Nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// The record's target.
    pub target: String,
    /// The message.
    pub message: String,
    /// Bound context entries.
    pub context: Vec<(String, FieldValue<String>)>,
    /// The record's fields.
    pub fields: Vec<(String, FieldValue<String>)>,
    /// `LOG_REDACT` entries.
    pub redact: Vec<String>,
}

impl PartialEq for RecordInput {
    fn eq(&self, o: &RecordInput) -> bool {
        let same = |a: &[(Str, Val)], b: &[(Str, Val)]| {
            a.len() == b.len() && a.iter().zip(b).all(|((ka, va), (kb, vb))| ka == kb && same_value(va, vb))
        };
        self.timestamp_ns == o.timestamp_ns
            && self.target == o.target
            && self.message == o.message
            && same(&self.context, &o.context)
            && same(&self.fields, &o.fields)
            && self.redact == o.redact
    }
}

/// Reads the format from the front; 0 past the end.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    /// Whether the record's one huge string was read.
    huge: bool,
}

impl Reader<'_> {
    fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0u8; N];
        for b in &mut a {
            *b = self.u8();
        }
        a
    }

    fn char(&mut self) -> char {
        match self.u8() {
            b @ 0..=0x7F => char::from(b),
            b @ 0x80..=0xBF => SPECIAL_CHARS[usize::from(b - 0x80)],
            b => {
                let plane = u32::from(b & 0x3F) % 17;
                let low = u32::from(u16::from_le_bytes(self.array()));
                char::from_u32(plane << 16 | low).unwrap_or('\u{fffd}')
            }
        }
    }

    fn chars(&mut self, n: usize) -> String {
        (0..n).map(|_| self.char()).collect()
    }

    fn str(&mut self) -> Str {
        match self.u8() {
            h @ 0..=0xDF => Str::Lit(self.chars(usize::from(h))),
            h @ 0xE0..=0xEF => Str::Word(h - 0xE0),
            h => {
                let l = usize::from(self.u8() % 0xE0);
                let unit = self.chars(l);
                let c: [u8; 2] = self.array();
                let len = unit.len().max(1);
                let times = if h == 0xFF && !self.huge {
                    self.huge = true;
                    let bytes = logkit::MAX_VALUE_BYTES as i64 + i64::from(i16::from_le_bytes(c));
                    (bytes as usize).div_ceil(len).min(MAX_STRING_BYTES / len)
                } else {
                    usize::from(u16::from_le_bytes(c)).min(MEDIUM_STRING_BYTES / len)
                };
                Str::Repeat { times: if unit.is_empty() { 0 } else { times as u32 }, unit }
            }
        }
    }

    fn val(&mut self) -> Val {
        match self.u8() % 10 {
            0 => Val::Null,
            1 => Val::Bool(self.u8() & 1 == 1),
            2 => Val::U64(u64::from_le_bytes(self.array())),
            3 => Val::I64(i64::from_le_bytes(self.array())),
            4 => Val::U128(u128::from_le_bytes(self.array())),
            5 => Val::I128(i128::from_le_bytes(self.array())),
            6 => Val::F64(f64::from_bits(u64::from_le_bytes(self.array()))),
            7 => Val::F64(f64::from_bits(SPECIAL_F64[usize::from(self.u8()) % SPECIAL_F64.len()])),
            8 => Val::Str(self.str()),
            _ => EDGE_INTS[usize::from(self.u8()) % EDGE_INTS.len()].clone(),
        }
    }

    fn redact(&mut self) -> Redact {
        let r = self.u8();
        if r & 0x80 != 0 {
            Redact::CopyKey { index: r & 0x1F, upper: r & 0x40 != 0, pad: r & 0x20 != 0 }
        } else {
            Redact::Lit(self.str())
        }
    }
}

/// Writes the format (the inverse of [`Reader`] for every input it produces).
struct Writer(Vec<u8>);

impl Writer {
    fn char(&mut self, c: char) {
        let cp = u32::from(c);
        if cp < 0x80 {
            self.0.push(cp as u8);
        } else if let Some(i) = SPECIAL_CHARS[..56].iter().position(|&s| s == c) {
            self.0.push(0x80 + i as u8);
        } else {
            self.0.push(0xC0 | (cp >> 16) as u8);
            self.0.extend_from_slice(&(cp as u16).to_le_bytes());
        }
    }

    fn chars(&mut self, s: &str) {
        for c in s.chars() {
            self.char(c);
        }
    }

    /// Writes `s`; `None` if the format cannot express it (a literal over 223 chars, a
    /// repeat past the limits above).
    fn str(&mut self, s: &Str) -> Option<()> {
        match s {
            Str::Lit(s) => {
                let n = s.chars().count();
                self.0.push(u8::try_from(n).ok().filter(|&n| n < 0xE0)?);
                self.chars(s);
            }
            Str::Word(i) => self.0.push(0xE0 + i % 16),
            Str::Repeat { unit, times } => {
                let bytes = unit.len() * *times as usize;
                let medium = u16::try_from(*times).ok().filter(|_| bytes <= MEDIUM_STRING_BYTES);
                let c = match medium {
                    Some(c) => {
                        self.0.push(0xF0);
                        c.to_le_bytes()
                    }
                    None => {
                        self.0.push(0xFF);
                        i16::try_from(bytes as i64 - logkit::MAX_VALUE_BYTES as i64).ok()?.to_le_bytes()
                    }
                };
                let n = unit.chars().count();
                self.0.push(u8::try_from(n).ok().filter(|&n| n < 0xE0)?);
                self.chars(unit);
                self.0.extend_from_slice(&c);
            }
        }
        Some(())
    }

    fn val(&mut self, v: &Val) -> Option<()> {
        match v {
            Val::Null => self.0.push(0),
            Val::Bool(b) => self.0.extend_from_slice(&[1, u8::from(*b)]),
            Val::U64(x) => {
                self.0.push(2);
                self.0.extend_from_slice(&x.to_le_bytes());
            }
            Val::I64(x) => {
                self.0.push(3);
                self.0.extend_from_slice(&x.to_le_bytes());
            }
            Val::U128(x) => {
                self.0.push(4);
                self.0.extend_from_slice(&x.to_le_bytes());
            }
            Val::I128(x) => {
                self.0.push(5);
                self.0.extend_from_slice(&x.to_le_bytes());
            }
            Val::F64(x) => {
                self.0.push(6);
                self.0.extend_from_slice(&x.to_bits().to_le_bytes());
            }
            Val::Str(s) => {
                self.0.push(8);
                self.str(s)?;
            }
            // The format has no nested JSON.
            Val::Json(_) => return None,
        }
        Some(())
    }
}

impl RecordInput {
    /// Decodes raw fuzzer bytes; `None` for inputs over [`MAX_INPUT_BYTES`] or that
    /// expand to more than [`MAX_TOTAL_BYTES`].
    pub fn from_bytes(data: &[u8]) -> Option<RecordInput> {
        if data.len() > MAX_INPUT_BYTES {
            return None;
        }
        let mut r = Reader { data, pos: 0, huge: false };
        let timestamp_ns = u64::from_le_bytes(r.array());
        let target = r.str();
        let message = r.str();
        let n = r.u8() % 8;
        let context = (0..n).map(|_| (r.str(), r.val())).collect();
        let n = r.u8() % 16;
        let fields = (0..n).map(|_| (r.str(), r.val())).collect();
        let n = r.u8() % 4;
        let redact = (0..n).map(|_| r.redact()).collect();
        let input = RecordInput { timestamp_ns, target, message, context, fields, redact };
        (input.expanded_len() <= MAX_TOTAL_BYTES).then_some(input)
    }

    /// Encodes the input so that [`RecordInput::from_bytes`] gives it back; `None` if
    /// the format cannot express it (see the module docs for its limits).
    pub fn to_bytes(&self) -> Option<Vec<u8>> {
        let mut w = Writer(Vec::new());
        w.0.extend_from_slice(&self.timestamp_ns.to_le_bytes());
        w.str(&self.target)?;
        w.str(&self.message)?;
        for (list, limit) in [(&self.context, 8), (&self.fields, 16)] {
            w.0.push(u8::try_from(list.len()).ok().filter(|&n| n < limit)?);
            for (k, v) in list {
                w.str(k)?;
                w.val(v)?;
            }
        }
        w.0.push(u8::try_from(self.redact.len()).ok().filter(|&n| n < 4)?);
        for r in &self.redact {
            match r {
                Redact::Lit(s) => {
                    w.0.push(0);
                    w.str(s)?;
                }
                Redact::CopyKey { index, upper, pad } => {
                    w.0.push(0x80 | (index & 0x1F) | if *upper { 0x40 } else { 0 } | if *pad { 0x20 } else { 0 })
                }
            }
        }
        Some(w.0)
    }

    /// The total length of every string the input expands to.
    pub fn expanded_len(&self) -> usize {
        let entries = self.context.iter().chain(&self.fields);
        let redact: usize = self.redact.iter().map(|r| if let Redact::Lit(s) = r { s.len() } else { 0 }).sum();
        self.target.len() + self.message.len() + entries.map(|(k, v)| k.len() + expanded_len(v)).sum::<usize>() + redact
    }

    /// Whether a string expands past [`MEDIUM_STRING_BYTES`] (only a `0xFF` repeat can).
    pub fn has_huge(&self) -> bool {
        let entries = self.context.iter().chain(&self.fields);
        let values = entries.flat_map(|(k, v)| [Some(k), if let Val::Str(s) = v { Some(s) } else { None }]);
        let redact = self.redact.iter().map(|r| if let Redact::Lit(s) = r { Some(s) } else { None });
        [Some(&self.target), Some(&self.message)]
            .into_iter()
            .chain(values)
            .chain(redact)
            .flatten()
            .any(|s| s.len() > MEDIUM_STRING_BYTES)
    }

    /// The keys a [`Redact::CopyKey`] picks from.
    fn keys(&self) -> Vec<&Str> {
        self.context.iter().chain(&self.fields).map(|(k, _)| k).collect()
    }

    /// The `LOG_REDACT` entries as strings.
    pub fn redact_entries(&self) -> Vec<String> {
        let keys = self.keys();
        self.redact
            .iter()
            .map(|r| match r {
                Redact::Lit(s) => s.expand(),
                Redact::CopyKey { index, upper, pad } => {
                    let mut k = keys.get(usize::from(*index) % keys.len().max(1)).map_or(String::new(), |k| k.expand());
                    if *upper {
                        k.make_ascii_uppercase();
                    }
                    if *pad {
                        k = format!(" {k}\t");
                    }
                    k
                }
            })
            .collect()
    }

    /// The plain record.
    pub fn to_record(&self) -> Record {
        let entries = |list: &[(Str, Val)]| list.iter().map(|(k, v)| (k.expand(), to_fuzz_value(v))).collect();
        Record {
            timestamp_ns: self.timestamp_ns,
            target: self.target.expand(),
            message: self.message.expand(),
            context: entries(&self.context),
            fields: entries(&self.fields),
            redact: self.redact_entries(),
        }
    }
}

impl fmt::Debug for RecordInput {
    /// A Rust reproducer: the call to logkit's fuzz entry point (check its output with
    /// `logkit_fuzz::checks::json_record`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "// use logkit::__fuzz::{{render, FieldValue}};")?;
        writeln!(f, "render(")?;
        writeln!(f, "    {},", self.timestamp_ns)?;
        writeln!(f, "    &{:?},", self.target)?;
        writeln!(f, "    &{:?},", self.message)?;
        for list in [&self.context, &self.fields] {
            writeln!(f, "    &[")?;
            for (k, v) in list {
                writeln!(f, "        ({k:?}.to_owned(), {:?}),", Expr(v))?;
            }
            writeln!(f, "    ],")?;
        }
        writeln!(f, "    &{:?},", self.redact_entries())?;
        write!(f, ")")
    }
}

impl<'a> Arbitrary<'a> for RecordInput {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<RecordInput> {
        let n = u.len();
        RecordInput::from_bytes(u.bytes(n)?).ok_or(arbitrary::Error::IncorrectFormat)
    }

    fn arbitrary_take_rest(u: Unstructured<'a>) -> arbitrary::Result<RecordInput> {
        RecordInput::from_bytes(u.take_rest()).ok_or(arbitrary::Error::IncorrectFormat)
    }
}

/// Defines a string input: the raw bytes as UTF-8 (lossy), with a `Debug` that prints
/// the call to reproduce.
macro_rules! text_input {
    ($(#[$doc:meta])* $name:ident, $call:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(pub String);

        impl $name {
            /// Decodes raw fuzzer bytes; `None` over [`MAX_INPUT_BYTES`].
            pub fn from_bytes(data: &[u8]) -> Option<$name> {
                (data.len() <= MAX_INPUT_BYTES).then(|| $name(String::from_utf8_lossy(data).into_owned()))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, $call, self.0)
            }
        }

        impl<'a> Arbitrary<'a> for $name {
            fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<$name> {
                let n = u.len();
                $name::from_bytes(u.bytes(n)?).ok_or(arbitrary::Error::IncorrectFormat)
            }

            fn arbitrary_take_rest(u: Unstructured<'a>) -> arbitrary::Result<$name> {
                $name::from_bytes(u.take_rest()).ok_or(arbitrary::Error::IncorrectFormat)
            }
        }
    };
}

text_input!(
    /// The `directives` target's input: a `LOG_LEVEL` value.
    DirectivesInput,
    "logkit::__fuzz::parse_directives({:?})"
);
text_input!(
    /// The `trace_ids` target's input: given to `TraceId::parse`, `SpanId::parse` and
    /// `TraceParent::parse`.
    TraceIdInput,
    "logkit::TraceParent::parse({:?}) // also TraceId::parse, SpanId::parse"
);
text_input!(
    /// The `env_knobs` target's input: a value given to every knob; also split at the
    /// first NUL into an arbitrary name and value.
    KnobInput,
    "logkit::__fuzz::check_knob(/* every knob */, {:?})"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_format_round_trips() {
        let input = RecordInput {
            timestamp_ns: 1_795_503_771_123_456_789,
            message: Str::Repeat { unit: "a\u{2028}😀".to_owned(), times: 3 << 4 },
            target: Str::Repeat { unit: "€".to_owned(), times: 0x5560 << 6 },
            context: vec![(Str::Word(5), Val::Str(Str::lit("4bf92f35"))), (Str::lit("k\u{0}"), Val::F64(0.0))],
            fields: vec![
                (Str::lit("\u{202e}x\u{10ffff}\u{fffd}"), Val::I128(i128::MIN)),
                (Str::lit("n"), Val::F64(f64::NAN)),
                (Str::lit("b"), Val::Bool(true)),
                (Str::lit("u"), Val::U128(u128::MAX)),
            ],
            redact: vec![Redact::CopyKey { index: 2, upper: true, pad: true }, Redact::Lit(Str::lit("PASS"))],
        };
        let bytes = input.to_bytes().unwrap();
        assert_eq!(RecordInput::from_bytes(&bytes).unwrap(), input);
    }

    #[test]
    fn every_byte_string_decodes() {
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        for len in 0..2000 {
            let data: Vec<u8> = (0..len % 300)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            if let Some(input) = RecordInput::from_bytes(&data) {
                let _ = format!("{input:?}");
                let _ = input.to_record();
            }
        }
    }
}
