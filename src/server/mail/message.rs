//! What a mail says: subject and plain-text body, for one notification,
//! a burst of them, or the digest.
//!
//! Everything here comes from events, which anyone on the herd can write:
//! the subject is made of one line of printable characters (CR, LF and
//! every other control character become spaces), and values only ever go
//! into the subject or the body, never into headers of their own.

use super::policy::Notice;
use super::state::{Diary, Item};
use crate::base::time::{format_ms, human_ms};
use crate::event::Status;
use serde_json::{Map, Value};
use std::fmt::Write as _;

/// Lines of stdout and stderr shown from the end of each.
const TAIL_LINES: usize = 20;
/// A subject longer than this is cut (mail clients cut it anyway).
const SUBJECT_CHARS: usize = 160;

pub struct Mail {
    pub subject: String,
    pub body: String,
}

/// One line, no control characters: safe for a header.
pub fn one_line(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The mail for the notifications of one group, decided within one
/// `--group-wait`; `held` are those of the group a suppress rule in
/// `rules` held back, named at the end.
pub fn notification(items: &[Item], held: &[Item], rules: &str, now_ms: i64) -> Mail {
    let heads: Vec<String> = items.iter().map(|i| headline(i, now_ms)).collect();
    let subject = match heads.as_slice() {
        [one] => one.clone(),
        many => {
            let mut subject = format!("{} changes: ", many.len());
            for (n, head) in many.iter().enumerate() {
                let next = if n == 0 {
                    head.clone()
                } else {
                    format!(", {head}")
                };
                if subject.chars().count() + next.chars().count() > SUBJECT_CHARS - 20 {
                    let _ = write!(subject, ", and {} more", many.len() - n);
                    break;
                }
                subject.push_str(&next);
            }
            subject
        }
    };
    let mut body = String::new();
    if items.len() > 1 {
        body.push_str("These changed together:\n");
        for head in &heads {
            let _ = writeln!(body, "  {head}");
        }
        body.push('\n');
    }
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            body.push_str("\n----------------------------------------------------------------\n\n");
        }
        describe(&mut body, item, now_ms);
    }
    if !held.is_empty() {
        let _ = writeln!(
            body,
            "\n----------------------------------------------------------------\n\n\
             Held back: the suppress rules in {} say the above explains these ({}):",
            one_line(rules),
            held.len()
        );
        for item in held {
            let _ = writeln!(body, "  {}", headline(item, now_ms));
        }
    }
    Mail {
        subject: format!("[sheepdog] {}", one_line(&subject)),
        body,
    }
}

/// The notifications as data, for a program or a JSON webhook: what the
/// mail (`mail`, already written) says, field by field, and each event as
/// it came.
pub fn data(items: &[Item], held: &[Item], mail: &Mail, now_ms: i64) -> Value {
    let one = |item: &Item| {
        serde_json::json!({
            "notice": item.notice.as_str(),
            "host": item.host,
            "tag": item.tag,
            "headline": headline(item, now_ms),
            "previous": item.previous.map(|s| s.as_str()),
            "since": format_ms(item.since_ms),
            "event": Value::Object(fields(&item.line)),
        })
    };
    serde_json::json!({
        "subject": mail.subject,
        "text": mail.body,
        "notifications": items.iter().map(one).collect::<Vec<_>>(),
        "held": held.iter().map(one).collect::<Vec<_>>(),
    })
}

/// `FAIL borg on tux01 (exit 2)`: the tag as written, as the body and the silence command have it.
fn headline(item: &Item, now_ms: i64) -> String {
    let event = fields(&item.line);
    let status = text(&event, "status").to_uppercase();
    let what = format!("{} on {}", item.tag, item.host);
    let why = cause(&event);
    let line = match item.notice {
        Notice::Problem => match why {
            Some(why) => format!("{status} {what} ({why})"),
            None => format!("{status} {what}"),
        },
        Notice::Reminder => format!(
            "still {status} {what} (since {})",
            human_ms(now_ms - item.since_ms)
        ),
        Notice::Recovery => {
            let was = item
                .previous
                .map_or("failing".to_string(), |s| s.as_str().to_uppercase());
            let after = time_of(&event).map(|t| human_ms(t - item.since_ms));
            match after {
                Some(after) => format!("OK {what} (recovered from {was} after {after})"),
                None => format!("OK {what} (recovered from {was})"),
            }
        }
    };
    one_line(&line)
}

fn describe(body: &mut String, item: &Item, now_ms: i64) {
    let event = fields(&item.line);
    let _ = writeln!(body, "{}\n", headline(item, now_ms));
    let mut row = |name: &str, value: String| {
        if !value.is_empty() {
            let _ = writeln!(body, "{name:<10}{value}");
        }
    };
    let kind = text(&event, "kind");
    row(
        "What:",
        if kind.is_empty() {
            item.tag.clone()
        } else {
            format!("{} ({kind})", item.tag)
        },
    );
    row("Where:", item.host.clone());
    if let Some(t) = time_of(&event) {
        row(
            "When:",
            format!("{} ({} ago)", format_ms(t), human_ms(now_ms - t)),
        );
        match item.notice {
            Notice::Problem => {}
            Notice::Reminder => row(
                "Since:",
                format!(
                    "{} ({})",
                    format_ms(item.since_ms),
                    human_ms(t - item.since_ms)
                ),
            ),
            Notice::Recovery => row(
                "Down for:",
                format!(
                    "{} (since {})",
                    human_ms(t - item.since_ms),
                    format_ms(item.since_ms)
                ),
            ),
        }
    }
    if let Some(ms) = event.get("elapsed_ms").and_then(Value::as_i64) {
        row("Took:", human_ms(ms));
    }
    if let Some(Value::Array(cmd)) = event.get("cmd") {
        let words: Vec<String> = cmd
            .iter()
            .map(|w| w.as_str().map_or_else(|| w.to_string(), str::to_string))
            .collect();
        row("Command:", shell_words::join(&words));
    }
    if let Some(code) = event.get("code").and_then(Value::as_i64) {
        row("Exit:", code.to_string());
    }
    row("Signal:", text(&event, "signal"));
    row("Reason:", text(&event, "reason"));
    row("Message:", text(&event, "msg"));
    row("User:", text(&event, "user"));
    for stream in ["stderr", "stdout"] {
        let output = text(&event, stream);
        if !output.trim().is_empty() {
            let lines: Vec<&str> = output.lines().collect();
            let shown = &lines[lines.len().saturating_sub(TAIL_LINES)..];
            let _ = writeln!(
                body,
                "\n{stream} (last {} of {} lines):",
                shown.len(),
                lines.len()
            );
            for line in shown {
                let _ = writeln!(body, "  {}", line.trim_end_matches('\r'));
            }
        }
    }
    let host = shell_words::quote(&item.host);
    let tag = shell_words::quote(&item.tag);
    let _ = writeln!(
        body,
        "\nSilence it:   sd-mail silence --host {host} --tag {tag} --for 1d --reason WHY"
    );
    let _ = writeln!(
        body,
        "Its history:  sd-query events --host {host} --tag {tag} --since 7d"
    );
    if item.notice != Notice::Recovery {
        // Named, so that in a mail that also reports a recovery the promise
        // cannot be read as being about that one.
        let _ = writeln!(
            body,
            "\nYou will be told when {} on {} recovers, and reminded while it does not.",
            one_line(&item.tag),
            one_line(&item.host)
        );
    }
}

/// The digest: what changed in the period, and how many events of each
/// status every host and tag reported.
pub fn digest(diary: &Diary, from_ms: i64, now_ms: i64) -> Mail {
    let failing = diary
        .changes
        .iter()
        .filter(|c| matches!(c.3, Status::Fail | Status::Error))
        .count();
    let subject = format!(
        "[sheepdog] digest since {}: {} change(s), {failing} failure(s)",
        format_ms(from_ms),
        diary.changes.len()
    );
    let mut body = format!(
        "What happened on the herd from {} to {} ({}).\n",
        format_ms(from_ms),
        format_ms(now_ms),
        human_ms(now_ms - from_ms)
    );
    body.push_str("\nChanges:\n");
    if diary.changes.is_empty() {
        body.push_str("  none\n");
    }
    for (time_ms, host, tag, status, previous, line) in &diary.changes {
        let event = fields(line);
        let from = previous.map_or("new".to_string(), |p| p.as_str().to_string());
        let why = cause(&event)
            .map(|w| format!(" ({})", one_line(&w)))
            .unwrap_or_default();
        let _ = writeln!(
            body,
            "  {}  {:<12} {:<16} {from} -> {}{}",
            format_ms(*time_ms),
            one_line(host),
            one_line(tag),
            status.as_str(),
            why
        );
    }
    body.push_str("\nEvents by host and tag:\n");
    let mut last: Option<(&str, &str)> = None;
    let mut line = String::new();
    for (host, tag, status, n) in &diary.counts {
        if last != Some((host, tag)) {
            if !line.is_empty() {
                let _ = writeln!(body, "{line}");
            }
            line = format!("  {:<12} {:<16}", one_line(host), one_line(tag));
            last = Some((host, tag));
        }
        let _ = write!(line, " {}={n}", status.as_str());
    }
    if !line.is_empty() {
        let _ = writeln!(body, "{line}");
    }
    Mail { subject, body }
}

pub fn fields(line: &str) -> Map<String, Value> {
    serde_json::from_str(line).unwrap_or_default()
}

fn text(event: &Map<String, Value>, key: &str) -> String {
    match event.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn time_of(event: &Map<String, Value>) -> Option<i64> {
    event
        .get("time")
        .and_then(Value::as_str)
        .and_then(crate::base::time::parse_rfc3339_ms)
}

/// `timeout after 6h`, `exit 2`, `SIGKILL`, or the reason.
fn cause(event: &Map<String, Value>) -> Option<String> {
    if event.get("reason").and_then(Value::as_str) == Some("timeout") {
        // sd-run ended it: the signal and code it used are its own, not
        // the job's (docs/ARCHITECTURE.md §4: 124 as timeout(1) does).
        return Some(match event.get("elapsed_ms").and_then(Value::as_i64) {
            Some(ms) => format!("timeout after {}", human_ms(ms)),
            None => "timeout".to_string(),
        });
    }
    if let Some(signal) = event.get("signal").and_then(Value::as_str) {
        return Some(signal.to_string());
    }
    match event.get("code").and_then(Value::as_i64) {
        Some(code) if code != 0 => Some(format!("exit {code}")),
        _ => event
            .get("reason")
            .and_then(Value::as_str)
            .map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recovery_makes_no_promise_and_a_problem_names_what_it_promises() {
        let failed = r#"{"host":"a","tag":"web","status":"fail","code":1}"#;
        let recovered = r#"{"host":"b","tag":"db","status":"ok"}"#;
        let mail = notification(&[item(Notice::Recovery, "b", "db", recovered)], &[], "", 0);
        assert!(!mail.body.contains("You will be told"), "{}", mail.body);
        let both = notification(
            &[
                item(Notice::Recovery, "b", "db", recovered),
                item(Notice::Problem, "a", "web", failed),
            ],
            &[],
            "",
            0,
        );
        assert_eq!(both.body.matches("You will be told").count(), 1);
        assert!(
            both.body.contains("told when web on a recovers"),
            "{}",
            both.body
        );
    }

    fn item(notice: Notice, host: &str, tag: &str, line: &str) -> Item {
        Item {
            mail: 1,
            notice,
            host: host.into(),
            tag: tag.into(),
            previous: Some(Status::Fail),
            since_ms: 0,
            line: line.into(),
        }
    }

    #[test]
    fn the_subject_says_what_where_and_why_on_one_line() {
        let line = r#"{"time":"2026-11-20T03:00:01.000Z","host":"tux01","tag":"borg","status":"fail","code":2}"#;
        let mail = notification(&[item(Notice::Problem, "tux01", "borg", line)], &[], "", 0);
        assert_eq!(mail.subject, "[sheepdog] FAIL borg on tux01 (exit 2)");
        let timeout = r#"{"host":"tux01","tag":"borg","status":"fail","reason":"timeout","code":124,"signal":"SIGTERM","elapsed_ms":21600000}"#;
        let mail = notification(
            &[item(Notice::Problem, "tux01", "borg", timeout)],
            &[],
            "",
            0,
        );
        assert_eq!(
            mail.subject,
            "[sheepdog] FAIL borg on tux01 (timeout after 6h)"
        );
        let evil = item(Notice::Problem, "tux01\r\nBcc: x@evil", "a\nb", line);
        let mail = notification(&[evil], &[], "", 0);
        assert!(!mail.subject.contains(['\r', '\n']), "{}", mail.subject);
    }
}
