//! The event store (docs/ARCHITECTURE.md §3): SQLite, WAL, batched transactions,
//! `INSERT OR IGNORE` on `id`, so storing an event twice is harmless.
//! Facts and interruption periods are kept up to date in the same
//! transaction as the events they come from.

pub mod board;
pub mod cli;
mod durable;
pub mod facts;
mod interruptions;
mod many_rows;
mod pairs;
mod peer;
pub mod read;
pub mod run_times;
pub mod schema;
mod serialized;

use crate::base::error::{Context, Error, Result};
use interruptions::StateEvent;
pub use pairs::Pairs;
use rusqlite::{Connection, OpenFlags, params};
pub use serialized::Serialized;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The page size of a new store. With SQLite's 4 KiB, a quarter of the
/// writing thread's time went to writing pages into the WAL, one frame
/// (two system calls) per page, and as much again to the checkpoints;
/// 16 KiB pages made the import 20% faster (bench/BENCHMARKS.md), with
/// the question as fast.
const PAGE_SIZE: u32 = 16384;

/// Events per transaction under load. Every commit rewrites the pages it
/// touched, and on a mix whose failures open and close periods all over,
/// fewer, larger commits made the import faster: 1,000 → 4,000 took it
/// from 247,000 to 306,000 events/s, 4,000 → 8,000 from 262,000 to
/// 293,000 (`MIX=churn sh bench/store.sh`, bench/BENCHMARKS.md), for
/// 15 MiB more memory at most.
pub const STORE_BATCH_LINES: usize = 8000;

pub struct Store {
    /// The INSERTs, prepared on `conn` at the first batch; finalized
    /// before the connection closes (`Drop for Store`).
    inserts: Option<Inserts>,
    conn: Connection,
    path: PathBuf,
    /// The database as SQLite names it, if in WAL mode: [`durable`]
    /// flushes its WAL after each commit, and checkpoints it.
    wal: Option<PathBuf>,
    /// Numbers each event's host and tag ([`Serialized::new`]).
    pairs: Pairs,
    writer: Writer,
}

/// What the writing side keeps from one transaction to the next.
struct Writer {
    /// Passed before each transaction ([`durable::Gate`]).
    gate: durable::Gate,
    periods: interruptions::Tracker,
    board: board::Board,
}

/// Events deleted per transaction when pruning.
const PRUNE_CHUNK: usize = 5000;
/// Pages given back to the file system per step after pruning.
const RECLAIM_PAGES: u64 = 1024;
/// `PRAGMA auto_vacuum`'s value for INCREMENTAL.
const AUTO_VACUUM_INCREMENTAL: i64 = 2;

/// What [`Store::prune`] did.
#[derive(Debug, Default)]
pub struct Pruned {
    pub events: usize,
    /// Bytes given back to the file system; `None` when the store cannot
    /// (made before stores were made with `auto_vacuum = INCREMENTAL`).
    pub reclaimed_bytes: Option<u64>,
}

impl Store {
    /// Opens (creating and migrating if needed) the store for writing.
    pub fn open(path: &Path) -> Result<Store> {
        Store::open_made(path, false)
    }

    /// The same; a store made now for pruning (`sd-store --keep`) gives
    /// the space of what is pruned back to the file system. Only such a
    /// store pays for it: auto_vacuum's pointer pages cost an import into
    /// it about an eighth of its speed (bench/BENCHMARKS.md).
    pub fn open_made(path: &Path, for_pruning: bool) -> Result<Store> {
        // NORMAL: commits do not wait for the disk; the WAL is flushed
        // on another thread before anything is echoed (store/durable.rs).
        let mut conn = crate::base::sqlite::open_wal(
            path,
            "store",
            "NORMAL",
            crate::base::sqlite::NewFile {
                page_size: Some(PAGE_SIZE),
                shrinks: for_pruning,
            },
        )?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .context("opening store", path.display())?;
        let wal = match (mode.as_str(), conn.path()) {
            ("wal", Some(db)) if !db.is_empty() => {
                conn.pragma_update(None, "wal_autocheckpoint", 0)
                    .context("opening store", path.display())?;
                Some(PathBuf::from(db))
            }
            _ => {
                // No WAL to flush (a file system without shared memory):
                // SQLite syncs at each commit itself.
                conn.pragma_update(None, "synchronous", "FULL")
                    .context("opening store", path.display())?;
                None
            }
        };
        // Index pages of a large store stay in memory (64 MiB at most).
        conn.pragma_update(None, "cache_size", -65536)
            .context("opening store", path.display())?;
        schema::migrate(&mut conn).context("migrating store", path.display())?;
        // Every statement of the insert path stays compiled.
        conn.set_prepared_statement_cache_capacity(64);
        let behind: bool = conn
            .query_row(board::BEHIND, [], |r| r.get(0))
            .context("opening store", path.display())?;
        let pairs = Pairs::default();
        let mut store = Store {
            inserts: None,
            conn,
            path: path.to_path_buf(),
            wal,
            writer: Writer {
                gate: durable::Gate::default(),
                periods: interruptions::Tracker::new(pairs.clone()),
                board: board::Board::new(pairs.clone()),
            },
            pairs,
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
        crate::config::layered(
            given.map(Path::to_path_buf),
            config.store.path.clone(),
            || crate::base::paths::data_dir().join("events.db"),
        )
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
        // The configuration's recurring maintenance windows, for the rules'
        // `maintenance(Host, Tag, Until)`: the store does not hold them, so
        // whoever reads it with the configuration at hand fills this
        // (server/maintenance.rs). A temporary table: the store itself is
        // not written. In memory, as the rules keep their own temporary
        // tables: setting temp_store later would drop this one.
        conn.execute_batch(
            "PRAGMA temp_store = MEMORY;
             CREATE TEMP TABLE recurring_windows (
                 host TEXT NOT NULL, tag TEXT NOT NULL, until_ms INTEGER NOT NULL)",
        )
        .map_err(|e| Error::io(format!("opening store {}: {e}", path.display())))?;
        Ok(conn)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How events for this store are to be numbered by host and tag.
    pub fn pairs(&self) -> Pairs {
        self.pairs.clone()
    }

    /// Starts the thread that makes each committed batch durable before
    /// it is echoed ([`Durable::committed`]).
    pub fn durable(&self, echo: Option<Box<dyn std::io::Write + Send>>) -> durable::Durable {
        durable::Durable::start(self.wal.clone(), echo, self.writer.gate.clone())
    }

    /// Stores a batch; an event whose id is already there is ignored. An
    /// event the database refuses (a constraint, a trigger, too big) is
    /// kept alone in `set_aside` with SQLite's reason, and the others are
    /// stored all the same: one event never holds back another host's.
    /// Any other failure (disk full, I/O) fails the batch.
    pub fn insert(&mut self, events: &[Serialized]) -> Result<Stored> {
        let mut stored = Stored::default();
        self.insert_apart(events, 0, &mut stored)
            .map_err(|e| Error::io(format!("writing to store {}: {e}", self.path.display())))?;
        Ok(stored)
    }

    /// Stores `events` in one transaction; if the database refuses one of
    /// them, halves the batch until the refused events stand alone (a
    /// few rollbacks per refused event, none without one).
    fn insert_apart(
        &mut self,
        events: &[Serialized],
        offset: usize,
        stored: &mut Stored,
    ) -> rusqlite::Result<()> {
        let refused = match self.insert_together(events) {
            Ok(new) => {
                stored.new += new;
                return Ok(());
            }
            Err(e) if refuses_the_event(&e) => e,
            Err(e) => return Err(e),
        };
        self.writer.forget();
        if let [event] = events {
            let reason = refused.to_string();
            self.keep_aside(event, &reason)?;
            stored.set_aside.push(SetAside {
                index: offset,
                reason,
            });
            return Ok(());
        }
        let (first, second) = events.split_at(events.len() / 2);
        self.insert_apart(first, offset, stored)?;
        self.insert_apart(second, offset + first.len(), stored)
    }

    /// Keeps an event the database refused in `set_aside`.
    fn keep_aside(&mut self, event: &Serialized, reason: &str) -> rusqlite::Result<()> {
        let (tx, _, _pass) = begin_writing(&mut self.conn, &mut self.writer)?;
        tx.prepare_cached(
            "INSERT INTO set_aside (id, received_ms, reason, body) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            event.id(),
            crate::base::time::now_ms(),
            reason,
            &*event.line
        ])?;
        tx.commit()
    }

    /// Stores a batch in one transaction; an event whose id is already
    /// there is ignored. Returns how many were new.
    fn insert_together(&mut self, events: &[Serialized]) -> rusqlite::Result<usize> {
        let (tx, _, _pass) = begin_writing(&mut self.conn, &mut self.writer)?;
        let inserts = match &mut self.inserts {
            Some(inserts) => inserts,
            None => self.inserts.insert(Inserts::prepare(&tx)?),
        };
        let mut inserting = Inserting::start(&tx, inserts)?;
        let mut new = 0;
        for group in events.chunks(ROWS_PER_INSERT) {
            let fresh = inserting.group(&tx, group)?;
            for (event, rowid) in group.iter().zip(fresh) {
                let Some(rowid) = rowid else {
                    continue;
                };
                new += 1;
                let (id, host, tag) = (event.id(), event.host(), event.tag());
                let row = &event.row;
                if let Some(status) = row.status.and_then(|s| s.state_for(event.kind())) {
                    let state = StateEvent {
                        pair: event.pair,
                        host,
                        tag,
                        time_ms: row.time_ms,
                        id,
                        status,
                        rowid,
                    };
                    self.writer
                        .periods
                        .record(&tx, &state, &mut self.writer.board)?;
                    let success = crate::event::is_success(status, event.kind());
                    self.writer
                        .board
                        .record(event.pair, status, success, row.time_ms, id);
                }
                if let Some(facts) = &event.facts {
                    facts::record(&tx, host, row.time_ms, facts)?;
                }
            }
        }
        self.writer.periods.flush(&tx)?;
        if self
            .writer
            .board
            .due()
            .is_some_and(|due| due <= Instant::now())
        {
            self.writer.board.write(&tx)?;
        }
        tx.commit()?;
        Ok(new)
    }

    /// When the board should next be written, if anything waits
    /// ([`Store::write_board`]).
    pub fn board_due(&self) -> Option<Instant> {
        self.writer.board.due()
    }

    /// Writes the board to `latest` (store/board.rs): called when it is
    /// due while input is idle, and before sd-store exits.
    pub fn write_board(&mut self) -> Result<()> {
        match self.writer.board.due() {
            Some(_) => self.write_board_now(),
            None => Ok(()),
        }
    }

    fn write_board_now(&mut self) -> Result<()> {
        let write = |conn: &mut Connection, writer: &mut Writer| -> rusqlite::Result<()> {
            let (tx, caught_up, _pass) = begin_writing(conn, writer)?;
            if !caught_up {
                writer.board.write(&tx)?;
            }
            tx.commit()
        };
        write(&mut self.conn, &mut self.writer).context("writing to store", self.path.display())
    }

    /// Deletes the events older than `older_than_ms`, a few thousand per
    /// transaction so receivers are held back a moment at a time, not for
    /// the whole deletion. What they summarise stays: the interruption
    /// periods, the board, the facts and their history. Then gives the
    /// freed pages back to the file system, a slice at a time, where the
    /// store was made for it ([`Pruned::reclaimed_bytes`]).
    pub fn prune(&mut self, older_than_ms: i64) -> Result<Pruned> {
        let chunk = |conn: &mut Connection, writer: &mut Writer| -> rusqlite::Result<usize> {
            let (tx, _, _pass) = begin_writing(conn, writer)?;
            let gone = tx.execute(
                "DELETE FROM events WHERE rowid IN
                   (SELECT rowid FROM events WHERE time_ms < ?1 LIMIT ?2)",
                params![older_than_ms, PRUNE_CHUNK as i64],
            )?;
            // Rowids past the newest remaining event may be given again:
            // the mark moves down to it, after the board is written.
            writer.board.write(&tx)?;
            tx.commit()?;
            Ok(gone)
        };
        let mut pruned = Pruned::default();
        loop {
            let gone = chunk(&mut self.conn, &mut self.writer)
                .context("pruning store", self.path.display())?;
            pruned.events += gone;
            if gone < PRUNE_CHUNK {
                break;
            }
        }
        if pruned.events > 0 {
            pruned.reclaimed_bytes = self
                .reclaim()
                .context("reclaiming space in store", self.path.display())?;
        }
        Ok(pruned)
    }

    /// `PRAGMA incremental_vacuum`, a slice of pages per step; `None` for
    /// a store made before stores were made for it (auto_vacuum NONE):
    /// there the freed pages are reused by the events that come.
    fn reclaim(&mut self) -> rusqlite::Result<Option<u64>> {
        let mode: i64 = self
            .conn
            .query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
        if mode != AUTO_VACUUM_INCREMENTAL {
            return Ok(None);
        }
        let page: i64 = self.conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        let mut pages = 0u64;
        loop {
            let free: i64 = self
                .conn
                .query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
            if free <= 0 {
                break;
            }
            let step = (free as u64).min(RECLAIM_PAGES);
            let _pass = self.writer.gate.pass();
            // The pragma returns a row per page freed: step through them.
            let mut stmt = self
                .conn
                .prepare(&format!("PRAGMA incremental_vacuum({step})"))?;
            let mut rows = stmt.query([])?;
            while rows.next()?.is_some() {}
            pages += step;
        }
        Ok(Some(pages * page as u64))
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // The statements of `many_rows` hold raw pointers into `conn`:
        // they are finalized first, whatever order the fields drop in.
        self.inserts = None;
    }
}

/// What storing a batch came to.
#[derive(Debug, Default)]
pub struct Stored {
    /// Events not stored before.
    pub new: usize,
    /// Events the database refused, kept in `set_aside`.
    pub set_aside: Vec<SetAside>,
}

/// An event of a batch the database refused.
#[derive(Debug)]
pub struct SetAside {
    /// Its place in the batch.
    pub index: usize,
    pub reason: String,
}

/// Whether SQLite refused this batch for what an event holds, rather
/// than for the state of the disk or the database: a constraint or a
/// trigger (`RAISE(ABORT, …)`), a value too big, a type a column refuses.
fn refuses_the_event(error: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::{ConstraintViolation, TooBig, TypeMismatch};
    matches!(
        error.sqlite_error_code(),
        Some(ConstraintViolation | TooBig | TypeMismatch)
    )
}

/// Events inserted by one statement: SQLite runs one INSERT of many rows
/// for much less than as many single-row ones (3.6 → 2.8 µs a row into
/// the events table and its indexes here, bench/BENCHMARKS.md), the
/// per-statement work being done once.
const ROWS_PER_INSERT: usize = 50;

const COLUMNS: &str = "INSERT OR IGNORE INTO events
    (id, time_ms, host, tag, kind, status, code, elapsed_ms, received_ms, body) VALUES ";
const ONE_ROW: &str = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
const PARAMETERS_PER_ROW: usize = 10;

/// The events' INSERTs ([`many_rows`]): of a full group, and of one row
/// for the rest of a batch.
struct Inserts {
    many: many_rows::ManyRows,
    one: many_rows::ManyRows,
}

impl Inserts {
    fn prepare(conn: &Connection) -> rusqlite::Result<Inserts> {
        Ok(Inserts {
            many: many_rows::ManyRows::prepare(conn, ROWS_PER_INSERT)?,
            one: many_rows::ManyRows::prepare(conn, 1)?,
        })
    }
}

/// The inserting of one batch: full groups in one statement, the rest
/// one row at a time.
struct Inserting<'t> {
    inserts: &'t mut Inserts,
    received_ms: i64,
    /// The largest rowid in `events`: SQLite numbers new rows after it.
    last_rowid: i64,
}

impl<'t> Inserting<'t> {
    fn start(
        tx: &rusqlite::Transaction<'_>,
        inserts: &'t mut Inserts,
    ) -> rusqlite::Result<Inserting<'t>> {
        Ok(Inserting {
            inserts,
            received_ms: crate::base::time::now_ms(),
            last_rowid: tx.query_row("SELECT coalesce(max(rowid), 0) FROM events", [], |r| {
                r.get(0)
            })?,
        })
    }

    /// Inserts a group of events and gives the rowid of each that was
    /// new (`None` for those stored before, or earlier in the group). A
    /// full group goes in one statement; its new rows are numbered in
    /// the group's order, and when fewer went in than were given, the ids
    /// past the last rowid before it are the new ones.
    fn group(
        &mut self,
        tx: &rusqlite::Transaction<'_>,
        group: &[Serialized],
    ) -> rusqlite::Result<Vec<Option<i64>>> {
        if group.len() < ROWS_PER_INSERT {
            let mut fresh = Vec::with_capacity(group.len());
            for event in group.chunks(1) {
                let stored = self.inserts.one.run(event, self.received_ms)?;
                self.last_rowid += stored as i64;
                fresh.push((stored == 1).then_some(self.last_rowid));
            }
            return Ok(fresh);
        }
        let stored = self.inserts.many.run(group, self.received_ms)?;
        let before = self.last_rowid;
        self.last_rowid += stored as i64;
        if stored == group.len() {
            return Ok((1..=stored as i64).map(|n| Some(before + n)).collect());
        }
        let ids: Vec<String> = tx
            .prepare_cached("SELECT id FROM events WHERE rowid > ?1 ORDER BY rowid")?
            .query_map([before], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut ids = ids.iter().peekable();
        let mut rowid = before;
        Ok(group
            .iter()
            .map(|event| {
                ids.next_if(|id| *id == event.id()).map(|_| {
                    rowid += 1;
                    rowid
                })
            })
            .collect())
    }
}

impl Writer {
    /// For a transaction rolled back: its events are in no table, so what
    /// the writer remembers of them goes, and the next transaction reads
    /// the periods and the board back from the database.
    fn forget(&mut self) {
        self.periods.forget();
        self.board.forget();
    }
}

/// Every writing transaction starts here. It waits while this process's
/// restarting checkpoint needs the lock ([`durable::Gate`]), then takes
/// the write lock at once, waiting for it if need be: a deferred transaction would start by
/// reading, and SQLite refuses to upgrade it later ("database is locked")
/// while a checkpoint holds the lock. Then, if another process committed
/// since this one last did (or this is the first transaction), what this
/// process remembers is dropped and the board caught up; the result says
/// whether it was. The transaction counts as under way for the gate
/// until the [`durable::Pass`] is dropped: keep it until after the commit.
fn begin_writing<'c>(
    conn: &'c mut Connection,
    writer: &mut Writer,
) -> rusqlite::Result<(rusqlite::Transaction<'c>, bool, durable::Pass)> {
    let pass = writer.gate.pass();
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let caught_up = writer.periods.begin(&tx)?;
    if caught_up {
        writer.board.catch_up(&tx)?;
    }
    Ok((tx, caught_up, pass))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, Status};
    use rusqlite::OptionalExtension;

    /// A small generator, so the test needs no crate and every failure
    /// can be replayed from its seed.
    struct XorShift(u64);

    impl XorShift {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    /// One host and tag's state events: the periods they define (start,
    /// end, first id, last failure's status), computed directly from the
    /// events in time order, oks before failures within one instant
    /// (store/interruptions.rs), then by id.
    fn expected_periods(
        timeline: &[(i64, String, Status)],
    ) -> Vec<(i64, Option<i64>, String, String)> {
        let mut timeline = timeline.to_vec();
        timeline.sort_by_key(|(time, id, status)| (*time, *status != Status::Ok, id.clone()));
        let mut periods: Vec<(i64, Option<i64>, String, String)> = Vec::new();
        let mut open = false;
        for (time, id, status) in &timeline {
            match status {
                Status::Fail | Status::Error if !open => {
                    periods.push((*time, None, id.clone(), status.to_string()));
                    open = true;
                }
                Status::Fail | Status::Error => {
                    periods.last_mut().unwrap().3 = status.to_string();
                }
                Status::Ok if open => {
                    periods.last_mut().unwrap().1 = Some(*time);
                    open = false;
                }
                _ => {}
            }
        }
        periods
    }

    #[test]
    fn periods_and_board_are_right_for_any_arrival_order_batching_and_repeats() {
        let dir = tempfile::tempdir().unwrap();
        let statuses = [
            Status::Ok,
            Status::Fail,
            Status::Error,
            Status::Warn,
            Status::Info,
        ];
        let pairs = [("h1", "web"), ("h1", "db"), ("h2", "web")];
        for seed in 1..=60u64 {
            let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            // Mostly ok, as in a real herd; in every other seed many
            // events share their millisecond (a clock in seconds).
            let events: Vec<(usize, i64, String, Status)> = (0..150)
                .map(|i| {
                    let status = match rng.below(10) {
                        0..=4 => Status::Ok,
                        n => statuses[1 + (n - 5) % 4],
                    };
                    let time = if seed % 2 == 0 {
                        1_000 + rng.below(40) as i64 * 10
                    } else {
                        1_000 + i as i64 * 10
                    };
                    (
                        rng.below(pairs.len()),
                        time,
                        format!("e{seed}-{i:03}"),
                        status,
                    )
                })
                .collect();
            // Mostly in order with some shuffled, or fully shuffled, and a
            // few sent again.
            let mut order: Vec<usize> = (0..events.len()).collect();
            let swaps = if seed % 3 == 0 { 1_000 } else { 20 };
            for _ in 0..swaps {
                let (a, b) = (rng.below(order.len()), rng.below(order.len()));
                order.swap(a, b);
            }
            for _ in 0..10 {
                let at = rng.below(order.len());
                order.insert(at, order[rng.below(order.len())]);
            }
            let path = dir.path().join(format!("{seed}.db"));
            let mut store = Store::open(&path).unwrap();
            let lines: Vec<Serialized> = order
                .iter()
                .map(|&i| {
                    let (pair, time, id, status) = &events[i];
                    let (host, tag) = pairs[*pair];
                    let line = format!(
                        r#"{{"v":1,"id":"{id}","time":"{}","host":"{host}","tag":"{tag}","status":"{status}"}}"#,
                        crate::base::time::format_ms(*time)
                    );
                    let event = Event::parse(line.as_bytes(), usize::MAX).unwrap();
                    Serialized::new(event, &store.pairs())
                })
                .collect();
            let mut rest = &lines[..];
            let mut new = 0;
            while !rest.is_empty() {
                let take = (1 + rng.below(130)).min(rest.len());
                new += store.insert(&rest[..take]).unwrap().new;
                rest = &rest[take..];
            }
            assert_eq!(new, events.len(), "seed {seed}: new events counted once");
            let conn = &store.conn;
            for (n, (host, tag)) in pairs.iter().enumerate() {
                let timeline: Vec<(i64, String, Status)> = events
                    .iter()
                    .filter(|e| e.0 == n)
                    .map(|e| (e.1, e.2.clone(), e.3))
                    .collect();
                let mut stored = conn
                    .prepare(
                        "SELECT start_ms, end_ms, first_id, last_status FROM interruptions
                         WHERE host = ?1 AND tag = ?2 ORDER BY start_ms",
                    )
                    .unwrap();
                let stored: Vec<(i64, Option<i64>, String, String)> = stored
                    .query_map(params![host, tag], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })
                    .unwrap()
                    .collect::<rusqlite::Result<_>>()
                    .unwrap();
                assert_eq!(
                    stored,
                    expected_periods(&timeline),
                    "seed {seed}, {host} {tag}"
                );
                let newest = timeline
                    .iter()
                    .filter(|e| e.2 != Status::Info)
                    .max_by_key(|e| {
                        (
                            e.0,
                            matches!(e.2, Status::Fail | Status::Error),
                            e.1.clone(),
                        )
                    })
                    .map(|e| (e.2.to_string(), e.0, e.1.clone()));
                let last_ok = timeline
                    .iter()
                    .filter(|e| e.2 == Status::Ok)
                    .map(|e| e.0)
                    .max();
                let board: Option<(String, i64, String, Option<i64>)> = conn
                    .query_row(
                        "SELECT status, time_ms, id, last_ok_ms FROM board WHERE host = ?1 AND tag = ?2",
                        params![host, tag],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                    )
                    .optional()
                    .unwrap();
                let expected = newest.map(|(s, t, id)| (s, t, id, last_ok));
                assert_eq!(board, expected, "seed {seed}, board of {host} {tag}");
            }
        }
    }
}
