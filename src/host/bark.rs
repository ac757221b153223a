//! `sd-bark`: read events (or compose one), validate and stamp them, keep
//! them in the spool and send them to the broker (docs/ARCHITECTURE.md §2).
//! Batches close at 4,000 lines or 2 ms without input (see `batch`).

use crate::base::error::{Error, Result};
use crate::base::exit::Exit;
use crate::base::ident;
use crate::config::{CommonArgs, Settings};
use crate::event::batch::read_batches;
use crate::event::lines::Stamping;
use crate::event::skim::Skimmed;
use crate::event::{DEFAULT_MAX_EVENT_BYTES, Event, Status};
use crate::log::outbox::Outbox;
use clap::{ArgMatches, Parser};
use std::io;

const LONG_ABOUT: &str = "\
Read events as JSON lines on standard input (or compose one from flags), \
check and stamp them, commit them to the local spool, and publish them to \
the broker.

[bark] notify_to in the configuration names who should hear of this host's \
events: it is added to each event that has no notify_to of its own (the \
server honours it only where a [[route]] allows the address).

Each line must be a JSON object; missing v, id, time and host are filled \
in, unknown fields are kept as they are, and events from the earlier \
sheepdog are converted. A line that is not an event is reported with its \
number on stderr and skipped; the rest still go through, and sd-bark \
exits 65 at the end.

Without a broker the spool is the destination: sd-recv reads it on the \
same machine. With --broker (or SD_BROKER, or [broker] url), the spool is \
the outbox: each batch is committed to it before it is published, and \
whatever is left over from earlier runs goes out first, in order. A broker \
that cannot be reached within its timeout (5 s) delays events but never \
loses them: sd-bark exits 69 and the next sd-bark run, or `sd-bark \
--flush`, sends them.";

#[derive(Debug, Parser)]
#[command(name = "sd-bark", version, about = "Stamp, spool and publish events", long_about = LONG_ABOUT)]
pub struct Args {
    /// Compose one event with this tag instead of reading stdin.
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,

    /// Status of the composed event: ok, warn, fail, error or info
    /// [default: info; ok with --ping].
    #[arg(long, value_name = "STATUS")]
    pub status: Option<Status>,

    /// One human sentence for the composed event.
    #[arg(long, value_name = "TEXT")]
    pub msg: Option<String>,

    /// Kind of the composed event [default: note; ping with --ping].
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,

    /// Compose a keepalive: kind ping, status ok (tag: --tag or `ping`).
    #[arg(long)]
    pub ping: bool,

    /// Declare this host (or --tag) down on purpose for DURATION
    /// (30m, 2h), or end the window early with `off`: a `kind:
    /// maintenance` event; the server holds its notifications meanwhile.
    #[arg(long, value_name = "DURATION|off", value_parser = crate::event::maintenance::parse_length,
          conflicts_with_all = ["status", "kind", "ping"])]
    pub maintenance: Option<std::time::Duration>,

    /// Why, with --maintenance (`--reason 'kernel update'`).
    #[arg(long, value_name = "TEXT", requires = "maintenance")]
    pub reason: Option<String>,

    /// Only publish what waits in the spool; read nothing.
    #[arg(long, conflicts_with_all = ["tag", "status", "msg", "kind", "ping", "maintenance"])]
    pub flush: bool,

    /// Sign what is published with this host's key (HMAC-SHA256; see
    /// sheepdog(7)) [default: [broker] key_file].
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<std::path::PathBuf>,

    /// Largest event accepted (1MiB, 64KiB).
    #[arg(long, value_name = "SIZE", value_parser = crate::base::size::parse_arg, default_value = "1MiB")]
    pub max_event_size: u64,

    #[command(flatten)]
    pub common: CommonArgs,
}

pub fn run(args: Args, matches: &ArgMatches) -> Result<Exit> {
    let mut settings = Settings::resolve(&args.common, matches)?;
    if let Some(broker) = &mut settings.broker {
        if args.key_file.is_some() {
            broker.key_file = args.key_file.clone();
        }
        // A key that cannot be read is said now, before any input is taken.
        if let Some(path) = &broker.key_file {
            crate::event::signing::Key::from_file(path)?;
        }
    } else if args.key_file.is_some() {
        return Err(Error::usage(
            "--key-file signs what goes to Redis; configure a broker (--broker, SD_BROKER or [broker] url)",
        ));
    }
    let host = ident::short_hostname();
    let composing = args.ping
        || args.maintenance.is_some()
        || args.tag.is_some()
        || args.status.is_some()
        || args.msg.is_some()
        || args.kind.is_some();
    let mut rejected = Exit::Ok;
    let mut outbox;
    if composing {
        outbox = Outbox::open(settings.log(), settings.quiet);
        outbox.commit(vec![compose(&args, &host).to_line()]);
    } else if args.flush {
        if settings.broker.is_none() {
            return Err(Error::usage(
                "--flush needs a broker (--broker, SD_BROKER or [broker] url); \
                 without one the spool is where sd-recv reads events",
            ));
        }
        outbox = Outbox::open(settings.log(), settings.quiet);
        outbox.publish_backlog();
    } else {
        outbox = Outbox::streaming(settings.log(), settings.quiet);
        let max = usize::try_from(args.max_event_size).unwrap_or(DEFAULT_MAX_EVENT_BYTES);
        // At the end of a pipe (`sd-obey | sd-bark` in a service), a stop
        // signalled to the whole group must not kill sd-bark with a batch
        // in hand: it reads on until its producer, stopping too, closes
        // the pipe, and keeps everything it was given.
        let _keep_reading = crate::base::cli::stop_flag()?;
        let input = io::BufReader::with_capacity(256 * 1024, io::stdin());
        // Who should hear of this host's events, from its configuration
        // ([bark] notify_to): added to each event that names no one.
        let notify_to = std::sync::Arc::new(settings.config.bark.notify_to.clone());
        let for_stamped = notify_to.clone();
        let stamping = Stamping {
            host,
            as_is: move |event: Skimmed<'_>| {
                if notify_to.is_empty() || event.line.contains("\"notify_to\"") {
                    return event.line.to_string();
                }
                match Event::parse(event.line.as_bytes(), usize::MAX) {
                    Ok(parsed) => addressed(parsed, &notify_to),
                    Err(_) => event.line.to_string(),
                }
            },
            stamped: move |event: Event| addressed(event, &for_stamped),
        };
        rejected = read_batches(input, max, stamping, |batch| {
            outbox.commit(batch);
            Ok(())
        })?;
    }
    Ok(outbox.finish().worst(rejected))
}

fn compose(args: &Args, host: &str) -> Event {
    if let Some(length) = args.maintenance {
        let tag = args
            .tag
            .as_deref()
            .unwrap_or(crate::event::maintenance::EVERY_TAG);
        let mut event = crate::event::maintenance::event(host, tag, length, args.reason.as_deref());
        if let Some(msg) = &args.msg {
            event.set("msg", msg.as_str());
        }
        return event;
    }
    let tag = args.tag.as_deref().unwrap_or("ping");
    let kind = args
        .kind
        .as_deref()
        .unwrap_or(if args.ping { "ping" } else { "note" });
    let status = args
        .status
        .unwrap_or(if args.ping { Status::Ok } else { Status::Info });
    let mut event = Event::report(host, tag, kind, status);
    if let Some(msg) = &args.msg {
        event.set("msg", msg.as_str());
    }
    event
}

/// The event's line, with `notify_to` added when it names no one.
fn addressed(mut event: Event, notify_to: &[String]) -> String {
    if !notify_to.is_empty() && event.get("notify_to").is_none() {
        event.set("notify_to", notify_to.to_vec());
    }
    event.to_line()
}
