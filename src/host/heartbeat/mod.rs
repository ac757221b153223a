//! `sd-heartbeat`: check that a service answers, and restart it through
//! its service manager when it does not (docs/ARCHITECTURE.md §5, from the Guix
//! "Shepherd heartbeat" design). The checks run in a [`worker`] that gave
//! up root before touching the network; [`restart`] decides and restarts
//! with the original privileges; every check prints one event.

mod check;
mod restart;
mod round;
mod worker;

use crate::base::error::{Error, Result};
use crate::base::exit::Exit;
use crate::base::{cli, ident};
use crate::config::{CheckSection, ConfigArgs, ConfigFile};
use check::Probe;
use clap::{ArgMatches, Parser};
use restart::{RateLimit, Supervisor};
use round::{Round, Service, cannot_check};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use worker::Worker;

const LONG_ABOUT: &str = "\
Check that a service answers, and restart it through its service manager \
when it stops answering. Each check prints one event (kind heartbeat) as a \
JSON line: status ok, fail (the service did not answer as it should: reason \
timeout, refused, http-503, body-mismatch, exit-N…) or error (the check \
could not be run: reason resolve when the name does not resolve, \
cannot-check when privileges cannot be dropped, not-found…), with \
elapsed_ms. Pipe it to sd-bark.

Checks: --http URL (HEAD, or GET with --body-match; a redirect is not \
followed, and a 3xx counts as the server answering under the default \
--expect 200-399: give --expect 200-299 to refuse it; every address the name \
resolves to is tried, so a server on ::1 only passes http://localhost/; \
https with the system's roots and --ca FILE), --tcp HOST:PORT (connect), \
--exec CMD (exit 0 is ok; no shell). --timeout bounds the whole check.

Started as root, the checks run in a worker process that dropped to --user \
(default sheepdog) before any I/O, and proved it cannot become root again; \
if it cannot (or the user does not exist), each check is an error event \
(exit 125) and none runs. Restarts run with the original privileges; their \
output is read as they run and kept bounded.

Restarting: --restart CMD, --shepherd SERVICE (herd restart), --systemd UNIT \
(systemctl restart). When the service is not supposed to be running \
(--if-running CMD fails, or herd status / systemctl is-active says so), \
nothing is checked: an info event with reason skipped, exit 0. A restart \
happens after --after failures in a row (counted across runs in a state \
file, reset by a success and by a restart), never after error, and at most \
--max-restarts times per window; each restart is an event of kind restart \
(status info, or error when it failed).

One-shot for cron, mcron, Shepherd or systemd timers (exit 0 ok, 1 failed, \
125 could not check), or a service with --every. --checks FILE runs many \
[[check]] tables at once (sheepdog(7)): 1,000 checks take about one timeout.";

#[derive(Debug, Parser)]
#[command(name = "sd-heartbeat", version, about = "Check a service; restart it when it stops answering",
          long_about = LONG_ABOUT)]
pub struct Args {
    /// Check this URL: HEAD (GET with --body-match), status in --expect.
    #[arg(long, value_name = "URL", group = "probe")]
    pub http: Option<String>,

    /// Check that HOST:PORT accepts a connection.
    #[arg(long, value_name = "HOST:PORT", group = "probe")]
    pub tcp: Option<String>,

    /// Run this command (split into words, no shell): exit 0 is ok.
    #[arg(long, value_name = "CMD", group = "probe")]
    pub exec: Option<String>,

    /// Many checks at once, from the [[check]] tables of this file.
    #[arg(long, value_name = "FILE", group = "probe")]
    pub checks: Option<PathBuf>,

    /// The tag of the events [default: the service restarted, else the
    /// URL's host, the address, or the command's name].
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,

    /// HTTP method.
    #[arg(long, value_name = "METHOD")]
    pub method: Option<String>,

    /// HTTP status codes that mean ok.
    #[arg(long, value_name = "CODES", default_value = "200-399")]
    pub expect: String,

    /// The body must contain this text (implies GET).
    #[arg(long, value_name = "TEXT")]
    pub body_match: Option<String>,

    /// Also trust this CA (PEM) for https.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,

    /// The whole check must finish within this.
    #[arg(long, value_name = "DURATION", value_parser = cli::parse_duration, default_value = "5s")]
    pub timeout: Duration,

    /// Run the checks as this user when started as root [default:
    /// [heartbeat] user, else sheepdog].
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,

    /// Restart with this command (no shell).
    #[arg(long, value_name = "CMD", group = "supervisor")]
    pub restart: Option<String>,

    /// Restart this GNU Shepherd service (herd restart SERVICE).
    #[arg(long, value_name = "SERVICE", group = "supervisor")]
    pub shepherd: Option<String>,

    /// Restart this systemd unit (systemctl restart UNIT).
    #[arg(long, value_name = "UNIT", group = "supervisor")]
    pub systemd: Option<String>,

    /// Check only when this command succeeds (the service is supposed to run).
    #[arg(long, value_name = "CMD")]
    pub if_running: Option<String>,

    /// Restart after this many failures in a row.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub after: u32,

    /// At most this many restarts per window (3/1h).
    #[arg(long, value_name = "N/DURATION", default_value = "3/1h")]
    pub max_restarts: RateLimit,

    /// Check again every this long, until SIGTERM.
    #[arg(long, value_name = "DURATION", value_parser = cli::parse_duration)]
    pub every: Option<Duration>,

    /// Where failures and restarts are counted between runs [default:
    /// [heartbeat] state_dir, $XDG_STATE_HOME/sheepdog/heartbeat,
    /// /var/lib/sheepdog/heartbeat for root].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    #[command(flatten)]
    pub base: ConfigArgs,
}

pub fn run(args: Args, _: &ArgMatches) -> Result<Exit> {
    let (config, _) = args.base.load()?;
    let services = match &args.checks {
        Some(file) => from_file(file, &args)?,
        None => vec![from_flags(&args)?],
    };
    let state_dir = crate::config::layered(
        args.state_dir.clone(),
        config.heartbeat.state_dir.clone(),
        || crate::base::paths::state_dir().join("heartbeat"),
    );
    let host = ident::short_hostname();
    let user = match (
        ident::is_root(),
        crate::config::flag_or_file(args.user.clone(), config.heartbeat.user.clone()),
    ) {
        (true, user) => Some(user.unwrap_or_else(|| "sheepdog".into())),
        (false, Some(user)) if user != ident::user_name() => {
            return Err(cannot_check(
                &host,
                &services,
                Error::new(
                    Exit::CannotCheck,
                    format!(
                        "--user {user}: only root can run checks as another user (run sd-heartbeat as root, or without --user)"
                    ),
                ),
            ));
        }
        (false, _) => None,
    };
    // SAFETY: no thread has been started yet (the stop flag's handlers
    // are installed below, the checks run in the worker).
    let mut worker =
        unsafe { Worker::start(user.as_deref()) }.map_err(|e| cannot_check(&host, &services, e))?;
    let stop = cli::stop_flag()?;
    let mut round = Round {
        worker: &mut worker,
        state_dir: &state_dir,
        host: &host,
    };
    let Some(every) = args.every else {
        return round.run(&services);
    };
    loop {
        let started = Instant::now();
        round.run(&services)?;
        let next = started + every;
        while Instant::now() < next {
            if stop.load(Ordering::Relaxed) {
                return Ok(Exit::Ok);
            }
            std::thread::sleep(Duration::from_millis(50).min(next - Instant::now()));
        }
        if stop.load(Ordering::Relaxed) {
            return Ok(Exit::Ok);
        }
    }
}

fn split(flag: &str, line: &str) -> Result<Vec<String>> {
    let words = cli::split_command(line).map_err(|e| Error::usage(format!("{flag}: {e}")))?;
    if words.is_empty() {
        return Err(Error::usage(format!("{flag}: the command is empty")));
    }
    Ok(words)
}

fn from_flags(args: &Args) -> Result<Service> {
    let section = CheckSection {
        tag: args.tag.clone(),
        http: args.http.clone(),
        tcp: args.tcp.clone(),
        exec: args
            .exec
            .as_deref()
            .map(|e| split("--exec", e))
            .transpose()?
            .map(crate::config::CommandLine),
        method: args.method.clone(),
        expect: Some(args.expect.clone()),
        body_match: args.body_match.clone(),
        ca: args.ca.clone(),
        timeout: Some(crate::config::HumanDuration(args.timeout)),
        restart: args
            .restart
            .as_deref()
            .map(|r| split("--restart", r))
            .transpose()?
            .map(crate::config::CommandLine),
        shepherd: args.shepherd.clone(),
        systemd: args.systemd.clone(),
        if_running: args
            .if_running
            .as_deref()
            .map(|r| split("--if-running", r))
            .transpose()?
            .map(crate::config::CommandLine),
        after: Some(args.after),
        max_restarts: Some(args.max_restarts.to_string()),
    };
    service(&section, args, "the command line").map_err(|e| {
        if args.http.is_none() && args.tcp.is_none() && args.exec.is_none() {
            Error::usage("what should be checked? give --http URL, --tcp HOST:PORT, --exec CMD or --checks FILE")
        } else {
            e
        }
    })
}

fn from_file(path: &Path, args: &Args) -> Result<Vec<Service>> {
    let file = ConfigFile::load(path)?;
    if file.check.is_empty() {
        return Err(Error::usage(format!(
            "{}: no [[check]] table (see sheepdog(7))",
            path.display()
        )));
    }
    let services: Vec<Service> = file
        .check
        .iter()
        .enumerate()
        .map(|(n, section)| {
            service(
                section,
                args,
                &format!("{}, check {}", path.display(), n + 1),
            )
        })
        .collect::<Result<_>>()?;
    let mut tags: Vec<&str> = services.iter().map(|s| s.tag.as_str()).collect();
    tags.sort_unstable();
    if let Some(pair) = tags.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::usage(format!(
            "{}: two checks have the tag {}; give each its own tag",
            path.display(),
            pair[0]
        )));
    }
    Ok(services)
}

/// One check table (or the flags, as one) made ready to run; flags not
/// in the table come from the command line's defaults.
fn service(s: &CheckSection, args: &Args, place: &str) -> Result<Service> {
    let bad = |why: String| Error::usage(format!("{place}: {why}"));
    let probe = match (&s.http, &s.tcp, &s.exec) {
        (Some(url), None, None) => Probe::Http {
            url: url.clone(),
            method: s
                .method
                .clone()
                .unwrap_or_else(|| {
                    if s.body_match.is_some() {
                        "GET"
                    } else {
                        "HEAD"
                    }
                    .into()
                })
                .to_uppercase(),
            expect: check::parse_expect(s.expect.as_deref().unwrap_or(&args.expect))
                .map_err(bad)?,
            body_match: s.body_match.clone(),
            ca: s.ca.clone(),
        },
        (None, Some(address), None) => Probe::Tcp {
            address: address.clone(),
        },
        (None, None, Some(cmd)) => Probe::Exec {
            command: cmd.0.clone(),
        },
        _ => return Err(bad("give exactly one of http, tcp and exec".into())),
    };
    let supervisor = match (&s.restart, &s.shepherd, &s.systemd) {
        (Some(cmd), None, None) => Some(Supervisor::Command(cmd.0.clone())),
        (None, Some(service), None) => Some(Supervisor::Shepherd(service.clone())),
        (None, None, Some(unit)) => Some(Supervisor::Systemd(unit.clone())),
        (None, None, None) => None,
        _ => {
            return Err(bad(
                "give at most one of restart, shepherd and systemd".into()
            ));
        }
    };
    let tag = s
        .tag
        .clone()
        .unwrap_or_else(|| default_tag(&probe, supervisor.as_ref()));
    let max_restarts = match &s.max_restarts {
        Some(text) => text.parse().map_err(bad)?,
        None => args.max_restarts,
    };
    Ok(Service {
        tag,
        probe,
        timeout: s.timeout.map_or(args.timeout, |d| d.0),
        supervisor,
        if_running: s.if_running.as_ref().map(|c| c.0.clone()),
        after: s.after.unwrap_or(args.after).max(1),
        max_restarts,
    })
}

fn default_tag(probe: &Probe, supervisor: Option<&Supervisor>) -> String {
    if let Some(Supervisor::Shepherd(name) | Supervisor::Systemd(name)) = supervisor {
        return name.trim_end_matches(".service").to_string();
    }
    match probe {
        Probe::Http { url, .. } => url
            .split_once("://")
            .map(|(_, rest)| rest.split(['/', '?']).next().unwrap_or(rest))
            .unwrap_or(url)
            .to_string(),
        Probe::Tcp { address } => address.clone(),
        Probe::Exec { command } => Path::new(&command[0])
            .file_name()
            .map_or_else(|| command[0].clone(), |n| n.to_string_lossy().into_owned()),
    }
}
