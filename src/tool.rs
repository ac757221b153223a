//! How a command is declared: one [`Tool`] value per command holds its
//! name, its clap definition, how it runs, and what its manual page says
//! beyond the flags. `--help`, the man page and the shell completions are
//! all made from this one value, so they cannot drift apart; in
//! particular the examples are written once and shown by both `--help`
//! and `man`.
//!
//! [`Tool::main`] is the whole body of every `bins/sd-*.rs`: parse the
//! flags, run, print an error once with the program's name, and turn the
//! outcome into an exit status (the policy of [`crate::exit`]).

use crate::error::Result;
use crate::exit::Exit;
use clap::ArgMatches;
use std::process::ExitCode;

pub struct Tool {
    pub name: &'static str,
    /// The clap definition, without the examples (see [`Tool::command`]).
    pub definition: fn() -> clap::Command,
    /// Runs it on parsed flags (made by [`crate::runner!`]).
    pub run: fn(&ArgMatches) -> Result<ExitCode>,
    /// Variables the command reads besides those of its flags.
    pub environment: &'static [(&'static str, &'static str)],
    pub files: &'static [(&'static str, &'static str)],
    /// The statuses this command can end with, besides its own notes.
    pub exits: &'static [Exit],
    /// Extra paragraphs for EXIT STATUS (sd-run passes its job's code).
    pub exit_notes: &'static [&'static str],
    /// (what it does, the command line): in `--help` and in the page.
    pub examples: &'static [(&'static str, &'static str)],
    pub see_also: &'static [&'static str],
}

/// Where the configuration file is looked for, as FILES lists it.
pub const CONFIG_FILES: &str = "~/.config/sheepdog/sheepdog.toml, /etc/sheepdog/sheepdog.toml";

/// Turns `run(args, matches)` of a command into the [`Tool::run`] that
/// parses the arguments first.
#[macro_export]
macro_rules! runner {
    ($args:ty, $run:path) => {
        |matches: &::clap::ArgMatches| -> $crate::error::Result<::std::process::ExitCode> {
            let args = <$args as ::clap::FromArgMatches>::from_arg_matches(matches)
                .map_err(|e| $crate::error::Error::usage(e.to_string()))?;
            $run(args, matches).map(::std::convert::Into::into)
        }
    };
}

impl Tool {
    /// The complete clap command: the definition with the examples as the
    /// text after `--help`.
    pub fn command(&self) -> clap::Command {
        let command = (self.definition)();
        if self.examples.is_empty() {
            return command;
        }
        let mut text = String::from("Examples:\n");
        for (what, line) in self.examples {
            text.push_str(&format!("  # {what}\n  {line}\n"));
        }
        command.after_help(text.trim_end().to_string())
    }

    /// The clap command as the manual page shows it: the page has an
    /// EXAMPLES section of its own instead of the text after `--help`.
    pub fn definition_for_pages(&self) -> clap::Command {
        (self.definition)()
    }

    /// The whole of a command's `main`.
    pub fn main(&self) -> ExitCode {
        crate::cli::set_program(self.name);
        let matches = match crate::cli::with_local_defaults(self.command()).try_get_matches() {
            Ok(matches) => matches,
            Err(err) => {
                // --help and --version are no errors; clap says which.
                let _ = err.print();
                return ExitCode::from(if err.use_stderr() { 2 } else { 0 });
            }
        };
        match (self.run)(&matches) {
            Ok(code) => code,
            Err(err) => {
                if !err.message.is_empty() {
                    eprintln!("{}: {err}", self.name);
                }
                err.exit.into()
            }
        }
    }
}
