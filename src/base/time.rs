//! Time as events carry it: RFC 3339, UTC, milliseconds
//! (`2026-11-20T02:00:01.000Z`), and milliseconds since the Unix epoch
//! inside the store.

use chrono::{DateTime, Local, NaiveDate, SecondsFormat, Utc};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// The canonical text of an instant given in milliseconds.
pub fn format_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Milliseconds since the epoch of a time written in canonical form, read
/// field by field without a general parser (the form events carry, read
/// for every event on the way into the store); `None` for anything else,
/// even a time that [`parse_rfc3339_ms`] reads.
pub fn parse_canonical_ms(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let shape = b.len() == 24
        && [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'.'),
            (23, b'Z'),
        ]
        .iter()
        .all(|&(at, c)| b[at] == c);
    if !shape {
        return None;
    }
    let number = |from: usize, to: usize| {
        b[from..to].iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(number(0, 4)?).ok()?,
        number(5, 7)?,
        number(8, 10)?,
    )?;
    let time = date.and_hms_milli_opt(
        number(11, 13)?,
        number(14, 16)?,
        number(17, 19)?,
        number(20, 23)?,
    )?;
    Some(time.and_utc().timestamp_millis())
}

/// Milliseconds since the epoch of any RFC 3339 time, whatever its offset.
pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// The canonical form of an RFC 3339 time: UTC, milliseconds. A time
/// already in that form (most are) is taken as it is.
pub fn canonical(text: &str) -> Option<String> {
    if parse_canonical_ms(text).is_some() {
        return Some(text.to_string());
    }
    parse_rfc3339_ms(text).map(format_ms)
}

/// A point in time as a person gives it on the command line, in ms since
/// the epoch: a duration before now (`2h`, `30d`), an RFC 3339 time, a
/// date (`2026-11-01`, local midnight), `today`, `yesterday` (local
/// midnight) or `now`.
pub fn parse_point(text: &str) -> Result<i64, String> {
    parse_point_at(text, Local::now())
}

fn parse_point_at(text: &str, now: DateTime<Local>) -> Result<i64, String> {
    let text = text.trim();
    let midnight = |date: NaiveDate| {
        date.and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(Local).earliest())
            .map(|t| t.timestamp_millis())
            .ok_or_else(|| format!("`{text}`: that midnight does not exist here"))
    };
    match text {
        "now" => return Ok(now.timestamp_millis()),
        "today" => return midnight(now.date_naive()),
        "yesterday" => return midnight(now.date_naive() - chrono::Days::new(1)),
        _ => {}
    }
    if let Ok(ago) = humantime::parse_duration(text) {
        return Ok(now.timestamp_millis() - ago.as_millis() as i64);
    }
    if let Some(ms) = parse_rfc3339_ms(text) {
        return Ok(ms);
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return midnight(date);
    }
    Err(format!(
        "`{text}` is neither a duration before now (2h, 30d) nor a time \
         (2026-11-01, 2026-11-01T12:00:00Z, today, yesterday)"
    ))
}

/// Milliseconds since the epoch of the local time Ruby's `Time#to_s`
/// writes (`2026-11-20 03:00:01 +0100`), as the earlier sheepdog did.
pub fn parse_ruby_ms(text: &str) -> Option<i64> {
    DateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S %z")
        .ok()
        .map(|t| t.timestamp_millis())
}

/// `3d 4h`, `12m 5s`, `800ms`: a duration for people, to two units.
/// A duration for a person: [`human_ms`] of it. The one format every
/// message uses (`6h`, `1d 6h`, `1m 30s`).
pub fn human(duration: std::time::Duration) -> String {
    human_ms(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX))
}

pub fn human_ms(ms: i64) -> String {
    let ms = ms.max(0) as u64;
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = ms / 1000;
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    // Two units at most, the second left out when it is zero: `6h`, not
    // `6h 0m`.
    let (big, small) = match (d, h, m) {
        (0, 0, 0) => return format!("{s}s"),
        (0, 0, _) => ((m, "m"), (s, "s")),
        (0, _, _) => ((h, "h"), (m, "m")),
        _ => ((d, "d"), (h, "h")),
    };
    match small {
        (0, _) => format!("{}{}", big.0, big.1),
        _ => format!("{}{} {}{}", big.0, big.1, small.0, small.1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn points_in_time_are_durations_times_dates_and_words() {
        let now = Local.timestamp_millis_opt(1_764_763_200_000).unwrap(); // 2025-12-03T12:00:00Z
        let at = |text: &str| parse_point_at(text, now).unwrap();
        assert_eq!(at("now"), now.timestamp_millis());
        assert_eq!(at("2h"), now.timestamp_millis() - 7_200_000);
        assert_eq!(at("2026-11-01T12:00:00Z"), 1_793_534_400_000);
        let today = at("today");
        assert_eq!(at("yesterday"), today - 86_400_000 + dst_shift(today));
        assert!(today <= now.timestamp_millis() && now.timestamp_millis() - today < 86_400_000);
        let date = at("2026-11-01");
        assert_eq!(
            Local
                .timestamp_millis_opt(date)
                .unwrap()
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            "2026-11-01 00:00"
        );
        assert!(
            parse_point_at("last tuesday", now)
                .unwrap_err()
                .contains("2026-11-01")
        );
    }

    /// A day before `ms` is 23 or 25 hours long where the clock changed.
    fn dst_shift(ms: i64) -> i64 {
        let here = |ms: i64| {
            Local
                .timestamp_millis_opt(ms)
                .unwrap()
                .offset()
                .local_minus_utc() as i64
        };
        (here(ms) - here(ms - 86_400_000)) * 1000
    }

    #[test]
    fn durations_for_people_have_two_units_at_most() {
        assert_eq!(human_ms(250), "250ms");
        assert_eq!(human_ms(59_000), "59s");
        assert_eq!(human_ms(60_000), "1m");
        assert_eq!(human_ms(61_000), "1m 1s");
        assert_eq!(human_ms(6 * 3_600_000), "6h");
        assert_eq!(human_ms(30 * 3_600_000), "1d 6h");
        assert_eq!(human_ms(2 * 86_400_000), "2d");
    }

    #[test]
    fn canonical_form_is_utc_with_milliseconds() {
        assert_eq!(
            canonical("2026-11-20T03:00:01+01:00").as_deref(),
            Some("2026-11-20T02:00:01.000Z")
        );
        assert_eq!(
            canonical("2026-11-20T02:00:01.123456Z").as_deref(),
            Some("2026-11-20T02:00:01.123Z")
        );
        assert_eq!(canonical("yesterday"), None);
    }

    #[test]
    fn the_canonical_form_is_read_as_the_general_parser_reads_it() {
        let mut ms: i64 = -62_135_596_800_000; // 0001-01-01
        while ms < 253_402_300_799_999 {
            let text = format_ms(ms);
            assert_eq!(parse_canonical_ms(&text), Some(ms), "{text}");
            assert_eq!(canonical(&text).as_deref(), Some(text.as_str()));
            ms += 86_399_999_937; // a day and a bit, through every month
        }
        for other in [
            "2026-11-20T03:00:01+01:00",
            "2026-11-20T02:00:01Z",
            "2026-11-20T02:00:01.0000Z",
            "2026-02-30T02:00:01.000Z",
            "2026-11-20T24:00:00.000Z",
            "2026-11-20T23:59:60.000Z",
            "2026-11-20t02:00:01.000Z",
            "2026-11-20T02:00:0x.000Z",
            "+026-11-20T02:00:01.000Z",
        ] {
            assert_eq!(parse_canonical_ms(other), None, "{other}");
        }
    }

    #[test]
    fn durations_for_people() {
        assert_eq!(human_ms(800), "800ms");
        assert_eq!(human_ms(65_000), "1m 5s");
        assert_eq!(human_ms(26 * 3_600_000), "1d 2h");
    }

    #[test]
    fn ruby_time_to_s_is_understood() {
        let ms = parse_ruby_ms("2026-11-20 03:00:01 +0100").unwrap();
        assert_eq!(format_ms(ms), "2026-11-20T02:00:01.000Z");
        assert_eq!(parse_ruby_ms("2026-11-20T03:00:01Z"), None);
    }
}
