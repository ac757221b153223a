//! How a command is declared: one [`Tool`] value per command holds its
//! name, its clap definition, how it runs, and what its manual page says
//! beyond the flags. `--help`, the man page and the shell completions are
//! all made from this one value, so they cannot drift apart; in
//! particular the examples are written once and shown by both `--help`
//! and `man`.
//!
//! [`Tool::main`] is the whole body of every `bins/sd-*.rs`: parse the
//! flags, run, print an error once with the program's name, and turn the
//! outcome into an exit status (the policy of [`crate::base::exit`]).

use crate::base::error::Result;
use crate::base::exit::Exit;
use clap::ArgMatches;
use serde::Deserialize;
use std::process::ExitCode;

pub struct Tool {
    pub name: &'static str,
    /// The clap definition, without the examples (see [`Tool::command`]).
    pub definition: fn() -> clap::Command,
    /// Runs it on parsed flags (made by [`crate::runner!`]).
    pub run: fn(&ArgMatches) -> Result<ExitCode>,
    /// What its manual page says beyond the flags, as TOML
    /// (`src/manual/pages/NAME.toml`): documentation kept as data, read by
    /// [`Tool::page`].
    pub page: &'static str,
}

/// A command's page beyond its flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    #[serde(default)]
    pub see_also: Vec<String>,
    /// The exit statuses it can end with, by number.
    pub exits: Vec<u8>,
    /// Extra paragraphs for EXIT STATUS (sd-run passes its job's code).
    #[serde(default)]
    pub exit_notes: Vec<String>,
    /// Variables it reads besides those of its flags.
    #[serde(default)]
    pub environment: Vec<Variable>,
    #[serde(default, rename = "file")]
    pub files: Vec<File>,
    /// Shown by `--help` and in the page.
    #[serde(default, rename = "example")]
    pub examples: Vec<Example>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    pub name: String,
    pub what: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub path: String,
    pub what: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    /// What it does, in a sentence.
    pub what: String,
    /// The command line.
    pub line: String,
}

impl Page {
    /// The exit statuses, as the policy names them.
    pub fn exits(&self) -> Vec<Exit> {
        Exit::ALL
            .into_iter()
            .filter(|exit| self.exits.contains(&exit.code()))
            .collect()
    }
}

/// Where the configuration file is looked for, as FILES lists it.
pub const CONFIG_FILES: &str = "~/.config/sheepdog/sheepdog.toml, /etc/sheepdog/sheepdog.toml";

/// Turns `run(args, matches)` of a command into the [`Tool::run`] that
/// parses the arguments first.
#[macro_export]
macro_rules! runner {
    ($args:ty, $run:path) => {
        |matches: &::clap::ArgMatches| -> $crate::base::error::Result<::std::process::ExitCode> {
            let args = <$args as ::clap::FromArgMatches>::from_arg_matches(matches)
                .map_err(|e| $crate::base::error::Error::usage(e.to_string()))?;
            $run(args, matches).map(::std::convert::Into::into)
        }
    };
}

impl Tool {
    /// What its page says beyond the flags. The text is part of the
    /// program and checked by a test, so it always reads.
    pub fn page(&self) -> Page {
        toml::from_str(self.page)
            .unwrap_or_else(|e| panic!("src/manual/pages/{}.toml: {e}", self.name))
    }

    /// The complete clap command: the definition with the examples as the
    /// text after `--help`.
    pub fn command(&self) -> clap::Command {
        let command = (self.definition)();
        let examples = self.page().examples;
        if examples.is_empty() {
            return command;
        }
        let mut text = String::from("Examples:\n");
        for example in &examples {
            text.push_str(&format!("  # {}\n  {}\n", example.what, example.line));
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
        self.main_with(std::env::args_os())
    }

    /// Runs with these arguments, the first being the program's name.
    pub fn main_with(&self, args: impl IntoIterator<Item = std::ffi::OsString>) -> ExitCode {
        crate::base::cli::set_program(self.name);
        let args: Vec<std::ffi::OsString> = args.into_iter().collect();
        // The bare definition parses: every cron run starts here, and the
        // examples (a TOML page read) and this user's default store are
        // only for a person reading the help, made when it is asked for.
        let matches = match (self.definition)().try_get_matches_from(&args) {
            Ok(matches) => matches,
            Err(err) => {
                let err = match err.kind() {
                    clap::error::ErrorKind::DisplayHelp
                    | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                        crate::base::cli::with_local_defaults(self.command())
                            .try_get_matches_from(&args)
                            .err()
                            .unwrap_or(err)
                    }
                    _ => err,
                };
                // --help and --version are no errors; clap says which.
                let _ = err.print();
                return ExitCode::from(if err.use_stderr() { 2 } else { 0 });
            }
        };
        match (self.run)(&matches) {
            Ok(code) => code,
            Err(err) => {
                if !err.quiet {
                    eprintln!("{}: {err}", self.name);
                }
                err.exit.into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_reads_and_names_only_statuses_that_exist() {
        for tool in crate::manual::commands::ALL {
            let page = tool.page();
            assert_eq!(page.exits().len(), page.exits.len(), "{}", tool.name);
            assert!(page.exits.contains(&0), "{}", tool.name);
            assert!(!page.examples.is_empty(), "{} has no example", tool.name);
            for file in &page.files {
                if file.path.contains("sheepdog.toml") {
                    assert_eq!(file.path, CONFIG_FILES, "{}", tool.name);
                }
            }
        }
    }
}
