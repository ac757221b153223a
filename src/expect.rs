//! `sd-expect`: the dead man's switch. A backup that silently stopped
//! running sends no failure; what is noticed is the *absence* of its `ok`.
//! sd-expect looks in the store for an `ok` event of the tag within the
//! window and prints an event saying whether it found one — `fail` (exit
//! 1) when it did not — for sd-bark to carry like any other check.

use crate::config::ConfigArgs;
use crate::error::{Error, Result};
use crate::event::{Event, Status};
use crate::exit::Exit;
use crate::store::Store;
use crate::{cli, ident, man, time};
use clap::{ArgMatches, CommandFactory, Parser};
use rusqlite::{OptionalExtension, params};
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

const LONG_ABOUT: &str = "\
The dead man's switch: print a `fail` event (and exit 1) when no `ok` event \
for TAG arrived within DURATION, and an `ok` event otherwise.

Without --host, every host that ever reported TAG is checked, and each one \
that went quiet gets its own `fail` event; a tag never seen at all is a \
`fail` too. Only `ok` events count: `info` events (a start marker, a \
skipped check) never satisfy the switch. The events carry TAG and the host \
they are about, so a stale backup shows as an interruption of that backup, \
and mail follows the same rules as for any failure.";

const AFTER_HELP: &str = "\
Examples:
  sd-expect --tag BORG --within 26h | sd-bark
  sd-expect /var/lib/sheepdog/events.db --tag alive --host tux01 --within 15m | sd-bark";

#[derive(Debug, Parser)]
#[command(name = "sd-expect", version, about = "Dead man's switch: fail when an ok is overdue", long_about = LONG_ABOUT, after_help = AFTER_HELP)]
pub struct Args {
    /// The store [default: [store] path, $XDG_DATA_HOME/sheepdog/events.db].
    #[arg(value_name = "DB")]
    pub db: Option<PathBuf>,

    /// The tag whose `ok` is expected.
    #[arg(long, value_name = "TAG")]
    pub tag: String,

    /// How recent the last `ok` must be (26h, 15m).
    #[arg(long, value_name = "DURATION", value_parser = cli::parse_duration)]
    pub within: Duration,

    /// Only this host [default: every host that reported the tag].
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,

    #[command(flatten)]
    pub base: ConfigArgs,
}

pub fn command() -> clap::Command {
    Args::command()
}

pub fn man_page() -> man::Page {
    man::Page {
        name: "sd-expect",
        command,
        environment: &[],
        files: &[(
            "$XDG_DATA_HOME/sheepdog/events.db",
            "The store (/var/lib/sheepdog/events.db for root).",
        )],
        exits: &[Exit::Ok, Exit::Failed, Exit::Usage, Exit::IoErr],
        exit_notes: &[],
        examples: &[
            (
                "Every hour, on the server: has the nightly backup reported success within 26 hours?",
                "0 * * * * sd-expect --tag BORG --within 26h | sd-bark",
            ),
            (
                "Is tux01 still alive (it runs `sd-bark --ping --tag alive` every 5 minutes)?",
                "sd-expect --tag alive --host tux01 --within 15m | sd-bark",
            ),
        ],
        see_also: &["sd-query(1)", "sd-bark(1)", "sd-run(1)"],
    }
}

pub fn run(args: Args, _: &ArgMatches) -> Result<Exit> {
    let (config, _) = args.base.load()?;
    let path = Store::locate(args.db.as_deref(), &config);
    let conn = Store::open_read_only(&path)?;
    let db_error =
        |e: rusqlite::Error| Error::io(format!("reading the store {}: {e}", path.display()));
    let hosts: Vec<String> = match &args.host {
        Some(host) => vec![host.clone()],
        None => {
            let mut stmt = conn
                .prepare("SELECT host FROM board WHERE tag = ?1 ORDER BY host")
                .map_err(db_error)?;
            stmt.query_map([&args.tag], |r| r.get(0))
                .map_err(db_error)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db_error)?
        }
    };
    let now = time::now_ms();
    let window = time::human_ms(args.within.as_millis() as i64);
    let mut events = Vec::new();
    if hosts.is_empty() {
        let mut event = expect_event(
            &ident::short_hostname(),
            &args.tag,
            Status::Fail,
            "never-seen",
        );
        event.set(
            "msg",
            format!(
                "no event for {} was ever stored (expected an ok within {window})",
                args.tag
            ),
        );
        events.push(event);
    }
    for host in &hosts {
        let last_ok: Option<i64> = conn
            .query_row(
                "SELECT last_ok_ms FROM board WHERE host = ?1 AND tag = ?2",
                params![host, args.tag],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_error)?
            .flatten();
        let fresh = last_ok.is_some_and(|t| now - t <= args.within.as_millis() as i64);
        let mut event = if fresh {
            expect_event(host, &args.tag, Status::Ok, "fresh")
        } else {
            expect_event(host, &args.tag, Status::Fail, "overdue")
        };
        let tag = &args.tag;
        let msg = match (fresh, last_ok) {
            (true, Some(t)) => format!("{tag} on {host} last succeeded {} ago", since(now, t)),
            (false, Some(t)) => format!(
                "{tag} on {host} has not succeeded for {} (expected within {window})",
                since(now, t)
            ),
            _ => format!("{tag} on {host} never succeeded (expected within {window})"),
        };
        if let Some(t) = last_ok {
            event.set("last_ok", time::format_ms(t));
        }
        event.set("msg", msg);
        events.push(event);
    }
    let mut out = io::stdout().lock();
    for event in &events {
        writeln!(out, "{event}").map_err(cli::stdout_error)?;
    }
    out.flush().map_err(cli::stdout_error)?;
    let failed = events.iter().any(|e| e.status() == Some(Status::Fail));
    Ok(if failed { Exit::Failed } else { Exit::Ok })
}

fn expect_event(host: &str, tag: &str, status: Status, reason: &str) -> Event {
    let mut event = Event::new();
    event.stamp(host);
    event
        .set("tag", tag)
        .set("kind", "expect")
        .set("status", status.as_str())
        .set("reason", reason);
    event
}

fn since(now: i64, then: i64) -> String {
    time::human_ms(now - then)
}
