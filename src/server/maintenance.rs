//! Maintenance windows as the server knows them: the recurring ones of
//! the configuration (`[[maintenance]] hosts, tags, cron, for, reason`),
//! and those hosts declare themselves with a `kind: maintenance` event
//! ([`crate::event::maintenance`]), which the store keeps like any other.
//! sd-mail holds what a window covers; sd-expect holds its verdicts; the
//! board and the rules show them.

use super::expect::schedule::{Zone, parse_cron, parse_zone};
use crate::base::error::{Error, Result};
use crate::config::MaintenanceSection;
use crate::event::maintenance::EVERY_TAG;
pub use crate::event::maintenance::Window;
use croner::Cron;
use glob::Pattern;

/// One `[[maintenance]]`.
#[derive(Clone)]
struct Recurring {
    hosts: Pattern,
    tags: Pattern,
    cron: Cron,
    zone: Zone,
    length_ms: i64,
    reason: Option<String>,
}

/// The configuration's recurring windows.
#[derive(Clone, Default)]
pub struct Recurrences(Vec<Recurring>);

impl Recurrences {
    pub fn from_config(sections: &[MaintenanceSection]) -> Result<Recurrences> {
        let mut windows = Vec::new();
        for (n, section) in sections.iter().enumerate() {
            let at = |why: String| Error::usage(format!("[[maintenance]] number {}: {why}", n + 1));
            let pattern = |text: &Option<String>| {
                Pattern::new(text.as_deref().unwrap_or("*"))
                    .map_err(|e| at(format!("bad pattern: {e}")))
            };
            let length = section
                .length
                .ok_or_else(|| at("give its length: for = \"2h\"".into()))?
                .0;
            windows.push(Recurring {
                hosts: pattern(&section.hosts)?,
                tags: pattern(&section.tags)?,
                cron: parse_cron(&section.cron).map_err(at)?,
                zone: match &section.timezone {
                    Some(name) => Zone::Named(parse_zone(name).map_err(at)?),
                    None => Zone::Local,
                },
                length_ms: i64::try_from(length.as_millis()).unwrap_or(i64::MAX / 4),
                reason: section.reason.clone(),
            });
        }
        Ok(Recurrences(windows))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Tells a connection to the store (opened with
    /// [`crate::store::Store::open_read_only`]) the recurring windows in
    /// force at `now_ms`, for the rules: one row for each pair of the
    /// board a window covers, and one of tag `*` for each host a window
    /// over every tag covers.
    pub fn offer_to_rules(&self, conn: &rusqlite::Connection, now_ms: i64) -> Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        let fill = || -> rusqlite::Result<()> {
            conn.execute("DELETE FROM temp.recurring_windows", [])?;
            let pairs: Vec<(String, String)> = conn
                .prepare("SELECT host, tag FROM board")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let mut hosts: Vec<&str> = pairs.iter().map(|(h, _)| h.as_str()).collect();
            hosts.sort_unstable();
            hosts.dedup();
            let whole = hosts.into_iter().map(|h| (h, EVERY_TAG));
            let mut insert = conn.prepare(
                "INSERT INTO temp.recurring_windows (host, tag, until_ms) VALUES (?1, ?2, ?3)",
            )?;
            for (host, tag) in pairs
                .iter()
                .map(|(h, t)| (h.as_str(), t.as_str()))
                .chain(whole)
            {
                if let Some(window) = self.covering(host, tag, now_ms) {
                    insert.execute(rusqlite::params![host, tag, window.until_ms])?;
                }
            }
            Ok(())
        };
        fill().map_err(|e| {
            Error::io(format!(
                "reading the board for the maintenance windows: {e}"
            ))
        })
    }

    /// The recurring window covering `host` and `tag` at `at_ms`, the one
    /// that lasts longest when several do. A tag of `*` asks for windows
    /// over every tag of the host.
    pub fn covering(&self, host: &str, tag: &str, at_ms: i64) -> Option<Window> {
        self.0
            .iter()
            .filter(|w| {
                w.hosts.matches(host)
                    && (w.tags.matches(tag) || (tag == EVERY_TAG && w.tags.as_str() == "*"))
            })
            .filter_map(|w| {
                let start = w.zone.previous_run(&w.cron, at_ms)?;
                let until_ms = start.saturating_add(w.length_ms);
                (at_ms < until_ms).then(|| Window {
                    until_ms,
                    reason: w.reason.clone(),
                })
            })
            .max_by_key(|w| w.until_ms)
    }
}

/// The windows in force now: those the store's `windows` table holds
/// (declared by hosts) and the configuration's recurring ones.
pub struct InForce<'a> {
    declared: std::collections::HashMap<(String, String), Window>,
    recurring: &'a Recurrences,
    now_ms: i64,
}

impl<'a> InForce<'a> {
    pub fn read(
        conn: &rusqlite::Connection,
        recurring: &'a Recurrences,
        now_ms: i64,
    ) -> Result<InForce<'a>> {
        let read = || -> rusqlite::Result<Vec<((String, String), Window)>> {
            // A store an older sheepdog made, not migrated yet (opened
            // read-only): no window was declared in it.
            let has_windows: bool = conn.query_row(
                "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'windows'",
                [],
                |r| r.get(0),
            )?;
            if !has_windows {
                return Ok(Vec::new());
            }
            conn.prepare(
                "SELECT host, tag, until_ms, reason FROM windows
                 WHERE from_ms <= ?1 AND until_ms > ?1",
            )?
            .query_map([now_ms], |r| {
                Ok((
                    (r.get(0)?, r.get(1)?),
                    Window {
                        until_ms: r.get(2)?,
                        reason: r.get(3)?,
                    },
                ))
            })?
            .collect()
        };
        let declared = read()
            .map_err(|e| {
                Error::io(format!(
                    "reading the maintenance windows from the store: {e}"
                ))
            })?
            .into_iter()
            .collect();
        Ok(InForce {
            declared,
            recurring,
            now_ms,
        })
    }

    /// The window covering `host` and `tag` now, if any.
    pub fn covering(&self, host: &str, tag: &str) -> Option<Window> {
        let own = self
            .declared
            .get(&(host.to_string(), tag.to_string()))
            .cloned();
        let whole = self
            .declared
            .get(&(host.to_string(), EVERY_TAG.to_string()))
            .cloned();
        longer(
            longer(own, whole),
            self.recurring.covering(host, tag, self.now_ms),
        )
    }
}

/// The later-ending of two windows.
pub fn longer(a: Option<Window>, b: Option<Window>) -> Option<Window> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.until_ms > a.until_ms { b } else { a }),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HumanDuration;
    use std::time::Duration;

    fn ms(text: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn a_weekly_window_covers_its_hosts_for_its_length_in_its_zone() {
        let windows = Recurrences::from_config(&[MaintenanceSection {
            hosts: Some("db*".into()),
            tags: None,
            cron: "0 2 * * 0".into(),
            timezone: Some("Europe/Amsterdam".into()),
            length: Some(HumanDuration(Duration::from_secs(7200))),
            reason: Some("weekly vacuum".into()),
        }])
        .unwrap();
        // Sunday 2026-12-06 02:00 in Amsterdam is 01:00 UTC.
        let inside = windows
            .covering("db1", "postgres", ms("2026-12-06T02:30:00Z"))
            .unwrap();
        assert_eq!(inside.until_ms, ms("2026-12-06T03:00:00Z"));
        assert_eq!(inside.reason.as_deref(), Some("weekly vacuum"));
        assert!(
            windows
                .covering("db1", "postgres", ms("2026-12-06T03:00:00Z"))
                .is_none()
        );
        assert!(
            windows
                .covering("web1", "nginx", ms("2026-12-06T02:30:00Z"))
                .is_none()
        );
        assert!(
            windows
                .covering("db1", "postgres", ms("2026-12-06T00:59:59Z"))
                .is_none()
        );
    }

    #[test]
    fn a_window_without_its_length_or_with_a_bad_schedule_is_refused() {
        let mut section = MaintenanceSection {
            cron: "0 2 * * 0".into(),
            ..MaintenanceSection::default()
        };
        let err = Recurrences::from_config(std::slice::from_ref(&section))
            .err()
            .unwrap();
        assert!(err.to_string().contains("number 1"), "{err}");
        section.length = Some(HumanDuration(Duration::from_secs(60)));
        section.cron = "every sunday".into();
        assert!(Recurrences::from_config(&[section]).is_err());
    }
}
