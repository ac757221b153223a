//! `sd-run --lock`: one run of a tag at a time.
//!
//! The lock is an `flock(2)` on a file named after the tag. The kernel
//! releases it when the holder exits, however it exits, so a crashed run
//! never blocks the next one, and no stale-lock cleanup is needed.

use crate::base::error::{Error, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// A held lock; released when dropped or when the process ends.
pub struct TagLock {
    _file: File,
}

pub enum Acquired {
    Locked(TagLock),
    /// Another run of the same tag holds it.
    Busy(PathBuf),
}

/// The lock file of a tag under `dir`.
pub fn path_for(dir: &Path, tag: &str) -> PathBuf {
    crate::base::paths::file_for_tag(dir, tag, "lock")
}

pub fn try_lock(dir: &Path, tag: &str) -> Result<Acquired> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::local_io(format!("creating lock directory {}", dir.display()), e))?;
    let path = path_for(dir, tag);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::local_io(format!("opening lock file {}", path.display()), e))?;
    match file.try_lock() {
        Ok(()) => Ok(Acquired::Locked(TagLock { _file: file })),
        Err(TryLockError::WouldBlock) => Ok(Acquired::Busy(path)),
        Err(TryLockError::Error(e)) => {
            Err(Error::local_io(format!("locking {}", path.display()), e))
        }
    }
}
