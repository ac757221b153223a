//! The maintenance event: a host (or one of its tags) says it is down on
//! purpose until a time, and why (`sd-bark --maintenance 30m --reason
//! …`, the gate's `/maintenance?for=`). An `info` event, so it never
//! opens or closes an interruption itself; `until` is what the server
//! holds its notifications by, and an `until` at the event's own time
//! ends the window early (`--maintenance off`).

use super::{Event, Status};
use crate::base::time::{format_ms, now_ms};
use std::time::Duration;

pub const KIND: &str = "maintenance";

/// A window in force: until when, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub until_ms: i64,
    pub reason: Option<String>,
}
/// The tag of a window over every tag of its host.
pub const EVERY_TAG: &str = "*";

/// A window of `length` from now on `host` (`tag`, or [`EVERY_TAG`]);
/// zero ends the one in force.
pub fn event(host: &str, tag: &str, length: Duration, reason: Option<&str>) -> Event {
    let mut event = Event::report(host, tag, KIND, Status::Info);
    let now = event.time_ms().unwrap_or_else(now_ms);
    let until = now.saturating_add(i64::try_from(length.as_millis()).unwrap_or(i64::MAX / 2));
    event.set("until", format_ms(until));
    let what = if tag == EVERY_TAG {
        host.to_string()
    } else {
        format!("{tag} on {host}")
    };
    let msg = match (length.is_zero(), reason) {
        (true, _) => format!("{what}: maintenance over"),
        (false, Some(reason)) => format!(
            "{what}: maintenance for {} ({reason})",
            crate::base::time::human(length)
        ),
        (false, None) => format!(
            "{what}: maintenance for {}",
            crate::base::time::human(length)
        ),
    };
    event.set("msg", msg);
    if let Some(reason) = reason {
        event.set("maintenance_reason", reason);
    }
    event
}

/// `--maintenance`'s value: a duration, or `off`.
pub fn parse_length(text: &str) -> Result<Duration, String> {
    if text == "off" {
        return Ok(Duration::ZERO);
    }
    let length = crate::base::cli::parse_duration(text)?;
    if length.is_zero() || length > Duration::from_secs(31 * 86400) {
        return Err(format!(
            "{text}: a window lasts between 1s and 31 days (or off)"
        ));
    }
    Ok(length)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_says_until_when_and_why() {
        let event = event(
            "db1",
            EVERY_TAG,
            Duration::from_secs(1800),
            Some("kernel update"),
        );
        assert_eq!(event.kind(), Some(KIND));
        assert_eq!(event.status(), Some(Status::Info));
        let until = crate::base::time::parse_rfc3339_ms(event.str("until").unwrap()).unwrap();
        let time = event.time_ms().unwrap();
        assert_eq!(until - time, 1_800_000);
        assert!(event.str("msg").unwrap().contains("kernel update"));
        assert_eq!(parse_length("off"), Ok(Duration::ZERO));
        assert!(parse_length("0s").is_err());
        assert!(parse_length("90d").is_err());
    }
}
