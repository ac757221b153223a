//! What every command's `main` does the same way: parse flags with clap,
//! run, print an error once with the program's name, and turn the outcome
//! into an exit status (docs/ARCHITECTURE.md §4). A closed stdout is no error: a
//! reader that has seen enough (`| head`) ends the command quietly.

use crate::base::error::{Error, Result};
use std::io;
use std::sync::OnceLock;
use std::time::Duration;

static PROGRAM: OnceLock<&'static str> = OnceLock::new();

/// The running command's name (`sd-bark`), for messages.
pub fn program() -> &'static str {
    PROGRAM.get().copied().unwrap_or("sheepdog")
}

/// A warning on stderr in the house style.
pub fn warn(message: impl std::fmt::Display) {
    eprintln!("{}: warning: {message}", program());
}

/// A note on stderr (progress, reconnects) in the house style.
pub fn note(message: impl std::fmt::Display) {
    eprintln!("{}: {message}", program());
}

/// Names the running command, for messages.
pub fn set_program(name: &'static str) {
    let _ = PROGRAM.set(name);
}

/// `--help` names the store this very user would get (root's and a
/// user's differ), besides the rule the man page gives.
pub fn with_local_defaults(command: clap::Command) -> clap::Command {
    fn patch(command: clap::Command, store: &str) -> clap::Command {
        command
            .mut_args(|arg| {
                if arg.get_id() != "db" {
                    return arg;
                }
                let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                arg.help(format!("{help} [here: {store}]"))
            })
            .mut_subcommands(|sub| patch(sub, store))
    }
    let store = crate::base::paths::data_dir().join("events.db");
    patch(command, &store.display().to_string())
}

/// Whether writing failed because the reader went away.
pub fn is_broken_pipe(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::BrokenPipe
}

/// The error for a failed write to stdout: silent success when the reader
/// went away, an I/O error otherwise.
pub fn stdout_error(err: io::Error) -> Error {
    if is_broken_pipe(&err) {
        Error::quiet(crate::base::exit::Exit::Ok)
    } else {
        Error::local_io("writing to standard output", err)
    }
}

/// Prints events on stdout, one line each, flushed at once so a reader
/// (`| sd-bark`) has them while the command goes on. A reader that went
/// away ends the command quietly ([`stdout_error`]).
pub fn print_events<E: std::fmt::Display>(events: impl IntoIterator<Item = E>) -> Result<()> {
    use std::io::Write;
    let mut out = io::stdout().lock();
    for event in events {
        writeln!(out, "{event}").map_err(stdout_error)?;
    }
    out.flush().map_err(stdout_error)
}

/// A flag raised by SIGTERM or SIGINT: a service stops at its next
/// chance, finishing what it holds, instead of dying mid-work.
pub fn stop_flag() -> Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    let stop = STOP
        .get_or_init(|| std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)))
        .clone();
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, std::sync::Arc::clone(&stop))
            .map_err(|e| Error::local_io("installing signal handlers", e))?;
    }
    Ok(stop)
}

/// The flag [`stop_flag`] hands out, for code far from it that must not
/// wait on once told to stop (a read from a broker).
static STOP: std::sync::OnceLock<std::sync::Arc<std::sync::atomic::AtomicBool>> =
    std::sync::OnceLock::new();

/// Whether SIGTERM or SIGINT arrived since [`stop_flag`] was called.
pub fn stopping() -> bool {
    STOP.get()
        .is_some_and(|stop| stop.load(std::sync::atomic::Ordering::SeqCst))
}

/// For clap and the configuration file: `30s`, `5m`, `24h`, `30d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|_| format!("`{text}` is not a duration (try 30s, 5m, 24h or 30d)"))
}

/// Splits a command given as one string into words like a shell would,
/// without running one.
pub fn split_command(line: &str) -> Result<Vec<String>, String> {
    let words = shell_words::split(line)
        .map_err(|_| format!("cannot split `{line}` into words: a quote is not closed"))?;
    if words.is_empty() {
        return Err("the command must not be empty".to_string());
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86400)));
        assert!(parse_duration("soon").unwrap_err().contains("try 30s"));
    }

    #[test]
    fn commands_split_like_a_shell() {
        assert_eq!(
            split_command("herd restart 'my mpd'").unwrap(),
            ["herd", "restart", "my mpd"]
        );
        assert!(split_command("echo 'open").is_err());
        assert!(split_command("  ").is_err());
    }
}
