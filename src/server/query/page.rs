//! `sd-query status --format html`: the board as one self-contained page —
//! no server, no script, no font, image or style from anywhere else — so
//! it works from `file://`, from any web server, on a phone. Hosts are
//! rows, tags columns; each cell says the status in colour *and* word,
//! since when, the open interruption, and the last 30 days as a strip.
//! Every value from the store is escaped.

use crate::base::error::Result;
use crate::base::time::{format_ms, human_ms};
use crate::store::read::{self, Pair};
use rusqlite::Connection;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

const DAY_MS: i64 = 86_400_000;
/// Days in each cell's strip.
const DAYS: i64 = 30;

/// Facts shown beside each host, in this order, when it has them.
const KEY_FACTS: [&str; 6] = [
    "os",
    "kernel",
    "cpus",
    "mem_total_bytes",
    "uptime_s",
    "load1",
];

const STYLE: &str = "
body { font: 15px/1.4 system-ui, sans-serif; margin: 1em; color: #222; background: #fff; }
h1 { font-size: 1.3em; margin: 0 0 .2em; }
p.when { color: #555; margin: 0 0 1em; }
.wrap { overflow-x: auto; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ddd; padding: .35em .5em; vertical-align: top; text-align: left; }
th.host { white-space: nowrap; }
.facts { font-weight: normal; font-size: .8em; color: #555; }
.status { font-weight: bold; text-transform: uppercase; font-size: .85em; padding: 0 .3em; border-radius: 3px; }
.ok .status { background: #d4f4d2; color: #14591a; }
.warn .status { background: #fff1c2; color: #6b4e00; }
.fail .status, .error .status { background: #ffd6d6; color: #8a1010; }
td.ok { background: #f6fdf6; } td.warn { background: #fffbea; }
td.fail, td.error { background: #fff3f3; }
.since, .open, .msg { display: block; font-size: .8em; color: #444; }
.open { color: #8a1010; }
.maintenance { display: block; font-size: .8em; color: #5a3e00; background: #fff2cc; }
.strip { display: flex; gap: 1px; margin-top: .3em; }
.strip i { display: block; width: 4px; height: 10px; background: #9bd49a; }
.strip i.bad { background: #e05555; }
.strip i.none { background: #eee; }
td.none { background: #fafafa; color: #aaa; }
@media (prefers-color-scheme: dark) {
  body { background: #121212; color: #ddd; } th, td { border-color: #333; }
  td.ok { background: #10210f; } td.warn { background: #2a2408; }
  td.fail, td.error { background: #2d1111; } td.none { background: #161616; }
  .facts, .since, .msg, p.when { color: #aaa; }
}
";

/// A text safe in HTML: `& < > " '` as entities.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Interruption periods (start, end) per host and tag.
type Periods = BTreeMap<(String, String), Vec<(i64, i64)>>;

/// Each pair's interruptions overlapping the last `DAYS` days, as (start,
/// end) with an open one ending now.
fn periods(conn: &Connection, now: i64) -> Result<Periods> {
    let mut out = Periods::new();
    for p in read::recent_periods(conn, now - DAYS * DAY_MS)? {
        out.entry((p.host, p.tag))
            .or_default()
            .push((p.start_ms, p.end_ms.unwrap_or(now)));
    }
    for periods in out.values_mut() {
        periods.sort_unstable();
    }
    Ok(out)
}

fn facts(conn: &Connection) -> Result<BTreeMap<String, Vec<(String, String)>>> {
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (host, name, value) in read::facts(conn)? {
        if KEY_FACTS.contains(&name.as_str()) {
            out.entry(host).or_default().push((name, value));
        }
    }
    for list in out.values_mut() {
        list.sort_by_key(|(name, _)| KEY_FACTS.iter().position(|k| k == name));
    }
    Ok(out)
}

/// A fact as a person reads it.
fn shown_fact(name: &str, value: &str) -> String {
    match (name, value.parse::<u64>()) {
        ("mem_total_bytes", Ok(bytes)) => format!("{} RAM", crate::base::size::format(bytes)),
        ("uptime_s", Ok(s)) => format!("up {}", human_ms(s as i64 * 1000)),
        ("cpus", Ok(n)) => format!("{n} CPUs"),
        ("load1", _) => format!("load {value}"),
        _ => value.to_string(),
    }
}

pub fn write(conn: &Connection, pairs: &[Pair], now: i64) -> Result<String> {
    let periods = periods(conn, now)?;
    let facts = facts(conn)?;
    let hosts: BTreeSet<&str> = pairs.iter().map(|p| p.host.as_str()).collect();
    let tags: BTreeSet<&str> = pairs.iter().map(|p| p.tag.as_str()).collect();
    let cell: BTreeMap<(&str, &str), &Pair> = pairs
        .iter()
        .map(|p| ((p.host.as_str(), p.tag.as_str()), p))
        .collect();
    let failing = pairs
        .iter()
        .filter(|p| matches!(p.status.as_str(), "fail" | "error"))
        .count();
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <title>sheepdog: {failing} failing of {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>sheepdog</h1>\n<p class=\"when\">{} hosts, {} tags, {failing} failing — as of {}</p>\n\
         <div class=\"wrap\"><table>\n<thead><tr><th>host</th>",
        pairs.len(),
        hosts.len(),
        tags.len(),
        format_ms(now)
    );
    for tag in &tags {
        let _ = write!(html, "<th>{}</th>", escape(tag));
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    for host in &hosts {
        let _ = write!(html, "<tr><th class=\"host\">{}", escape(host));
        if let Some(list) = facts.get(*host) {
            let shown: Vec<String> = list
                .iter()
                .map(|(n, v)| escape(&shown_fact(n, v)))
                .collect();
            let _ = write!(html, "<div class=\"facts\">{}</div>", shown.join("<br>"));
        }
        html.push_str("</th>");
        for tag in &tags {
            let Some(pair) = cell.get(&(*host, *tag)) else {
                html.push_str("<td class=\"none\">—</td>");
                continue;
            };
            let status = match pair.status.as_str() {
                s @ ("ok" | "warn" | "fail" | "error") => s,
                _ => "none",
            };
            let _ = write!(
                html,
                "<td class=\"{status}\" data-host=\"{}\" data-tag=\"{}\"><span class=\"status\">{}</span>",
                escape(host),
                escape(tag),
                escape(&pair.status)
            );
            if let Some(since) = pair.since_ms {
                let _ = write!(
                    html,
                    "<span class=\"since\" title=\"{}\">since {} ago</span>",
                    format_ms(since),
                    human_ms(now - since)
                );
            }
            if pair.open_interruptions > 0 {
                html.push_str("<span class=\"open\">interruption open</span>");
            }
            if let Some(window) = &pair.maintenance {
                let why = window
                    .reason
                    .as_deref()
                    .map_or(String::new(), |r| format!(": {}", escape(r)));
                let _ = write!(
                    html,
                    "<span class=\"maintenance\" title=\"{}\">in maintenance for {}{why}</span>",
                    format_ms(window.until_ms),
                    human_ms(window.until_ms - now)
                );
            }
            if let Some(msg) = &pair.msg {
                let _ = write!(html, "<span class=\"msg\">{}</span>", escape(msg));
            }
            let key = (host.to_string(), tag.to_string());
            let spans = periods.get(&key).map(Vec::as_slice).unwrap_or_default();
            let bad_days = (0..DAYS)
                .filter(|d| {
                    let from = now - (DAYS - d) * DAY_MS;
                    spans.iter().any(|&(s, e)| s < from + DAY_MS && e > from)
                })
                .count();
            let _ = write!(
                html,
                "<span class=\"strip\" title=\"the last {DAYS} days: {bad_days} with an interruption\">"
            );
            for d in 0..DAYS {
                let from = now - (DAYS - d) * DAY_MS;
                let bad = spans.iter().any(|&(s, e)| s < from + DAY_MS && e > from);
                html.push_str(if bad {
                    "<i class=\"bad\"></i>"
                } else {
                    "<i></i>"
                });
            }
            html.push_str("</span></td>");
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody>\n</table></div>\n</body>\n</html>\n");
    Ok(html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_from_the_store_becomes_markup() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(escape("a\r\nb"), "a  b");
    }
}
