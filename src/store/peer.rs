//! Another store's events as input (`sd-store --from OTHER.db`): how a
//! new or returning server catches up on history its stream no longer
//! holds. The peer is read, never written, in one read transaction — one
//! consistent view while its own sd-store goes on — in time order (the
//! order a store takes events in fastest), a few thousand at a time, as
//! JSON lines: the importing store checks, stores and summarises each
//! event as if it had come from stdin, and one it has already is a
//! repeat, stored once.

use crate::base::error::{Error, Result};
use rusqlite::{Connection, OptionalExtension, params};
use std::io::Read;
use std::path::Path;

/// Events read from the peer at a time.
const CHUNK: i64 = 5000;

pub struct PeerEvents {
    conn: Connection,
    /// Where the next chunk starts: past (time, rowid).
    after: (i64, i64),
    buffer: Vec<u8>,
    at: usize,
    done: bool,
    /// Events read so far, and how many the peer had.
    pub read: u64,
    pub total: u64,
    /// Called with (read, total) after each chunk: progress.
    progress: Box<dyn FnMut(u64, u64) + Send>,
}

impl PeerEvents {
    pub fn open(path: &Path, progress: Box<dyn FnMut(u64, u64) + Send>) -> Result<PeerEvents> {
        let conn = super::Store::open_read_only(path)?;
        let failed =
            |e: rusqlite::Error| Error::io(format!("reading the store {}: {e}", path.display()));
        // One snapshot for the whole import: what the peer adds meanwhile
        // comes through the stream instead.
        conn.execute_batch("BEGIN").map_err(failed)?;
        let total: i64 = conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .map_err(failed)?;
        Ok(PeerEvents {
            conn,
            after: (i64::MIN, i64::MIN),
            buffer: Vec::new(),
            at: 0,
            done: false,
            read: 0,
            total: total as u64,
            progress,
        })
    }

    /// The next chunk into the buffer; false at the end.
    fn refill(&mut self) -> rusqlite::Result<bool> {
        self.buffer.clear();
        self.at = 0;
        // (time, rowid) is the order of the index on time: no sort.
        let mut stmt = self.conn.prepare_cached(
            "SELECT time_ms, rowid, body FROM events
             WHERE (time_ms, rowid) > (?1, ?2) ORDER BY time_ms, rowid LIMIT ?3",
        )?;
        let mut rows = stmt.query(params![self.after.0, self.after.1, CHUNK])?;
        let mut n = 0;
        while let Some(row) = rows.next()? {
            self.after = (row.get(0)?, row.get(1)?);
            self.buffer.extend_from_slice(row.get_ref(2)?.as_bytes()?);
            self.buffer.push(b'\n');
            n += 1;
        }
        self.read += n;
        (self.progress)(self.read, self.total);
        Ok(n > 0)
    }
}

impl Read for PeerEvents {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.buffer.len() {
            if self.done {
                return Ok(0);
            }
            if !self.refill().map_err(std::io::Error::other)? {
                self.done = true;
                let _ = self.conn.execute_batch("COMMIT");
            }
        }
        let n = out.len().min(self.buffer.len() - self.at);
        out[..n].copy_from_slice(&self.buffer[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Whether `path` is a sheepdog store (has `events`): said before any
/// reading, so `--from` a wrong file is a clear error.
pub fn check(path: &Path) -> Result<()> {
    let conn = super::Store::open_read_only(path)?;
    let found: Option<String> = conn
        .query_row(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'events'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| Error::usage(format!("--from {}: {e}", path.display())))?;
    match found {
        Some(_) => Ok(()),
        None => Err(Error::usage(format!(
            "--from {}: not a sheepdog store (it has no events table)",
            path.display()
        ))),
    }
}
