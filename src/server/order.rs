//! `sd-order`: the server asks hosts to act (docs/ARCHITECTURE.md §10).
//! It signs one order per target host with the server's Ed25519 key and
//! publishes it to that host's orders stream; with `--wait`, it prints
//! each host's result event as it arrives. What a host will do, with what
//! arguments, as which user, is the host's own allow-list: an order only
//! asks.

use crate::base::error::{Error, Result};
use crate::base::exit::Exit;
use crate::base::{cli, ident, time};
use crate::config::{CommonArgs, Settings};
use crate::event::DEFAULT_MAX_EVENT_BYTES;
use crate::event::lines::{Line, LineReader};
use crate::log::{Group, Patience, Reconnecting};
use crate::orders::Order;
use crate::orders::keys::{self, SigningKey};
use crate::store::Store;
use crate::store::facts::FactExpr;
use clap::{ArgMatches, Parser, Subcommand};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

const LONG_ABOUT: &str = "\
Ask hosts to act: sign an order for ACTION with NAME=VALUE arguments, one \
per target host, and publish each to that host's orders stream \
(sheepdog:orders:HOST), where its sd-obey checks the signature, the \
expiry, its own allow-list and the arguments' types before it runs \
anything, at most once.

Targets are named with --host, or chosen by their latest facts in the \
store with --where (the fact expressions of sd-query). Without ACTION, \
order requests are read as JSON lines on stdin \
({\"host\":\"tux01\",\"action\":\"block-ip\",\"args\":{\"ip\":\"203.0.113.7\"}}), \
so a script or a rule can decide them.

The private key comes from --key-file or [order] key_file; `sd-order \
keygen PATH` makes a key pair (PATH, mode 0600, and PATH.pub for the \
hosts' [obey] trusted_keys). Each order published is printed as a JSON \
line. With --wait, each host's result event is printed as it arrives: \
exit 0 when all succeeded, 1 when any failed or refused, 75 when some \
did not answer in time.

An order identical to one sent earlier (the same host, action and \
arguments) that has not expired yet is not sent again, and sd-order says \
so: a rule run from cron decides the same block at every run. --again \
sends it anyway. What was sent is remembered in \
$XDG_STATE_HOME/sheepdog/orders-sent.db (/var/lib/sheepdog for root).";

#[derive(Debug, Parser)]
#[command(name = "sd-order", version, about = "Sign and send orders to hosts", long_about = LONG_ABOUT,
          args_conflicts_with_subcommands = true, disable_help_subcommand = true)]
pub struct Args {
    /// What to do: an action in the target hosts' allow-lists.
    #[arg(value_name = "ACTION")]
    pub action: Option<String>,

    /// The action's arguments.
    #[arg(value_name = "NAME=VALUE")]
    pub assignments: Vec<String>,

    /// A host to order (repeatable).
    #[arg(long, value_name = "HOST")]
    pub host: Vec<String>,

    /// Order every host whose latest facts match (repeatable; all must).
    #[arg(long = "where", value_name = "EXPR", value_parser = FactExpr::parse_arg)]
    pub where_: Vec<FactExpr>,

    /// The store --where reads [default: [store] path, else the default store].
    #[arg(long, value_name = "DB")]
    pub db: Option<PathBuf>,

    /// How long an order stays good: after this the host refuses it.
    #[arg(long, value_name = "DURATION", value_parser = cli::parse_duration, default_value = "5m")]
    pub ttl: Duration,

    /// Wait this long for every host's result, printing each as it comes.
    #[arg(long, value_name = "DURATION", value_parser = cli::parse_duration)]
    pub wait: Option<Duration>,

    /// The private key [default: [order] key_file].
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,

    /// Send an order even while an identical one (same host, action and
    /// arguments) sent earlier is still valid.
    #[arg(long)]
    pub again: bool,

    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make a key pair: the private key at PATH (0600), the public at PATH.pub.
    Keygen {
        #[arg(value_name = "PATH")]
        path: PathBuf,
    },
}

/// An order request on stdin.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    host: String,
    action: String,
    #[serde(default)]
    args: BTreeMap<String, serde_json::Value>,
}

pub fn run(args: Args, matches: &ArgMatches) -> Result<Exit> {
    if let Some(Command::Keygen { path }) = &args.command {
        let id = keys::generate(path)?;
        if !args.common.base.quiet {
            cli::note(format!(
                "wrote the private key {} (mode 0600; keep it on the server) and the public key {} \
                 (key id {id}); copy the public key to each host and list it in [obey] trusted_keys",
                path.display(),
                keys::public_path(path).display()
            ));
        }
        return Ok(Exit::Ok);
    }
    let settings = Settings::resolve(&args.common, matches)?;
    let key_path = args
        .key_file
        .clone()
        .or_else(|| settings.config.order.key_file.clone())
        .ok_or_else(|| {
            Error::usage(
                "no key to sign with: give --key-file FILE or set [order] key_file \
                 (make one with `sd-order keygen /etc/sheepdog/orders.key`)",
            )
        })?;
    let key = SigningKey::load(&key_path)?;
    let (orders, mut exit) = match &args.action {
        Some(action) => (orders_from_flags(&args, action, &settings)?, Exit::Ok),
        None => orders_from_stdin(&args)?,
    };
    // Without its memory (a state directory it cannot write), sd-order
    // still sends: every order, as before there was one.
    let sent = match crate::orders::sent::Sent::open(&crate::orders::sent::Sent::default_path()) {
        Ok(sent) => Some(sent),
        Err(e) => {
            cli::warn(format!("{e}; sending every order, identical ones too"));
            None
        }
    };
    let mut log = settings.log().open(&settings.stream)?;
    // Answers are read through a group of the wait's own, made before the
    // first order goes out: none comes before it, and no trimming behind
    // a receiver deletes one before it is read.
    let mut answers = match args.wait {
        Some(_) => Some(Answers::open(&settings)?),
        None => None,
    };
    let mut out = io::stdout().lock();
    let mut sent_now = Vec::with_capacity(orders.len());
    for order in orders {
        let earlier = match &sent {
            Some(sent) if !args.again => sent.still_valid(&order, time::now_ms())?,
            _ => None,
        };
        if let Some(earlier) = earlier {
            if !args.common.base.quiet {
                cli::note(format!(
                    "skipped {} on {}: the same order {} is valid until {} (--again sends it anyway)",
                    order.action,
                    order.host,
                    earlier.id,
                    time::format_ms(earlier.expires_ms)
                ));
            }
            continue;
        }
        log.append_order(&order.host, &crate::orders::sign(&order, &key))?;
        if let Some(sent) = &sent {
            sent.record(&order)?;
        }
        writeln!(out, "{}", order.to_text()).map_err(cli::stdout_error)?;
        sent_now.push(order);
    }
    let orders = sent_now;
    out.flush().map_err(cli::stdout_error)?;
    drop(out);
    if let (Some(wait), Some(answers)) = (args.wait, &mut answers) {
        exit = exit.worst(answers.wait_for(&orders, wait)?);
    }
    Ok(exit)
}

fn orders_from_flags(args: &Args, action: &str, settings: &Settings) -> Result<Vec<Order>> {
    let mut values = BTreeMap::new();
    for assignment in &args.assignments {
        let (name, value) = assignment
            .split_once('=')
            .ok_or_else(|| Error::usage(format!("`{assignment}`: an argument is NAME=VALUE")))?;
        values.insert(name.to_string(), value.to_string());
    }
    let mut hosts: BTreeSet<String> = args.host.iter().cloned().collect();
    if !args.where_.is_empty() {
        let path = Store::locate(args.db.as_deref(), &settings.config);
        let conn = Store::open_read_only(&path)?;
        hosts.extend(crate::store::facts::hosts_matching(&conn, &args.where_)?.unwrap_or_default());
    }
    if hosts.is_empty() {
        return Err(Error::usage(if args.where_.is_empty() {
            "which hosts? name them with --host, or choose them with --where EXPR".to_string()
        } else {
            "no host's facts match --where; nothing was ordered".to_string()
        }));
    }
    let by = by();
    Ok(hosts
        .iter()
        .map(|host| Order::new(host, action, values.clone(), args.ttl, &by))
        .collect())
}

/// Requests on stdin; a bad line is reported with its number and skipped.
fn orders_from_stdin(args: &Args) -> Result<(Vec<Order>, Exit)> {
    let by = by();
    let mut reader = LineReader::new(io::stdin().lock(), DEFAULT_MAX_EVENT_BYTES);
    let mut orders = Vec::new();
    let mut exit = Exit::Ok;
    while let Some((number, line)) = reader
        .next_line()
        .map_err(|e| Error::local_io("reading standard input", e))?
    {
        let request = match line {
            Line::TooLong(n) => Err(format!("{n} bytes is too long for an order request")),
            Line::Text(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => continue,
            Line::Text(bytes) => serde_json::from_slice::<Request>(bytes).map_err(|e| {
                format!("not an order request ({e}); expected {{\"host\":…,\"action\":…,\"args\":{{…}}}}")
            }),
        };
        match request {
            Ok(request) => {
                let values = request
                    .args
                    .into_iter()
                    .map(|(k, v)| match v {
                        serde_json::Value::String(s) => (k, s),
                        other => (k, other.to_string()),
                    })
                    .collect();
                orders.push(Order::new(
                    &request.host,
                    &request.action,
                    values,
                    args.ttl,
                    &by,
                ));
            }
            Err(why) => {
                cli::note(format!("line {number}: {why}"));
                exit = Exit::DataErr;
            }
        }
    }
    Ok((orders, exit))
}

/// `user@host` of whoever signs.
fn by() -> String {
    format!("{}@{}", ident::user_name(), ident::short_hostname())
}

/// Where the answers to `--wait` come from: the events stream, through a
/// group of the wait's own, retired when the wait is over.
struct Answers {
    reader: Reconnecting,
    group: String,
}

/// The consumer a wait reads as.
const CONSUMER: &str = "sd-order";

impl Answers {
    fn open(settings: &Settings) -> Result<Answers> {
        let group = format!("sd-order-wait-{}", ulid::Ulid::new());
        let reader = Reconnecting::open(
            &settings.log(),
            &settings.stream,
            Some(Group {
                name: group.clone(),
                consumer: CONSUMER.to_string(),
                from_now: true,
            }),
            Patience::Tries(3),
            Arc::new(AtomicBool::new(false)),
            settings.quiet,
        )?;
        Ok(Answers { reader, group })
    }

    /// Prints each result event (kind `order`, naming one of `orders`) as
    /// it arrives, until every host answered or `wait` passed.
    fn wait_for(&mut self, orders: &[Order], wait: Duration) -> Result<Exit> {
        let deadline = Instant::now() + wait;
        let mut waiting: BTreeMap<&str, &str> = orders
            .iter()
            .map(|o| (o.id.as_str(), o.host.as_str()))
            .collect();
        let mut exit = Exit::Ok;
        while !waiting.is_empty() && Instant::now() < deadline {
            for line in self.next(deadline)? {
                let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                let id = event
                    .get("order")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default();
                if event.get("kind").and_then(|v| v.as_str()) != Some("order")
                    || waiting.remove(id).is_none()
                {
                    continue;
                }
                if event.get("status").and_then(|v| v.as_str()) != Some("ok") {
                    exit = Exit::Failed;
                }
                // Printed as it came, at once: it was read already.
                let mut out = io::stdout().lock();
                writeln!(out, "{line}")
                    .and_then(|_| out.flush())
                    .map_err(cli::stdout_error)?;
            }
        }
        if !waiting.is_empty() {
            let silent: BTreeSet<&str> = waiting.values().copied().collect();
            cli::note(format!(
                "no answer within {} from: {}",
                time::human(wait),
                silent.into_iter().collect::<Vec<_>>().join(", ")
            ));
            return Ok(Exit::TempFail);
        }
        Ok(exit)
    }

    /// The events that arrived, until `deadline` at most.
    fn next(&mut self, deadline: Instant) -> Result<Vec<String>> {
        let block = deadline
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(500));
        let group = &self.group;
        let entries = self
            .reader
            .with(|log| log.read_group(group, CONSUMER, 1000, block))?;
        let ids: Vec<String> = entries.iter().map(|e| e.id.clone()).collect();
        if !ids.is_empty() {
            self.reader.with(|log| log.ack(group, &ids))?;
        }
        Ok(entries.into_iter().filter_map(|e| e.text).collect())
    }
}

impl Drop for Answers {
    fn drop(&mut self) {
        // Nothing is left held back for a wait that is over.
        if let Some(log) = self.reader.connected() {
            let _ = log.retire_group(&self.group);
        }
    }
}
