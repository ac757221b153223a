//! `sd-run`: run a cron job and report it as one event.
//!
//! The job runs directly (a shell only with `-c`), in its own process
//! group, its output captured but never mixed into sd-run's stdout, which
//! is the event channel. sd-run exits with the job's own status, so cron
//! and shells still see failure; the event carries the detail.

mod job;
mod last_status;
mod lock;

use crate::base::error::{Error, Result};
use crate::base::exit::{self, Exit};
use crate::base::{cli, ident, paths};
use crate::event::{Event, Status};
use clap::{ArgMatches, Parser};
use job::{Ending, Finished, Job, Outcome};
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

const ABOUT: &str = "Run a job and report it as one event";

const LONG_ABOUT: &str = "\
Run a job and report it as one JSON event on standard output.

sd-run runs COMMAND directly, without a shell (use -c for a shell line), \
captures its exit code or signal, how long it took, the user it ran as, and \
the start and end of its standard output and error, and prints exactly one \
event for the run: `ok` runs too, so that recoveries and the dead man's \
switch work downstream. The job's own output never appears on sd-run's \
standard output, which carries only events; pipe it into sd-bark.

sd-run exits with the job's own status, 124 when it timed out, 127 when the \
command was not found and 128+N when it died of signal N, as shells and \
timeout(1) do. Note for crontabs: /bin/sh has no pipefail, so \
`sd-run ... | sd-bark` returns sd-bark's status; the job's lives in the event.";

#[derive(Debug, Parser)]
#[command(name = "sd-run", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Args {
    /// What the job is called in events [default: the command's base name].
    #[arg(short, long, value_name = "TAG")]
    pub tag: Option<String>,

    /// Who should hear of this job (repeatable): put in its events as
    /// `notify_to`; the server's sd-mail honours it only where a
    /// [[route]] allows the address (allow_event_recipients).
    #[arg(long, value_name = "ADDRESS")]
    pub notify_to: Vec<String>,

    /// Print nothing when the job succeeds, except the first success
    /// after a failure: the recovery that closes the interruption and ends
    /// the reminders (the tag's last status is kept under the state
    /// directory, last-status/). sd-expect's dead man's switch cannot see
    /// the silent successes.
    #[arg(long)]
    pub failures_only: bool,

    /// Also print a `status: info, reason: start` event before the job
    /// begins, so a job that hangs can be noticed.
    #[arg(long)]
    pub start: bool,

    /// Declare this host down on purpose for DURATION before the job
    /// starts (a `kind: maintenance` event): what fails meanwhile, a
    /// reboot included, is held rather than mailed.
    #[arg(long, value_name = "DURATION", value_parser = crate::event::maintenance::parse_length)]
    pub maintenance: Option<Duration>,

    /// Why, with --maintenance.
    #[arg(long, value_name = "TEXT", requires = "maintenance")]
    pub reason: Option<String>,

    /// Stop the job after this long (30s, 5m, 6h): SIGTERM to its whole
    /// process group, SIGKILL after --kill-after; the run fails with
    /// reason `timeout` and sd-run exits 124.
    #[arg(long, value_name = "DURATION", value_parser = cli::parse_duration)]
    pub timeout: Option<Duration>,

    /// Grace period between SIGTERM and SIGKILL on a timeout.
    #[arg(long, value_name = "DURATION", value_parser = cli::parse_duration, default_value = "10s")]
    pub kill_after: Duration,

    /// Do not start the job while another run of the same tag is running;
    /// report `reason: locked` and exit 75 instead. The lock dies with its
    /// holder, so a crashed run never blocks the next.
    #[arg(long)]
    pub lock: bool,

    /// Directory for --lock files [default: $XDG_STATE_HOME/sheepdog/locks,
    /// /var/lib/sheepdog/locks for root].
    #[arg(long, value_name = "DIR", env = "SD_LOCK_DIR")]
    pub lock_dir: Option<PathBuf>,

    /// Keep at most this much of each of stdout and stderr in the event:
    /// the first and the last half, with a marker saying how many bytes
    /// were dropped between them (65536, 64KiB, 1MiB).
    #[arg(long, value_name = "SIZE", value_parser = crate::base::size::parse_arg, default_value = "64KiB")]
    pub max_output: u64,

    /// Copy the job's output to sd-run's stderr as it is written.
    #[arg(long)]
    pub tee: bool,

    /// Run SHELL_LINE with /bin/sh -c instead of a command.
    #[arg(short = 'c', value_name = "SHELL_LINE", conflicts_with = "command")]
    pub shell: Option<String>,

    /// Print no messages of sd-run's own on stderr.
    #[arg(short, long)]
    pub quiet: bool,

    /// The command to run and its arguments, after `--`.
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        required_unless_present = "shell"
    )]
    pub command: Vec<OsString>,
}

/// The job's exit status as sd-run's own.
pub fn run(args: Args, _: &ArgMatches) -> Result<u8> {
    let argv = match &args.shell {
        Some(line) => vec!["/bin/sh".into(), "-c".into(), line.into()],
        None => args.command.clone(),
    };
    let tag = args.tag.clone().unwrap_or_else(|| default_tag(&args));
    let reporter = Reporter {
        tag: tag.clone(),
        host: ident::short_hostname(),
        cmd: argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        user: ident::user_name(),
        notify_to: args.notify_to.clone(),
    };

    let _lock = if args.lock {
        let dir = args
            .lock_dir
            .clone()
            .unwrap_or_else(|| paths::state_dir().join("locks"));
        match lock::try_lock(&dir, &tag)? {
            lock::Acquired::Locked(held) => Some(held),
            lock::Acquired::Busy(path) => {
                if !args.quiet {
                    cli::note(format!(
                        "{tag} is still running (lock {} is held); not starting it again",
                        path.display()
                    ));
                }
                let mut event = reporter.event(Status::Info, "locked");
                event.set(
                    "msg",
                    format!("{tag} did not start: the previous run still holds its lock"),
                );
                emit(&event)?;
                return Ok(Exit::TempFail.code());
            }
        }
    } else {
        None
    };

    if let Some(length) = args.maintenance {
        let event = crate::event::maintenance::event(
            &reporter.host,
            crate::event::maintenance::EVERY_TAG,
            length,
            args.reason.as_deref(),
        );
        emit(&event)?;
    }
    if args.start {
        let mut event = reporter.event(Status::Info, "start");
        event.set("msg", format!("{tag} started"));
        emit(&event)?;
    }

    let job = Job {
        argv,
        timeout: args.timeout,
        kill_after: args.kill_after,
        max_output: usize::try_from(args.max_output).unwrap_or(usize::MAX),
        tee: args.tee,
    };
    let outcome = job
        .run()
        .map_err(|e| Error::local_io("running the job", e))?;
    let (event, code) = match outcome {
        Outcome::Finished(finished) => reporter.finished(finished, args.timeout),
        Outcome::NotStarted(err) => {
            let (event, code) = reporter.not_started(&err);
            if !args.quiet {
                cli::note(event.str("msg").unwrap_or_default());
            }
            (event, code)
        }
    };
    if !args.failures_only {
        emit(&event)?;
        return Ok(code);
    }
    let memory = last_status::LastStatus::of(&paths::state_dir().join("last-status"), &tag);
    if memory.to_print(event.status()) {
        emit(&event)?;
        if let Some(status) = event.status()
            && let Err(e) = memory.remember(status)
            && !args.quiet
        {
            cli::warn(format!(
                "cannot remember {tag}'s last status in {}: {e} (fix it, or a recovery may go unprinted)",
                memory.path().display()
            ));
        }
    }
    Ok(code)
}

/// The base name of the command, or of the shell line's first word.
fn default_tag(args: &Args) -> String {
    let first = match &args.shell {
        Some(line) => cli::split_command(line)
            .ok()
            .and_then(|words| words.into_iter().next())
            .unwrap_or_else(|| "sh".into()),
        None => args
            .command
            .first()
            .map(|c| c.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    Path::new(&first)
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or(first)
}

/// Builds the events of one run.
struct Reporter {
    tag: String,
    host: String,
    cmd: Vec<String>,
    user: String,
    notify_to: Vec<String>,
}

impl Reporter {
    fn event(&self, status: Status, reason: &str) -> Event {
        let mut event = Event::report(&self.host, &self.tag, "run", status);
        event.set("reason", reason);
        if !self.notify_to.is_empty() {
            event.set("notify_to", self.notify_to.clone());
        }
        event
    }

    fn finished(&self, run: Finished, timeout: Option<Duration>) -> (Event, u8) {
        let seconds = format_elapsed(run.elapsed);
        let tag = &self.tag;
        let (mut event, code, msg) = match (run.timed_out, run.ending) {
            (true, ending) => {
                let mut event = self.event(Status::Fail, "timeout");
                add_ending(&mut event, &ending);
                let limit = timeout.map(crate::base::time::human).unwrap_or_default();
                (
                    event,
                    Exit::Timeout.code(),
                    format!("{tag} timed out after {limit}"),
                )
            }
            (false, Ending::Exited(0)) => {
                let mut event = self.event(Status::Ok, "exit");
                event.set("code", 0);
                (event, 0, format!("{tag} succeeded in {seconds}"))
            }
            (false, Ending::Exited(code)) => {
                let mut event = self.event(Status::Fail, "exit");
                event.set("code", code);
                (
                    event,
                    code as u8,
                    format!("{tag} failed with exit code {code} after {seconds}"),
                )
            }
            (false, Ending::Signaled(signal)) => {
                let mut event = self.event(Status::Fail, "signal");
                let name = signal_name(signal);
                event.set("signal", name.as_str());
                (
                    event,
                    exit::for_signal(signal),
                    format!("{tag} was killed by {name} after {seconds}"),
                )
            }
        };
        event.set("elapsed_ms", run.elapsed.as_millis() as u64);
        self.describe(&mut event);
        if !run.stdout.is_empty() {
            event.set("stdout", run.stdout);
        }
        if !run.stderr.is_empty() {
            event.set("stderr", run.stderr);
        }
        event.set("msg", msg);
        (event, code)
    }

    fn not_started(&self, err: &io::Error) -> (Event, u8) {
        let program = self.cmd.first().cloned().unwrap_or_default();
        let (reason, exit, why) = match err.kind() {
            io::ErrorKind::NotFound => (
                "not-found",
                Exit::NotFound,
                "command not found (check the name and PATH)".to_string(),
            ),
            io::ErrorKind::PermissionDenied => (
                "not-executable",
                Exit::NotExecutable,
                "permission denied (is it executable?)".to_string(),
            ),
            _ => (
                "not-executable",
                Exit::NotExecutable,
                crate::base::error::describe_io(err),
            ),
        };
        let mut event = self.event(Status::Error, reason);
        event.set("code", exit.code());
        self.describe(&mut event);
        event.set("msg", format!("cannot run {program}: {why}"));
        (event, exit.code())
    }

    fn describe(&self, event: &mut Event) {
        event
            .set("cmd", self.cmd.clone())
            .set("user", self.user.as_str());
    }
}

fn add_ending(event: &mut Event, ending: &Ending) {
    match *ending {
        Ending::Exited(code) => event.set("code", code),
        Ending::Signaled(signal) => event.set("signal", signal_name(signal)),
    };
}

fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("SIG{signal}"))
}

fn format_elapsed(elapsed: Duration) -> String {
    let ms = elapsed.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", elapsed.as_secs_f64())
    }
}

/// Prints one event and flushes it, so a reader sees it at once. A reader
/// that went away does not change the job's status.
fn emit(event: &Event) -> Result<()> {
    match cli::print_events([event]) {
        Err(e) if e.quiet => Ok(()),
        other => other,
    }
}
