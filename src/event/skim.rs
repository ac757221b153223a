//! Reading an event that needs no change straight from its line.
//!
//! Most lines a pipeline carries were written by sheepdog itself: current
//! schema, stamped, time in canonical form. Building the whole event (a
//! map of JSON values) only to write the same line out again was most of
//! what sd-store's reading thread and sd-recv spent on each event
//! (bench/BENCHMARKS.md). [`skim`] reads such a line's top level without
//! building anything below it, checks the fields sheepdog knows as
//! [`Event::parse`](crate::event::Event::parse) does, and keeps the line
//! itself. Whatever it is not sure of — an event of the earlier sheepdog,
//! a missing `v`, `id` or `time`, a time not in canonical form, a key
//! given twice, anything invalid — it leaves to `Event::parse`, which
//! decides and explains.

use crate::base::time;
use crate::event::{SCHEMA_VERSION, STRING_FIELDS, Status};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt::{self, Write};

/// What sheepdog reads of an event that needs no change.
#[derive(Debug, PartialEq)]
pub struct Skimmed<'a> {
    /// The event as it is: the line without white space around it.
    pub line: &'a str,
    /// Borrowed from `line` unless written with escapes.
    pub id: Cow<'a, str>,
    pub time_ms: i64,
    pub host: Option<Cow<'a, str>>,
    pub tag: Option<Cow<'a, str>>,
    pub kind: Option<Cow<'a, str>>,
    pub status: Option<Status>,
    pub code: Option<i64>,
    pub elapsed_ms: Option<i64>,
    pub facts: Option<Map<String, Value>>,
}

/// The line as an event that needs no change, or `None`: then
/// `Event::parse` must read it.
pub fn skim(line: &[u8], max_bytes: usize) -> Option<Skimmed<'_>> {
    match skim_for_stamping(line, max_bytes)? {
        Skim::Ready(event) => Some(event),
        Skim::Bare(_) => None,
    }
}

/// What a line turned out to be, read without building it.
#[derive(Debug, PartialEq)]
pub enum Skim<'a> {
    /// Current and stamped: it needs no change.
    Ready(Skimmed<'a>),
    /// Valid, but with none of `v`, `id`, `time` and `host` (and nothing
    /// of the earlier sheepdog): what a script writes. Stamping it only
    /// puts those four in front ([`stamp_bare`]); `id` is empty and
    /// `time_ms` 0 until then.
    Bare(Skimmed<'a>),
}

/// The line as an event that needs no change or only a stamp, or `None`:
/// then `Event::parse` must read it.
pub fn skim_for_stamping(line: &[u8], max_bytes: usize) -> Option<Skim<'_>> {
    if line.len() > max_bytes {
        return None;
    }
    let line = std::str::from_utf8(line)
        .ok()?
        .trim_matches([' ', '\t', '\r', '\n']);
    let TopLevel(fields) = serde_json::from_str(line).ok()?;
    let mut version = false;
    let mut skimmed = Skimmed {
        line,
        id: Cow::Borrowed(""),
        time_ms: 0,
        host: None,
        tag: None,
        kind: None,
        status: None,
        code: None,
        elapsed_ms: None,
        facts: None,
    };
    let mut time = false;
    // Any of the four a stamp writes, or the old verdict that marks an
    // event of the earlier sheepdog (legacy::is_legacy).
    let mut stamped_or_old = false;
    if has_duplicates(&fields) {
        return None;
    }
    for (key, raw) in &fields {
        let raw = raw.get();
        match key.as_ref() {
            "v" => {
                version = raw.parse() == Ok(SCHEMA_VERSION);
                stamped_or_old = true;
            }
            "id" => {
                skimmed.id = string(raw).filter(|id| !id.is_empty())?;
                stamped_or_old = true;
            }
            "time" => {
                skimmed.time_ms = time::parse_canonical_ms(&string(raw)?)?;
                time = true;
                stamped_or_old = true;
            }
            "status" => skimmed.status = Some(string(raw)?.parse().ok()?),
            "host" => {
                skimmed.host = Some(string(raw)?);
                stamped_or_old = true;
            }
            "err" => stamped_or_old = true,
            "tag" => skimmed.tag = Some(string(raw)?),
            "kind" => skimmed.kind = Some(string(raw)?),
            key if STRING_FIELDS.contains(&key) && !raw.starts_with('"') => return None,
            "code" => skimmed.code = Some(serde_json::from_str(raw).ok()?),
            "elapsed_ms" => {
                let elapsed: u64 = serde_json::from_str(raw).ok()?;
                skimmed.elapsed_ms = i64::try_from(elapsed).ok();
            }
            "cmd" => {
                serde_json::from_str::<Vec<Cow<str>>>(raw).ok()?;
            }
            "facts" => skimmed.facts = Some(serde_json::from_str(raw).ok()?),
            _ => {}
        }
    }
    if version && time && !skimmed.id.is_empty() {
        Some(Skim::Ready(skimmed))
    } else if !stamped_or_old {
        Some(Skim::Bare(skimmed))
    } else {
        None
    }
}

/// Whether a member name comes twice (left to the parser, which keeps
/// the last). Comparing each with those before it is quickest for the
/// dozen members of an event, and took 30 s for a line of 115,968 (a
/// hostile megabyte): past a few dozen, a set.
fn has_duplicates(fields: &[(Cow<'_, str>, &RawValue)]) -> bool {
    const SMALL: usize = 32;
    if fields.len() <= SMALL {
        return fields
            .iter()
            .enumerate()
            .any(|(n, (key, _))| fields[..n].iter().any(|(seen, _)| seen == key));
    }
    let mut seen = std::collections::HashSet::with_capacity(fields.len());
    !fields.iter().all(|(key, _)| seen.insert(key.as_ref()))
}

/// A bare line ([`Skim::Bare`]) stamped as `Event::stamp` does it: `v`,
/// `id`, `time` and `host` first, every other member as it was written.
/// Writing four members in front costs a copy of the line; parsing it
/// into a map and writing that out again cost most of sd-bark's time.
pub fn stamp_bare(event: &Skimmed<'_>, id: &str, time_ms: i64, host: &str) -> String {
    let line = event.line;
    // A skimmed line is an object without white space around it.
    let members = line[1..].trim_start_matches([' ', '\t', '\r', '\n']);
    let mut stamped = String::with_capacity(line.len() + 96);
    // Writing into a String cannot fail.
    let _ = write!(stamped, "{{\"v\":{SCHEMA_VERSION}");
    for (key, value) in [
        ("id", id),
        ("time", &formatted_time(time_ms)),
        ("host", host),
    ] {
        stamped.push_str(",\"");
        stamped.push_str(key);
        stamped.push_str("\":");
        push_json_string(&mut stamped, value);
    }
    if !members.starts_with('}') {
        stamped.push(',');
    }
    stamped.push_str(members);
    stamped
}

/// `value` as a JSON string; most need no escape (an id, a time, a host
/// name) and are copied as they are.
fn push_json_string(out: &mut String, value: &str) {
    if value.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        // A string always serialises.
        out.push_str(&serde_json::to_string(value).unwrap_or_default());
    } else {
        out.push('"');
        out.push_str(value);
        out.push('"');
    }
}

/// [`time::format_ms`], remembered for the last millisecond: a stream of
/// events is stamped many to the millisecond.
fn formatted_time(ms: i64) -> std::rc::Rc<str> {
    thread_local! {
        static LAST: std::cell::RefCell<(i64, std::rc::Rc<str>)> =
            std::cell::RefCell::new((i64::MIN, "".into()));
    }
    LAST.with_borrow_mut(|(last_ms, text)| {
        if *last_ms != ms {
            *last_ms = ms;
            *text = time::format_ms(ms).into();
        }
        text.clone()
    })
}

/// A JSON string's value; text without escapes is borrowed as it is.
fn string(raw: &str) -> Option<Cow<'_, str>> {
    if raw.len() >= 2 && raw.starts_with('"') && !raw.contains('\\') {
        // Valid JSON (the parser checked it): no quote or control
        // character inside.
        return Some(Cow::Borrowed(&raw[1..raw.len() - 1]));
    }
    serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
}

/// An object's members in order, each value left as its JSON text.
struct TopLevel<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for TopLevel<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(Members)
    }
}

struct Members;

impl<'de> Visitor<'de> for Members {
    type Value = TopLevel<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel<'de>, A::Error> {
        let mut members = Vec::with_capacity(16);
        while let Some(Key(key)) = map.next_key()? {
            members.push((key, map.next_value()?));
        }
        Ok(TopLevel(members))
    }
}

/// A member's name, borrowed from the line unless it has escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Name;
        impl<'de> Visitor<'de> for Name {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, name: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(name)))
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(name.to_string())))
            }
        }
        deserializer.deserialize_str(Name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzzing::skim_agrees;

    fn agrees(line: &str) -> bool {
        skim_agrees(line.as_bytes())
    }

    #[test]
    fn a_line_sheepdog_wrote_is_taken_as_it_is() {
        let line = r#"{"v":1,"id":"01J","time":"2026-11-20T02:00:01.000Z","host":"tux","tag":"web","kind":"heartbeat","status":"fail","code":2,"elapsed_ms":12,"msg":"down","cmd":["a","b"],"x":{"y":[1.50]}}"#;
        assert!(agrees(line));
        let padded = format!("  {line}\r");
        assert_eq!(skim(padded.as_bytes(), usize::MAX).unwrap().line, line);
        assert!(agrees(
            r#"{"v":1,"id":"f","time":"2026-11-20T02:00:01.000Z","facts":{"mem_total_bytes":2147483648,"pkg.nginx":"1.24.0-2"}}"#
        ));
        assert!(agrees(
            r#"{"v":1,"id":"\u0041","time":"2026-11-20T02:00:01.000Z","tag":"a\"b","status":"o\u006b"}"#
        ));
    }

    #[test]
    fn a_line_a_script_wrote_is_stamped_as_text() {
        let bare = |line: &'static str| match skim_for_stamping(line.as_bytes(), usize::MAX) {
            Some(Skim::Bare(event)) => event,
            other => panic!("not bare: {line}: {other:?}"),
        };
        let event = bare(r#" {"tag":"backup","status":"fail","x":{"v":1}}"#);
        assert_eq!(event.tag.as_deref(), Some("backup"));
        assert_eq!(event.status, Some(Status::Fail));
        assert_eq!(
            stamp_bare(&event, "01J", 1_763_604_001_000, "t\"ux"),
            r#"{"v":1,"id":"01J","time":"2025-11-20T02:00:01.000Z","host":"t\"ux","tag":"backup","status":"fail","x":{"v":1}}"#
        );
        assert_eq!(
            stamp_bare(&bare("{ }"), "01J", 0, "h"),
            r#"{"v":1,"id":"01J","time":"1970-01-01T00:00:00.000Z","host":"h"}"#
        );
        assert_eq!(
            stamp_bare(&bare(r#"{ "tag" : "a" }"#), "01J", 0, "h"),
            r#"{"v":1,"id":"01J","time":"1970-01-01T00:00:00.000Z","host":"h","tag" : "a" }"#
        );
        for line in [
            r#"{"tag":"x","msg":"caf\u00e9 \"q\""}"#,
            r#"{"tag":"x","n":1.50,"big":123456789012345678901234567890}"#,
            "{}",
        ] {
            assert!(!agrees(line), "{line}");
        }
        // Stamped in part, or written by the earlier sheepdog: parsed.
        for line in [
            r#"{"host":"h","tag":"x"}"#,
            r#"{"tag":"x","time":"2026-11-20T02:00:01.000Z"}"#,
            r#"{"tag":"x","status":0}"#,
            r#"{"tag":"x","err":"SUCCESS"}"#,
            r#"{"tag":"x","code":"2"}"#,
        ] {
            assert!(
                skim_for_stamping(line.as_bytes(), usize::MAX).is_none(),
                "{line}"
            );
        }
    }

    #[test]
    fn anything_else_is_left_to_the_parser() {
        for line in [
            // Needs stamping, or a canonical time, or is not current.
            r#"{"id":"a","time":"2026-11-20T02:00:01.000Z"}"#,
            r#"{"v":1,"time":"2026-11-20T02:00:01.000Z"}"#,
            r#"{"v":1,"id":"a"}"#,
            r#"{"v":1,"id":"a","time":"2026-11-20T03:00:01+01:00"}"#,
            r#"{"v":2,"id":"a","time":"2026-11-20T02:00:01.000Z"}"#,
            r#"{"v":1.0,"id":"a","time":"2026-11-20T02:00:01.000Z"}"#,
            r#"{"v":1,"id":"","time":"2026-11-20T02:00:01.000Z"}"#,
            r#"{"time":"2026-11-20 03:00:01 +0100","host":"h","tag":"t","status":0,"err":"SUCCESS"}"#,
            // A key twice, wrong types, invalid JSON, not an object.
            r#"{"v":1,"id":"a","id":"b","time":"2026-11-20T02:00:01.000Z"}"#,
            r#"{"v":1,"id":"a","time":"2026-11-20T02:00:01.000Z","x":1,"x":2}"#,
            r#"{"v":1,"id":"a","time":"2026-11-20T02:00:01.000Z","status":"bad"}"#,
            r#"{"v":1,"id":"a","time":"2026-11-20T02:00:01.000Z","code":"2"}"#,
            r#"{"v":1,"id":"a","time":"2026-11-20T02:00:01.000Z","code":1.5}"#,
            r#"{"v":1,"id":"a","time":"2026-11-20T02:00:01.000Z","elapsed_ms":-1}"#,
            r#"{"v":1,"id":"a","time":"2026-11-20T02:00:01.000Z","msg":3}"#,
            r#"{"v":1,"id":"a","time":"2026-11-20T02:00:01.000Z","cmd":["a",1]}"#,
            r#"{"v":1,"id":"a","time":"2026-11-20T02:00:01.000Z","facts":[]}"#,
            r#"{"v":1,"id":"a","time":"2026-11-20T02:00:01.000Z""#,
            r#"{"v":1,"id":"a","time":"2026-11-20T02:00:01.000Z"} x"#,
            r#"[1]"#,
            "",
        ] {
            assert!(!agrees(line), "skimmed {line}");
            // Declined, not taken as a bare line to stamp either: `skim`
            // alone returns None for both.
            assert_eq!(
                skim_for_stamping(line.as_bytes(), usize::MAX),
                None,
                "{line}"
            );
        }
        assert!(skim(b"{\"v\":1,\"id\":\"\xff\"}", usize::MAX).is_none());
        let line = r#"{"v":1,"id":"a","time":"2026-11-20T02:00:01.000Z"}"#;
        assert!(skim(line.as_bytes(), line.len()).is_some());
        assert!(skim(line.as_bytes(), line.len() - 1).is_none());
    }
}
