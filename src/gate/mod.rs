//! `sd-gate`: pings over HTTP in, events out, for what cannot run
//! sheepdog — a router, a NAS, a CI job elsewhere — and should not hold
//! a broker's credential. It speaks healthchecks.io's ping API and Uptime
//! Kuma's push ([`api`]), maps each token to a host and tag ([`checks`]),
//! and keeps every event the way sd-bark does ([`keeper`]): stamped,
//! committed to the spool, published. Every request is bounded
//! ([`http`], [`listener`], [`rate`]).

mod api;
mod checks;
mod http;
mod keeper;
mod listener;
mod rate;
mod runs;

use crate::base::cli;
use crate::base::error::{Context, Error, Result};
use crate::base::exit::Exit;
use crate::base::process::capture::Capture;
use crate::config::{CommonArgs, Settings};
use crate::event::{Event, Status, maintenance};
use api::{Api, Call, NotACall, Signal};
use checks::{Check, Checks};
use clap::{ArgMatches, Parser, Subcommand};
use http::{Request, Response};
use keeper::Keeper;
use rate::Buckets;
use runs::Runs;
use std::net::{IpAddr, TcpListener};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

const LONG_ABOUT: &str = "\
Listen for pings over HTTP and turn each into an event, the way sd-bark \
does: stamped, committed to the local spool, published to the broker. For \
what can run curl or wget but not sheepdog, and should not hold the \
broker's credential.

It speaks healthchecks.io's ping API, but for the base URL: GET, HEAD or \
POST /ping/UUID (success), /ping/UUID/start, /ping/UUID/fail, /ping/UUID/N \
(exit status N), /ping/UUID/log, ?rid=ID to pair a start with its end (the \
end gets the run's elapsed_ms), and /ping/KEY/SLUG with the same endings; \
a POST body becomes the event's stdout (its head and tail, 64 KiB). \
/ping/UUID/maintenance?for=30m&reason=… declares a maintenance window. \
And Uptime Kuma's push: /api/push/TOKEN?status=up|down&msg=…&ping=MS. \
Answers as they do: OK (200), an unknown check 404.

Each token names a host and a tag in the configuration ([[gate.check]] \
uuid, host, tag), or `sd-gate add HOST TAG` makes one. An unknown token, a \
bad path, a body over [gate] max_body, a client too slow to send its \
request and a flood from one address or to one check get an HTTP error \
and never an event. TLS with [gate] tls_cert and tls_key, or behind a \
reverse proxy.";

#[derive(Debug, Parser)]
#[command(name = "sd-gate", version, about = "Turn pings over HTTP into events", long_about = LONG_ABOUT)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Address and port to listen on [default: [gate] listen, or
    /// 127.0.0.1:8470].
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<String>,

    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make a check: a new UUID for HOST and TAG, added to the
    /// configuration file; prints the UUID and the URL to ping.
    Add {
        /// The host the check's pings are about (`nas`, `router`).
        host: String,
        /// What is watched there (`backup`, `wan`).
        tag: String,
        /// Also reachable as /ping/KEY/SLUG ([gate] ping_key_file).
        #[arg(long)]
        slug: Option<String>,
    },
}

const DEFAULT_LISTEN: &str = "127.0.0.1:8470";
/// What of a POST body the event keeps, as sd-run keeps a job's output.
const MAX_OUTPUT: usize = 64 * 1024;

pub fn run(args: Args, matches: &ArgMatches) -> Result<Exit> {
    match &args.command {
        Some(Command::Add { host, tag, slug }) => add(&args, host, tag, slug.as_deref()),
        None => serve(&args, matches),
    }
}

/// `sd-gate add`: the new check's UUID and URL on stdout.
fn add(args: &Args, host: &str, tag: &str, slug: Option<&str>) -> Result<Exit> {
    let (uuid, path) = checks::add(&args.common.base, host, tag, slug)?;
    let (config, _) = args.common.base.load()?;
    let base = config.gate.url.clone().unwrap_or_else(|| {
        format!(
            "http://{}",
            config.gate.listen.as_deref().unwrap_or(DEFAULT_LISTEN)
        )
    });
    println!("{uuid}");
    println!("{}/ping/{uuid}", base.trim_end_matches('/'));
    if !args.common.base.quiet {
        cli::note(format!(
            "added to {}; a running sd-gate reads it at the check's first ping",
            path.display()
        ));
    }
    Ok(Exit::Ok)
}

/// Listens until told to stop; the outbox's exit status at the end.
fn serve(args: &Args, matches: &ArgMatches) -> Result<Exit> {
    let settings = Settings::resolve(&args.common, matches)?;
    let section = &settings.config.gate;
    let listen = args
        .listen
        .clone()
        .or_else(|| section.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let checks = Checks::from_section(section, settings.config_path.clone())?;
    let pool = pool(section)?;
    let stop = cli::stop_flag()?;
    let socket = TcpListener::bind(&listen).usage_context("listening on", &listen)?;
    if checks.len() == 0 && !settings.quiet {
        cli::warn(
            "no [[gate.check]] configured: every ping is answered 404 (sd-gate add HOST TAG makes one)",
        );
    }
    if !settings.quiet {
        cli::note(format!(
            "listening on {}{} for {} check(s)",
            if pool.tls.is_some() {
                "https://"
            } else {
                "http://"
            },
            socket
                .local_addr()
                .map_or(listen.clone(), |a| a.to_string()),
            checks.len()
        ));
    }
    let (keeper, kept) = Keeper::start(settings.log(), settings.quiet);
    let gate = Arc::new(Gate {
        checks: Mutex::new(checks),
        base: args.common.base.clone(),
        runs: Mutex::new(Runs::default()),
        per_check: Mutex::new(Buckets::new(section.check_rate.unwrap_or(10.0), 100_000)),
        per_address: Mutex::new(Buckets::new(section.address_rate.unwrap_or(200.0), 100_000)),
        keeper,
    });
    let handler: Arc<listener::Handler> = {
        let gate = gate.clone();
        Arc::new(move |request: &Request, address: IpAddr| gate.answer(request, address))
    };
    listener::serve(socket, pool, handler, &stop);
    drop(gate);
    if !settings.quiet {
        cli::note("stopped");
    }
    Ok(kept.join().unwrap_or(Exit::IoErr))
}

/// The workers and the limits `[gate]` sets.
fn pool(section: &crate::config::GateSection) -> Result<listener::Pool> {
    let tls = match (&section.tls_cert, &section.tls_key) {
        (Some(cert), Some(key)) => Some(Arc::new(tls_config(cert, key)?)),
        (None, None) => None,
        _ => return Err(Error::usage("[gate] tls_cert and tls_key go together")),
    };
    let limits = http::Limits {
        max_body: section
            .max_body
            .map_or(http::Limits::default().max_body, |b| {
                usize::try_from(b).unwrap_or(usize::MAX)
            }),
        ..http::Limits::default()
    };
    Ok(listener::Pool {
        workers: section.workers.unwrap_or(64).clamp(1, 4096),
        per_address: section.address_connections.unwrap_or(32).max(1),
        limits,
        tls,
    })
}

struct Gate {
    checks: Mutex<Checks>,
    base: crate::config::ConfigArgs,
    runs: Mutex<Runs>,
    per_check: Mutex<Buckets<String>>,
    per_address: Mutex<Buckets<IpAddr>>,
    keeper: Keeper,
}

impl Gate {
    fn answer(&self, request: &Request, address: IpAddr) -> Response {
        let now = Instant::now();
        if !lock(&self.per_address).take(&address, now) {
            return Response::text(429, "rate limited: too many requests from your address\n");
        }
        if !matches!(request.method.as_str(), "GET" | "HEAD" | "POST") {
            return Response::text(405, "GET, HEAD or POST\n");
        }
        let call = match api::parse(&request.target) {
            Ok(call) => call,
            Err(NotACall::Unknown) => return Response::text(404, "not found\n"),
            Err(NotACall::Bad(why)) => return Response::text(400, format!("{why}\n")),
        };
        let Some(check) = self.find(&call) else {
            return match call.api {
                Api::Healthchecks => Response::text(404, "not found\n"),
                Api::Kuma => Response::json(
                    404,
                    r#"{"ok":false,"msg":"Monitor not found or not active."}"#,
                ),
            };
        };
        if !lock(&self.per_check).take(&check.name, now) {
            return Response::text(429, "rate limited: too many pings for this check\n");
        }
        let event = self.event(&call, &check, &request.body, now);
        if !self.keeper.keep(event.to_line()) {
            return Response::text(
                503,
                "not kept (the gate's spool is unwritable, or it is stopping); try again\n",
            );
        }
        match call.api {
            Api::Healthchecks => Response::text(200, "OK"),
            Api::Kuma => Response::json(200, r#"{"ok":true}"#),
        }
    }

    /// The check a call names; an unknown one after reading the
    /// configuration again if it changed (`sd-gate add`).
    fn find(&self, call: &Call) -> Option<Check> {
        let mut checks = lock(&self.checks);
        if let Some(check) = checks.find(&call.token) {
            return Some(check.clone());
        }
        let changed = checks.changed_source()?.to_path_buf();
        match self
            .base
            .load()
            .and_then(|(config, path)| Checks::from_section(&config.gate, path))
        {
            Ok(fresh) => {
                cli::note(format!(
                    "read {} again: {} check(s)",
                    changed.display(),
                    fresh.len()
                ));
                *checks = fresh;
            }
            Err(err) => {
                cli::warn(format!("{err} (keeping the checks read before)"));
                // Read again at its next change, not at every unknown ping.
                checks.seen_source();
            }
        }
        checks.find(&call.token).cloned()
    }

    /// What the call says, as an event about its check.
    fn event(&self, call: &Call, check: &Check, body: &[u8], now: Instant) -> Event {
        let (host, tag) = (check.host.as_str(), check.tag.as_str());
        let run = |status, reason: &str| {
            let kind = if call.api == Api::Kuma { "ping" } else { "run" };
            let mut event = Event::report(host, tag, kind, status);
            event.set("reason", reason);
            event
        };
        let mut event = match &call.signal {
            Signal::Maintenance(length) => {
                maintenance::event(host, tag, *length, call.msg.as_deref())
            }
            Signal::Start => {
                lock(&self.runs).start(&check.name, call.run_id.as_deref(), now);
                let mut event = run(Status::Info, "start");
                event.set("msg", format!("{tag} started"));
                event
            }
            Signal::Log => {
                let mut event = run(Status::Info, "log");
                event.set("msg", format!("{tag} logged"));
                event
            }
            Signal::Success => {
                let mut event = run(Status::Ok, "exit");
                if call.api == Api::Healthchecks {
                    event.set("code", 0);
                }
                event.set("msg", format!("{tag} succeeded"));
                event
            }
            Signal::Fail => {
                let mut event = run(Status::Fail, "fail");
                event.set("msg", format!("{tag} failed"));
                event
            }
            Signal::Exit(code) => {
                let mut event = run(Status::Fail, "exit");
                event.set("code", *code);
                event.set("msg", format!("{tag} exited with status {code}"));
                event
            }
        };
        let ends_a_run = matches!(
            call.signal,
            Signal::Success | Signal::Fail | Signal::Exit(_)
        );
        let elapsed = match call.elapsed_ms {
            Some(ms) => Some(ms),
            None if ends_a_run && call.api == Api::Healthchecks => lock(&self.runs)
                .end(&check.name, call.run_id.as_deref(), now)
                .map(|took| took.as_millis() as u64),
            None => None,
        };
        if let Some(ms) = elapsed {
            event.set("elapsed_ms", ms);
        }
        if let (Some(msg), false) = (&call.msg, matches!(call.signal, Signal::Maintenance(_))) {
            event.set("msg", msg.as_str());
        }
        if let Some(rid) = &call.run_id {
            event.set("rid", rid.as_str());
        }
        if !body.is_empty() {
            let mut output = Capture::new(MAX_OUTPUT);
            output.push(body);
            event.set("stdout", output.into_text());
        }
        event
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn tls_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|err| Error::usage(format!("[gate] tls_cert {}: {err}", cert.display())))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|err| Error::usage(format!("[gate] tls_key {}: {err}", key.display())))?;
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|err| Error::usage(format!("[gate] TLS: {err}")))
}
