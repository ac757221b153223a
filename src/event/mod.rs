//! The event: one JSON object on one line (docs/ARCHITECTURE.md §1).
//!
//! An [`Event`] is the object itself, fields in the order they arrived, so
//! fields sheepdog does not know pass through untouched. Parsing validates
//! the fields sheepdog does know and normalises events from the earlier
//! sheepdog; [`Event::stamp`] fills in what a producer may leave out.

pub mod batch;
pub mod legacy;
pub mod lines;
pub mod maintenance;
pub mod signing;
pub mod skim;

use crate::base::time;
use serde_json::{Map, Value};
use std::fmt;

pub const SCHEMA_VERSION: u64 = 1;

/// The fields whose value must be a string (besides `id`, `time` and
/// `status`, which say more).
pub const STRING_FIELDS: [&str; 9] = [
    "host", "tag", "kind", "reason", "signal", "stdout", "stderr", "user", "msg",
];

/// Default largest event accepted, in bytes of JSON text.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 1 << 20;

/// The state an event reports about the thing it watches.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
    /// The check itself could not run.
    Error,
    /// No change of state: a start marker, facts, a skipped check.
    Info,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Ok,
        Status::Warn,
        Status::Fail,
        Status::Error,
        Status::Info,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Error => "error",
            Status::Info => "info",
        }
    }

    /// Whether events of this status carry state; `info` never opens or
    /// closes anything.
    pub fn carries_state(self) -> bool {
        self != Status::Info
    }

    /// The state an event of this status and `kind` reports about its host
    /// and tag, if any: none for `info`, and none for sd-expect's `ok` —
    /// an `ok` from sd-expect says the job succeeded *earlier*; counted as
    /// a state itself, the dead man's switch would keep itself fresh
    /// forever (docs/ARCHITECTURE.md §1). A verdict's `fail` is a failure like any.
    pub fn state_for(self, kind: Option<&str>) -> Option<Status> {
        match self {
            Status::Info => None,
            Status::Ok if kind.is_some_and(|k| REPORT_KINDS.contains(&k)) => None,
            status => Some(status),
        }
    }
}

/// Kinds of events that only judge another event: they never count as the
/// watched job succeeding. An alert's `ok` clears the alert (it carries
/// state: the alert stopped holding) but proves no job ran.
pub const VERDICT_KINDS: [&str; 2] = ["expect", "alert"];

/// Of the verdicts, the kinds whose `ok` carries no state at all: it
/// reports on the past.
pub const REPORT_KINDS: [&str; 1] = ["expect"];

pub fn is_verdict(kind: &str) -> bool {
    VERDICT_KINDS.contains(&kind)
}

/// Whether an event of this status and kind is the watched job succeeding
/// (what a dead man's switch waits for).
pub fn is_success(status: Status, kind: Option<&str>) -> bool {
    status == Status::Ok && !kind.is_some_and(is_verdict)
}

impl std::str::FromStr for Status {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Status::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| format!("expected one of ok, warn, fail, error, info, got `{text}`"))
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a line is not an event; printed as `sd-TOOL: line N: <reason>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection(pub String);

impl Rejection {
    /// A line of `len` bytes, over the event size limit `max`.
    pub fn too_large(len: usize, max: usize) -> Rejection {
        Rejection(format!(
            "event of {} is larger than the limit of {}",
            crate::base::size::format(len as u64),
            crate::base::size::format(max as u64)
        ))
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Event {
    fields: Map<String, Value>,
}

impl Event {
    /// An event with no fields yet, for composing one.
    pub fn new() -> Self {
        Event::default()
    }

    /// An event a sheepdog command reports about `tag` on `host`: stamped,
    /// then `tag`, `kind`, `status` in that order. The one way every
    /// command composes its events; `reason`, `msg` and the rest follow
    /// with [`Event::set`].
    pub fn report(host: &str, tag: &str, kind: &str, status: Status) -> Self {
        let mut event = Event::new();
        event.stamp(host);
        event
            .set("tag", tag)
            .set("kind", kind)
            .set("status", status.as_str());
        event
    }

    /// Parses one line of input: UTF-8, a JSON object, not larger than
    /// `max_bytes`, known fields of the right type. Old-style events are
    /// normalised.
    pub fn parse(line: &[u8], max_bytes: usize) -> Result<Event, Rejection> {
        if line.len() > max_bytes {
            return Err(Rejection::too_large(line.len(), max_bytes));
        }
        let text = std::str::from_utf8(line).map_err(|e| {
            Rejection(format!(
                "not UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ))
        })?;
        let value: Value = serde_json::from_str(text).map_err(|e| json_rejection(&e))?;
        match value {
            Value::Object(fields) => Event::from_fields(fields),
            other => Err(Rejection(format!(
                "expected a JSON object, got {}",
                json_kind(&other)
            ))),
        }
    }

    /// Validates an object already parsed, normalising old-style events.
    pub fn from_fields(fields: Map<String, Value>) -> Result<Event, Rejection> {
        let fields = if legacy::is_legacy(&fields) {
            legacy::normalise(fields).map_err(Rejection)?
        } else {
            fields
        };
        let mut event = Event { fields };
        event.validate()?;
        Ok(event)
    }

    fn validate(&mut self) -> Result<(), Rejection> {
        for (key, value) in self.fields.iter_mut() {
            check_field(key, value).map_err(|why| Rejection(format!("field `{key}`: {why}")))?;
        }
        Ok(())
    }

    /// Fills in what the producer left out: `v`, `id` (a ULID), `time`
    /// (now) and `host`. They go first, in that order; every other field
    /// keeps its place.
    pub fn stamp(&mut self, host: &str) {
        self.fill_front(|| ulid::Ulid::new().to_string(), time::now_ms, Some(host));
    }

    /// Puts `v`, `id`, `time` (and `host` when given) first, making the
    /// missing ones with `id` and `time_ms`; used by [`Event::stamp`] and
    /// by receivers deriving them from a stream entry.
    pub fn fill_front(
        &mut self,
        id: impl FnOnce() -> String,
        time_ms: impl FnOnce() -> i64,
        host: Option<&str>,
    ) {
        let keys: &[&str] = if host.is_some() {
            &["v", "id", "time", "host"]
        } else {
            &["v", "id", "time"]
        };
        if keys.iter().all(|k| self.fields.contains_key(*k)) {
            return;
        }
        let mut front = Map::with_capacity(self.fields.len() + 4);
        let mut take = |key: &str, make: Box<dyn FnOnce() -> Value + '_>| {
            let value = self.fields.shift_remove(key).unwrap_or_else(make);
            front.insert(key.to_string(), value);
        };
        take("v", Box::new(|| Value::from(SCHEMA_VERSION)));
        take("id", Box::new(|| Value::from(id())));
        take("time", Box::new(|| Value::from(time::format_ms(time_ms()))));
        if let Some(host) = host {
            take("host", Box::new(|| Value::from(host)));
        }
        front.extend(std::mem::take(&mut self.fields));
        self.fields = front;
    }

    /// Sets a field; a field already there keeps its place.
    pub fn set(&mut self, key: &str, value: impl Into<Value>) -> &mut Self {
        self.fields.insert(key.to_string(), value.into());
        self
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.get(key)
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        self.fields.get(key).and_then(Value::as_str)
    }

    pub fn int(&self, key: &str) -> Option<i64> {
        self.fields.get(key).and_then(Value::as_i64)
    }

    pub fn id(&self) -> Option<&str> {
        self.str("id")
    }

    pub fn host(&self) -> Option<&str> {
        self.str("host")
    }

    pub fn tag(&self) -> Option<&str> {
        self.str("tag")
    }

    pub fn kind(&self) -> Option<&str> {
        self.str("kind")
    }

    pub fn status(&self) -> Option<Status> {
        self.str("status").and_then(|s| s.parse().ok())
    }

    /// When it happened, in milliseconds since the epoch.
    pub fn time_ms(&self) -> Option<i64> {
        self.str("time").and_then(time::parse_rfc3339_ms)
    }

    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }

    pub fn into_fields(self) -> Map<String, Value> {
        self.fields
    }

    /// The event as one line of JSON, without the newline.
    pub fn to_line(&self) -> String {
        // A map of JSON values always serialises.
        serde_json::to_string(&self.fields).unwrap_or_default()
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_line())
    }
}

/// Checks one known field and brings it to canonical form (only `time`
/// changes: any RFC 3339 offset becomes UTC with milliseconds).
fn check_field(key: &str, value: &mut Value) -> Result<(), String> {
    match key {
        "v" => match value.as_u64() {
            Some(SCHEMA_VERSION) => Ok(()),
            Some(n) => Err(format!(
                "schema version {n} is not supported (this sheepdog reads version {SCHEMA_VERSION})"
            )),
            None => Err(format!(
                "expected the schema version {SCHEMA_VERSION}, got {value}"
            )),
        },
        "id" => match value.as_str() {
            Some("") => Err("must not be empty".into()),
            Some(_) => Ok(()),
            None => Err(expected("a string", value)),
        },
        "time" => {
            let text = value
                .as_str()
                .ok_or_else(|| expected("an RFC 3339 time", value))?;
            let canonical = time::canonical(text).ok_or_else(|| {
                format!("expected an RFC 3339 time like `2026-11-20T02:00:01.000Z`, got {value}")
            })?;
            *value = Value::from(canonical);
            Ok(())
        }
        "status" => {
            let text = value.as_str().ok_or_else(|| expected("a string", value))?;
            text.parse::<Status>().map(|_| ())
        }
        key if STRING_FIELDS.contains(&key) => match value {
            Value::String(_) => Ok(()),
            _ => Err(expected("a string", value)),
        },
        "code" => match value.as_i64() {
            Some(_) => Ok(()),
            None => Err(expected("an integer", value)),
        },
        "elapsed_ms" => match value.as_u64() {
            Some(_) => Ok(()),
            None => Err(expected("a non-negative integer", value)),
        },
        "cmd" => match value {
            Value::Array(words) if words.iter().all(Value::is_string) => Ok(()),
            _ => Err(expected("an array of strings", value)),
        },
        "facts" => match value {
            Value::Object(_) => Ok(()),
            _ => Err(expected("an object", value)),
        },
        _ => Ok(()),
    }
}

fn expected(what: &str, got: &Value) -> String {
    let mut shown = got.to_string();
    if shown.len() > 60 {
        let cut = crate::base::size::prefix(&shown, 57).len();
        shown.truncate(cut);
        shown.push_str("...");
    }
    format!("expected {what}, got {shown}")
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn json_rejection(err: &serde_json::Error) -> Rejection {
    let what = err.to_string();
    // serde_json appends " at line 1 column N"; the line is ours to name.
    let what = match what.rfind(" at line ") {
        Some(cut) => what[..cut].to_string(),
        None => what,
    };
    Rejection(format!("invalid JSON at column {}: {what}", err.column()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Event, Rejection> {
        Event::parse(text.as_bytes(), DEFAULT_MAX_EVENT_BYTES)
    }

    #[test]
    fn unknown_fields_keep_their_order_and_value() {
        let event = parse(r#"{"zeta":1,"tag":"x","alpha":{"b":2,"a":[1.50,"\u00e9"]}}"#).unwrap();
        let keys: Vec<&String> = event.fields().keys().collect();
        assert_eq!(keys, ["zeta", "tag", "alpha"]);
        assert_eq!(
            event.to_line(),
            r#"{"zeta":1,"tag":"x","alpha":{"b":2,"a":[1.50,"é"]}}"#
        );
    }

    #[test]
    fn stamp_fills_only_what_is_missing() {
        let mut event = parse(r#"{"tag":"BORG","id":"mine","status":"ok"}"#).unwrap();
        event.stamp("tux01");
        let keys: Vec<&String> = event.fields().keys().collect();
        assert_eq!(keys, ["v", "id", "time", "host", "tag", "status"]);
        assert_eq!(event.id(), Some("mine"));
        assert_eq!(event.host(), Some("tux01"));
        assert!(event.time_ms().is_some());
    }

    #[test]
    fn stamped_ids_are_ulids_and_unique() {
        let mut a = Event::new();
        let mut b = Event::new();
        a.stamp("h");
        b.stamp("h");
        assert_ne!(a.id(), b.id());
        assert!(ulid::Ulid::from_string(a.id().unwrap()).is_ok());
    }

    #[test]
    fn wrong_types_are_named() {
        assert_eq!(
            parse(r#"{"status":"bad"}"#).unwrap_err().0,
            "field `status`: expected one of ok, warn, fail, error, info, got `bad`"
        );
        assert_eq!(
            parse(r#"{"code":"2"}"#).unwrap_err().0,
            "field `code`: expected an integer, got \"2\""
        );
        assert_eq!(
            parse(r#"{"v":2}"#).unwrap_err().0,
            "field `v`: schema version 2 is not supported (this sheepdog reads version 1)"
        );
    }

    #[test]
    fn deep_nesting_is_a_rejection_not_a_crash() {
        let deep = "[".repeat(100_000);
        let line = format!(r#"{{"x":{deep}"#);
        assert!(parse(&line).unwrap_err().0.starts_with("invalid JSON"));
    }
}
