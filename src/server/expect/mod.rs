//! `sd-expect`: the dead man's switch. A backup that silently stopped
//! running sends no failure; what is noticed is the *absence* of its `ok`.
//! sd-expect looks in the store for an `ok` event of the tag within the
//! window and prints an event saying whether it found one — `fail` (exit
//! 1) when it did not — for sd-bark to carry like any other check.

pub mod schedule;

use crate::base::error::{Error, Result};
use crate::base::exit::Exit;
use crate::base::{cli, ident, time};
use crate::config::ConfigArgs;
use crate::event::{Event, Status};
use crate::store::run_times::Bounds;
use crate::store::{Store, board};
use clap::{ArgMatches, Parser};
use schedule::{Deadline, Zone};
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
failure.

--slower 3x and --faster 0.1x judge how long the job took: when its latest \
successful run took more than 3 times (or less than a tenth of) the median \
of the --runs successful runs before it, a `warn` event (kind `duration`, \
reason `slow` or `fast`) says so, once per run; the job's next run, an ok \
of its own, clears it. A backup that \"succeeds\" in one second is no \
success you want to trust. With these alone, no deadline is checked.";

/// How long a scheduled run has to report success, unless told.
const DEFAULT_GRACE: Duration = Duration::from_secs(3600);

#[derive(Debug, Parser)]
#[command(name = "sd-expect", version, about = "Dead man's switch: fail when an ok is overdue", long_about = LONG_ABOUT)]
#[command(group = clap::ArgGroup::new("deadline").args(["within", "cron"]))]
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

    /// Warn when the latest successful run took more than this times the
    /// median of the runs before it (3x).
    #[arg(long, value_name = "FACTOR", value_parser = crate::store::run_times::parse_factor)]
    pub slower: Option<f64>,

    /// Warn when the latest successful run took less than this times the
    /// median (0.1x): a job that finishes suspiciously fast.
    #[arg(long, value_name = "FACTOR", value_parser = crate::store::run_times::parse_factor)]
    pub faster: Option<f64>,

    /// How many successful runs before the latest make the median.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(3..))]
    pub runs: u32,

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
    let bounds = Bounds {
        slower: args.slower,
        faster: args.faster,
    };
    let deadline = match (&args.within, &args.cron) {
        (Some(window), _) => Some(Deadline::Within(*window)),
        (None, Some(cron)) => Some(Deadline::Cron {
            cron: Box::new(cron.clone()),
            zone: args.tz.map_or(Zone::Local, Zone::Named),
            grace: args.grace.unwrap_or(DEFAULT_GRACE),
        }),
        (None, None) if bounds.slower.is_some() || bounds.faster.is_some() => None,
        (None, None) => {
            return Err(Error::usage(
                "what is expected? give --within DURATION or --cron SCHEDULE (a deadline), \
                 or --slower/--faster FACTOR (how long a run may take)",
            ));
        }
    };
    let hosts: Vec<String> = match &args.host {
        Some(host) => vec![host.clone()],
        None => board::hosts_of(&conn, &args.tag).map_err(db_error)?,
    };
    let now = time::now_ms();
    let mut events = Vec::new();
    if let Some(deadline) = &deadline {
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
                    "no event for {} was ever stored (expected an ok {})",
                    args.tag,
                    deadline.describe()
                ),
            );
            events.push(event);
        }
        for host in &hosts {
            events.push(overdue(&conn, host, &args.tag, deadline, now).map_err(db_error)?);
        }
    }
    if bounds.slower.is_some() || bounds.faster.is_some() {
        for host in &hosts {
            let verdict = unusual(&conn, host, &args.tag, bounds, args.runs as usize);
            events.extend(verdict.map_err(db_error)?);
        }
    }
    // A verdict about a host or tag down on purpose is held: said as
    // info, and given again by the first run after the window.
    let recurring = crate::server::maintenance::Recurrences::from_config(&config.maintenance)?;
    let in_force = crate::server::maintenance::InForce::read(&conn, &recurring, now)?;
    for event in &mut events {
        if !matches!(event.status(), Some(Status::Fail | Status::Warn)) {
            continue;
        }
        let (host, tag) = (
            event.host().unwrap_or_default(),
            event.tag().unwrap_or_default(),
        );
        if let Some(window) = in_force.covering(host, tag) {
            let why = window.reason.map_or(String::new(), |r| format!(" ({r})"));
            let msg = format!(
                "held: {host} is in maintenance until {}{why}; was: {}",
                time::format_ms(window.until_ms),
                event.str("msg").unwrap_or_default()
            );
            event.set("status", Status::Info.as_str());
            event.set("reason", "maintenance");
            event.set("msg", msg);
        }
    }
    cli::print_events(&events)?;
    let failed = events.iter().any(|e| e.status() == Some(Status::Fail));
    Ok(if failed { Exit::Failed } else { Exit::Ok })
}

/// The dead man's switch for one host: `ok` when the job's last success
/// is in time, `fail` when it is overdue.
fn overdue(
    conn: &rusqlite::Connection,
    host: &str,
    tag: &str,
    deadline: &Deadline,
    now: i64,
) -> rusqlite::Result<Event> {
    let due_since = deadline.due_since(now);
    let expected = deadline.describe();
    // The board's last success counts only the job's own `ok`s, never
    // an earlier verdict of this switch (docs/ARCHITECTURE.md §1).
    let last_ok = board::last_ok_ms(conn, host, tag)?;
    let fresh = match due_since {
        Some(due) => last_ok.is_some_and(|t| t >= due),
        None => true,
    };
    let mut event = if fresh {
        expect_event(host, tag, Status::Ok, "fresh")
    } else {
        expect_event(host, tag, Status::Fail, "overdue")
    };
    let msg = match (fresh, last_ok, deadline, due_since) {
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
    if let (Deadline::Cron { .. }, Some(due)) = (deadline, due_since) {
        event.set("due", time::format_ms(due));
    }
    event.set("msg", msg);
    Ok(event)
}

/// A `warn` when the latest successful run of a host's job took unusually
/// long (or short) against the median of the `runs` before it; nothing
/// when it is usual, too new to judge, or was judged already (the board
/// shows this verdict about that run).
fn unusual(
    conn: &rusqlite::Connection,
    host: &str,
    tag: &str,
    bounds: Bounds,
    runs: usize,
) -> rusqlite::Result<Option<Event>> {
    let latest = crate::store::run_times::latest_runs(conn, host, tag, runs + 1)?;
    let Some((last, before)) = latest.split_first() else {
        return Ok(None);
    };
    if before.len() < crate::store::run_times::MIN_BASELINE {
        return Ok(None);
    }
    let elapsed: Vec<i64> = before.iter().map(|r| r.elapsed_ms).collect();
    let median = crate::store::run_times::median(&elapsed).expect("runs");
    let Some(outlier) = bounds.judge(last.elapsed_ms, median) else {
        return Ok(None);
    };
    let said = board::shows_verdict_on(conn, host, tag, &last.id)?;
    if said {
        return Ok(None);
    }
    let mut event = Event::report(host, tag, "duration", Status::Warn);
    // Timed just after the run it is about, not when the switch ran: so
    // the board orders it before the job's next run, which clears it, even
    // when the switch runs late.
    event.set("time", time::format_ms(last.time_ms + 1));
    event.set("reason", outlier.as_str());
    event.set("run", last.id.as_str());
    event.set("elapsed_ms", last.elapsed_ms);
    event.set("median_ms", median);
    let ratio = last.elapsed_ms as f64 / median.max(1) as f64;
    let how = match outlier {
        crate::store::run_times::Outlier::Slow => format!("{ratio:.1}× its median"),
        crate::store::run_times::Outlier::Fast => format!("{:.0}% of its median", ratio * 100.0),
    };
    event.set(
        "msg",
        format!(
            "{tag} on {host} took {} at {}, {how} of {} over the {} runs before",
            time::human_ms(last.elapsed_ms),
            time::format_ms(last.time_ms),
            time::human_ms(median),
            before.len()
        ),
    );
    Ok(Some(event))
}

fn expect_event(host: &str, tag: &str, status: Status, reason: &str) -> Event {
    let mut event = Event::report(host, tag, "expect", status);
    event.set("reason", reason);
    event
}

fn since(now: i64, then: i64) -> String {
    time::human_ms(now - then)
}
