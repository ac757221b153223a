//! The events' INSERTs, run through SQLite's C API.
//!
//! rusqlite binds every text with `SQLITE_TRANSIENT`: SQLite copies it
//! into memory of its own, and frees the copy at the next bind. With
//! fifty rows of ten columns to a statement that was a tenth of the
//! writing thread. Here the texts are bound `SQLITE_STATIC`, straight
//! from the batch's lines: the import of 1,000,000 events of the churn
//! mix went from a median of 3.34 s to 2.97 s in alternating runs
//! (bench/BENCHMARKS.md), the stored rows identical. Sound because
//! nothing bound outlives [`ManyRows::run`]: the bindings are cleared
//! before it returns, while the lines are still borrowed.

use super::Serialized;
use super::{COLUMNS, ONE_ROW, PARAMETERS_PER_ROW};
use crate::event::Status;
use rusqlite::{Connection, ffi};
use std::ffi::{CStr, CString, c_int};
use std::ptr::{self, NonNull};

/// An INSERT (OR IGNORE) of a fixed number of events, prepared once per
/// store and kept.
pub struct ManyRows {
    stmt: NonNull<ffi::sqlite3_stmt>,
    db: NonNull<ffi::sqlite3>,
    rows: usize,
}

impl ManyRows {
    /// Prepares the INSERT of `rows` events on `conn`, which must outlive
    /// it (the store drops it first).
    pub fn prepare(conn: &Connection, rows: usize) -> rusqlite::Result<ManyRows> {
        let sql = COLUMNS.to_string() + &vec![ONE_ROW; rows].join(", ");
        let sql = CString::new(sql).expect("no NUL in the statement");
        // SAFETY: the handle is the live connection's; SQLite writes the
        // statement (or null) to `stmt` and reads the text up to its NUL.
        unsafe {
            let db = conn.handle();
            let mut stmt = ptr::null_mut();
            let rc = ffi::sqlite3_prepare_v3(
                db,
                sql.as_ptr(),
                -1,
                ffi::SQLITE_PREPARE_PERSISTENT,
                &mut stmt,
                ptr::null_mut(),
            );
            let db = NonNull::new(db).expect("an open connection");
            match NonNull::new(stmt) {
                Some(stmt) if rc == ffi::SQLITE_OK => Ok(ManyRows { stmt, db, rows }),
                _ => Err(failure(db, rc)),
            }
        }
    }

    /// Inserts as many events as the statement takes; returns how many
    /// were new (the others were stored before, or earlier in `group`).
    pub fn run(&mut self, group: &[Serialized], received_ms: i64) -> rusqlite::Result<usize> {
        assert_eq!(
            group.len(),
            self.rows,
            "as many events as the statement takes"
        );
        // SAFETY: every text bound is borrowed from `group`, which lives
        // until this function returns; the bindings are cleared (and the
        // statement reset) before it does, whatever happened.
        unsafe {
            let stmt = self.stmt.as_ptr();
            let mut rc = ffi::SQLITE_OK;
            for (n, event) in group.iter().enumerate() {
                if rc != ffi::SQLITE_OK {
                    break;
                }
                rc = bind_row(stmt, n * PARAMETERS_PER_ROW, event, received_ms);
            }
            let stepped = if rc == ffi::SQLITE_OK {
                ffi::sqlite3_step(stmt)
            } else {
                rc
            };
            let result = match stepped {
                ffi::SQLITE_DONE => Ok(ffi::sqlite3_changes(self.db.as_ptr()) as usize),
                rc => Err(failure(self.db, rc)),
            };
            ffi::sqlite3_reset(stmt);
            ffi::sqlite3_clear_bindings(stmt);
            result
        }
    }
}

impl Drop for ManyRows {
    fn drop(&mut self) {
        // SAFETY: the statement is this value's, finalized once, and its
        // connection is still open (the store drops this first).
        unsafe {
            ffi::sqlite3_finalize(self.stmt.as_ptr());
        }
    }
}

/// Binds one event's columns after the first `before` parameters; the
/// first failure's code, or `SQLITE_OK`.
///
/// # Safety
/// `stmt` is a live statement, and the texts of `event` outlive its next
/// step (they are bound without a copy).
unsafe fn bind_row(
    stmt: *mut ffi::sqlite3_stmt,
    before: usize,
    event: &Serialized,
    received_ms: i64,
) -> c_int {
    let row = &event.row;
    let at = |n: usize| (before + n) as c_int;
    // SAFETY: as the function's; each text is valid UTF-8 of the given
    // length.
    let text = |n: usize, text: Option<&str>| unsafe {
        match text {
            Some(text) => ffi::sqlite3_bind_text64(
                stmt,
                at(n),
                text.as_ptr().cast(),
                text.len() as u64,
                ffi::SQLITE_STATIC(),
                ffi::SQLITE_UTF8 as u8,
            ),
            None => ffi::sqlite3_bind_null(stmt, at(n)),
        }
    };
    let int = |n: usize, value: Option<i64>| unsafe {
        match value {
            Some(value) => ffi::sqlite3_bind_int64(stmt, at(n), value),
            None => ffi::sqlite3_bind_null(stmt, at(n)),
        }
    };
    let codes = [
        text(1, Some(event.id())),
        int(2, Some(row.time_ms)),
        text(3, Some(event.host())),
        text(4, Some(event.tag())),
        text(5, event.kind()),
        text(6, row.status.map(Status::as_str)),
        int(7, row.code),
        int(8, row.elapsed_ms),
        int(9, Some(received_ms)),
        text(10, Some(&event.line)),
    ];
    codes
        .into_iter()
        .find(|&rc| rc != ffi::SQLITE_OK)
        .unwrap_or(ffi::SQLITE_OK)
}

/// SQLite's error for `rc`, with its message.
///
/// # Safety
/// `db` is an open connection.
unsafe fn failure(db: NonNull<ffi::sqlite3>, rc: c_int) -> rusqlite::Error {
    // SAFETY: SQLite's message is a NUL-terminated string it owns until
    // the next call on the connection; it is copied at once.
    let message = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(db.as_ptr())) }
        .to_string_lossy()
        .into_owned();
    rusqlite::Error::SqliteFailure(ffi::Error::new(rc), Some(message))
}
