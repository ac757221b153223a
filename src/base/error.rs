//! The error every library function returns to a command.
//!
//! Policy: an error carries the [`Exit`] status it maps to and one message
//! in the house style — context, cause, and the fix where there is one
//! (`connecting to redis://host:6379: connection refused (events stay in the
//! spool; run sd-bark again later)`). The program name is added once, when
//! the command prints it. Errors about one input line are not `Error`s: they
//! are reported as they happen and the stream goes on (see `lines`).

use crate::base::exit::Exit;
use std::fmt;

#[derive(Debug)]
pub struct Error {
    pub exit: Exit,
    pub message: String,
    /// Nothing to say: the command just ends with `exit` (a reader that
    /// went away, a stop that was asked for).
    pub quiet: bool,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Error {
            exit,
            message: message.into(),
            quiet: false,
        }
    }

    /// Ends the command with `exit` and no message.
    pub fn quiet(exit: Exit) -> Self {
        Error {
            exit,
            message: String::new(),
            quiet: true,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Error::new(Exit::Usage, message)
    }

    pub fn io(message: impl Into<String>) -> Self {
        Error::new(Exit::IoErr, message)
    }

    /// An I/O error while doing `what` with the local disk.
    pub fn local_io(what: impl fmt::Display, err: std::io::Error) -> Self {
        Error::io(format!("{what}: {}", describe_io(&err)))
    }
}

/// What was being done, and to what, added to an error from below, in the
/// house style: `writing to spool /var/lib/sheepdog/spool.db: disk full`.
/// One trait instead of a `map_err` closure at every call.
pub trait Context<T> {
    /// A failure of local I/O (exit 74).
    fn context(self, doing: &str, what: impl fmt::Display) -> Result<T>;
    /// A setting that cannot be used: a file named in the configuration
    /// that cannot be read (exit 2).
    fn usage_context(self, doing: &str, what: impl fmt::Display) -> Result<T>;
}

impl<T, E: fmt::Display> Context<T> for std::result::Result<T, E> {
    fn context(self, doing: &str, what: impl fmt::Display) -> Result<T> {
        self.map_err(|e| Error::io(format!("{doing} {what}: {}", plain(e.to_string()))))
    }

    fn usage_context(self, doing: &str, what: impl fmt::Display) -> Result<T> {
        self.map_err(|e| Error::usage(format!("{doing} {what}: {}", plain(e.to_string()))))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// An I/O error in plain words, without Rust's `(os error N)` suffix.
pub fn describe_io(err: &std::io::Error) -> String {
    plain(err.to_string())
}

/// An error's text as it goes inside a sentence: without Rust's
/// `(os error N)` suffix, and not capitalised (an initialism such as
/// "IO error" is left as it is).
pub fn plain(text: String) -> String {
    match text.find(" (os error") {
        Some(cut) => {
            let mut plain = text[..cut].to_string();
            let initialism = plain.bytes().take(2).all(|b| b.is_ascii_uppercase());
            if let Some(first) = plain.get_mut(0..1)
                && !initialism
            {
                first.make_ascii_lowercase();
            }
            plain
        }
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_start_small_but_an_initialism_keeps_its_capitals() {
        assert_eq!(
            plain("Connection refused (os error 111)".into()),
            "connection refused"
        );
        assert_eq!(
            plain("IO error: Connection refused (os error 111)".into()),
            "IO error: Connection refused"
        );
    }

    #[test]
    fn context_says_what_was_done_to_what() {
        let failed: std::result::Result<(), std::io::Error> =
            Err(std::io::Error::from_raw_os_error(libc_enoent()));
        let err = failed.context("reading", "/etc/x").unwrap_err();
        assert_eq!(
            (err.exit, err.message.as_str()),
            (Exit::IoErr, "reading /etc/x: no such file or directory")
        );
        let failed: std::result::Result<(), String> = Err("bad".into());
        assert_eq!(
            failed.usage_context("reading key", "k").unwrap_err().exit,
            Exit::Usage
        );
        assert!(Error::quiet(Exit::Ok).quiet);
    }

    #[test]
    fn io_errors_read_plainly() {
        let err = std::io::Error::from_raw_os_error(libc_enoent());
        assert_eq!(describe_io(&err), "no such file or directory");
    }

    fn libc_enoent() -> i32 {
        nix::errno::Errno::ENOENT as i32
    }
}
