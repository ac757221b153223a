//! `sd-store`: keep events in SQLite, idempotently, and with `--echo` say
//! which ones are safely kept (the handler protocol of docs/ARCHITECTURE.md §2).

use super::durable::Durable;
use super::peer;
use super::{Serialized, Store};
use crate::base::error::Result;
use crate::base::exit::Exit;
use crate::base::{cli, ident};
use crate::config::ConfigArgs;
use crate::event::DEFAULT_MAX_EVENT_BYTES;
use crate::event::batch::{Batches, feed_batches};
use crate::event::lines::Stamping;
use crate::event::skim::Skimmed;
use clap::{ArgMatches, Parser};
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const LONG_ABOUT: &str = "\
Store events read as JSON lines on standard input in a SQLite database.

Events are committed in batches (every 8,000 events, or 2 ms after the \
input goes quiet), with INSERT OR IGNORE on their id: storing an event twice \
is harmless, so sd-store can sit behind an at-least-once receiver. Facts \
(from sd-facts) are kept as each host's latest value and as history; \
interruption periods (from a fail or error to the next ok, per host and \
tag) are kept up to date as events arrive, in any order.

With --echo, each event's line is printed once the transaction holding it \
has committed and reached the disk (the write-ahead log is flushed on a \
thread of its own while the next batch is stored), which is what \
`sd-recv --group store -- sd-store --echo` acknowledges. Killed at any \
moment, the database stays intact and every echoed event is in it.

SCHEMA (PRAGMA user_version 8; query it with sqlite3 -readonly):
  events(id TEXT PRIMARY KEY, time_ms, host, tag, kind, status, code,
         elapsed_ms, received_ms, body)  -- body is the whole event JSON
         (as written when it needed no stamping or change);
         received_ms is when the store got it
  facts(host, name, value, time_ms)          -- latest value per host and name
  facts_history(host, name, value, time_ms)  -- every change
  interruptions(host, tag, start_ms, end_ms, first_id, last_status)
         -- end_ms is NULL while the period is open
  board(host, tag, status, time_ms, id, last_ok_ms)
         -- a view: the newest ok/warn/fail/error event of each host and
         tag (within one millisecond a failure after the rest, as in the
         periods) (sd-expect's ok, kind expect, reports on the past and is
         left out; so is every info); last_ok_ms is the job's last
         success (an alert's ok, kind alert, clears the alert but is
         not one); the table latest (written at most once a second and
         at exit) with the events past board_mark.through laid over it
  set_aside(id, received_ms, reason, body)
         -- events the database refused (a constraint or trigger added by
         hand, a value too big for SQLite): each kept here alone with
         SQLite's reason, and named on standard error, while the rest
         of its batch is stored; sd-store then exits 65
Events are indexed by id, (tag, time_ms), (status, time_ms) and time_ms; \
periods by (host, tag, start_ms), end_ms and (host, end_ms).
Times are milliseconds since the epoch, UTC. A new store has 16 KiB pages \
(an older one keeps its own). Back up with SQLite's own \
online backup: sqlite3 events.db \".backup /backup/events.db\".";

#[derive(Debug, Parser)]
#[command(name = "sd-store", version, about = "Store events in SQLite, idempotently", long_about = LONG_ABOUT)]
pub struct Args {
    /// The database [default: [store] path, $XDG_DATA_HOME/sheepdog/events.db,
    /// /var/lib/sheepdog/events.db for root].
    #[arg(value_name = "DB")]
    pub db: Option<PathBuf>,

    /// Print each event once its transaction has committed.
    #[arg(long)]
    pub echo: bool,

    /// Delete events older than this (400d), at start and every hour, a
    /// few thousand at a time; the periods, the board and the facts stay.
    /// A store made with it gives the space back to the file system.
    #[arg(long, alias = "retain", value_name = "DURATION", value_parser = cli::parse_duration)]
    pub keep: Option<Duration>,

    /// Take the events of another store instead of stdin (read in one
    /// read transaction while its sd-store goes on; never written): how a
    /// new or returning server catches up on what the stream no longer
    /// holds. Events already here are stored once.
    #[arg(long, value_name = "OTHER.db", conflicts_with = "echo")]
    pub from: Option<std::path::PathBuf>,

    /// Largest event accepted (1MiB, 64KiB).
    #[arg(long, value_name = "SIZE", value_parser = crate::base::size::parse_arg, default_value = "1MiB")]
    pub max_event_size: u64,

    #[command(flatten)]
    pub base: ConfigArgs,
}

pub fn run(args: Args, _: &ArgMatches) -> Result<Exit> {
    let (config, _) = args.base.load()?;
    let path = Store::locate(args.db.as_deref(), &config);
    // A store named by hand goes where it was named: a directory that does
    // not exist is likely a typo, and a new empty store there would hide
    // it. Only the default directory is created.
    if args.db.is_some() || config.store.path.is_some() {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        if !dir.is_dir() {
            return Err(crate::base::error::Error::usage(format!(
                "no directory {} for the store {} (a typo? if not, create it first: mkdir -p {})",
                dir.display(),
                path.display(),
                dir.display()
            )));
        }
    }
    let keep = crate::config::flag_or_file(args.keep, config.store.keep.map(Duration::from));
    let store = Store::open_made(&path, keep.is_some())?;
    let echo: Option<Box<dyn Write + Send>> = args.echo.then(|| {
        Box::new(io::BufWriter::with_capacity(256 * 1024, io::stdout())) as Box<dyn Write + Send>
    });
    let mut storing = Storing {
        durable: store.durable(echo),
        store,
        keep,
        next_prune: Instant::now(),
        quiet: args.base.quiet,
        received: 0,
        repeats: 0,
        set_aside: 0,
    };
    storing.prune()?;

    let (pairs, same_pairs) = (storing.store.pairs(), storing.store.pairs());
    let stamping = Stamping {
        host: ident::short_hostname(),
        as_is: move |event: Skimmed<'_>| Serialized::skimmed(event, &pairs),
        stamped: move |event| Serialized::new(event, &same_pairs),
    };
    let max = usize::try_from(args.max_event_size).unwrap_or(DEFAULT_MAX_EVENT_BYTES);
    let input: Box<dyn io::BufRead + Send> = match &args.from {
        Some(peer) => Box::new(io::BufReader::with_capacity(
            256 * 1024,
            from_peer(peer, &path, args.base.quiet)?,
        )),
        None => Box::new(io::BufReader::with_capacity(256 * 1024, io::stdin())),
    };
    let exit = feed_batches(input, max, stamping, &mut storing)?;
    Ok(if storing.set_aside > 0 {
        Exit::DataErr
    } else {
        exit
    })
}

/// The events of the store `peer`, saying how far it has got every
/// million (a year of a herd is minutes of reading).
fn from_peer(
    peer: &std::path::Path,
    path: &std::path::Path,
    quiet: bool,
) -> Result<peer::PeerEvents> {
    peer::check(peer)?;
    if std::fs::canonicalize(peer).ok() == std::fs::canonicalize(path).ok() {
        return Err(crate::base::error::Error::usage(format!(
            "--from {}: that is this store",
            peer.display()
        )));
    }
    let shown = peer.display().to_string();
    let mut next = 1_000_000;
    let progress = Box::new(move |read: u64, total: u64| {
        if !quiet && (read >= next || (read == total && total >= 1_000_000)) {
            cli::note(format!("from {shown}: {read} of {total} events read"));
            next = read + 1_000_000;
        }
    });
    peer::PeerEvents::open(peer, progress)
}

/// sd-store at work: batches stored (and echoed once durable), the
/// board written when due while input is idle, old events pruned.
struct Storing {
    store: Store,
    durable: Durable,
    keep: Option<Duration>,
    next_prune: Instant,
    quiet: bool,
    /// Events given, and those of them already stored (a redelivery, a
    /// spool sending again): said at the end.
    received: u64,
    repeats: u64,
    /// Events the database refused (kept in `set_aside`).
    set_aside: u64,
}

impl Storing {
    fn prune(&mut self) -> Result<()> {
        let Some(keep) = self.keep.filter(|_| Instant::now() >= self.next_prune) else {
            return Ok(());
        };
        let pruned = self
            .store
            .prune(crate::base::time::now_ms() - keep.as_millis() as i64)?;
        if pruned.events > 0 && !self.quiet {
            let space = match pruned.reclaimed_bytes {
                Some(bytes) => format!(
                    "; {} given back to the file system",
                    crate::base::size::format(bytes)
                ),
                None => "; their space is reused by new events (a store made without --keep \
                         gives it back to the file system after `sqlite3 DB 'PRAGMA auto_vacuum = \
                         INCREMENTAL; VACUUM'`, run while sd-store is stopped)"
                    .to_string(),
            };
            cli::note(format!(
                "pruned {} event(s) older than {}; the periods, board and facts they \
                 summarise are kept{space}",
                pruned.events,
                crate::base::time::human(keep)
            ));
        }
        self.next_prune = Instant::now() + Duration::from_secs(3600);
        Ok(())
    }
}

impl Batches<Serialized> for Storing {
    fn commit(&mut self, batch: Vec<Serialized>) -> Result<()> {
        let stored = self.store.insert(&batch)?;
        for aside in &stored.set_aside {
            let event = &batch[aside.index];
            cli::note(format!(
                "event {} ({} {}): the store refused it: {} (kept in the table set_aside; the rest of its batch is stored)",
                event.id(),
                event.host(),
                event.tag(),
                aside.reason
            ));
        }
        self.set_aside += stored.set_aside.len() as u64;
        self.received += batch.len() as u64;
        self.repeats += (batch.len() - stored.new - stored.set_aside.len()) as u64;
        self.durable.committed(batch)?;
        self.prune()
    }

    fn batch_lines(&self) -> usize {
        super::STORE_BATCH_LINES
    }

    fn deadline(&self) -> Option<Instant> {
        self.store.board_due()
    }

    fn wake(&mut self) -> Result<()> {
        self.store.write_board()
    }

    fn finish(&mut self) -> Result<()> {
        if self.repeats > 0 && !self.quiet {
            cli::note(format!(
                "{} event(s) stored, {} of them already there (repeats absorbed)",
                self.received, self.repeats
            ));
        }
        self.durable.finish()?;
        self.store.write_board()
    }
}
