//! `sd-recv`: receive events from the broker (or the local spool) and
//! print them, or feed a handler and acknowledge what it echoes
//! (docs/ARCHITECTURE.md §2).

mod handler;
pub mod source;

use crate::base::error::{Error, Result};
use crate::base::exit::Exit;
use crate::base::{cli, ident};
use crate::config::{CommonArgs, Settings};
use crate::event::DEFAULT_MAX_EVENT_BYTES;
use crate::log::Aside;
use crate::log::lease::Lease;
use clap::{ArgMatches, Parser};
use source::{LogSource, Reading, Received, Source};
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const LONG_ABOUT: &str = "\
Receive events and print them as JSON lines, or hand them to a handler \
and acknowledge each one the handler echoes back.

Without --group, sd-recv follows the stream like `tail -f`: for watching; \
nothing is acknowledged or guaranteed. With --group, every role (store, \
mail) gets every event once, at least once: the group is created if \
missing (from the beginning of the stream unless --from-now), several \
sd-recv in one group share the events, and entries a dead consumer left \
pending are taken over after --claim-idle.

Printing to a pipe, a batch is acknowledged once it was written and \
flushed. With a handler (`sd-recv --group store -- sd-store --echo`), an \
event is acknowledged when the handler prints its line (or any JSON \
object with the same id) back; at most --window are in flight. A handler \
that dies is restarted with backoff and gets again what it had not \
echoed (a handler that exits 75, EX_TEMPFAIL, or 74, EX_IOERR — a mail \
server away, a full disk — uses up none of their deliveries); an event delivered --max-deliveries times without an echo is \
moved to the dead-letter stream sheepdog:dead. On SIGTERM sd-recv stops \
reading, lets in-flight events finish, acknowledges them and exits 0. \
With --once it exits 65 when it moved anything to sheepdog:dead or \
sheepdog:rejected, and says how many.

A broker that goes away is waited for: sd-recv reconnects with backoff \
and carries on where it was; one that is away when sd-recv starts is \
waited for too, except with --once. SIGINT stops it like SIGTERM. Without \
a broker, the local spool is read with the same group semantics.

A group holds back from trimming every event it has not acknowledged, \
until it is retired: --groups lists the groups (consumers, pending, lag, \
idle time), --retire-group NAME deletes one nobody uses any more, and a \
receiver warns about a group idle for --warn-idle-group that holds events \
back.";

#[derive(Debug, Parser)]
#[command(name = "sd-recv", version, about = "Receive events, print them or feed a handler", long_about = LONG_ABOUT)]
pub struct Args {
    /// Consumer group: every group gets every event; consumers of one
    /// group share them. Without it, follow the stream (no guarantees).
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,

    /// This consumer's name within the group [default: HOST-PID]. A
    /// receiver started again under the same name takes back at once what
    /// it held unacknowledged when it stopped (a service names its
    /// consumer so).
    #[arg(long, value_name = "NAME", requires = "group")]
    pub consumer: Option<String>,

    /// Deliver what is there now, then exit (65 if anything went to the
    /// dead letters or to sheepdog:rejected meanwhile).
    #[arg(long)]
    pub once: bool,

    /// Stop after N events.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,

    /// A new group starts with what arrives from now on, not at the
    /// beginning of the stream.
    #[arg(long, conflicts_with = "from_start")]
    pub from_now: bool,

    /// A new group starts with everything the stream still holds (the
    /// default; say it to make a script's intent plain).
    #[arg(long)]
    pub from_start: bool,

    /// List the stream's consumer groups (consumers, pending, lag, idle
    /// time) as JSON lines, and exit.
    #[arg(long, conflicts_with_all = ["group", "retire_group", "handler", "once", "count"])]
    pub groups: bool,

    /// Delete a consumer group nobody uses any more, so the events it held
    /// back can be trimmed, and exit.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["group", "handler", "once", "count"])]
    pub retire_group: Option<String>,

    /// Warn about another group nobody has read for this long that holds
    /// events back from trimming.
    #[arg(long, value_name = "DURATION", value_parser = cli::parse_duration, default_value = "24h")]
    pub warn_idle_group: Duration,

    /// Check signed events against the key of the host they name, from
    /// DIR/HOST.key; a bad signature goes to sheepdog:rejected.
    #[arg(long, value_name = "DIR")]
    pub keyring: Option<std::path::PathBuf>,

    /// With --keyring, unsigned events go to sheepdog:rejected too.
    #[arg(long, requires = "keyring")]
    pub require_signed: bool,

    /// Work only while holding this lease in the broker: of two servers
    /// running the same role (`--group mail --lease mail`), one works and
    /// the other waits as the standby, taking over once the lease ends.
    #[arg(long, value_name = "NAME", requires = "group")]
    pub lease: Option<String>,

    /// How long a lease lasts unrenewed: the longest the standby waits
    /// after the active one died (it is renewed every third of it).
    #[arg(long, value_name = "DURATION", value_parser = cli::parse_duration, default_value = "10s")]
    pub lease_time: Duration,

    /// Take over entries another consumer left unacknowledged this long.
    #[arg(long, value_name = "DURATION", value_parser = cli::parse_duration, default_value = "60s")]
    pub claim_idle: Duration,

    /// Events in flight to the handler at most. Several of the handler's
    /// batches (sd-store commits 8,000 at a time), so that it stores the
    /// next while the last is flushed, echoed and acknowledged.
    #[arg(long, value_name = "N", default_value_t = 16000)]
    pub window: usize,

    /// Deliveries without an echo before an event goes to sheepdog:dead.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_deliveries: u64,

    /// Largest event accepted (1MiB, 64KiB).
    #[arg(long, value_name = "SIZE", value_parser = crate::base::size::parse_arg, default_value = "1MiB")]
    pub max_event_size: u64,

    /// Handler to feed, after `--`: it reads events on stdin and prints
    /// each one back once it is durably done with it.
    #[arg(
        value_name = "HANDLER",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub handler: Vec<String>,

    #[command(flatten)]
    pub common: CommonArgs,
}

pub fn run(args: Args, matches: &ArgMatches) -> Result<Exit> {
    let settings = Settings::resolve(&args.common, matches)?;
    if args.window == 0 {
        return Err(Error::usage("--window must be at least 1"));
    }
    let max_event = usize::try_from(args.max_event_size).unwrap_or(DEFAULT_MAX_EVENT_BYTES);
    let group = args.group.clone().map(|g| {
        let consumer = args
            .consumer
            .clone()
            .unwrap_or_else(|| format!("{}-{}", ident::short_hostname(), std::process::id()));
        (g, consumer)
    });
    if !args.handler.is_empty() && group.is_none() {
        return Err(Error::usage(
            "a handler needs --group: acknowledging what it echoes is what a group is for",
        ));
    }
    let keyring = match &args.keyring {
        Some(dir) if settings.broker.is_some() => Some(crate::event::signing::Keyring::open(
            dir,
            args.require_signed,
        )?),
        Some(_) => {
            return Err(Error::usage(
                "--keyring checks events that come through Redis; configure a broker",
            ));
        }
        None => None,
    };
    // Before the source: a service waiting for its broker at start stops
    // when told to.
    let stop = cli::stop_flag()?;
    if args.groups || args.retire_group.is_some() {
        return manage_groups(&settings, &args);
    }
    let lease = match (&args.lease, &group) {
        (Some(name), Some((_, consumer))) => {
            match hold_lease(&settings, name, consumer, args.lease_time, &stop)? {
                Some(lease) => Some(lease),
                // Stopped while it was the standby.
                None => return Ok(Exit::Ok),
            }
        }
        _ => None,
    };
    // The one before it died at least a lease ago: what it had taken and
    // not finished is claimed now, not a minute later.
    let claim_idle = match &lease {
        Some(_) => args.claim_idle.min(args.lease_time),
        None => args.claim_idle,
    };
    let reading = Reading {
        group,
        from_now: args.from_now,
        claim_idle,
        take_over: lease.is_some(),
        max_event,
        idle_warning: args.warn_idle_group,
        quiet: settings.quiet,
    };
    // Whatever reading ends with, a lost lease is the reason it ended.
    let lease_lost = || {
        lease
            .as_ref()
            .is_some_and(|l| l.lost().load(Ordering::SeqCst))
    };
    let stepped_down = || {
        Error::new(
            Exit::TempFail,
            "stopped working: the lease could not be renewed in time, and the standby may \
             hold it now (started again, this one waits as the standby)",
        )
    };
    let mut source = match LogSource::open(&settings, reading, Arc::clone(&stop), !args.once) {
        Err(_) if lease_lost() => return Err(stepped_down()),
        opened => opened?,
    };
    if let Some(keyring) = keyring {
        source.check_signatures(keyring);
    }

    let block = if args.once {
        Duration::from_millis(100)
    } else {
        Duration::from_secs(1)
    };
    let mut source = source::Counted::new(&mut source);
    let exit = if args.handler.is_empty() {
        print_events(&mut source, &args, &stop, block)
    } else {
        let options = handler::Options {
            argv: args.handler.clone(),
            window: args.window,
            max_deliveries: args.max_deliveries,
            count: args.count,
            once: args.once,
            block,
        };
        handler::run(&mut source, &options, &stop)
    };
    if lease_lost() {
        return Err(stepped_down());
    }
    let exit = exit?;
    // A run that drains a backlog says what it had to set aside: a cron
    // job or a script sees it in the status, not only on stderr.
    let (dead, rejected) = (source.dead_letters, source.rejected);
    if args.once && dead + rejected > 0 {
        cli::note(format!(
            "{dead} event(s) moved to the dead letters ({}) and {rejected} to {}, each named above",
            Aside::Dead.name(),
            Aside::Rejected.name(),
        ));
        return Ok(Exit::DataErr);
    }
    Ok(exit)
}

/// Waits, as the standby, until this consumer holds the lease `name`
/// (which stops the run, `stop`, if it is ever lost). `None`: stopped
/// while waiting.
fn hold_lease(
    settings: &Settings,
    name: &str,
    consumer: &str,
    ttl: Duration,
    stop: &Arc<AtomicBool>,
) -> Result<Option<Lease>> {
    let Some(broker) = &settings.broker else {
        return Err(Error::usage(
            "--lease is held in the broker, between servers: configure one",
        ));
    };
    let quiet = settings.quiet;
    let lease = Lease::acquire(broker, name, consumer, ttl, stop, |holder| {
        if !quiet {
            cli::note(format!(
                "standby: {holder} holds the lease {name}; this one takes over when it ends (at most {} after {holder} stops)",
                crate::base::time::human(ttl)
            ));
        }
    })?;
    let Some(lease) = lease else {
        return Ok(None);
    };
    if !quiet {
        cli::note(format!("active: {consumer} holds the lease {name}"));
    }
    Ok(Some(lease))
}

/// `--groups` and `--retire-group`: the life cycle of consumer groups.
fn manage_groups(settings: &Settings, args: &Args) -> Result<Exit> {
    let mut log = settings.log().open(&settings.stream)?;
    if let Some(name) = &args.retire_group {
        let held = log
            .groups()?
            .into_iter()
            .find(|g| &g.name == name)
            .map(|g| g.held_back());
        let where_ = format!("stream {} on {}", settings.stream, log.shown());
        if !log.retire_group(name)? {
            return Err(Error::usage(format!(
                "no group {name} on {where_} (sd-recv --groups lists them)"
            )));
        }
        if !settings.quiet {
            cli::note(format!(
                "retired group {name} of {where_}; the {} event(s) it held back can be trimmed",
                held.unwrap_or(0)
            ));
        }
        return Ok(Exit::Ok);
    }
    let mut out = io::stdout().lock();
    for group in log.groups()? {
        writeln!(out, "{}", group.to_json()).map_err(cli::stdout_error)?;
    }
    out.flush().map_err(cli::stdout_error)?;
    Ok(Exit::Ok)
}

/// Prints events; with a group, acknowledges each batch once it was
/// written and flushed. A reader that went away ends the run without
/// acknowledging what it did not get.
fn print_events(
    source: &mut dyn Source,
    args: &Args,
    stop: &AtomicBool,
    block: Duration,
) -> Result<Exit> {
    let mut out = io::BufWriter::with_capacity(256 * 1024, io::stdout().lock());
    let mut delivered = 0u64;
    let mut rejected = Exit::Ok;
    while !stop.load(Ordering::SeqCst) && args.count.is_none_or(|n| delivered < n) {
        let room = args
            .count
            .map_or(args.window, |n| args.window.min((n - delivered) as usize));
        let batch = source.receive(room, block)?;
        if batch.is_empty() {
            source.housekeeping();
            if args.once {
                break;
            }
            continue;
        }
        let mut written = Vec::with_capacity(batch.len());
        for item in batch {
            match item {
                Received::Event(delivery) => {
                    writeln!(out, "{}", delivery.line).map_err(cli::stdout_error)?;
                    written.push(delivery.entry);
                    delivered += 1;
                }
                Received::Bad(bad) => {
                    source::set_aside(&mut *source, &bad)?;
                    rejected = Exit::DataErr;
                }
            }
        }
        out.flush().map_err(cli::stdout_error)?;
        source.ack(&written)?;
        source.housekeeping();
    }
    out.flush().map_err(cli::stdout_error)?;
    if stop.load(Ordering::SeqCst) && !args.common.base.quiet {
        cli::note("stopping: every event printed was acknowledged");
    }
    source.finish();
    Ok(rejected)
}
