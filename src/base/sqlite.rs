//! Opening the SQLite files sheepdog writes (the spool, the store, the
//! mail state) the same way: the directory created, WAL, a wait for
//! another process's lock instead of failing at once, errors that name the
//! file, and one way to bring a schema up to date ([`migrate`]).

use crate::base::error::{Context, Result};
use rusqlite::Connection;
use std::path::Path;
use std::time::Duration;

/// How long a writer waits for another process holding the database.
const BUSY_WAIT: Duration = Duration::from_secs(30);

/// How a database is laid out when it is made; one that exists keeps
/// its own (only VACUUM changes either, and not in WAL mode).
#[derive(Clone, Copy, Debug, Default)]
pub struct NewFile {
    pub page_size: Option<u32>,
    /// It can give the space of deleted rows back to the file system
    /// (`auto_vacuum = INCREMENTAL`, which SQLite takes only before the
    /// first write): the store, which prunes.
    pub shrinks: bool,
}

/// Opens `path` (what: "spool", "store") for writing, in WAL mode with the
/// given `synchronous` level, laid out as `new` says if it is made now.
pub fn open_wal(path: &Path, what: &str, synchronous: &str, new: NewFile) -> Result<Connection> {
    let shown = format!("{what} {}", path.display());
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).context("creating the directory of the", &shown)?;
    }
    let open = || -> rusqlite::Result<Connection> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_WAIT)?;
        // In this order: either is taken only before the first write, and
        // setting auto_vacuum fixes the page size.
        if let Some(size) = new.page_size {
            conn.pragma_update(None, "page_size", size)?;
        }
        if new.shrinks {
            conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        }
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", synchronous)?;
        Ok(conn)
    };
    // Two processes making the same new file both switch it to WAL: SQLite
    // refuses one at once ("database is locked") rather than wait, to
    // avoid a deadlock. That one opens again after a moment.
    let deadline = std::time::Instant::now() + BUSY_WAIT;
    let mut pause = Duration::from_millis(5);
    loop {
        match open() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            result => return result.context("opening", &shown),
        }
    }
}

/// Brings a database to `migrations.len()`, its version kept in `PRAGMA
/// user_version`: migration N takes it from version N to N+1, each in a
/// transaction of its own, so an older sheepdog's file is upgraded in
/// place. A file written by a newer sheepdog is refused, not misread.
pub fn migrate(conn: &mut Connection, migrations: &[&str]) -> std::result::Result<(), String> {
    let known = migrations.len() as i64;
    loop {
        // The version is read inside a write transaction: two processes
        // opening a new file at once (every cron job at minute 0) take
        // turns, and the second finds the work done.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| e.to_string())?;
        let current: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| e.to_string())?;
        if current > known {
            return Err(format!(
                "it was written by a newer sheepdog (schema version {current}, this one knows {known}); upgrade sheepdog"
            ));
        }
        let Some(sql) = migrations.get(current as usize) else {
            return Ok(());
        };
        tx.execute_batch(sql).map_err(|e| e.to_string())?;
        tx.pragma_update(None, "user_version", current + 1)
            .map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
    }
}

/// A value SQLite returned, as JSON: a blob is named, not dumped.
pub fn json_value(value: rusqlite::types::ValueRef<'_>) -> serde_json::Value {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => serde_json::Value::Null,
        ValueRef::Integer(n) => n.into(),
        ValueRef::Real(x) => x.into(),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned().into(),
        ValueRef::Blob(b) => format!("<{} bytes>", b.len()).into(),
    }
}

/// A JSON value as text: a string as it is, anything else as JSON.
pub fn json_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_run_once_in_order_and_newer_files_are_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        let steps = ["CREATE TABLE a (x);", "ALTER TABLE a ADD COLUMN y;"];
        migrate(&mut conn, &steps[..1]).unwrap();
        migrate(&mut conn, &steps).unwrap();
        migrate(&mut conn, &steps).unwrap();
        conn.execute("INSERT INTO a (x, y) VALUES (1, 2)", [])
            .unwrap();
        let err = migrate(&mut conn, &steps[..1]).unwrap_err();
        assert!(err.contains("newer sheepdog (schema version 2"), "{err}");
    }
}
