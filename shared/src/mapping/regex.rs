//! jq 1.7 regular expressions (`test`, `match`, `capture`, `scan`, `split/2`, `sub`, `gsub`) on
//! `fancy-regex`, which supports the look-arounds Port's default mapping uses. Owns pattern
//! compilation (cached per thread), flag parsing and jq's match objects; not the jq definitions.

use std::cell::RefCell;
use std::collections::HashMap;

use fancy_regex::{Regex, RegexBuilder};
use jaq_json::{Map, Rc, Val};

/// Most distinct patterns kept compiled per thread; the cache is emptied when it is full.
const REGEX_CACHE_CAPACITY: usize = 256;
/// Backtracking budget per match, so a pathological pattern fails instead of hanging a worker.
const BACKTRACK_LIMIT: usize = 1_000_000;

thread_local! {
    /// Compiled patterns by pattern text, then by compile-relevant flags.
    static REGEX_CACHE: RefCell<HashMap<String, Vec<(u8, Regex)>>> = RefCell::new(HashMap::new());
}

/// jq's regex flags (`g`, `i`, `x`, `n`, `s`, `p`, `l`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegexFlags {
    /// `g`: every match, not only the first.
    pub global: bool,
    /// `n`: skip empty matches.
    pub skip_empty: bool,
    case_insensitive: bool,
    extended: bool,
    dot_matches_newline: bool,
}

impl RegexFlags {
    /// Parses jq's flag string (`null` means no flags).
    pub fn parse(flags: Option<&str>) -> Result<Self, String> {
        let mut parsed = Self::default();
        for flag in flags.unwrap_or("").chars() {
            match flag {
                'g' => parsed.global = true,
                'i' => parsed.case_insensitive = true,
                'x' => parsed.extended = true,
                'n' => parsed.skip_empty = true,
                'p' => parsed.dot_matches_newline = true,
                // `s` (single line: `^`/`$` anchor the whole string) is already the default
                // here; `l` (longest match) changes nothing for the patterns jq users write.
                's' | 'l' => {}
                _ => {
                    return Err(format!(
                        "{} is not a valid modifier string",
                        flags.unwrap_or("")
                    ));
                }
            }
        }
        Ok(parsed)
    }

    fn cache_key(&self) -> u8 {
        u8::from(self.case_insensitive)
            | u8::from(self.extended) << 1
            | u8::from(self.dot_matches_newline) << 2
    }
}

fn with_regex<T>(
    pattern: &str,
    flags: RegexFlags,
    f: impl FnOnce(&Regex) -> T,
) -> Result<T, String> {
    REGEX_CACHE.with(|cache| {
        let key = flags.cache_key();
        let mut cache = cache.borrow_mut();
        if let Some(regex) = cache
            .get(pattern)
            .and_then(|variants| variants.iter().find(|(k, _)| *k == key))
            .map(|(_, regex)| regex)
        {
            return Ok(f(regex));
        }
        let regex = RegexBuilder::new(&oniguruma_anchors(pattern))
            .case_insensitive(flags.case_insensitive)
            .verbose_mode(flags.extended)
            .dot_matches_new_line(flags.dot_matches_newline)
            .backtrack_limit(BACKTRACK_LIMIT)
            .build()
            .map_err(|e| format!("{pattern} (at offset 0) is not a valid regex: {e}"))?;
        if cache.len() >= REGEX_CACHE_CAPACITY {
            cache.clear();
        }
        let result = f(&regex);
        cache
            .entry(pattern.to_owned())
            .or_default()
            .push((key, regex));
        Ok(result)
    })
}

/// Rewrites the anchors whose meaning differs between Oniguruma (jq) and Rust: `$` and `\Z`
/// match at the end or before a final newline in jq; character classes are copied as they are.
fn oniguruma_anchors(pattern: &str) -> String {
    const END_OR_FINAL_NEWLINE: &str = r"(?=\n?\z)";
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    let mut class_depth = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('Z') if class_depth == 0 => out.push_str(END_OR_FINAL_NEWLINE),
                Some(escaped) => {
                    out.push('\\');
                    out.push(escaped);
                }
                None => out.push('\\'),
            },
            '[' => {
                class_depth += 1;
                out.push('[');
                // A `]` right after `[` or `[^` is a literal member of the class.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push(']');
                    chars.next();
                }
            }
            ']' if class_depth > 0 => {
                class_depth -= 1;
                out.push(']');
            }
            '$' if class_depth == 0 => out.push_str(END_OR_FINAL_NEWLINE),
            other => out.push(other),
        }
    }
    out
}

/// One capture group of a match, in byte offsets; `None` when the group did not take part.
#[derive(Debug, Clone)]
struct Group {
    span: Option<(usize, usize)>,
    name: Option<String>,
}

#[derive(Debug, Clone)]
struct RegexMatch {
    start: usize,
    end: usize,
    groups: Vec<Group>,
}

fn find_matches(text: &str, pattern: &str, flags: RegexFlags) -> Result<Vec<RegexMatch>, String> {
    with_regex(pattern, flags, |regex| {
        let names: Vec<Option<String>> = regex
            .capture_names()
            .skip(1)
            .map(|name| name.map(str::to_owned))
            .collect();
        let mut found = Vec::new();
        let mut position = 0;
        while position <= text.len() {
            let captures = regex
                .captures_from_pos(text, position)
                .map_err(|e| format!("regex failed on {text:?}: {e}"))?;
            let Some(captures) = captures else { break };
            let Some(whole) = captures.get(0) else { break };
            let (start, end) = (whole.start(), whole.end());
            if !(flags.skip_empty && start == end) {
                let groups = names
                    .iter()
                    .enumerate()
                    .map(|(index, name)| Group {
                        span: captures.get(index + 1).map(|m| (m.start(), m.end())),
                        name: name.clone(),
                    })
                    .collect();
                found.push(RegexMatch { start, end, groups });
                if !flags.global {
                    break;
                }
            }
            position = if end > start {
                end
            } else {
                end + text[end..].chars().next().map_or(1, char::len_utf8)
            };
        }
        Ok(found)
    })?
}

fn char_offset(text: &str, byte: usize) -> usize {
    text[..byte].chars().count()
}

fn string_val(s: &str) -> Val {
    Val::utf8_str(s.as_bytes().to_vec())
}

fn key(name: &str) -> Val {
    string_val(name)
}

fn match_object(text: &str, found: &RegexMatch) -> Val {
    let mut object = Map::default();
    let offset = char_offset(text, found.start);
    object.insert(key("offset"), Val::from(offset));
    object.insert(
        key("length"),
        Val::from(text[found.start..found.end].chars().count()),
    );
    object.insert(key("string"), string_val(&text[found.start..found.end]));
    let captures = found
        .groups
        .iter()
        .map(|group| {
            let mut capture = Map::default();
            match group.span {
                Some((start, end)) => {
                    capture.insert(key("offset"), Val::from(char_offset(text, start)));
                    capture.insert(key("length"), Val::from(text[start..end].chars().count()));
                    capture.insert(key("string"), string_val(&text[start..end]));
                }
                None => {
                    capture.insert(key("offset"), Val::from(-1isize));
                    capture.insert(key("length"), Val::from(0usize));
                    capture.insert(key("string"), Val::Null);
                }
            }
            capture.insert(
                key("name"),
                group.name.as_deref().map_or(Val::Null, string_val),
            );
            Val::obj(capture)
        })
        .collect::<Vec<_>>();
    object.insert(key("captures"), Val::Arr(Rc::new(captures)));
    Val::obj(object)
}

/// The named captures of a match as jq's `capture` object (`{name: string}`).
fn capture_object(text: &str, found: &RegexMatch) -> Val {
    let mut object = Map::default();
    for group in &found.groups {
        if let Some(name) = &group.name {
            let value = group
                .span
                .map_or(Val::Null, |(s, e)| string_val(&text[s..e]));
            object.insert(key(name), value);
        }
    }
    Val::obj(object)
}

/// jq's `_match_impl`: every match object (an array), or whether there is one (`test`).
pub fn match_impl(
    text: &str,
    pattern: &str,
    flags: Option<&str>,
    test: bool,
) -> Result<Val, String> {
    let mut flags = RegexFlags::parse(flags)?;
    if test {
        flags.global = false;
        return Ok(Val::Bool(!find_matches(text, pattern, flags)?.is_empty()));
    }
    let found = find_matches(text, pattern, flags)?;
    Ok(Val::Arr(Rc::new(
        found.iter().map(|m| match_object(text, m)).collect(),
    )))
}

/// `split($re; flags)`: the pieces between every match.
pub fn split(text: &str, pattern: &str, flags: Option<&str>) -> Result<Val, String> {
    let mut flags = RegexFlags::parse(flags)?;
    flags.global = true;
    let found = find_matches(text, pattern, flags)?;
    let mut pieces = Vec::with_capacity(found.len() + 1);
    let mut previous = 0;
    for m in &found {
        pieces.push(string_val(&text[previous..m.start]));
        previous = m.end;
    }
    pieces.push(string_val(&text[previous..]));
    Ok(Val::Arr(Rc::new(pieces)))
}

/// The parts `sub`/`gsub` put together: the unmatched text around the matches, and for each
/// match the capture object its replacement filter runs on.
pub enum SubstitutionPart {
    /// Text kept as is.
    Kept(String),
    /// A match, as the capture object the replacement runs on.
    Replaced(Val),
}

/// Splits the input of `sub(re; str; flags)` into kept text and matches.
pub fn substitution_parts(
    text: &str,
    pattern: &str,
    flags: Option<&str>,
) -> Result<Vec<SubstitutionPart>, String> {
    let flags = RegexFlags::parse(flags)?;
    let found = find_matches(text, pattern, flags)?;
    let mut parts = Vec::with_capacity(found.len() * 2 + 1);
    let mut previous = 0;
    for m in &found {
        parts.push(SubstitutionPart::Kept(text[previous..m.start].to_owned()));
        parts.push(SubstitutionPart::Replaced(capture_object(text, m)));
        previous = m.end;
    }
    parts.push(SubstitutionPart::Kept(text[previous..].to_owned()));
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(text: &str, pattern: &str, flags: &str) -> Vec<usize> {
        find_matches(
            text,
            pattern,
            RegexFlags::parse(Some(flags)).expect("flags"),
        )
        .expect("matches")
        .iter()
        .map(|m| char_offset(text, m.start))
        .collect()
    }

    #[test]
    fn global_empty_matches_advance_like_jq() {
        assert_eq!(offsets("ab", "", "g"), vec![0, 1, 2]);
        assert_eq!(offsets("baab", "a*", "g"), vec![0, 1, 3, 4]);
        assert_eq!(offsets("baab", "a*", "gn"), vec![1]);
    }

    #[test]
    fn look_ahead_is_supported() {
        assert_eq!(offsets("a]b]", r"\](?=[^$])", "g"), vec![1]);
    }

    #[test]
    fn dollar_matches_before_a_final_newline_like_oniguruma() {
        assert_eq!(offsets("a\nb\n", "b$", ""), vec![2]);
        assert_eq!(offsets("a]b$", r"\](?=[^$])", "g"), vec![1]);
        assert_eq!(oniguruma_anchors(r"[$]\$x\Z"), r"[$]\$x(?=\n?\z)");
    }

    #[test]
    fn unknown_flags_are_rejected() {
        assert!(RegexFlags::parse(Some("gq")).is_err());
    }
}
