//! Making committed batches durable, and only then echoing them, on a
//! thread of its own.
//!
//! With `synchronous=FULL`, SQLite waits for the WAL to reach the disk at
//! every commit, and nothing else happens meanwhile: that wait was 40% of
//! an import (bench/BENCHMARKS.md). The store commits with `NORMAL`
//! instead (the WAL written, not yet flushed) and hands the batch here;
//! this thread flushes the WAL with fdatasync while the next batch is
//! being inserted, then echoes every batch the flush covered. An event is
//! still echoed — acknowledged upstream — only once it would survive a
//! power loss, as with `FULL`: a checkpoint that moves it into the
//! database file first syncs both files, and a killed process never loses
//! a committed transaction.
//!
//! Checkpoints (copying the WAL into the database file, two more fsyncs)
//! are done here too, on a connection of this thread's own, instead of
//! stopping the writer every 1,000 pages: a passive one every few
//! batches, and when the WAL has grown large a restarting one, which
//! waits for the writer's current transaction and lets the next one start
//! the WAL from the beginning again. Under steady load the writer's
//! transactions follow each other with hardly a gap, and a checkpoint
//! waiting for the lock in SQLite's busy handler (it sleeps and tries
//! again) would rarely get it: the [`Gate`] holds the writer back before
//! its next transaction while a restarting checkpoint runs.

use super::Serialized;
use crate::cli;
use crate::error::{Error, Result};
use rusqlite::Connection;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Batches committed but not yet flushed, at most (back pressure).
const IN_FLIGHT: usize = 8;

/// A passive checkpoint after this many batches…
const CHECKPOINT_EVERY: usize = 4;
/// …and a restarting one once the WAL holds this many bytes, so it does
/// not grow without end under steady load.
const RESTART_AT_BYTES: i64 = 16 << 20;
/// How long a restarting checkpoint waits for readers before giving up
/// until next time: meanwhile the writer waits too.
const RESTART_WAIT: Duration = Duration::from_millis(100);

/// Where the writer waits, before a transaction, while a restarting
/// checkpoint needs the write lock.
#[derive(Clone, Default)]
pub struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    /// Returns once no restarting checkpoint is waiting or running.
    pub fn pass(&self) {
        let (closed, opened) = &*self.0;
        let mut closed = closed.lock().unwrap_or_else(PoisonError::into_inner);
        while *closed {
            closed = opened.wait(closed).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Keeps the writer out until the guard is dropped.
    fn close(&self) -> Closed<'_> {
        *self.0.0.lock().unwrap_or_else(PoisonError::into_inner) = true;
        Closed(self)
    }
}

struct Closed<'a>(&'a Gate);

impl Drop for Closed<'_> {
    fn drop(&mut self) {
        let (closed, opened) = &*self.0.0;
        *closed.lock().unwrap_or_else(PoisonError::into_inner) = false;
        opened.notify_all();
    }
}

pub struct Durable {
    batches: Option<SyncSender<Vec<Serialized>>>,
    thread: Option<JoinHandle<Result<()>>>,
}

impl Durable {
    /// `wal_db` is the database file as SQLite names it, whose WAL is
    /// flushed and checkpointed here; None when it is not in WAL mode
    /// (SQLite then syncs at commit and checkpoints itself). `echo` is
    /// where committed events are printed, if anywhere; the writer
    /// passes `gate` before each transaction.
    pub fn start(
        wal_db: Option<PathBuf>,
        echo: Option<Box<dyn Write + Send>>,
        gate: Gate,
    ) -> Durable {
        let (batches, committed) = mpsc::sync_channel(IN_FLIGHT);
        let thread = thread::Builder::new()
            .name("durable".into())
            .spawn(move || flush_then_echo(committed, wal_db.map(|db| Log::new(db, gate)), echo))
            .expect("cannot start a thread");
        Durable {
            batches: Some(batches),
            thread: Some(thread),
        }
    }

    /// Hands over a batch just committed.
    pub fn committed(&mut self, batch: Vec<Serialized>) -> Result<()> {
        let sent = match &self.batches {
            Some(batches) => batches.send(batch).is_ok(),
            None => false,
        };
        if sent { Ok(()) } else { self.finish() }
    }

    /// Waits until every batch handed over is flushed and echoed.
    pub fn finish(&mut self) -> Result<()> {
        self.batches = None;
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| Error::io("the thread that flushes the store stopped unexpectedly"))?,
            None => Ok(()),
        }
    }
}

fn flush_then_echo(
    committed: Receiver<Vec<Serialized>>,
    mut log: Option<Log>,
    mut echo: Option<Box<dyn Write + Send>>,
) -> Result<()> {
    while let Ok(first) = committed.recv() {
        let mut flushed = vec![first];
        flushed.extend(committed.try_iter());
        if let Some(log) = &mut log {
            log.flush()?;
        }
        if let Some(out) = &mut echo {
            for stored in flushed.iter().flatten() {
                writeln!(out, "{}", stored.line).map_err(cli::stdout_error)?;
            }
            out.flush().map_err(cli::stdout_error)?;
        }
        if let Some(log) = &mut log {
            log.after(flushed.len());
        }
    }
    Ok(())
}

/// The WAL of the store, flushed and checkpointed.
struct Log {
    db: PathBuf,
    path: PathBuf,
    /// Opened at the first flush: the WAL exists once something committed.
    file: Option<File>,
    /// Opened at the first checkpoint, with the database's page size.
    checkpointer: Option<(Connection, i64)>,
    gate: Gate,
    batches: usize,
    /// A checkpoint failed and it was said; said again only after one works.
    warned: bool,
}

impl Log {
    fn new(db: PathBuf, gate: Gate) -> Log {
        let mut path = db.clone().into_os_string();
        path.push("-wal");
        Log {
            db,
            path: path.into(),
            file: None,
            checkpointer: None,
            gate,
            batches: 0,
            warned: false,
        }
    }

    fn flush(&mut self) -> Result<()> {
        let fail = |e: std::io::Error| {
            Error::local_io(
                format!("flushing the store's WAL {}", self.path.display()),
                e,
            )
        };
        let file = match &self.file {
            Some(file) => file,
            None => self.file.insert(
                OpenOptions::new()
                    .write(true)
                    .open(&self.path)
                    .map_err(fail)?,
            ),
        };
        file.sync_data().map_err(fail)
    }

    /// Checkpoints when due, `batches` more having been flushed. A failed
    /// checkpoint loses nothing (the WAL holds it all, flushed): it is
    /// said on stderr and tried again a few batches later.
    fn after(&mut self, batches: usize) {
        self.batches += batches;
        if self.batches < CHECKPOINT_EVERY {
            return;
        }
        self.batches = 0;
        match self.checkpoint() {
            Ok(()) => self.warned = false,
            Err(e) if !self.warned => {
                cli::note(format!("{e} (the write-ahead log grows until one works)"));
                self.warned = true;
            }
            Err(_) => {}
        }
    }

    fn checkpoint(&mut self) -> Result<()> {
        let db = &self.db;
        let fail =
            |e: rusqlite::Error| Error::io(format!("checkpointing store {}: {e}", db.display()));
        let (conn, page_size) = match &self.checkpointer {
            Some((conn, page_size)) => (conn, *page_size),
            None => {
                let conn = Connection::open(db).map_err(fail)?;
                // Only a restarting checkpoint waits for the lock.
                conn.busy_timeout(RESTART_WAIT).map_err(fail)?;
                let page_size = conn
                    .query_row("PRAGMA page_size", [], |r| r.get(0))
                    .map_err(fail)?;
                let (conn, _) = self.checkpointer.insert((conn, page_size));
                (&*conn, page_size)
            }
        };
        // (busy, pages in the WAL, pages copied into the database)
        let checkpoint = |mode: &str| -> rusqlite::Result<(i64, i64, i64)> {
            conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
        };
        let (_, pages, _) = checkpoint("PASSIVE").map_err(fail)?;
        if pages * page_size >= RESTART_AT_BYTES {
            // The writer finishes its transaction and waits; busy (a
            // reader still holds the WAL) is no failure: next time.
            let _closed = self.gate.close();
            checkpoint("RESTART").map_err(fail)?;
        }
        Ok(())
    }
}
