//! Opening the SQLite files sheepdog writes (the spool and the store) the
//! same way: the directory created, WAL, a wait for another process's lock
//! instead of failing at once, and errors that name the file.

use crate::error::{Error, Result};
use rusqlite::Connection;
use std::path::Path;
use std::time::Duration;

/// How long a writer waits for another process holding the database.
const BUSY_WAIT: Duration = Duration::from_secs(30);

/// Opens `path` (what: "spool", "store") for writing, in WAL mode with the
/// given `synchronous` level. `page_size`, if given, is that of a new
/// database; one that exists keeps its own (only VACUUM changes it, and
/// not in WAL mode).
pub fn open_wal(
    path: &Path,
    what: &str,
    synchronous: &str,
    page_size: Option<u32>,
) -> Result<Connection> {
    let fail = |doing: &str, e: &dyn std::fmt::Display| {
        Error::io(format!("{doing} {what} {}: {e}", path.display()))
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            fail(
                "creating the directory of the",
                &crate::error::describe_io(&e),
            )
        })?;
    }
    let conn = Connection::open(path).map_err(|e| fail("opening", &e))?;
    conn.busy_timeout(BUSY_WAIT)
        .map_err(|e| fail("opening", &e))?;
    if let Some(size) = page_size {
        conn.pragma_update(None, "page_size", size)
            .map_err(|e| fail("opening", &e))?;
    }
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(|e| fail("opening", &e))?;
    conn.pragma_update(None, "synchronous", synchronous)
        .map_err(|e| fail("opening", &e))?;
    Ok(conn)
}
