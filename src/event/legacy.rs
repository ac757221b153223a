//! Events from the earlier Ruby and Guile sheepdog, made current.
//!
//! Old crontabs keep feeding the new herd: an object with the old fields
//! (`time, elapsed, host, command, tag, stdout, stderr, status, err`, with
//! `err` one of `SUCCESS`/`FAIL`/`WARNING` and `status` the exit code) is
//! rewritten field by field, in place, into schema version 1 (docs/ARCHITECTURE.md §1).

use crate::base::time;
use serde_json::{Map, Value};

/// Whether `object` was written by the earlier sheepdog: it has no schema
/// version, and either the old `err` verdict or an exit code in `status`.
pub fn is_legacy(object: &Map<String, Value>) -> bool {
    if object.contains_key("v") {
        return false;
    }
    let old_verdict = matches!(
        object.get("err").and_then(Value::as_str),
        Some("SUCCESS" | "FAIL" | "WARNING")
    );
    old_verdict || object.get("status").is_some_and(Value::is_number)
}

/// Rewrites an old event into the current schema, keeping every field's
/// position. Fails with the reason when an old field holds something the
/// old sheepdog never wrote.
pub fn normalise(object: Map<String, Value>) -> Result<Map<String, Value>, String> {
    let mut current = Map::with_capacity(object.len() + 1);
    for (key, value) in object {
        let (key, value) = match key.as_str() {
            "err" => ("status".to_string(), status_of(&value)?),
            "status" => ("code".to_string(), code_of(&value)?),
            "elapsed" => ("elapsed_ms".to_string(), elapsed_ms_of(&value)?),
            "command" => ("cmd".to_string(), cmd_of(&value)?),
            "time" => ("time".to_string(), time_of(&value)?),
            _ => (key, value),
        };
        current.insert(key, value);
    }
    // The old sheepdog only ever wrapped commands.
    if !current.contains_key("kind") {
        current.insert("kind".into(), Value::from("run"));
    }
    Ok(current)
}

fn status_of(err: &Value) -> Result<Value, String> {
    match err.as_str() {
        Some("SUCCESS") => Ok("ok".into()),
        Some("FAIL") => Ok("fail".into()),
        Some("WARNING") => Ok("warn".into()),
        _ => Err(format!(
            "field `err`: expected SUCCESS, FAIL or WARNING, got {err}"
        )),
    }
}

fn code_of(status: &Value) -> Result<Value, String> {
    match status {
        Value::Number(n) if n.is_i64() => Ok(status.clone()),
        Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => {
            Ok(Value::from(n.as_f64().unwrap_or_default() as i64))
        }
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("field `status`: expected an exit code, got {status}")),
        _ => Err(format!(
            "field `status`: expected an exit code, got {status}"
        )),
    }
}

fn elapsed_ms_of(elapsed: &Value) -> Result<Value, String> {
    let seconds = match elapsed {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match seconds {
        Some(s) if s.is_finite() && s >= 0.0 => Ok(Value::from((s * 1000.0).round() as i64)),
        _ => Err(format!("field `elapsed`: expected seconds, got {elapsed}")),
    }
}

fn cmd_of(command: &Value) -> Result<Value, String> {
    match command {
        Value::String(line) => {
            let words = shell_words::split(line)
                .unwrap_or_else(|_| line.split_whitespace().map(String::from).collect());
            Ok(Value::from(words))
        }
        Value::Array(_) => Ok(command.clone()),
        _ => Err(format!("field `command`: expected a string, got {command}")),
    }
}

fn time_of(value: &Value) -> Result<Value, String> {
    let text = value.as_str().unwrap_or_default();
    time::parse_ruby_ms(text)
        .or_else(|| time::parse_rfc3339_ms(text))
        .map(|ms| Value::from(time::format_ms(ms)))
        .ok_or_else(|| {
            format!("field `time`: expected a time like `2026-11-20 03:00:01 +0100`, got {value}")
        })
}
