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

use crate::event::{SCHEMA_VERSION, STRING_FIELDS, Status};
use crate::time;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;

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
    for (n, (key, raw)) in fields.iter().enumerate() {
        if fields[..n].iter().any(|(seen, _)| seen == key) {
            return None;
        }
        let raw = raw.get();
        match key.as_ref() {
            "v" => version = raw.parse() == Ok(SCHEMA_VERSION),
            "id" => skimmed.id = string(raw).filter(|id| !id.is_empty())?,
            "time" => {
                skimmed.time_ms = time::parse_canonical_ms(&string(raw)?)?;
                time = true;
            }
            "status" => skimmed.status = Some(string(raw)?.parse().ok()?),
            "host" => skimmed.host = Some(string(raw)?),
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
    (version && time && !skimmed.id.is_empty()).then_some(skimmed)
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
        }
        assert!(skim(b"{\"v\":1,\"id\":\"\xff\"}", usize::MAX).is_none());
        let line = r#"{"v":1,"id":"a","time":"2026-11-20T02:00:01.000Z"}"#;
        assert!(skim(line.as_bytes(), line.len()).is_some());
        assert!(skim(line.as_bytes(), line.len() - 1).is_none());
    }
}
