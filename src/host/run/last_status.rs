//! `sd-run --failures-only` remembers the last status it printed for each
//! tag, so that the first success after a failure is still printed: the
//! recovery that closes the interruption, turns the board green and
//! stops sd-mail's reminders. Successes after it print nothing.
//!
//! One small file per tag under the state directory. With no memory (a
//! first run, a new machine, an unreadable file) an `ok` is printed: one
//! event too many is harmless, a job left red for ever is not.

use crate::event::Status;
use std::io;
use std::path::{Path, PathBuf};

pub struct LastStatus {
    path: PathBuf,
}

impl LastStatus {
    /// The memory of `tag` under `dir` (created when first written).
    pub fn of(dir: &Path, tag: &str) -> LastStatus {
        LastStatus {
            path: crate::base::paths::file_for_tag(dir, tag, "last"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a run that ended with `status` is to be printed: every
    /// failure, and an `ok` unless the last one printed was an `ok` too.
    pub fn to_print(&self, status: Option<Status>) -> bool {
        match status {
            Some(Status::Ok) => self.read().as_deref() != Some("ok"),
            Some(Status::Info) | None => false,
            Some(_) => true,
        }
    }

    /// Remembers the status just printed (written whole, then renamed).
    pub fn remember(&self, status: Status) -> io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let fresh = self.path.with_extension("last.new");
        std::fs::write(&fresh, status.as_str())?;
        std::fs::rename(&fresh, &self.path)
    }

    fn read(&self) -> Option<String> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        Some(text.trim().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ok_is_printed_first_and_after_each_failure_only() {
        let dir = tempfile::tempdir().unwrap();
        let memory = LastStatus::of(dir.path(), "RSYNC");
        let mut printed = Vec::new();
        for status in [
            Status::Ok,
            Status::Ok,
            Status::Fail,
            Status::Fail,
            Status::Ok,
            Status::Ok,
            Status::Error,
            Status::Ok,
        ] {
            if memory.to_print(Some(status)) {
                memory.remember(status).unwrap();
                printed.push(status);
            }
        }
        assert_eq!(
            printed,
            [
                Status::Ok,
                Status::Fail,
                Status::Fail,
                Status::Ok,
                Status::Error,
                Status::Ok
            ]
        );
        assert!(!memory.to_print(Some(Status::Info)));
    }
}
