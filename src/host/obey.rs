//! `sd-obey`: each host obeys the server's orders, safely
//! (docs/ARCHITECTURE.md §10). Every safeguard is here, on the host: the
//! signature against the keys it trusts, the expiry, its own allow-list
//! of actions and the types of their arguments, at most one run per order
//! id ever (the ledger), and the run itself like sd-run's — no shell, a
//! process group of its own, a timeout, bounded output, the action's user.
//! Every order, obeyed or refused, becomes one event on stdout for
//! `| sd-bark`.

use crate::base::error::{Error, Result};
use crate::base::exit::Exit;
use crate::base::size::prefix;
use crate::base::{cli, ident, time};
use crate::config::{ActionSection, CommonArgs, Settings, layered};
use crate::event::{Event, Status};
use crate::log::orders::{OBEY_GROUP, stream_for};
use crate::log::{Group, Patience, Reconnecting};
use crate::orders::args;
use crate::orders::keys::TrustedKey;
use crate::orders::ledger::{Ledger, Start};
use crate::orders::{Order, Signed};
use clap::{ArgMatches, Parser};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const LONG_ABOUT: &str = "\
Obey this host's orders: read them from sheepdog:orders:HOST through a \
consumer group (or from the local orders spool without a broker) and, for \
each, check in this order: its signature against the keys in [obey] \
trusted_keys; that it has not expired; that its action is one of this \
host's [[action]] tables; that every argument is there, none extra, each \
of its declared type; that it never ran before (the ledger). Only then \
does the action run: its command without a shell, arguments as whole \
words or inside one, in a process group of its own, within its timeout, \
as its user. An action dies with sd-obey (SIGKILL as its parent-death \
signal), and whatever it left running in its process group is killed as \
it ends; under systemd, the unit's control group also ends what an action \
killed with sd-obey had put in the background.

Each order gives one event on stdout (kind order, tag the action, order \
the id, args, status, code, output) for `| sd-bark`; one refused before it \
could run (a bad signature, an action or argument the allow-list does not \
admit) is tagged sd-obey, the action it claimed a field. A refused order is an \
error event naming why — forged, expired, unknown-action, bad-argument, \
replayed, wrong-host — and nothing runs. An order whose run was cut short \
(sd-obey killed mid-action) is reported error/interrupted and not run \
again, unless its action says retry = true.

--once handles what is waiting and exits (for cron); otherwise sd-obey runs \
as a service until SIGTERM, and when the broker goes away (a restart, a \
failover through Sentinel) it connects again, with backoff, and goes on.";

#[derive(Debug, Parser)]
#[command(name = "sd-obey", version, about = "Obey signed orders from the server, safely", long_about = LONG_ABOUT)]
pub struct Args {
    /// Handle the orders waiting now, then exit.
    #[arg(long)]
    pub once: bool,

    /// The host name orders are addressed to [default: [obey] host, else
    /// the short host name].
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,

    /// The ledger of what ran [default: [obey] ledger, else
    /// $XDG_STATE_HOME/sheepdog/obey.db, /var/lib/sheepdog/obey.db for root].
    #[arg(long, value_name = "PATH")]
    pub ledger: Option<PathBuf>,

    #[command(flatten)]
    pub common: CommonArgs,
}

/// Output kept of an action, head and tail.
const OUTPUT_KEPT: usize = 16 * 1024;
/// An action without a timeout of its own gets this one.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

pub fn run(args: Args, matches: &ArgMatches) -> Result<Exit> {
    let settings = Settings::resolve(&args.common, matches)?;
    let config = &settings.config;
    let host = layered(
        args.host.clone(),
        config.obey.host.clone(),
        ident::short_hostname,
    );
    if config.obey.trusted_keys.is_empty() {
        return Err(Error::usage(
            "no key is trusted: list the server's public key in [obey] trusted_keys \
             (made by `sd-order keygen`, PATH.pub)",
        ));
    }
    let keys = config
        .obey
        .trusted_keys
        .iter()
        .map(|path| TrustedKey::load(path))
        .collect::<Result<Vec<_>>>()?;
    for action in &config.action {
        for (name, kind) in &action.args {
            kind.check().map_err(|why| {
                Error::usage(format!(
                    "[[action]] {}, argument {name}: {why}",
                    action.name
                ))
            })?;
        }
    }
    let ledger_path = layered(args.ledger.clone(), config.obey.ledger.clone(), || {
        crate::base::paths::state_dir().join("obey.db")
    });
    let mut obeying = Obeying {
        host: host.clone(),
        keys,
        actions: &config.action,
        ledger: Ledger::open(&ledger_path)?,
    };
    let stop = cli::stop_flag()?;
    // A service waits for a log that is away (a restart, a failover) and
    // connects again — through the sentinels, to the new master — rather
    // than exit; --once says so and exits 69.
    let patience = if args.once {
        Patience::Tries(1)
    } else {
        Patience::Forever
    };
    let mut inbox = Inbox::open(&settings, &host, patience, Arc::clone(&stop))?;
    let block = if args.once {
        Duration::from_millis(100)
    } else {
        Duration::from_secs(1)
    };
    'obeying: while !stop.load(Ordering::SeqCst) {
        let batch = match inbox.receive(block) {
            Ok(batch) => batch,
            // A read cut short by the stop signal: stopping, not an error.
            Err(_) if stop.load(Ordering::SeqCst) => break,
            Err(e) => return Err(e),
        };
        if batch.is_empty() && args.once {
            break;
        }
        for (entry, signed) in batch {
            let event = obeying.handle(signed.as_ref())?;
            cli::print_events([&event])?;
            match inbox.ack(&entry) {
                Ok(()) => {}
                // Cut short by the stop signal (a socket with a timeout
                // is not restarted after one): the order stays pending,
                // and its next delivery is answered from the ledger, not
                // run again.
                Err(_) if stop.load(Ordering::SeqCst) => break 'obeying,
                Err(e) => return Err(e),
            }
        }
    }
    Ok(Exit::Ok)
}

struct Obeying<'a> {
    host: String,
    keys: Vec<TrustedKey>,
    actions: &'a [ActionSection],
    ledger: Ledger,
}

/// The tag of every refused order's event.
pub const REFUSALS_TAG: &str = "sd-obey";

/// Why an order was refused: (reason, message).
type Refusal = (&'static str, String);

impl<'a> Obeying<'a> {
    /// One order, from its entry to its event.
    fn handle(&mut self, signed: Option<&Signed>) -> Result<Event> {
        let (order, action) = match self.check(signed) {
            Ok(checked) => checked,
            Err((reason, msg)) => {
                // Under a tag of its own: a forged order must not choose
                // the tag (and so the board's row and the mail) of its
                // refusal. What it claimed goes in fields, cut short.
                let named = signed.and_then(|s| serde_json::from_str::<Order>(&s.order).ok());
                let mut event = Event::report(&self.host, REFUSALS_TAG, "order", Status::Error);
                event.set("reason", reason).set("msg", prefix(&msg, 1024));
                if let Some(order) = named {
                    event
                        .set("order", prefix(&order.id, 64))
                        .set("action", prefix(&order.action, 64));
                }
                return Ok(event);
            }
        };
        let mut event = Event::report(&self.host, &order.action, "order", Status::Info);
        event
            .set("order", order.id.clone())
            .set("action", order.action.clone())
            .set(
                "args",
                serde_json::to_value(&order.args).unwrap_or_default(),
            )
            .set("by", order.by.clone());
        let refuse = |event: &mut Event, status: Status, reason: &str, msg: String| {
            event
                .set("status", status.as_str())
                .set("reason", reason)
                .set("msg", msg);
        };
        match self.ledger.start(&order.id, &order.action)? {
            Start::Fresh => {}
            Start::Done(status) => {
                refuse(
                    &mut event,
                    Status::Error,
                    "replayed",
                    format!(
                        "order {} for {} ran before ({status}); not run again",
                        order.id, order.action
                    ),
                );
                return Ok(event);
            }
            Start::Running => {
                refuse(
                    &mut event,
                    Status::Error,
                    "replayed",
                    format!(
                        "order {} for {} is running in another sd-obey; not run twice",
                        order.id, order.action
                    ),
                );
                return Ok(event);
            }
            Start::Interrupted if !action.retry => {
                self.ledger.finish(&order.id, "interrupted")?;
                refuse(
                    &mut event,
                    Status::Error,
                    "interrupted",
                    format!(
                        "order {} for {} was cut short (sd-obey stopped mid-run); not run again \
                     (set retry = true on the action if it is safe to repeat)",
                        order.id, order.action
                    ),
                );
                return Ok(event);
            }
            Start::Interrupted => {}
        }
        let (status, reason) = self.execute(action, &order, &mut event);
        self.ledger.finish(&order.id, status.as_str())?;
        event.set("status", status.as_str()).set("reason", reason);
        Ok(event)
    }

    /// The checks, in order; the order and its action when all pass.
    fn check(
        &self,
        signed: Option<&Signed>,
    ) -> std::result::Result<(Order, &'a ActionSection), Refusal> {
        let signed = signed.ok_or(("forged", "an entry without order, sig and key".to_string()))?;
        let key = self.keys.iter().find(|k| k.id == signed.key).ok_or((
            "forged",
            format!(
                "signed by key {}, which this host does not trust",
                signed.key
            ),
        ))?;
        if !key.verifies(&signed.order, &signed.sig) {
            return Err((
                "forged",
                format!(
                    "the signature does not match the order (altered, or not made by key {})",
                    key.id
                ),
            ));
        }
        let order: Order = serde_json::from_str(&signed.order).map_err(|e| {
            (
                "bad-order",
                format!("a signed order that does not read: {e}"),
            )
        })?;
        if order.host != self.host {
            return Err((
                "wrong-host",
                format!(
                    "order {} is for {}, this is {}",
                    order.id, order.host, self.host
                ),
            ));
        }
        let expires = time::parse_rfc3339_ms(&order.expires).ok_or((
            "bad-order",
            format!("expires `{}` is not a time", order.expires),
        ))?;
        if time::now_ms() > expires {
            return Err((
                "expired",
                format!(
                    "order {} for {} expired at {}",
                    order.id, order.action, order.expires
                ),
            ));
        }
        let action = self
            .actions
            .iter()
            .find(|a| a.name == order.action)
            .ok_or((
                "unknown-action",
                format!(
                    "{} is not in this host's allow-list ([[action]] tables)",
                    order.action
                ),
            ))?;
        args::check(&action.args, &order.args).map_err(|why| ("bad-argument", why))?;
        Ok((order, action))
    }

    /// Runs the action; its status and reason, with what it printed set
    /// on `event`.
    fn execute(
        &self,
        action: &ActionSection,
        order: &Order,
        event: &mut Event,
    ) -> (Status, &'static str) {
        let cmd = args::fill(&action.cmd.0, &order.args);
        event.set("cmd", cmd.clone());
        let identity = match identity_of(action.user.as_deref()) {
            Ok(identity) => identity,
            Err(why) => {
                event.set("msg", why);
                return (Status::Error, "cannot-run");
            }
        };
        let timeout = action.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0);
        let finished = match crate::base::process::run_action(&cmd, timeout, OUTPUT_KEPT, identity)
        {
            Ok(finished) => finished,
            Err(e) => {
                let reason = crate::base::process::reason_not_started(&e);
                event.set(
                    "msg",
                    format!("{}: {}", cmd[0], crate::base::error::describe_io(&e)),
                );
                return (Status::Error, reason);
            }
        };
        event.set("elapsed_ms", finished.elapsed.as_millis() as u64);
        for (field, text) in [("stdout", &finished.stdout), ("stderr", &finished.stderr)] {
            if !text.is_empty() {
                event.set(field, text.clone());
            }
        }
        match finished.status.and_then(|s| s.code()) {
            _ if finished.timed_out => {
                event.set(
                    "msg",
                    format!("{} ran past {}", order.action, time::human(timeout)),
                );
                (Status::Fail, "timeout")
            }
            Some(0) => {
                event
                    .set("code", 0)
                    .set("msg", format!("{} done", order.action));
                (Status::Ok, "exit")
            }
            Some(code) => {
                event
                    .set("code", code)
                    .set("msg", format!("{} exited {code}", order.action));
                (Status::Fail, "exit")
            }
            None => {
                event.set("msg", format!("{} was killed by a signal", order.action));
                (Status::Fail, "signal")
            }
        }
    }
}

/// The uid and gid to run as: none for the user sd-obey runs as.
fn identity_of(user: Option<&str>) -> std::result::Result<Option<(u32, u32)>, String> {
    let Some(name) = user else {
        return Ok(None);
    };
    if name == ident::user_name() {
        return Ok(None);
    }
    if !ident::is_root() {
        return Err(format!("cannot run as {name}: sd-obey is not root"));
    }
    match nix::unistd::User::from_name(name) {
        Ok(Some(user)) => Ok(Some((user.uid.as_raw(), user.gid.as_raw()))),
        _ => Err(format!("cannot run as {name}: no such user")),
    }
}

/// Where orders come from: the host's orders stream.
struct Inbox {
    reader: Reconnecting,
    consumer: String,
    /// The connection whose own pending orders were read: after a
    /// reconnection they are read again.
    pending_read: u64,
}

impl Inbox {
    fn open(
        settings: &Settings,
        host: &str,
        patience: Patience,
        stop: Arc<AtomicBool>,
    ) -> Result<Inbox> {
        // One consumer per host, by name: a restarted sd-obey takes up what
        // it was given before it died.
        let consumer = format!("obey-{host}");
        let group = Group {
            name: OBEY_GROUP.to_string(),
            consumer: consumer.clone(),
            from_now: false,
        };
        let reader = Reconnecting::open(
            &settings.log(),
            &stream_for(host),
            Some(group),
            patience,
            stop,
            settings.quiet,
        )?;
        Ok(Inbox {
            reader,
            consumer,
            pending_read: 0,
        })
    }

    /// Entries and the signed orders they hold (None: not an order).
    fn receive(&mut self, block: Duration) -> Result<Vec<(String, Option<Signed>)>> {
        let consumer = &self.consumer;
        let mut entries = Vec::new();
        if self.pending_read < self.reader.connections() {
            self.pending_read = self.reader.connections();
            entries = self
                .reader
                .with(|log| log.read_own_pending(OBEY_GROUP, consumer, "0", 1000))?;
        }
        if entries.is_empty() {
            entries = self
                .reader
                .with(|log| log.read_group(OBEY_GROUP, consumer, 100, block))?;
        }
        Ok(entries
            .into_iter()
            .map(|e| {
                let signed = match (e.text, e.sig, e.key) {
                    (Some(order), Some(sig), Some(key)) => Some(Signed { order, sig, key }),
                    _ => None,
                };
                (e.id, signed)
            })
            .collect())
    }

    fn ack(&mut self, entry: &str) -> Result<()> {
        let ids = [entry.to_string()];
        self.reader.with(|log| log.ack(OBEY_GROUP, &ids))
    }
}
