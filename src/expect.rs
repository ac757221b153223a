//! `sd-expect`: the dead man's switch. A backup that silently stopped
//! running sends no failure; what is noticed is the *absence* of its `ok`.
//! sd-expect looks in the store for an `ok` event of the tag within the
//! window and prints an event saying whether it found one — `fail` (exit
//! 1) when it did not — for sd-bark to carry like any other check.

use crate::config::ConfigArgs;
use crate::error::{Error, Result};
use crate::event::{Event, Status};
use crate::exit::Exit;
use crate::schedule::{self, Deadline, Zone};
use crate::store::Store;
use crate::{cli, ident, time};
use clap::{ArgMatches, Parser};
use rusqlite::{OptionalExtension, params};
use std::path::PathBuf;
use std::time::Duration;

const LONG_ABOUT: &str = "\
The dead man's switch: print a `fail` event (and exit 1) when no `ok` event \
for TAG arrived in time, and an `ok` event otherwise.

In time means within DURATION of now (--within 26h), or, for a job on a \
schedule, since the latest run the schedule called for, once that run's \
--grace has passed (--cron '0 3 * * *' --grace 2h): a nightly backup is \
overdue at 05:00 the morning it did not report, not a day later. \
Schedules are read in --tz (or local time) and stay right across daylight \
saving changes.

Without --host, every host that ever reported TAG is checked, and each one \
that went quiet gets its own `fail` event; a tag never seen at all is a \
`fail` too. Only the job's own `ok` events count: `info` events (a start \
marker, a skipped check) and this switch's own verdicts (kind `expect`) \
never satisfy it, so piping its output back into the store is safe. The \
events carry TAG and the host they are about, so a stale backup shows as \
an interruption of that backup, and mail follows the same rules as for any \
failure.";

/// How long a scheduled run has to report success, unless told.
const DEFAULT_GRACE: Duration = Duration::from_secs(3600);

#[derive(Debug, Parser)]
#[command(name = "sd-expect", version, about = "Dead man's switch: fail when an ok is overdue", long_about = LONG_ABOUT)]
#[command(group = clap::ArgGroup::new("deadline").required(true).args(["within", "cron"]))]
pub struct Args {
    /// The store [default: [store] path, else $XDG_DATA_HOME/sheepdog/events.db
    /// for a user and /var/lib/sheepdog/events.db for root].
    #[arg(value_name = "DB")]
    pub db: Option<PathBuf>,

    /// The tag whose `ok` is expected.
    #[arg(long, value_name = "TAG")]
    pub tag: String,

    /// How recent the last `ok` must be (26h, 15m).
    #[arg(long, value_name = "DURATION", value_parser = cli::parse_duration)]
    pub within: Option<Duration>,

    /// The job's schedule as a crontab writes it ('0 3 * * *'): overdue
    /// when a scheduled time plus --grace has passed with no `ok` since.
    #[arg(long, value_name = "SCHEDULE", value_parser = schedule::parse_cron)]
    pub cron: Option<croner::Cron>,

    /// The time zone the schedule is written in (Europe/Amsterdam)
    /// [default: this machine's local time].
    #[arg(long, value_name = "ZONE", conflicts_with = "within", value_parser = schedule::parse_zone)]
    pub tz: Option<chrono_tz::Tz>,

    /// How long a scheduled run may take to report success [default: 1h].
    #[arg(long, value_name = "DURATION", conflicts_with = "within", value_parser = cli::parse_duration)]
    pub grace: Option<Duration>,

    /// Only this host [default: every host that reported the tag].
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,

    #[command(flatten)]
    pub base: ConfigArgs,
}

pub fn run(args: Args, _: &ArgMatches) -> Result<Exit> {
    let (config, _) = args.base.load()?;
    let path = Store::locate(args.db.as_deref(), &config);
    let conn = Store::open_read_only(&path)?;
    let db_error =
        |e: rusqlite::Error| Error::io(format!("reading the store {}: {e}", path.display()));
    let deadline = match (&args.within, &args.cron) {
        (Some(window), _) => Deadline::Within(*window),
        (None, Some(cron)) => Deadline::Cron {
            cron: Box::new(cron.clone()),
            zone: args.tz.map_or(Zone::Local, Zone::Named),
            grace: args.grace.unwrap_or(DEFAULT_GRACE),
        },
        (None, None) => unreachable!("clap requires --within or --cron"),
    };
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
    let due_since = deadline.due_since(now);
    let expected = deadline.describe();
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
                "no event for {} was ever stored (expected an ok {expected})",
                args.tag
            ),
        );
        events.push(event);
    }
    for host in &hosts {
        // The board's last success counts only the job's own `ok`s, never
        // an earlier verdict of this switch (docs/ARCHITECTURE.md §1).
        let last_ok: Option<i64> = conn
            .query_row(
                "SELECT last_ok_ms FROM board WHERE host = ?1 AND tag = ?2",
                params![host, args.tag],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_error)?
            .flatten();
        let fresh = match due_since {
            Some(due) => last_ok.is_some_and(|t| t >= due),
            None => true,
        };
        let mut event = if fresh {
            expect_event(host, &args.tag, Status::Ok, "fresh")
        } else {
            expect_event(host, &args.tag, Status::Fail, "overdue")
        };
        let tag = &args.tag;
        let msg = match (fresh, last_ok, &deadline, due_since) {
            (true, Some(t), ..) => format!("{tag} on {host} last succeeded {} ago", since(now, t)),
            (true, None, ..) => format!("{tag} on {host}: no run is due yet (expected {expected})"),
            (false, last, Deadline::Cron { .. }, Some(due)) => format!(
                "{tag} on {host} has not succeeded since its run due at {} ({}; expected {expected})",
                deadline.show_time(due),
                match last {
                    Some(t) => format!("last success {} ago", since(now, t)),
                    None => "never succeeded".to_string(),
                }
            ),
            (false, Some(t), ..) => format!(
                "{tag} on {host} has not succeeded for {} (expected {expected})",
                since(now, t)
            ),
            (false, None, ..) => format!("{tag} on {host} never succeeded (expected {expected})"),
        };
        if let Some(t) = last_ok {
            event.set("last_ok", time::format_ms(t));
        }
        if let (Deadline::Cron { .. }, Some(due)) = (&deadline, due_since) {
            event.set("due", time::format_ms(due));
        }
        event.set("msg", msg);
        events.push(event);
    }
    cli::print_events(&events)?;
    let failed = events.iter().any(|e| e.status() == Some(Status::Fail));
    Ok(if failed { Exit::Failed } else { Exit::Ok })
}

fn expect_event(host: &str, tag: &str, status: Status, reason: &str) -> Event {
    let mut event = Event::report(host, tag, "expect", status);
    event.set("reason", reason);
    event
}

fn since(now: i64, then: i64) -> String {
    time::human_ms(now - then)
}
