//! The fuzz targets (fuzz/ runs them under libFuzzer with cargo-fuzz;
//! `cargo test` replays their checked-in corpus). Each takes arbitrary
//! bytes and must never panic; the event target also checks that what
//! sheepdog writes it reads back unchanged.

use crate::event::skim::{Skim, Skimmed, skim_for_stamping, stamp_bare};
use crate::event::{DEFAULT_MAX_EVENT_BYTES, Event};
use serde_json::Value;

/// The event parser and normaliser (including the earlier sheepdog's
/// formats): accept or reject, and an accepted event, written out and
/// stamped, parses back to itself. What the skimmer takes, the parser
/// takes the same way ([`skim_agrees`]).
pub fn event(data: &[u8]) {
    skim_agrees(data);
    let Ok(mut event) = Event::parse(data, DEFAULT_MAX_EVENT_BYTES) else {
        return;
    };
    event.stamp("fuzz");
    let line = event.to_line();
    let again = Event::parse(line.as_bytes(), usize::MAX)
        .unwrap_or_else(|why| panic!("sheepdog cannot read its own line {line}: {why}"));
    assert_eq!(again.to_line(), line, "the round trip changed the event");
}

/// Whether `line` is skimmed ([`skim`]); if it is, `Event::parse` takes
/// it too, with the same fields, and writes it out as the same JSON
/// (panics otherwise).
pub fn skim_agrees(line: &[u8]) -> bool {
    let shown = String::from_utf8_lossy(line);
    let skimmed = match skim_for_stamping(line, DEFAULT_MAX_EVENT_BYTES) {
        None => return false,
        Some(Skim::Ready(skimmed)) => skimmed,
        Some(Skim::Bare(bare)) => {
            stamp_agrees(&bare, &shown);
            return false;
        }
    };
    let event = Event::parse(line, DEFAULT_MAX_EVENT_BYTES)
        .unwrap_or_else(|why| panic!("skimmed what parsing rejects: {shown}: {why}"));
    assert_eq!(Some(skimmed.id.as_ref()), event.id(), "{shown}");
    assert_eq!(Some(skimmed.time_ms), event.time_ms(), "{shown}");
    assert_eq!(skimmed.host.as_deref(), event.host(), "{shown}");
    assert_eq!(skimmed.tag.as_deref(), event.tag(), "{shown}");
    assert_eq!(skimmed.kind.as_deref(), event.kind(), "{shown}");
    assert_eq!(skimmed.status, event.status(), "{shown}");
    assert_eq!(skimmed.code, event.int("code"), "{shown}");
    assert_eq!(skimmed.elapsed_ms, event.int("elapsed_ms"), "{shown}");
    assert_eq!(
        skimmed.facts.as_ref(),
        event.get("facts").and_then(Value::as_object),
        "{shown}"
    );
    let as_is: Value = serde_json::from_str(skimmed.line).expect("a skimmed line is JSON");
    let rewritten: Value = serde_json::from_str(&event.to_line()).expect("sheepdog writes JSON");
    assert_eq!(as_is, rewritten, "{shown}");
    true
}

/// A bare line stamped as text is, member for member and in order, the
/// line `Event::parse` and `Event::stamp` make of it (panics otherwise).
fn stamp_agrees(bare: &Skimmed<'_>, shown: &str) {
    let (id, time_ms, host) = ("01KBZ5Q2V6", 1_764_000_000_123, "h\"x\u{7f}");
    let mut event = Event::parse(bare.line.as_bytes(), DEFAULT_MAX_EVENT_BYTES)
        .unwrap_or_else(|why| panic!("skimmed what parsing rejects: {shown}: {why}"));
    event.fill_front(|| id.to_string(), || time_ms, Some(host));
    let as_text = stamp_bare(bare, id, time_ms, host);
    let as_text: Value = serde_json::from_str(&as_text)
        .unwrap_or_else(|why| panic!("stamped as text is not JSON: {as_text}: {why}"));
    assert_eq!(as_text.to_string(), event.to_line(), "{shown}");
    assert_eq!(bare.tag.as_deref(), event.tag(), "{shown}");
    assert_eq!(bare.status, event.status(), "{shown}");
}

/// The configuration loader: any text is a configuration or an error.
pub fn config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::config::ConfigFile::parse(text);
    }
}

/// Fact expressions (`--fact`), parsed and evaluated against a few values,
/// Debian versions and byte sizes among them.
pub fn fact_expr(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(expr) = crate::store::facts::FactExpr::parse(text) {
        for value in [
            None,
            Some(""),
            Some("1.24.0-2+deb12u1"),
            Some("4294967296"),
            Some(text),
        ] {
            let _ = expr.matches(value);
        }
    }
}

/// The rule language: any text is a checked program or mistakes each
/// named with its place; and every relation of a checked program is
/// answered by SQLite (on an empty store) without an error in the SQL
/// sheepdog wrote.
pub fn rules(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let rules = match crate::rules::Rules::parse(text, "fuzz") {
        Ok(rules) => rules,
        Err(e) => {
            for line in e.message.lines() {
                assert!(
                    line.starts_with("fuzz:"),
                    "a mistake without its place: {line}"
                );
            }
            return;
        }
    };
    let mut conn = rusqlite::Connection::open_in_memory().expect("in memory");
    crate::store::schema::migrate(&mut conn).expect("a new store");
    for (name, arity, _, _) in rules.relations() {
        let vars: Vec<String> = (0..arity).map(|i| format!("V{i}")).collect();
        let goal = format!("{name}({})", vars.join(", "));
        if let Err(e) = rules.ask(&conn, &goal, 0) {
            assert!(
                !e.message.contains("syntax error") && !e.message.contains("no such"),
                "{goal} in\n{text}\n: {}",
                e.message
            );
        }
    }
}

/// A fuzz target: any bytes in, no panic out.
pub type Target = fn(&[u8]);

/// The targets by name, for the corpus replay and the fuzz crate.
pub const TARGETS: [(&str, Target); 4] = [
    ("event", event),
    ("config", config),
    ("fact_expr", fact_expr),
    ("rules", rules),
];
