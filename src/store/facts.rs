//! Fact expressions (sheepdog(7), FACTS): `NAME OP VALUE` with `= != < <= > >=`
//! and `~` (glob), checked against a host's latest facts.
//!
//! How two values compare depends on the fact: `pkg.*` compare as Debian
//! versions (epoch, upstream, revision), and a wanted version without a
//! revision is compared with the upstream part only, so `pkg.nginx=1.24.0`
//! matches `1.24.0-2+deb12u1`; values that are numbers or sizes (`4GiB`)
//! compare as numbers; anything else as text.
//!
//! The hosts whose latest facts match are read here, from the store's
//! `facts` table, for sd-query's `--fact` and sd-order's `--where` alike.

use crate::base::compare::{CmpOp, compare_versions, number};
use crate::base::error::Result;
use rusqlite::{Connection, params};
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Compare(CmpOp),
    Glob,
}

#[derive(Clone, Debug)]
pub struct FactExpr {
    pub name: String,
    pub op: Op,
    pub value: String,
    glob: Option<glob::Pattern>,
}

const OPERATORS: [(&str, Op); 7] = [
    ("<=", Op::Compare(CmpOp::Le)),
    (">=", Op::Compare(CmpOp::Ge)),
    ("!=", Op::Compare(CmpOp::Ne)),
    ("=", Op::Compare(CmpOp::Eq)),
    ("<", Op::Compare(CmpOp::Lt)),
    (">", Op::Compare(CmpOp::Gt)),
    ("~", Op::Glob),
];

impl FactExpr {
    pub fn parse(text: &str) -> Result<FactExpr, String> {
        let hint = "expected NAME OP VALUE, like 'mem_total_bytes<4GiB' or 'pkg.nginx=1.24.0' \
                    (operators: = != < <= > >= ~)";
        let at = text
            .find(['=', '!', '<', '>', '~'])
            .ok_or_else(|| format!("`{text}`: no operator; {hint}"))?;
        let name = text[..at].trim();
        let rest = &text[at..];
        let (symbol, op) = OPERATORS
            .iter()
            .find(|(symbol, _)| rest.starts_with(symbol))
            .ok_or_else(|| format!("`{text}`: unknown operator; {hint}"))?;
        let value = rest[symbol.len()..].trim();
        if name.is_empty() || value.is_empty() {
            return Err(format!("`{text}`: {hint}"));
        }
        let glob = match op {
            Op::Glob => {
                Some(glob::Pattern::new(value).map_err(|e| format!("`{text}`: bad pattern: {e}"))?)
            }
            _ => None,
        };
        Ok(FactExpr {
            name: name.to_string(),
            op: *op,
            value: value.to_string(),
            glob,
        })
    }

    /// For clap.
    pub fn parse_arg(text: &str) -> Result<FactExpr, String> {
        FactExpr::parse(text)
    }

    /// Whether a host whose fact has this value (`None`: no such fact)
    /// matches. A missing fact matches nothing, not even `!=`.
    pub fn matches(&self, actual: Option<&str>) -> bool {
        let Some(actual) = actual else { return false };
        if let Some(pattern) = &self.glob {
            return pattern.matches(actual);
        }
        let Some(ordering) = self.compare(actual) else {
            return matches!(self.op, Op::Compare(CmpOp::Ne));
        };
        match self.op {
            Op::Compare(op) => op.holds(ordering),
            Op::Glob => false,
        }
    }

    /// How `actual` compares with the wanted value.
    fn compare(&self, actual: &str) -> Option<Ordering> {
        if self.name.starts_with("pkg.") {
            return compare_versions(actual, &self.value);
        }
        match (number(actual), number(&self.value)) {
            (Some(a), Some(b)) => a.partial_cmp(&b),
            _ => Some(actual.cmp(&self.value)),
        }
    }
}

impl fmt::Display for FactExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let symbol = OPERATORS
            .iter()
            .find(|(_, op)| *op == self.op)
            .map_or("?", |(s, _)| s);
        write!(f, "{}{symbol}{}", self.name, self.value)
    }
}

/// Hosts whose latest facts match every expression; `None` when there are
/// no expressions (every host).
pub fn hosts_matching(conn: &Connection, exprs: &[FactExpr]) -> Result<Option<Vec<String>>> {
    if exprs.is_empty() {
        return Ok(None);
    }
    let mut facts: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut stmt = conn
        .prepare("SELECT host, name, value FROM facts WHERE name = ?1")
        .map_err(read_error)?;
    for expr in exprs {
        let rows = stmt
            .query_map([&expr.name], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })
            .map_err(read_error)?;
        for row in rows {
            let (host, name, value) = row.map_err(read_error)?;
            facts
                .entry(host)
                .or_default()
                .insert(name, value.unwrap_or_default());
        }
    }
    let mut hosts: Vec<String> = facts
        .iter()
        .filter(|(_, values)| {
            exprs
                .iter()
                .all(|e| e.matches(values.get(&e.name).map(String::as_str)))
        })
        .map(|(host, _)| host.clone())
        .collect();
    hosts.sort();
    Ok(Some(hosts))
}

/// A fact's value as text: strings as they are, other JSON as JSON.
fn fact_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Keeps a facts event in the same transaction as the event: each fact's
/// latest value per host, and its history when the value changed.
pub fn record(
    tx: &rusqlite::Transaction<'_>,
    host: &str,
    time_ms: i64,
    facts: &serde_json::Map<String, Value>,
) -> rusqlite::Result<()> {
    let mut latest = tx.prepare_cached(
        "INSERT INTO facts (host, name, value, time_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (host, name) DO UPDATE SET value = excluded.value, time_ms = excluded.time_ms
         WHERE excluded.time_ms >= facts.time_ms",
    )?;
    let mut previous = tx.prepare_cached(
        "SELECT value FROM facts_history WHERE host = ?1 AND name = ?2 AND time_ms <= ?3
         ORDER BY time_ms DESC LIMIT 1",
    )?;
    let mut history = tx.prepare_cached(
        "INSERT INTO facts_history (host, name, value, time_ms) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (name, value) in facts {
        let text = fact_text(value);
        latest.execute(params![host, name, text, time_ms])?;
        let before: Option<String> = previous
            .query_row(params![host, name, time_ms], |r| r.get(0))
            .ok();
        if before.as_deref() != Some(text.as_str()) {
            history.execute(params![host, name, text, time_ms])?;
        }
    }
    Ok(())
}

fn read_error(e: rusqlite::Error) -> crate::base::error::Error {
    crate::base::error::Error::io(format!("reading the store: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(expr: &str, actual: &str) -> bool {
        FactExpr::parse(expr).unwrap().matches(Some(actual))
    }

    #[test]
    fn sizes_and_numbers() {
        assert!(check("mem_total_bytes<4GiB", "2147483648"));
        assert!(!check("mem_total_bytes<4GiB", "8589934592"));
        assert!(check("mem_total_bytes>=4GiB", "4294967296"));
        assert!(check("load1>2.5", "3.1"));
        assert!(check("cpus=4", "4"));
        assert!(!check("cpus!=4", "4"));
    }

    #[test]
    fn debian_versions() {
        assert!(check("pkg.nginx=1.24.0", "1.24.0-2+deb12u1"));
        assert!(!check("pkg.nginx=1.24.0", "1.22.1-9"));
        assert!(check("pkg.nginx=1.24.0-2+deb12u1", "1.24.0-2+deb12u1"));
        assert!(!check("pkg.nginx=1.24.0-1", "1.24.0-2+deb12u1"));
        assert!(check("pkg.nginx<1.24", "1.22.1-9"));
        assert!(check("pkg.openssl>=3.0.11", "3.0.11-1~deb12u2"));
        assert!(
            check("pkg.bash<1:5.0", "5.2.15-2"),
            "no epoch sorts before epoch 1"
        );
        assert!(
            check("pkg.x<1.0", "1.0~rc1-1"),
            "~ sorts before the release"
        );
    }

    #[test]
    fn globs_and_text() {
        assert!(check("os~Debian*", "Debian GNU/Linux 12 (bookworm)"));
        assert!(!check("os~Ubuntu*", "Debian GNU/Linux 12 (bookworm)"));
        assert!(check("hostname=tux01", "tux01"));
    }

    #[test]
    fn a_missing_fact_matches_nothing() {
        assert!(!FactExpr::parse("pkg.nginx!=1.0").unwrap().matches(None));
    }

    #[test]
    fn bad_expressions_say_what_is_expected() {
        assert!(
            FactExpr::parse("nginx")
                .unwrap_err()
                .contains("expected NAME OP VALUE")
        );
        assert!(FactExpr::parse("=3").is_err());
        assert!(FactExpr::parse("a=").is_err());
        assert_eq!(
            FactExpr::parse("disk./var.used_pct>=90").unwrap().name,
            "disk./var.used_pct"
        );
    }
}
