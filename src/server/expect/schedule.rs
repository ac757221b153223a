//! When a job's success is due, for the dead man's switch: within a
//! window of now (`--within 26h`), or after each run a crontab schedules
//! (`--cron '0 3 * * *' --grace 2h`) — the form most cron monitors are
//! asked for, since a window either fires late or fires between runs.
//!
//! Schedules are read in the zone the crontab runs in, so a daily job at
//! 02:30 is due at the right instant across daylight saving changes:
//! croner resolves a time the clock skips to the first instant after the
//! gap, and a repeated hour to one run, as Vixie cron does.

use chrono::{DateTime, Local, TimeZone, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use std::time::Duration;

/// When an `ok` is required.
#[derive(Clone, Debug)]
pub enum Deadline {
    /// Some `ok` no older than this.
    Within(Duration),
    /// An `ok` since the latest scheduled run whose grace has passed.
    Cron {
        cron: Box<Cron>,
        zone: Zone,
        grace: Duration,
    },
}

/// The zone a schedule is written in.
#[derive(Clone, Copy, Debug)]
pub enum Zone {
    Local,
    Named(chrono_tz::Tz),
}

impl Deadline {
    /// The time (ms since the epoch) since which an `ok` must exist, at
    /// `now_ms`; `None` while no scheduled run has reached its deadline.
    pub fn due_since(&self, now_ms: i64) -> Option<i64> {
        match self {
            Deadline::Within(window) => Some(now_ms - window.as_millis() as i64),
            Deadline::Cron { cron, zone, grace } => {
                zone.previous_run(cron, now_ms - grace.as_millis() as i64)
            }
        }
    }

    /// The deadline in words, for messages: `within 1d 2h`, `by 2h after
    /// each run of '0 3 * * *' (Europe/Amsterdam)`.
    pub fn describe(&self) -> String {
        match self {
            Deadline::Within(window) => {
                format!("within {}", crate::base::time::human(*window))
            }
            Deadline::Cron { cron, zone, grace } => format!(
                "by {} after each run of '{}' ({})",
                crate::base::time::human(*grace),
                cron.pattern,
                zone.name()
            ),
        }
    }

    /// A scheduled time for a person, in the schedule's own zone.
    pub fn show_time(&self, ms: i64) -> String {
        let utc = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
        let format = "%Y-%m-%d %H:%M %Z";
        match self {
            Deadline::Cron {
                zone: Zone::Named(tz),
                ..
            } => utc.with_timezone(tz).format(format).to_string(),
            Deadline::Cron { .. } => utc.with_timezone(&Local).format(format).to_string(),
            Deadline::Within(_) => crate::base::time::format_ms(ms),
        }
    }
}

impl Zone {
    /// The latest run of `cron` at or before `ms`, read in this zone.
    pub fn previous_run(&self, cron: &Cron, ms: i64) -> Option<i64> {
        match self {
            Zone::Local => previous_run(cron, &Local, ms),
            Zone::Named(tz) => previous_run(cron, tz, ms),
        }
    }

    fn name(&self) -> String {
        match self {
            Zone::Local => "local time".to_string(),
            Zone::Named(tz) => tz.name().to_string(),
        }
    }
}

/// The latest run of `cron` at or before `ms`, read in `zone`.
fn previous_run<Z>(cron: &Cron, zone: &Z, ms: i64) -> Option<i64>
where
    Z: TimeZone + Copy,
    Z::Offset: Copy,
{
    let at = DateTime::<Utc>::from_timestamp_millis(ms)?.with_timezone(zone);
    cron.find_previous_occurrence(&at, true)
        .ok()
        .map(|run| run.timestamp_millis())
}

/// A crontab schedule of five fields, as cron(8) reads it.
pub fn parse_cron(text: &str) -> Result<Cron, String> {
    let cron = CronParser::builder()
        .seconds(Seconds::Disallowed)
        .build()
        .parse(text)
        .map_err(|e| format!("`{text}` is not a crontab schedule ({e}; try '0 3 * * *')"))?;
    // A schedule that never fires (`0 0 31 2 *`) would never be due.
    if cron.find_next_occurrence(&Utc::now(), false).is_err() {
        return Err(format!("`{text}` never fires"));
    }
    Ok(cron)
}

/// An IANA zone name: `Europe/Amsterdam`, `UTC`.
pub fn parse_zone(text: &str) -> Result<chrono_tz::Tz, String> {
    text.parse::<chrono_tz::Tz>()
        .map_err(|_| format!("`{text}` is not a time zone (try Europe/Amsterdam or UTC)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_millis()
    }

    fn daily(at: &str, zone: &str, grace_h: u64) -> Deadline {
        Deadline::Cron {
            cron: Box::new(parse_cron(at).unwrap()),
            zone: Zone::Named(parse_zone(zone).unwrap()),
            grace: Duration::from_secs(grace_h * 3600),
        }
    }

    /// (schedule, zone, grace in hours, now, the run an ok must follow)
    const DUE: &[(&str, &str, u64, &str, &str)] = &[
        // 04:59: today's 03:00 run is still within its grace; yesterday's counts.
        (
            "0 3 * * *",
            "UTC",
            2,
            "2026-12-03T04:59:00Z",
            "2026-12-02T03:00:00Z",
        ),
        // 05:00: today's is due.
        (
            "0 3 * * *",
            "UTC",
            2,
            "2026-12-03T05:00:00Z",
            "2026-12-03T03:00:00Z",
        ),
        // Amsterdam: 2026-03-29 02:00 CET → 03:00 CEST.
        // Winter: 02:30 CET is 01:30 UTC.
        (
            "30 2 * * *",
            "Europe/Amsterdam",
            0,
            "2026-03-28T12:00:00Z",
            "2026-03-28T01:30:00Z",
        ),
        // The day 02:30 does not exist: the run is the first instant after the gap, 03:00 CEST.
        (
            "30 2 * * *",
            "Europe/Amsterdam",
            0,
            "2026-03-29T12:00:00Z",
            "2026-03-29T01:00:00Z",
        ),
        // Summer: 02:30 CEST is 00:30 UTC.
        (
            "30 2 * * *",
            "Europe/Amsterdam",
            0,
            "2026-03-30T12:00:00Z",
            "2026-03-30T00:30:00Z",
        ),
        (
            "0 3 * * *",
            "America/New_York",
            1,
            "2026-07-01T12:00:00Z",
            "2026-07-01T07:00:00Z",
        ),
    ];

    #[test]
    fn runs_are_due_after_their_grace_in_their_zone_across_daylight_saving() {
        for (cron, zone, grace, now, due) in DUE {
            let d = daily(cron, zone, *grace);
            assert_eq!(
                d.due_since(ms(now)),
                Some(ms(due)),
                "{cron} {zone} at {now}"
            );
        }
        let d = daily("30 2 * * *", "Europe/Amsterdam", 0);
        // The day 02:30 happens twice: one run, and a success after the first counts.
        let due = d.due_since(ms("2026-10-25T12:00:00Z")).unwrap();
        assert!(
            due == ms("2026-10-25T00:30:00Z") || due == ms("2026-10-25T01:30:00Z"),
            "{due}"
        );
    }

    #[test]
    fn a_window_is_due_from_now_minus_the_window() {
        let d = Deadline::Within(Duration::from_secs(60));
        assert_eq!(d.due_since(100_000), Some(40_000));
        assert_eq!(d.describe(), "within 1m");
    }

    #[test]
    fn bad_schedules_and_zones_are_named() {
        assert!(
            parse_cron("0 3 * *")
                .unwrap_err()
                .contains("not a crontab schedule")
        );
        assert!(parse_cron("0 0 3 * * *").is_err(), "no seconds field");
        assert!(
            parse_cron("0 0 31 2 *")
                .unwrap_err()
                .contains("never fires")
        );
        assert!(
            parse_zone("Mars/Olympus")
                .unwrap_err()
                .contains("not a time zone")
        );
        assert!(
            daily("0 3 * * 1-5", "UTC", 1)
                .describe()
                .contains("'0 3 * * 1-5' (UTC)")
        );
    }
}
