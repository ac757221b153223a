//! The error every library function returns to a command.
//!
//! Policy: an error carries the [`Exit`] status it maps to and one message
//! in the house style — context, cause, and the fix where there is one
//! (`connecting to redis://host:6379: connection refused (events stay in the
//! spool; run sd-bark again later)`). The program name is added once, when
//! the command prints it. Errors about one input line are not `Error`s: they
//! are reported as they happen and the stream goes on (see `lines`).

use crate::exit::Exit;
use std::fmt;

#[derive(Debug)]
pub struct Error {
    pub exit: Exit,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Error {
            exit,
            message: message.into(),
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
/// `(os error N)` suffix, and not capitalised.
pub fn plain(text: String) -> String {
    match text.find(" (os error") {
        Some(cut) => {
            let mut plain = text[..cut].to_string();
            if let Some(first) = plain.get_mut(0..1) {
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
    fn io_errors_read_plainly() {
        let err = std::io::Error::from_raw_os_error(libc_enoent());
        assert_eq!(describe_io(&err), "no such file or directory");
    }

    fn libc_enoent() -> i32 {
        nix::errno::Errno::ENOENT as i32
    }
}
