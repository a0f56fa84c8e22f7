//! Bounded text: truncation that never splits a character, length as Security Hub counts it,
//! and the small formatting helpers the titles, descriptions and ProductFields share.

/// What a cut string ends with.
pub(super) const ELLIPSIS: char = '…';

/// The length of `s` in UTF-16 code units.
///
/// Security Hub's limits are JSON-schema string lengths. Counting UTF-16 units is never less than
/// counting characters, so a string within a limit here is within it however the service counts.
pub(super) fn text_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// `s` cut to at most `max` UTF-16 units, ending with `…` when anything was removed.
pub(super) fn truncate(s: &str, max: usize) -> String {
    if text_len(s) <= max {
        return s.to_owned();
    }
    let budget = max.saturating_sub(ELLIPSIS.len_utf16());
    let mut used = 0;
    let mut out = String::new();
    for c in s.chars() {
        used += c.len_utf16();
        if used > budget {
            break;
        }
        out.push(c);
    }
    if max >= ELLIPSIS.len_utf16() {
        out.push(ELLIPSIS);
    }
    out
}

/// True when `s` holds at least one non-whitespace character (ASFF's `.*\S.*`).
pub(super) fn has_text(s: &str) -> bool {
    s.chars().any(|c| !c.is_whitespace())
}

/// The value, unless absent or blank.
pub(super) fn non_blank(s: Option<&str>) -> Option<&str> {
    s.filter(|s| has_text(s))
}

/// A readable duration such as `12d 3h 5m`, `4h 0m` or `45s`.
pub(super) fn human_duration(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    let (days, hours, minutes) = (secs / 86_400, (secs / 3600) % 24, (secs / 60) % 60);
    if days > 0 {
        format!("{days}d {hours}h {minutes}m")
    } else if hours > 0 {
        format!("{hours}h {minutes}m")
    } else if minutes > 0 {
        format!("{minutes}m {}s", secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// `n` followed by the noun, pluralised with `s` when `n != 1`.
pub(super) fn count_of(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_limits_and_char_boundaries() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("abcdefghij", 5), "abcd…");
        let cut = truncate(&"é".repeat(100), 10);
        assert_eq!(cut.chars().count(), 10);
        assert!(cut.ends_with('…'));
        // An astral character counts two units and is never split.
        let cut = truncate(&"😀".repeat(10), 6);
        assert_eq!(cut, "😀😀…");
        assert!(text_len(&cut) <= 6);
    }

    #[test]
    fn blank_detection_and_durations() {
        assert!(!has_text(" \t\n"));
        assert_eq!(non_blank(Some("")), None);
        assert_eq!(non_blank(Some("x")), Some("x"));
        assert_eq!(human_duration(45_000), "45s");
        assert_eq!(human_duration(3 * 86_400_000 + 2 * 3_600_000), "3d 2h 0m");
        assert_eq!(count_of(1, "call"), "1 call");
        assert_eq!(count_of(3, "call"), "3 calls");
    }
}
