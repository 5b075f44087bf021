//! Escaping for terminal output, with the console's rules: whatever a field holds, a
//! printed line stays one line and cannot drive the terminal. Control characters
//! (ESC included), DEL, C1 controls, U+2028/2029 and the bidi controls ("Trojan
//! Source") are written as `\n`, `\u001b`, `\u202e`, ...

/// Whether `c` must be escaped in terminal text.
#[inline]
pub fn is_unsafe(c: char) -> bool {
    matches!(c, '\0'..='\x1f' | '\x7f'..='\u{9f}' | '\u{2028}' | '\u{2029}') || is_bidi_control(c)
}

/// The characters that reorder displayed text.
#[inline]
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn push_escape(out: &mut String, c: char) {
    match c {
        '\u{8}' => out.push_str("\\b"),
        '\t' => out.push_str("\\t"),
        '\n' => out.push_str("\\n"),
        '\u{c}' => out.push_str("\\f"),
        '\r' => out.push_str("\\r"),
        _ => out.push_str(&format!("\\u{:04x}", c as u32)),
    }
}

/// Appends `s` with every unsafe character escaped; `"` and `\` kept.
pub fn text(out: &mut String, s: &str) {
    if !s.chars().any(is_unsafe) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        if is_unsafe(c) {
            push_escape(out, c);
        } else {
            out.push(c);
        }
    }
}

/// Appends `s` as a quoted string: `"` and `\` escaped too.
pub fn quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if is_unsafe(c) => push_escape(out, c),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `s` as terminal text.
pub fn text_of(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    text(&mut out, s);
    out
}

/// Whether `s` can be written without quotes: non-empty, only printable non-space
/// characters, no `"`, `=` or `\`, and nothing unsafe.
pub fn is_bare(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| match c {
            '!'..='~' => !matches!(c, '"' | '=' | '\\'),
            '\0'..='\u{7f}' => false,
            _ => !c.is_control() && !c.is_whitespace() && !is_bidi_control(c),
        })
}

/// SGR colour codes: the only ESC bytes this crate writes.
pub const RESET: &str = "\x1b[0m";
pub const DIM: &str = "\x1b[2m";
pub const BOLD: &str = "\x1b[1m";
pub const RED_BOLD: &str = "\x1b[1;31m";
pub const RED: &str = "\x1b[31m";
pub const YELLOW: &str = "\x1b[33m";
pub const GREEN: &str = "\x1b[32m";
pub const BLUE: &str = "\x1b[34m";
pub const MAGENTA: &str = "\x1b[35m";

/// Appends `s` (already safe) in `style` when `color`.
pub fn paint(out: &mut String, color: bool, style: &str, s: &str) {
    if color {
        out.push_str(style);
        out.push_str(s);
        out.push_str(RESET);
    } else {
        out.push_str(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_characters_are_escaped_and_quotes_kept_in_text() {
        assert_eq!(text_of("a\nb\u{1b}[0m\u{202e}\"\\"), "a\\nb\\u001b[0m\\u202e\"\\");
        let mut q = String::new();
        quoted(&mut q, "say \"hi\"\t\u{85}");
        assert_eq!(q, "\"say \\\"hi\\\"\\t\\u0085\"");
    }

    #[test]
    fn bare_values_are_plain_printable_words() {
        assert!(is_bare("plain-value/é"));
        for s in ["", "two words", "k=v", "q\"", "b\\", "\u{202e}", "tab\t"] {
            assert!(!is_bare(s), "{s:?}");
        }
    }
}
