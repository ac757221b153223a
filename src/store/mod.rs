//! The event store (DESIGN.md §3): SQLite, WAL, batched transactions,
//! `INSERT OR IGNORE` on `id`, so storing an event twice is harmless.
//! Facts and interruption periods are kept up to date in the same
//! transaction as the events they come from.

mod board;
pub mod cli;
mod durable;
mod interruptions;
pub mod schema;

use crate::error::{Error, Result};
use crate::event::{Event, Status};
use interruptions::StateEvent;
use rusqlite::{Connection, OpenFlags, params};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// The database as SQLite names it, if in WAL mode: [`durable`]
    /// flushes its WAL after each commit, and checkpoints it.
    wal: Option<PathBuf>,
    periods: interruptions::Tracker,
    board: board::Board,
}

impl Store {
    /// Opens (creating and migrating if needed) the store for writing.
    pub fn open(path: &Path) -> Result<Store> {
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            Error::io(format!("{what} store {}: {e}", path.display()))
        };
        // NORMAL: commits do not wait for the disk; the WAL is flushed
        // on another thread before anything is echoed (store/durable.rs).
        let mut conn = crate::sqlite::open_wal(path, "store", "NORMAL")?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(|e| fail("opening", &e))?;
        let wal = match (mode.as_str(), conn.path()) {
            ("wal", Some(db)) if !db.is_empty() => {
                conn.pragma_update(None, "wal_autocheckpoint", 0)
                    .map_err(|e| fail("opening", &e))?;
                Some(PathBuf::from(db))
            }
            _ => {
                // No WAL to flush (a file system without shared memory):
                // SQLite syncs at each commit itself.
                conn.pragma_update(None, "synchronous", "FULL")
                    .map_err(|e| fail("opening", &e))?;
                None
            }
        };
        // Index pages of a large store stay in memory (64 MiB at most).
        conn.pragma_update(None, "cache_size", -65536)
            .map_err(|e| fail("opening", &e))?;
        schema::migrate(&mut conn).map_err(|e| fail("migrating", &e))?;
        // Every statement of the insert path stays compiled.
        conn.set_prepared_statement_cache_capacity(64);
        let behind: bool = conn
            .query_row(board::BEHIND, [], |r| r.get(0))
            .map_err(|e| fail("opening", &e))?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            wal,
            periods: interruptions::Tracker::default(),
            board: board::Board::default(),
        };
        if behind {
            // The last sd-store stopped before writing its board.
            store.write_board_now()?;
        }
        Ok(store)
    }

    /// Where the store is: the path given, else `[store] path`, else the
    /// default under the data directory.
    pub fn locate(given: Option<&Path>, config: &crate::config::ConfigFile) -> PathBuf {
        given
            .map(Path::to_path_buf)
            .or_else(|| config.store.path.clone())
            .unwrap_or_else(|| crate::paths::data_dir().join("events.db"))
    }

    /// Opens an existing store read-only (for questions).
    pub fn open_read_only(path: &Path) -> Result<Connection> {
        if !path.exists() {
            return Err(Error::usage(format!(
                "no store at {} (sd-store creates it; give the path as DB or set [store] path)",
                path.display()
            )));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| Error::io(format!("opening store {}: {e}", path.display())))?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(|e| Error::io(format!("opening store {}: {e}", path.display())))?;
        Ok(conn)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts the thread that makes each committed batch durable before
    /// it is echoed ([`Durable::committed`]).
    pub fn durable(&self, echo: Option<Box<dyn std::io::Write + Send>>) -> durable::Durable {
        durable::Durable::start(self.wal.clone(), echo)
    }

    /// Stores a batch in one transaction; an event whose id is already
    /// there is ignored. Returns how many were new.
    pub fn insert(&mut self, events: &[Serialized]) -> Result<usize> {
        let path = self.path.clone();
        let fail =
            |e: rusqlite::Error| Error::io(format!("writing to store {}: {e}", path.display()));
        let received = crate::time::now_ms();
        let (tx, _) =
            begin_writing(&mut self.conn, &mut self.periods, &mut self.board).map_err(fail)?;
        let mut insert = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO events
                 (id, time_ms, host, tag, kind, status, code, elapsed_ms, received_ms, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .map_err(fail)?;
        let mut new = 0;
        for Serialized {
            line,
            id,
            host,
            tag,
            kind,
            facts,
            row,
        } in events
        {
            let inserted = insert
                .execute(params![
                    id,
                    row.time_ms,
                    host,
                    tag,
                    kind,
                    row.status.map(Status::as_str),
                    row.code,
                    row.elapsed_ms,
                    received,
                    line
                ])
                .map_err(fail)?;
            if inserted == 0 {
                continue;
            }
            new += 1;
            if let Some(status) = row.status.filter(|s| s.carries_state()) {
                let state = StateEvent {
                    host,
                    tag,
                    time_ms: row.time_ms,
                    id,
                    status,
                };
                self.periods
                    .record(&tx, &state, &mut self.board)
                    .map_err(fail)?;
                self.board.record(host, tag, status, row.time_ms, id);
            }
            if let Some(facts) = facts {
                record_facts(&tx, host, row.time_ms, facts).map_err(fail)?;
            }
        }
        drop(insert);
        if self.board.due().is_some_and(|due| due <= Instant::now()) {
            self.board.write(&tx).map_err(fail)?;
        }
        tx.commit().map_err(fail)?;
        Ok(new)
    }

    /// When the board should next be written, if anything waits
    /// ([`Store::write_board`]).
    pub fn board_due(&self) -> Option<Instant> {
        self.board.due()
    }

    /// Writes the board to `latest` (store/board.rs): called when it is
    /// due while input is idle, and before sd-store exits.
    pub fn write_board(&mut self) -> Result<()> {
        match self.board.due() {
            Some(_) => self.write_board_now(),
            None => Ok(()),
        }
    }

    fn write_board_now(&mut self) -> Result<()> {
        let path = self.path.clone();
        let fail =
            |e: rusqlite::Error| Error::io(format!("writing to store {}: {e}", path.display()));
        let (tx, caught_up) =
            begin_writing(&mut self.conn, &mut self.periods, &mut self.board).map_err(fail)?;
        if !caught_up {
            self.board.write(&tx).map_err(fail)?;
        }
        tx.commit().map_err(fail)
    }

    /// Deletes events, facts history and closed periods older than
    /// `older_than_ms`; returns how many events went.
    pub fn prune(&mut self, older_than_ms: i64) -> Result<usize> {
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| Error::io(format!("pruning store {}: {e}", path.display()));
        let (tx, _) =
            begin_writing(&mut self.conn, &mut self.periods, &mut self.board).map_err(fail)?;
        let gone = tx
            .execute("DELETE FROM events WHERE time_ms < ?1", [older_than_ms])
            .map_err(fail)?;
        // Rowids past the newest remaining event may be given again: the
        // mark moves down to it, after the board is written.
        self.board.write(&tx).map_err(fail)?;
        tx.execute(
            "DELETE FROM facts_history WHERE time_ms < ?1",
            [older_than_ms],
        )
        .map_err(fail)?;
        tx.execute(
            "DELETE FROM interruptions WHERE end_ms IS NOT NULL AND end_ms < ?1",
            [older_than_ms],
        )
        .map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok(gone)
    }
}

/// Every writing transaction starts here. It takes the write lock at
/// once, waiting for it if need be: a deferred transaction would start by
/// reading, and SQLite refuses to upgrade it later ("database is locked")
/// while a checkpoint holds the lock. Then, if another process committed
/// since this one last did (or this is the first transaction), what this
/// process remembers is dropped and the board caught up; the result says
/// whether it was.
fn begin_writing<'c>(
    conn: &'c mut Connection,
    periods: &mut interruptions::Tracker,
    board: &mut board::Board,
) -> rusqlite::Result<(rusqlite::Transaction<'c>, bool)> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let caught_up = periods.begin(&tx)?;
    if caught_up {
        board.catch_up(&tx)?;
    }
    Ok((tx, caught_up))
}

/// An event taken apart in advance into what the store writes — its
/// line of JSON (for both `body` and the echo) and its columns — on the
/// thread that reads input, off the one that writes to SQLite.
pub struct Serialized {
    pub line: String,
    id: String,
    host: String,
    tag: String,
    kind: Option<String>,
    facts: Option<serde_json::Map<String, Value>>,
    row: Row,
}

impl Serialized {
    pub fn new(event: Event) -> Serialized {
        let line = event.to_line();
        let row = Row {
            time_ms: event.time_ms().unwrap_or_default(),
            status: event.status(),
            code: event.int("code"),
            elapsed_ms: event.int("elapsed_ms"),
        };
        let mut fields = event.into_fields();
        let mut text = |key: &str| match fields.remove(key) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        };
        Serialized {
            line,
            id: text("id").unwrap_or_default(),
            host: text("host").unwrap_or_default(),
            tag: text("tag").unwrap_or_default(),
            kind: text("kind"),
            facts: match fields.remove("facts") {
                Some(Value::Object(facts)) => Some(facts),
                _ => None,
            },
            row,
        }
    }
}

/// The columns that are not text. Text columns missing from an event
/// are stored empty, so no event is refused for lacking them.
struct Row {
    time_ms: i64,
    status: Option<Status>,
    code: Option<i64>,
    elapsed_ms: Option<i64>,
}

/// A fact's value as text: strings as they are, other JSON as JSON.
pub fn fact_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn record_facts(
    tx: &rusqlite::Transaction<'_>,
    host: &str,
    time_ms: i64,
    facts: &serde_json::Map<String, Value>,
) -> rusqlite::Result<()> {
    let mut latest = tx.prepare_cached(
        "INSERT INTO facts (host, name, value, time_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (host, name) DO UPDATE SET value = excluded.value, time_ms = excluded.time_ms
         WHERE excluded.time_ms >= facts.time_ms",
    )?;
    let mut previous = tx.prepare_cached(
        "SELECT value FROM facts_history WHERE host = ?1 AND name = ?2 AND time_ms <= ?3
         ORDER BY time_ms DESC LIMIT 1",
    )?;
    let mut history = tx.prepare_cached(
        "INSERT INTO facts_history (host, name, value, time_ms) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (name, value) in facts {
        let text = fact_text(value);
        latest.execute(params![host, name, text, time_ms])?;
        let before: Option<String> = previous
            .query_row(params![host, name, time_ms], |r| r.get(0))
            .ok();
        if before.as_deref() != Some(text.as_str()) {
            history.execute(params![host, name, text, time_ms])?;
        }
    }
    Ok(())
}
