//! `sd-query status --format openmetrics`: the board for Prometheus, as a
//! file for node_exporter's textfile collector (a cron line writes it).
//! Written in the text format both Prometheus and OpenMetrics read: gauges
//! with HELP and TYPE, times in seconds, the status as one series per
//! state (1 for the one that holds), and `# EOF`.

use crate::store::read::Pair;
use std::fmt::Write as _;

const STATES: [&str; 4] = ["ok", "warn", "fail", "error"];

/// A label value as the format escapes it: `\`, `"` and newlines.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn seconds(ms: i64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

pub fn write(pairs: &[Pair]) -> String {
    let mut out = String::new();
    let mut family = |name: &str, help: &str, value: &dyn Fn(&Pair) -> Vec<(String, String)>| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for pair in pairs {
            let labels = format!(
                "host=\"{}\",tag=\"{}\"",
                label(&pair.host),
                label(&pair.tag)
            );
            for (extra, v) in value(pair) {
                let _ = writeln!(out, "{name}{{{labels}{extra}}} {v}");
            }
        }
    };
    family(
        "sheepdog_status",
        "The board: 1 for the status each host and tag is in (ok, warn, fail, error), 0 for the others.",
        &|p| {
            STATES
                .iter()
                .map(|s| {
                    (
                        format!(",status=\"{s}\""),
                        u8::from(p.status == *s).to_string(),
                    )
                })
                .collect()
        },
    );
    family(
        "sheepdog_last_event_timestamp_seconds",
        "When the newest event with a status arrived for each host and tag.",
        &|p| vec![(String::new(), seconds(p.time_ms))],
    );
    family(
        "sheepdog_last_ok_timestamp_seconds",
        "When each host and tag last succeeded (a job's own ok, never a verdict's).",
        &|p| {
            p.last_ok_ms
                .map(|t| (String::new(), seconds(t)))
                .into_iter()
                .collect()
        },
    );
    family(
        "sheepdog_last_change_timestamp_seconds",
        "Since when the status holds: the start of the open interruption, else the end of the last.",
        &|p| {
            p.since_ms
                .map(|t| (String::new(), seconds(t)))
                .into_iter()
                .collect()
        },
    );
    family(
        "sheepdog_last_duration_seconds",
        "How long the run or check of the newest event took.",
        &|p| {
            p.last_duration_ms
                .map(|t| (String::new(), seconds(t)))
                .into_iter()
                .collect()
        },
    );
    family(
        "sheepdog_open_interruptions",
        "Interruption periods still open (a fail or error not followed by an ok yet).",
        &|p| vec![(String::new(), p.open_interruptions.to_string())],
    );
    family(
        "sheepdog_maintenance_until_timestamp_seconds",
        "When the maintenance window covering each host and tag ends (only those in one).",
        &|p| {
            p.maintenance
                .as_ref()
                .map(|w| (String::new(), seconds(w.until_ms)))
                .into_iter()
                .collect()
        },
    );
    out.push_str("# EOF\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_cannot_break_the_line() {
        let pair = Pair {
            host: "a\"b\\c\nd".into(),
            tag: "t".into(),
            status: "fail".into(),
            time_ms: 1_500,
            last_ok_ms: None,
            since_ms: Some(1_000),
            open_interruptions: 1,
            last_duration_ms: Some(250),
            msg: None,
            maintenance: None,
        };
        let text = write(&[pair]);
        assert!(
            text.contains(r#"sheepdog_status{host="a\"b\\c\nd",tag="t",status="fail"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                "sheepdog_last_duration_seconds{host=\"a\\\"b\\\\c\\nd\",tag=\"t\"} 0.250"
            )
        );
        assert!(!text.contains("sheepdog_last_ok_timestamp_seconds{"));
        assert!(text.ends_with("# EOF\n"));
        assert_eq!(text.lines().filter(|l| l.is_empty()).count(), 0);
    }
}
