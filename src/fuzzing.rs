//! The fuzz targets (fuzz/ runs them under libFuzzer with cargo-fuzz;
//! `cargo test` replays their checked-in corpus). Each takes arbitrary
//! bytes and must never panic; the event target also checks that what
//! sheepdog writes it reads back unchanged.

use crate::event::{DEFAULT_MAX_EVENT_BYTES, Event};

/// The event parser and normaliser (including the earlier sheepdog's
/// formats): accept or reject, and an accepted event, written out and
/// stamped, parses back to itself.
pub fn event(data: &[u8]) {
    let Ok(mut event) = Event::parse(data, DEFAULT_MAX_EVENT_BYTES) else {
        return;
    };
    event.stamp("fuzz");
    let line = event.to_line();
    let again = Event::parse(line.as_bytes(), usize::MAX)
        .unwrap_or_else(|why| panic!("sheepdog cannot read its own line {line}: {why}"));
    assert_eq!(again.to_line(), line, "the round trip changed the event");
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
    if let Ok(expr) = crate::query::fact_expr::FactExpr::parse(text) {
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

/// A fuzz target: any bytes in, no panic out.
pub type Target = fn(&[u8]);

/// The targets by name, for the corpus replay and the fuzz crate.
pub const TARGETS: [(&str, Target); 3] = [
    ("event", event),
    ("config", config),
    ("fact_expr", fact_expr),
];
