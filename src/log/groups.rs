//! Consumer groups have a life cycle: created by the first `sd-recv
//! --group NAME`, each holds back from trimming every event it has not
//! acknowledged — in Redis and in the local spool alike. A group used
//! once (`sd-recv --group test`) would pin the stream forever; this is
//! what lets an admin see the groups (`sd-recv --groups`), retire one
//! (`sd-recv --retire-group NAME`), and be warned about one nobody reads.

use serde_json::{Map, Value};
use std::time::Duration;

/// One group as `sd-recv --groups` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupInfo {
    pub name: String,
    /// Consumers known to it.
    pub consumers: u64,
    /// Delivered and not acknowledged.
    pub pending: u64,
    /// Not delivered yet (None when Redis cannot tell).
    pub lag: Option<u64>,
    /// Since any consumer of it last read (None: never).
    pub idle_ms: Option<u64>,
}

/// Warn about a group idle this long that holds events back, unless told.
pub const DEFAULT_IDLE_WARNING: Duration = Duration::from_secs(24 * 3600);

impl GroupInfo {
    /// Events this group keeps from being trimmed.
    pub fn held_back(&self) -> u64 {
        self.pending + self.lag.unwrap_or(0)
    }

    /// One JSON object for `sd-recv --groups`.
    pub fn to_json(&self) -> String {
        let mut m = Map::new();
        m.insert("group".into(), self.name.clone().into());
        m.insert("consumers".into(), self.consumers.into());
        m.insert("pending".into(), self.pending.into());
        m.insert("lag".into(), self.lag.map_or(Value::Null, Value::from));
        m.insert(
            "idle_ms".into(),
            self.idle_ms.map_or(Value::Null, Value::from),
        );
        m.insert(
            "idle".into(),
            self.idle_ms.map_or(Value::from("never read"), |ms| {
                Value::from(crate::base::time::human_ms(ms as i64))
            }),
        );
        Value::Object(m).to_string()
    }

    /// The warning for a group nobody has read for `limit` that holds
    /// events back, with the numbers and the command to run; `None` when
    /// it is in use or holds nothing.
    pub fn idle_warning(&self, limit: Duration) -> Option<String> {
        let idle = self.idle_ms?;
        if idle < limit.as_millis() as u64 || self.held_back() == 0 {
            return None;
        }
        Some(format!(
            "group {} has read nothing for {} and holds {} event(s) back from trimming \
             ({} pending, {} not delivered); if nothing uses it any more: sd-recv --retire-group {}",
            self.name,
            crate::base::time::human_ms(idle as i64),
            self.held_back(),
            self.pending,
            self.lag.map_or("?".to_string(), |l| l.to_string()),
            self.name
        ))
    }
}

/// Now and then, looks at the groups of the stream a receiver reads and
/// warns, once per group and run, about one nobody reads that holds
/// events back (its own group aside).
pub struct IdleWatch {
    limit: Duration,
    own: Option<String>,
    next: std::time::Instant,
    warned: std::collections::HashSet<String>,
    quiet: bool,
}

impl IdleWatch {
    /// How often the groups are looked at: every minute, or twice within
    /// a shorter limit.
    const EVERY: Duration = Duration::from_secs(60);

    fn every(&self) -> Duration {
        Self::EVERY
            .min(self.limit / 2)
            .max(Duration::from_millis(100))
    }

    pub fn new(limit: Duration, own: Option<String>, quiet: bool) -> IdleWatch {
        IdleWatch {
            limit,
            own,
            next: std::time::Instant::now(),
            warned: Default::default(),
            quiet,
        }
    }

    /// Whether it is time to look again.
    pub fn due(&self) -> bool {
        !self.quiet && std::time::Instant::now() >= self.next
    }

    /// Stops watching, saying why once.
    pub fn give_up(&mut self, why: &str) {
        if !self.quiet {
            crate::base::cli::warn(why);
        }
        self.quiet = true;
    }

    /// Warns about what `groups` shows.
    pub fn look(&mut self, groups: &[GroupInfo]) {
        self.next = std::time::Instant::now() + self.every();
        for group in groups {
            if Some(&group.name) == self.own.as_ref() || self.warned.contains(&group.name) {
                continue;
            }
            if let Some(warning) = group.idle_warning(self.limit) {
                crate::base::cli::warn(warning);
                self.warned.insert(group.name.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(idle_ms: Option<u64>, pending: u64, lag: Option<u64>) -> GroupInfo {
        GroupInfo {
            name: "test".into(),
            consumers: 1,
            pending,
            lag,
            idle_ms,
        }
    }

    #[test]
    fn only_an_idle_group_that_holds_events_back_is_warned_about() {
        let day = DEFAULT_IDLE_WARNING;
        let long = Some(2 * 86_400_000);
        let warning = group(long, 3, Some(40)).idle_warning(day).unwrap();
        assert!(warning.contains("holds 43 event(s)"), "{warning}");
        assert!(warning.contains("sd-recv --retire-group test"), "{warning}");
        assert_eq!(group(long, 0, Some(0)).idle_warning(day), None);
        assert_eq!(group(Some(1000), 3, Some(40)).idle_warning(day), None);
        assert_eq!(group(None, 3, Some(40)).idle_warning(day), None);
    }

    #[test]
    fn groups_print_as_json() {
        let text = group(Some(90_000), 1, None).to_json();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["group"], "test");
        assert_eq!(v["lag"], Value::Null);
        assert_eq!(v["idle_ms"], 90_000);
    }
}
