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
//! are done here too, instead of stopping the writer every 1,000 pages
//! ([`crate::base::checkpoint`]).

use super::Serialized;
use crate::base::checkpoint::Checkpoints;
pub use crate::base::checkpoint::{Gate, Pass};
use crate::base::cli;
use crate::base::error::{Error, Result};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::{self, JoinHandle};

/// The store's WAL restarts from the beginning at this size.
const RESTART_AT_BYTES: i64 = 16 << 20;

/// Batches committed but not yet flushed, at most (back pressure). Two
/// keep the writer busy while a flush runs (bench/BENCHMARKS.md: as fast
/// as eight). More only let the WAL grow past its restart size while the
/// reader of the echo is slow, since checkpoints are made on this thread:
/// with eight, a reader pausing for a second took the WAL to 55 MB.
const IN_FLIGHT: usize = 2;

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
            log.checkpoints.after(flushed.len());
        }
    }
    Ok(())
}

/// The WAL of the store, flushed and checkpointed.
struct Log {
    path: PathBuf,
    /// Opened at the first flush: the WAL exists once something committed.
    file: Option<File>,
    checkpoints: Checkpoints,
}

impl Log {
    fn new(db: PathBuf, gate: Gate) -> Log {
        let mut path = db.clone().into_os_string();
        path.push("-wal");
        Log {
            path: path.into(),
            file: None,
            checkpoints: Checkpoints::new("store", db, gate, RESTART_AT_BYTES),
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
}
