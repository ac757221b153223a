//! Checkpointing a WAL database on a thread other than its writer's.
//!
//! SQLite checkpoints on the writer's own commit every 1,000 pages by
//! default: it copies the WAL into the database file and syncs both, and
//! the writer waits for the disk meanwhile. The store and sd-bark's spool
//! turn that off (`wal_autocheckpoint = 0`) and checkpoint here instead,
//! on a connection of another thread's own: a passive checkpoint every few
//! batches, and when the WAL has grown large a restarting one, which waits
//! for the writer's current transaction and lets the next one start the
//! WAL from the beginning again. Under steady load the writer's
//! transactions follow each other with hardly a gap, and a checkpoint
//! waiting for the lock in SQLite's busy handler (it sleeps and tries
//! again) would rarely get it: the [`Gate`] holds the writer back before
//! its next transaction while a restarting checkpoint runs.

use crate::base::cli;
use crate::base::error::{Error, Result};
use rusqlite::Connection;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

/// A passive checkpoint after this many batches…
const CHECKPOINT_EVERY: usize = 4;
/// How long a restarting checkpoint waits for readers before giving up
/// until next time: meanwhile the writer waits too.
const RESTART_WAIT: Duration = Duration::from_millis(100);
/// How long a restarting checkpoint waits for the writer's transaction
/// under way to end. The writer loses no time by it (it is busy with
/// that transaction); a shorter wait missed most restarts where a batch
/// takes longer than `RESTART_WAIT`, on a loaded machine or a slow disk,
/// and let the WAL grow a batch at a time. Bounded all the same: a
/// transaction that never ends must not hold every checkpoint for ever.
const TRANSACTION_WAIT: Duration = Duration::from_secs(2);

/// Where the writer waits, before a transaction, while a restarting
/// checkpoint needs the write lock. The checkpoint in turn waits here for
/// the transaction under way to end, rather than in SQLite's busy handler:
/// that one sleeps 1, 2, 5, 10, 15… ms between tries, and the writer,
/// done, waited out the rest of the sleep at the gate (bench/BENCHMARKS.md:
/// 276–308 ms at the gate per million events stored, 200–293 ms now).
#[derive(Clone, Default)]
pub struct Gate(Arc<(Mutex<Traffic>, Condvar)>);

#[derive(Default)]
struct Traffic {
    /// A restarting checkpoint is waiting or running.
    closed: bool,
    /// Transactions under way (the store has one writer; the spool two,
    /// taking turns).
    writing: usize,
}

impl Gate {
    /// Returns once no restarting checkpoint is waiting or running; the
    /// transaction that follows counts as under way until the [`Pass`]
    /// is dropped, after it commits.
    pub fn pass(&self) -> Pass {
        let (traffic, changed) = &*self.0;
        let mut traffic = traffic.lock().unwrap_or_else(PoisonError::into_inner);
        while traffic.closed {
            traffic = changed
                .wait(traffic)
                .unwrap_or_else(PoisonError::into_inner);
        }
        traffic.writing += 1;
        Pass(self.clone())
    }

    /// Keeps writers out until the guard is dropped, once the transaction
    /// under way has ended (or `TRANSACTION_WAIT` has passed: then
    /// SQLite's busy handler waits for it, as it would without the gate).
    fn close(&self) -> Closed<'_> {
        let (traffic, changed) = &*self.0;
        let mut traffic = traffic.lock().unwrap_or_else(PoisonError::into_inner);
        traffic.closed = true;
        let deadline = std::time::Instant::now() + TRANSACTION_WAIT;
        while traffic.writing > 0 {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            traffic = changed
                .wait_timeout(traffic, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        Closed(self)
    }
}

/// A transaction let through the [`Gate`]; dropped once it has ended.
pub struct Pass(Gate);

impl Drop for Pass {
    fn drop(&mut self) {
        let (traffic, changed) = &*self.0.0;
        traffic
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .writing -= 1;
        changed.notify_all();
    }
}

struct Closed<'a>(&'a Gate);

impl Drop for Closed<'_> {
    fn drop(&mut self) {
        let (traffic, changed) = &*self.0.0;
        traffic
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .closed = false;
        changed.notify_all();
    }
}

/// The checkpoints of one database, made from the thread that owns this.
pub struct Checkpoints {
    /// What the database is, for messages: "store", "spool".
    what: &'static str,
    db: PathBuf,
    /// Opened at the first checkpoint, with the database's page size.
    conn: Option<(Connection, i64)>,
    gate: Gate,
    /// A restarting checkpoint once the WAL holds this many bytes, so it
    /// does not grow without end under steady load.
    restart_at_bytes: i64,
    batches: usize,
    /// The WAL is over `restart_at_bytes` and the last restart could not
    /// be made (a transaction or a reader outlasted its wait): tried again
    /// after the next batch, not a few batches later. Under load on a busy
    /// machine two misses in a row let the WAL grow by eight batches more
    /// than the restart size.
    restart_missed: bool,
    /// A checkpoint failed and it was said; said again only after one works.
    warned: bool,
}

impl Checkpoints {
    /// For the database file `db` (as SQLite names it), whose writer
    /// passes `gate` before each transaction; the WAL restarts from the
    /// beginning once it holds `restart_at_bytes` (the writer waits for
    /// that one: two fsyncs).
    pub fn new(what: &'static str, db: PathBuf, gate: Gate, restart_at_bytes: i64) -> Checkpoints {
        Checkpoints {
            what,
            db,
            conn: None,
            gate,
            restart_at_bytes,
            batches: 0,
            restart_missed: false,
            warned: false,
        }
    }

    /// Checkpoints when due, `batches` more having been committed. A
    /// failed checkpoint loses nothing (the WAL holds it all): it is said
    /// on stderr and tried again a few batches later.
    pub fn after(&mut self, batches: usize) {
        self.batches += batches;
        if self.batches < CHECKPOINT_EVERY && !self.restart_missed {
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
        let (what, db) = (self.what, &self.db);
        let fail =
            |e: rusqlite::Error| Error::io(format!("checkpointing {what} {}: {e}", db.display()));
        let (conn, page_size) = match &self.conn {
            Some((conn, page_size)) => (conn, *page_size),
            None => {
                let conn = Connection::open(db).map_err(fail)?;
                // Only a restarting checkpoint waits for the lock.
                conn.busy_timeout(RESTART_WAIT).map_err(fail)?;
                let page_size = conn
                    .query_row("PRAGMA page_size", [], |r| r.get(0))
                    .map_err(fail)?;
                let (conn, _) = self.conn.insert((conn, page_size));
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
        self.restart_missed = false;
        if pages * page_size >= self.restart_at_bytes {
            // The writer finishes its transaction and waits; busy (a
            // reader still holds the WAL) is no failure: next batch.
            let _closed = self.gate.close();
            let outcome = checkpoint("RESTART");
            self.restart_missed = !matches!(outcome, Ok((0, _, _)));
            outcome.map_err(fail)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::thread;

    #[test]
    fn the_gate_closes_after_the_transaction_under_way_and_holds_the_next() {
        let gate = Gate::default();
        let (said, heard) = mpsc::channel::<&str>();
        let under_way = gate.pass();
        let checkpoint = {
            let (gate, said) = (gate.clone(), said.clone());
            thread::spawn(move || {
                let closed = gate.close();
                said.send("checkpoint").unwrap();
                thread::sleep(Duration::from_millis(50));
                said.send("checkpoint done").unwrap();
                drop(closed);
            })
        };
        // The checkpoint waits for the transaction under way…
        while !gate.0.0.lock().unwrap().closed {
            thread::yield_now();
        }
        said.send("commit").unwrap();
        drop(under_way);
        // …and the next transaction waits for the checkpoint.
        while !gate.0.0.lock().unwrap().closed {
            thread::yield_now();
        }
        let next = gate.pass();
        said.send("next").unwrap();
        drop(next);
        checkpoint.join().unwrap();
        drop(said);
        let order: Vec<&str> = heard.iter().collect();
        assert_eq!(order, ["commit", "checkpoint", "checkpoint done", "next"]);
    }

    /// Frames in the WAL of `conn`'s database, as a passive checkpoint
    /// counts them.
    fn wal_frames(conn: &Connection) -> i64 {
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
            .unwrap()
    }

    #[test]
    fn a_restart_that_could_not_be_made_is_tried_again_after_the_next_batch() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        let writer = Connection::open(&db).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
                 CREATE TABLE t (x BLOB);",
            )
            .unwrap();
        let write = |rows: usize| {
            for _ in 0..rows {
                writer
                    .execute("INSERT INTO t VALUES (zeroblob(4000))", [])
                    .unwrap();
            }
        };
        let mut checkpoints = Checkpoints::new("test", db.clone(), Gate::default(), 64 << 10);
        write(100);
        // A transaction that outlasts the checkpoint's wait: the restart
        // cannot be made, and what it commits is not yet copied.
        writer.execute_batch("BEGIN IMMEDIATE").unwrap();
        write(1);
        checkpoints.after(CHECKPOINT_EVERY);
        writer.execute_batch("COMMIT").unwrap();
        // One batch later the restart is made, and the WAL starts from
        // its beginning again.
        checkpoints.after(1);
        write(1);
        let observer = Connection::open(&db).unwrap();
        assert!(wal_frames(&observer) < 10, "{}", wal_frames(&observer));
    }

    #[test]
    fn a_transaction_that_does_not_end_delays_the_checkpoint_only_so_long() {
        let gate = Gate::default();
        let _stuck = gate.pass();
        let started = std::time::Instant::now();
        let (done, closed) = mpsc::channel();
        let checkpoint = {
            let gate = gate.clone();
            thread::spawn(move || {
                drop(gate.close());
                done.send(started.elapsed()).unwrap();
            })
        };
        // It gives up waiting (a stuck transaction would otherwise hold
        // every checkpoint for ever); the bound is generous, not a timing.
        let waited = closed
            .recv_timeout(Duration::from_secs(30))
            .expect("the checkpoint waited for ever on a transaction that never ends");
        assert!(waited >= TRANSACTION_WAIT, "{waited:?}");
        checkpoint.join().unwrap();
    }
}
