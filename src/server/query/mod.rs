//! `sd-query`: answer questions from the store — the board, events,
//! interruptions on machines with given facts, or read-only SQL.

mod ask;
mod durations;
mod metrics;
mod output;
mod page;

use crate::base::error::{Context, Error, Result};
use crate::base::exit::Exit;
use crate::base::time;
use crate::config::ConfigArgs;
use crate::store::Store;
use crate::store::facts::{FactExpr, hosts_matching};
use crate::store::read::{self, Selection};
use clap::{ArgMatches, Parser, Subcommand};
use output::{Answer, Format};
use rusqlite::Connection;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use time::human_ms;

const LONG_ABOUT: &str = "\
Answer questions from the store sd-store keeps. `status` is the board: the \
latest state of every host and tag, with its age. `events` lists events, \
oldest first, filtered by --since, --host, --tag, --status and --kind. \
`interruptions` gives, per host and tag, the periods from a fail or error to \
the next ok that overlap the window (clipped to it; an open period counts up \
to now): their count, first start, last end (or open) and total duration. \
`durations` gives, per host and tag, how long successful runs took in the \
window (default 30d): their count, median, p95 and the last, and whether \
the last is an outlier (slower than --slower or faster than --faster times \
the median of the runs before it).

--fact EXPR keeps only hosts whose latest facts match (all of them, if given \
several): NAME OP VALUE with = != < <= > >= and ~ (glob); sizes take KiB MiB \
GiB TiB; pkg.* compare as Debian versions, and a version without a revision \
matches on the upstream part (pkg.nginx=1.24.0 matches 1.24.0-2+deb12u1).

--sql runs a query of your own on the store, opened read-only.

Rules (sheepdog(7), RULES) ask the herd in Datalog: `ask 'answer(H, T)'` \
prints one object of bindings per answer; `rules --check FILE` checks a rule \
file without a store; `alerts` (for cron, `| sd-bark`) prints a fail event \
when an alert(Host, Tag, Msg) starts to hold and an ok when it stops, \
remembered between runs; `ask --orders` prints order requests for \
`| sd-order`. The rule file is --rules, [rules] path, or \
/etc/sheepdog/rules.dl.

`status --format html --output FILE` writes the board as one \
self-contained page (no script, nothing fetched from anywhere; it works \
from file://), hosts by tags, each status in colour and word with since \
when, open interruptions and the last 30 days as a strip, and each host's \
key facts; `--format openmetrics` writes it for Prometheus \
(node_exporter's textfile collector). A cron line keeps either current.

Output is a table on a terminal (coloured unless NO_COLOR is set) and JSON \
lines otherwise, or as --format says.";

#[derive(Debug, Parser)]
#[command(name = "sd-query", version, about = "Answer questions from the store", long_about = LONG_ABOUT,
          disable_help_subcommand = true)]
pub struct Args {
    /// The store [default: [store] path, $XDG_DATA_HOME/sheepdog/events.db,
    /// /var/lib/sheepdog/events.db for root].
    #[arg(value_name = "DB")]
    pub db: Option<PathBuf>,

    /// Run this SQL on the store, opened read-only; rows print as JSON
    /// objects (or a table).
    #[arg(long, value_name = "QUERY")]
    pub sql: Option<String>,

    /// Output format [default: table on a terminal, json otherwise]:
    /// json, table, or for status also html (one self-contained page) and
    /// openmetrics (for node_exporter's textfile collector).
    #[arg(long, value_enum, global = true)]
    pub format: Option<Format>,

    /// With --format html or openmetrics: write this file whole, or not
    /// at all (a new file renamed over the old), for a web server or
    /// node_exporter to read while cron rewrites it.
    #[arg(long, value_name = "FILE", global = true)]
    pub output: Option<PathBuf>,

    #[command(subcommand)]
    pub question: Option<Question>,

    #[command(flatten)]
    pub base: ConfigArgs,
}

#[derive(Debug, Subcommand)]
pub enum Question {
    /// The latest state of every host and tag, with its age.
    Status(StatusArgs),
    /// Events in the window, oldest first.
    Events(Filters),
    /// Interruption periods per host and tag in the window.
    Interruptions(Filters),
    /// How long successful runs took per host and tag: count, median, p95,
    /// the last, and whether the last is unusual.
    Durations(durations::DurationsArgs),
    /// Answers to a question in the rule language, one per line.
    Ask(ask::AskArgs),
    /// The relations a rule file defines; with --check, only check it.
    Rules(ask::CheckArgs),
    /// Events for alerts that start or stop holding, for `| sd-bark`.
    Alerts(ask::AlertsArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub filters: Filters,
    /// Exit 1 when a tag shown is failing (fail or error), so the board
    /// can itself be a check in cron or a monitoring system.
    #[arg(long)]
    pub check: bool,
    /// With --check, a warning counts as failing too.
    #[arg(long, requires = "check")]
    pub warn: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Filters {
    /// The store, here or before the question [default: [store] path,
    /// else $XDG_DATA_HOME/sheepdog/events.db, /var/lib/sheepdog/events.db
    /// for root].
    #[arg(value_name = "DB")]
    pub db: Option<PathBuf>,
    /// Only what happened since then: a duration before now (2h, 30d), a
    /// time (2026-11-01T12:00:00Z), a date (2026-11-01, local midnight),
    /// today or yesterday [default: 24h for events, 30d for
    /// interruptions, everything for status].
    #[arg(long, value_name = "WHEN", value_parser = time::parse_point)]
    pub since: Option<i64>,
    /// Only what happened before then (the same forms as --since)
    /// [default: now]. Not for status, which is the board as it is now.
    #[arg(long, value_name = "WHEN", value_parser = time::parse_point)]
    pub until: Option<i64>,
    /// Only this host.
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// Only this tag.
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Only this status (ok, warn, fail, error, info).
    #[arg(long, value_name = "STATUS")]
    pub status: Option<crate::event::Status>,
    /// Only this kind (run, heartbeat, facts, …).
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// Only hosts whose latest facts match (repeatable).
    #[arg(long, value_name = "EXPR", value_parser = FactExpr::parse_arg)]
    pub fact: Vec<FactExpr>,
    /// At most this many rows (events: the newest).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

pub fn run(args: Args, _: &ArgMatches) -> Result<Exit> {
    let (config, _) = args.base.load()?;
    let whole_file = matches!(args.format, Some(Format::Html | Format::Openmetrics));
    if args.output.is_some() && !(whole_file && matches!(args.question, Some(Question::Status(_))))
    {
        return Err(Error::usage(
            "--output is for the board written whole: sd-query status --format html|openmetrics --output FILE",
        ));
    }
    if let Some(Question::Rules(check)) = &args.question {
        // A rule file is checked without a store.
        let rules = ask::load_file(check.file.as_deref(), &config)?;
        if let Some(answer) = ask::describe(&rules, check.check)? {
            answer.print(args.format)?;
        }
        return Ok(Exit::Ok);
    }
    let filters = match &args.question {
        Some(Question::Status(s)) => Some(&s.filters),
        Some(Question::Events(f) | Question::Interruptions(f)) => Some(f),
        Some(Question::Durations(d)) => Some(&d.filters),
        _ => None,
    };
    // The store may be named before the question or after it, not both.
    let db = match (&args.db, filters.and_then(|f| f.db.as_ref())) {
        (Some(before), Some(after)) if before != after => {
            return Err(Error::usage(format!(
                "two stores named: {} and {}; give one",
                before.display(),
                after.display()
            )));
        }
        (before, after) => before.as_ref().or(after),
    };
    let path = Store::locate(db.map(PathBuf::as_path), &config);
    let conn = Store::open_read_only(&path)?;
    // The configuration's recurring maintenance windows, read once: for
    // the rules (any question may ask them) and the board.
    let recurring = crate::server::maintenance::Recurrences::from_config(&config.maintenance)?;
    recurring.offer_to_rules(&conn, time::now_ms())?;
    let mut exit = Exit::Ok;
    let answer = match (&args.sql, &args.question) {
        (Some(sql), _) => sql_answer(&conn, sql)?,
        (None, Some(Question::Status(s))) => {
            if s.filters.until.is_some() {
                return Err(Error::usage(
                    "status is the board as it is now; --until is for events and interruptions",
                ));
            }
            if let Some(format @ (Format::Openmetrics | Format::Html)) = args.format {
                let mut pairs = read::pairs(&conn, &s.filters.selection(&conn, s.filters.since)?)?;
                let in_force =
                    crate::server::maintenance::InForce::read(&conn, &recurring, time::now_ms())?;
                for pair in &mut pairs {
                    pair.maintenance = in_force.covering(&pair.host, &pair.tag);
                }
                let text = match format {
                    Format::Openmetrics => metrics::write(&pairs),
                    _ => page::write(&conn, &pairs, time::now_ms())?,
                };
                match &args.output {
                    Some(file) => crate::base::paths::replace_file(file, text.as_bytes())
                        .context("writing", file.display())?,
                    None => output::print_text(&text)?,
                }
                let failing = pairs.iter().any(|p| {
                    matches!(p.status.as_str(), "fail" | "error") || (s.warn && p.status == "warn")
                });
                return Ok(if s.check && failing {
                    Exit::Failed
                } else {
                    Exit::Ok
                });
            }
            let mut answer = status(&conn, &s.filters)?;
            mark_suppressed(&conn, &config, &mut answer)?;
            mark_maintenance(&conn, &recurring, &mut answer)?;
            if s.check && answer.rows.iter().any(|row| failing(row, s.warn)) {
                exit = Exit::Failed;
            }
            answer
        }
        (None, Some(Question::Events(f))) => {
            events(&conn, f, args.format)?;
            return Ok(Exit::Ok);
        }
        (None, Some(Question::Interruptions(f))) => interruptions(&conn, f)?,
        (None, Some(Question::Durations(d))) => durations::durations(&conn, d)?,
        (None, Some(Question::Ask(a))) => {
            let rules = ask::load(&a.rules, &config)?;
            ask::ask(&conn, &rules, a)?
        }
        (None, Some(Question::Alerts(a))) => {
            if !ask::holds_lease(a, &args.base)? {
                return Ok(Exit::Ok);
            }
            let rules = ask::load(&a.rules, &config)?;
            ask::alerts(&conn, &rules, a, &config)?;
            return Ok(Exit::Ok);
        }
        (None, Some(Question::Rules(_))) => unreachable!("answered above"),
        (None, None) => {
            return Err(Error::usage(
                "what is the question? `sd-query status`, `events`, `interruptions` or `--sql QUERY` (see --help)",
            ));
        }
    };
    answer.print(args.format)?;
    Ok(exit)
}

/// Marks the board's rows a `suppress(Host, Tag)` rule holds for, when
/// the rule file has such rules.
fn mark_suppressed(
    conn: &Connection,
    config: &crate::config::ConfigFile,
    answer: &mut Answer,
) -> Result<()> {
    let Some(path) = crate::rules::locate(None, config) else {
        return Ok(());
    };
    // The board is shown even when the rules are broken: they only add
    // a mark to it.
    let held = crate::rules::Rules::load(&path).and_then(|rules| {
        if rules.defines("suppress") {
            rules
                .ask(conn, "suppress(Host, Tag)", time::now_ms())
                .map(Some)
        } else {
            Ok(None)
        }
    });
    let held = match held {
        Ok(Some(held)) => held,
        Ok(None) => return Ok(()),
        Err(e) => {
            crate::base::cli::warn(format!("{e}\nthe board is shown without suppression"));
            return Ok(());
        }
    };
    let held: std::collections::HashSet<(Value, Value)> = held
        .rows
        .into_iter()
        .map(|row| (row[0].clone(), row[1].clone()))
        .collect();
    let mut any = false;
    for row in &mut answer.rows {
        let key = (row["host"].clone(), row["tag"].clone());
        if held.contains(&key) {
            row.insert("suppressed".into(), true.into());
            any = true;
        }
    }
    if any {
        answer.columns.insert(3, "suppressed");
    }
    Ok(())
}

/// Whether a row of the board is failing (a warning too, if asked).
/// Marks the pairs a maintenance window covers now: `maintenance`, the
/// window's end, and its reason.
fn mark_maintenance(
    conn: &Connection,
    recurring: &crate::server::maintenance::Recurrences,
    answer: &mut Answer,
) -> Result<()> {
    let in_force = crate::server::maintenance::InForce::read(conn, recurring, time::now_ms())?;
    let mut any = false;
    for row in &mut answer.rows {
        let text = |key: &str| {
            row.get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        if let Some(window) = in_force.covering(&text("host"), &text("tag")) {
            row.insert(
                "maintenance".into(),
                time::format_ms(window.until_ms).into(),
            );
            if let Some(reason) = window.reason {
                row.insert("maintenance_reason".into(), reason.into());
            }
            any = true;
        }
    }
    if any {
        answer.columns.push("maintenance");
    }
    Ok(())
}

fn failing(row: &Map<String, Value>, warn_counts: bool) -> bool {
    match row.get("status").and_then(Value::as_str) {
        Some("fail" | "error") => true,
        Some("warn") => warn_counts,
        _ => false,
    }
}

impl Filters {
    /// What the store is asked for: these filters, from `since` on, on
    /// the hosts whose facts match.
    pub(crate) fn selection(&self, conn: &Connection, since: Option<i64>) -> Result<Selection> {
        Ok(Selection {
            since,
            until: self.until,
            host: self.host.clone(),
            tag: self.tag.clone(),
            status: self.status,
            kind: self.kind.clone(),
            hosts: hosts_matching(conn, &self.fact)?,
            limit: self.limit,
        })
    }
}

pub(crate) fn since(f: &Filters, default: Option<Duration>) -> Option<i64> {
    f.since
        .or_else(|| default.map(|d| time::now_ms() - d.as_millis() as i64))
}

fn status(conn: &Connection, f: &Filters) -> Result<Answer> {
    // The board holds the newest state-carrying event of each host and
    // tag; the event itself (for its reason and message) may have been
    // pruned.
    let board = read::board(conn, &f.selection(conn, since(f, None))?)?;
    let now = time::now_ms();
    let mut out = Vec::new();
    for read::BoardRow {
        host,
        tag,
        status,
        time_ms,
        body,
    } in board
    {
        let event: Map<String, Value> = body
            .and_then(|body| serde_json::from_str(&body).ok())
            .unwrap_or_default();
        let mut m = Map::new();
        m.insert("host".into(), host.into());
        m.insert("tag".into(), tag.into());
        m.insert("status".into(), status.into());
        m.insert("time".into(), time::format_ms(time_ms).into());
        m.insert("age".into(), human_ms(now - time_ms).into());
        m.insert("age_s".into(), ((now - time_ms) / 1000).into());
        m.insert(
            "reason".into(),
            event.get("reason").cloned().unwrap_or(Value::Null),
        );
        m.insert(
            "msg".into(),
            event.get("msg").cloned().unwrap_or(Value::Null),
        );
        out.push(m);
    }
    Ok(Answer {
        columns: vec!["host", "tag", "status", "age", "reason", "msg"],
        rows: out,
    })
}

/// Prints the events as they are read: an answer of any size.
fn events(conn: &Connection, f: &Filters, format: Option<Format>) -> Result<()> {
    let from = since(f, Some(Duration::from_secs(86400)));
    let columns = vec!["time", "host", "tag", "status", "reason", "msg"];
    let mut printer = output::Printer::new(columns, format)?;
    read::events(conn, &f.selection(conn, from)?, |body| {
        printer.json_text(body)
    })?;
    printer.finish()
}

/// Per host and tag: periods overlapping [since, now], clipped to it.
fn interruptions(conn: &Connection, f: &Filters) -> Result<Answer> {
    // The window: periods are clipped to it; one still open counts to now.
    let now = f.until.unwrap_or(i64::MAX).min(time::now_ms());
    let from = since(f, Some(Duration::from_secs(30 * 86400))).unwrap_or(i64::MIN);
    let unfiltered = Filters {
        since: None,
        status: None,
        kind: None,
        ..f.clone()
    };
    let periods = read::periods(conn, &unfiltered.selection(conn, None)?, from)?;
    #[derive(Default)]
    struct Summary {
        count: u64,
        first_start: i64,
        last_end: Option<i64>,
        open: bool,
        total_ms: i64,
    }
    let mut summaries: BTreeMap<(String, String), Summary> = BTreeMap::new();
    for read::Period {
        host,
        tag,
        start_ms: start,
        end_ms: end,
    } in periods
    {
        let clipped_start = start.max(from);
        let clipped_end = end.unwrap_or(now).min(now);
        if clipped_end <= clipped_start && end.is_some() {
            continue;
        }
        let s = summaries.entry((host, tag)).or_insert_with(|| Summary {
            first_start: clipped_start,
            ..Summary::default()
        });
        s.count += 1;
        s.total_ms += (clipped_end - clipped_start).max(0);
        s.open = end.is_none();
        s.last_end = end.map(|e| e.min(now));
    }
    let out = summaries
        .into_iter()
        .map(|((host, tag), s)| {
            let mut m = Map::new();
            m.insert("host".into(), host.into());
            m.insert("tag".into(), tag.into());
            m.insert("count".into(), s.count.into());
            m.insert("first_start".into(), time::format_ms(s.first_start).into());
            m.insert(
                "last_end".into(),
                if s.open {
                    Value::from("open")
                } else {
                    s.last_end.map(time::format_ms).into()
                },
            );
            m.insert("open".into(), s.open.into());
            m.insert("total".into(), human_ms(s.total_ms).into());
            m.insert("total_ms".into(), s.total_ms.into());
            m
        })
        .collect();
    Ok(Answer {
        columns: vec!["host", "tag", "count", "first_start", "last_end", "total"],
        rows: out,
    })
}

fn sql_answer(conn: &Connection, sql: &str) -> Result<Answer> {
    let read::Table { columns, rows } = read::adhoc(conn, sql)?;
    let columns: Vec<&'static str> = columns
        .into_iter()
        .map(|n| &*Box::leak(n.into_boxed_str()))
        .collect();
    Ok(Answer { columns, rows })
}
