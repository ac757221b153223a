//! The local spool (docs/ARCHITECTURE.md §2): a SQLite log of events on this machine,
//! with a cursor per reader.
//!
//! Without a broker it is where events live, and `sd-recv` reads it with
//! the same group semantics as Redis. With a broker it is the outbox:
//! sd-bark commits each batch here before publishing, and "forward to
//! Redis" is one more reader whose cursor only moves once Redis accepted
//! the events. Entries every reader is done with are deleted.

mod stream;

pub use stream::SpoolLog;

use crate::base::error::{Context, Result};
use crate::log::groups::GroupInfo;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The reader that publishes to the broker.
pub const FORWARD: &str = "forward";

/// Each migration takes the spool from version N to N+1 (sqlite::migrate).
const MIGRATIONS: &[&str] = &[SCHEMA, TOUCHED];

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS entries (
    seq   INTEGER PRIMARY KEY AUTOINCREMENT,
    line  TEXT NOT NULL,
    added_ms INTEGER NOT NULL
);
-- How far each reader got: forward (the outbox) and each local group.
CREATE TABLE IF NOT EXISTS cursors (
    reader TEXT PRIMARY KEY,
    seq    INTEGER NOT NULL
);
-- Entries delivered to a local group's consumer and not acknowledged yet.
CREATE TABLE IF NOT EXISTS pending (
    reader       TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    consumer     TEXT NOT NULL,
    delivered_ms INTEGER NOT NULL,
    deliveries   INTEGER NOT NULL,
    PRIMARY KEY (reader, seq)
) WITHOUT ROWID;
-- Events a local group's handler never finished with (sheepdog:dead).
CREATE TABLE IF NOT EXISTS dead (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    line    TEXT NOT NULL,
    reason  TEXT NOT NULL,
    reader  TEXT NOT NULL,
    added_ms INTEGER NOT NULL
);
";

/// 1 → 2: when each reader last read, so a group nobody reads any more
/// can be found (`sd-recv --groups`) and retired.
const TOUCHED: &str = "ALTER TABLE cursors ADD COLUMN touched_ms INTEGER;";

pub struct Spool {
    conn: Connection,
    path: PathBuf,
}

/// Which pending entries [`Spool::claim`] takes.
#[derive(Clone, Copy, Debug)]
pub enum Claim {
    /// Any consumer's, left pending at least this long.
    Idle(Duration),
    /// The claiming consumer's own, however recent, after this sequence
    /// number.
    Own(i64),
}

/// One spooled event.
#[derive(Clone, Debug)]
pub struct Spooled {
    pub seq: i64,
    pub line: String,
    pub added_ms: i64,
    /// How many times it was delivered to its group, this time included.
    pub deliveries: u64,
}

impl Spool {
    /// Opens (creating if needed) the spool at `path`.
    pub fn open(path: &Path) -> Result<Spool> {
        // synchronous=NORMAL: a committed batch survives the process being
        // killed; FULL would add an fsync per batch for the power-loss case.
        // 16 KiB pages (a new spool; an existing one keeps its size):
        // fewer pages per batch to write, checksum and copy back.
        let mut conn = crate::base::sqlite::open_wal(
            path,
            "spool",
            "NORMAL",
            crate::base::sqlite::NewFile {
                page_size: Some(16384),
                shrinks: false,
            },
        )?;
        crate::base::sqlite::migrate(&mut conn, MIGRATIONS)
            .context("migrating spool", path.display())?;
        Ok(Spool {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops this connection's own checkpoints (SQLite makes them on a
    /// commit, and the committer waits for the disk) and returns the
    /// database file as SQLite names it, for [`crate::base::checkpoint`] to
    /// checkpoint from another thread; `None` when the spool is not in WAL
    /// mode, and SQLite keeps doing it.
    pub fn checkpoint_elsewhere(&self) -> Option<PathBuf> {
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .ok()?;
        let db = self.conn.path().filter(|db| !db.is_empty())?;
        if mode != "wal" {
            return None;
        }
        self.conn
            .pragma_update(None, "wal_autocheckpoint", 0)
            .ok()?;
        Some(PathBuf::from(db))
    }

    /// Runs `work` in one transaction (IMMEDIATE: it takes the write lock
    /// at once, so two readers of one group never deliver the same entry)
    /// and commits it; an error names the spool.
    fn writing<T>(
        &mut self,
        work: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let run = || {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = work(&tx)?;
            tx.commit()?;
            Ok::<_, rusqlite::Error>(value)
        };
        run().context("writing to spool", self.path.display())
    }

    /// Runs a question; an error names the spool.
    fn reading<T>(&self, work: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        work(&self.conn).context("reading spool", self.path.display())
    }

    /// Commits a batch of event lines in one transaction; returns the
    /// sequence number of the last one (they are consecutive).
    pub fn append(&mut self, lines: &[String]) -> Result<i64> {
        let now = crate::base::time::now_ms();
        self.writing(|tx| {
            // What every reader is done with goes first: with the cursor
            // moved by another thread ([`Spool::move_cursor`]), this is
            // where the outbox is trimmed.
            trim(tx)?;
            // Many rows per statement: one statement per event cost as
            // much as the rows themselves (and, with AUTOINCREMENT, a
            // bookkeeping update each).
            let mut rows = lines.chunks_exact(ROWS_PER_INSERT);
            let mut insert = tx.prepare_cached(&insert_rows(ROWS_PER_INSERT))?;
            for chunk in rows.by_ref() {
                insert.raw_bind_parameter(1, now)?;
                for (n, line) in chunk.iter().enumerate() {
                    insert.raw_bind_parameter(n + 2, line)?;
                }
                insert.raw_execute()?;
            }
            let mut insert = tx.prepare_cached(&insert_rows(1))?;
            for line in rows.remainder() {
                insert.execute(params![now, line])?;
            }
            Ok(tx.last_insert_rowid())
        })
    }

    /// Where a reader stands: the last sequence number it is done with.
    pub fn cursor(&self, reader: &str) -> Result<i64> {
        self.reading(|conn| cursor_of(conn, reader))
    }

    /// Entries after `seq`, oldest first, at most `limit`.
    pub fn after(&self, seq: i64, limit: usize) -> Result<Vec<Spooled>> {
        self.reading(|conn| entries_after(conn, seq, limit))
    }

    /// Moves a reader's cursor forward to `seq`, and deletes what every
    /// reader is done with.
    pub fn advance(&mut self, reader: &str, seq: i64) -> Result<()> {
        self.writing(|tx| {
            set_cursor(tx, reader, seq)?;
            trim(tx)
        })
    }

    /// Moves a reader's cursor forward to `seq`, leaving the deleting of
    /// what every reader is done with to the next [`Spool::append`].
    pub fn move_cursor(&mut self, reader: &str, seq: i64) -> Result<()> {
        self.writing(|tx| set_cursor(tx, reader, seq))
    }

    /// How many entries a reader has not yet got past.
    pub fn backlog(&self, reader: &str) -> Result<i64> {
        self.reading(|conn| {
            let cursor = cursor_of(conn, reader)?;
            conn.query_row(
                "SELECT count(*) FROM entries WHERE seq > ?1",
                [cursor],
                |r| r.get(0),
            )
        })
    }

    /// Registers a local group: from the start, or from now.
    pub fn create_group(&mut self, group: &str, from_now: bool) -> Result<()> {
        let reader = group_reader(group);
        self.writing(|tx| {
            let start: i64 = if from_now {
                tx.query_row("SELECT coalesce(max(seq), 0) FROM entries", [], |r| {
                    r.get(0)
                })?
            } else {
                0
            };
            tx.execute(
                "INSERT OR IGNORE INTO cursors (reader, seq, touched_ms) VALUES (?1, ?2, ?3)",
                params![reader, start, crate::base::time::now_ms()],
            )?;
            Ok(())
        })
    }

    /// Delivers to `consumer` of `group` entries already pending: those
    /// any consumer left pending for at least `idle` ([`Claim::Idle`]),
    /// or its own ([`Claim::Own`]); at most `count`, each delivered once
    /// more.
    pub fn claim(
        &mut self,
        group: &str,
        consumer: &str,
        claim: Claim,
        count: usize,
    ) -> Result<Vec<Spooled>> {
        let reader = group_reader(group);
        let now = crate::base::time::now_ms();
        let (idle_before, only, after) = match claim {
            Claim::Idle(idle) => (now - idle.as_millis() as i64, None, 0),
            Claim::Own(after) => (i64::MAX, Some(consumer), after),
        };
        self.writing(|tx| {
            let delivered: Vec<Spooled> = tx
                .prepare_cached(
                    "SELECT p.seq, e.line, e.added_ms, p.deliveries + 1 FROM pending p
                     JOIN entries e ON e.seq = p.seq
                     WHERE p.reader = ?1 AND p.delivered_ms <= ?2
                       AND (?4 IS NULL OR p.consumer = ?4) AND p.seq > ?5
                     ORDER BY p.seq LIMIT ?3",
                )?
                .query_map(
                    params![reader, idle_before, count as i64, only, after],
                    |r| {
                        Ok(Spooled {
                            seq: r.get(0)?,
                            line: r.get(1)?,
                            added_ms: r.get(2)?,
                            deliveries: r.get::<_, i64>(3)? as u64,
                        })
                    },
                )?
                .collect::<rusqlite::Result<_>>()?;
            let mut claim = tx.prepare_cached(
                "UPDATE pending SET consumer = ?3, delivered_ms = ?4, deliveries = deliveries + 1
                 WHERE reader = ?1 AND seq = ?2",
            )?;
            for entry in &delivered {
                claim.execute(params![reader, entry.seq, consumer, now])?;
            }
            Ok(delivered)
        })
    }

    /// Delivers to `consumer` of `group` at most `count` entries nobody
    /// in it was given yet; each is pending until acknowledged.
    pub fn deliver_new(
        &mut self,
        group: &str,
        consumer: &str,
        count: usize,
    ) -> Result<Vec<Spooled>> {
        let reader = group_reader(group);
        let now = crate::base::time::now_ms();
        self.writing(|tx| {
            // When the group last read, at most once a minute (for --groups).
            tx.prepare_cached(
                "UPDATE cursors SET touched_ms = ?2
                 WHERE reader = ?1 AND coalesce(touched_ms, 0) < ?2 - 60000",
            )?
            .execute(params![reader, now])?;
            let cursor = cursor_of(tx, &reader)?;
            let fresh = entries_after(tx, cursor, count)?;
            let mut pend = tx.prepare_cached(
                "INSERT OR REPLACE INTO pending (reader, seq, consumer, delivered_ms, deliveries)
                 VALUES (?1, ?2, ?3, ?4, 1)",
            )?;
            for entry in &fresh {
                pend.execute(params![reader, entry.seq, consumer, now])?;
            }
            if let Some(last) = fresh.last() {
                tx.execute(
                    "INSERT INTO cursors (reader, seq) VALUES (?1, ?2)
                     ON CONFLICT (reader) DO UPDATE SET seq = excluded.seq",
                    params![reader, last.seq],
                )?;
            }
            Ok(fresh)
        })
    }

    /// Acknowledges entries of a group; what no reader needs is deleted.
    pub fn ack(&mut self, group: &str, seqs: &[i64]) -> Result<()> {
        let reader = group_reader(group);
        self.writing(|tx| {
            let mut delete =
                tx.prepare_cached("DELETE FROM pending WHERE reader = ?1 AND seq = ?2")?;
            for seq in seqs {
                delete.execute(params![reader, seq])?;
            }
            trim(tx)
        })
    }

    /// Moves an entry a group's handler never finished with to the dead
    /// letters, and acknowledges it.
    pub fn dead_letter(&mut self, group: &str, seq: i64, line: &str, reason: &str) -> Result<()> {
        let reader = group_reader(group);
        self.writing(|tx| {
            tx.execute(
                "INSERT INTO dead (line, reason, reader, added_ms) VALUES (?1, ?2, ?3, ?4)",
                params![line, reason, reader, crate::base::time::now_ms()],
            )?;
            tx.execute(
                "DELETE FROM pending WHERE reader = ?1 AND seq = ?2",
                params![reader, seq],
            )?;
            trim(tx)
        })
    }

    /// The local groups: consumers, pending, lag, idle time.
    pub fn groups(&self) -> Result<Vec<GroupInfo>> {
        let now = crate::base::time::now_ms();
        self.reading(|conn| {
            conn.prepare(
                "SELECT substr(c.reader, 7), c.touched_ms,
                        (SELECT count(DISTINCT consumer) FROM pending p WHERE p.reader = c.reader),
                        (SELECT count(*) FROM pending p WHERE p.reader = c.reader),
                        (SELECT count(*) FROM entries e WHERE e.seq > c.seq)
                 FROM cursors c WHERE c.reader LIKE 'group:%' ORDER BY c.reader",
            )?
            .query_map([], |r| {
                let touched: Option<i64> = r.get(1)?;
                Ok(GroupInfo {
                    name: r.get(0)?,
                    idle_ms: touched.map(|t| (now - t).max(0) as u64),
                    consumers: r.get::<_, i64>(2)? as u64,
                    pending: r.get::<_, i64>(3)? as u64,
                    lag: Some(r.get::<_, i64>(4)? as u64),
                })
            })?
            .collect()
        })
    }

    /// Forgets a local group and what it had pending, so it holds nothing
    /// back any more; false when there was no such group.
    pub fn retire_group(&mut self, group: &str) -> Result<bool> {
        let reader = group_reader(group);
        self.writing(|tx| {
            let existed = tx.execute("DELETE FROM cursors WHERE reader = ?1", [&reader])? > 0;
            tx.execute("DELETE FROM pending WHERE reader = ?1", [&reader])?;
            trim(tx)?;
            Ok(existed)
        })
    }

    /// The newest sequence number, for following without a group.
    pub fn last_seq(&self) -> Result<i64> {
        self.reading(|conn| {
            conn.query_row("SELECT coalesce(max(seq), 0) FROM entries", [], |r| {
                r.get(0)
            })
        })
    }
}

/// Where a reader stands (0: at the start).
fn cursor_of(conn: &Connection, reader: &str) -> rusqlite::Result<i64> {
    conn.query_row("SELECT seq FROM cursors WHERE reader = ?1", [reader], |r| {
        r.get(0)
    })
    .optional()
    .map(|seq| seq.unwrap_or(0))
}

/// Entries after `seq`, oldest first, at most `limit`.
fn entries_after(conn: &Connection, seq: i64, limit: usize) -> rusqlite::Result<Vec<Spooled>> {
    conn.prepare_cached(
        "SELECT seq, line, added_ms FROM entries WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?
    .query_map(params![seq, limit as i64], |r| {
        Ok(Spooled {
            seq: r.get(0)?,
            line: r.get(1)?,
            added_ms: r.get(2)?,
            deliveries: 1,
        })
    })?
    .collect()
}

fn group_reader(group: &str) -> String {
    format!("group:{group}")
}

/// Deletes entries every reader is past (and no group still has pending).
/// With no reader at all nothing is deleted: the spool is the only copy.
/// Events a multi-row INSERT takes (in parameters, well under SQLite's limit).
const ROWS_PER_INSERT: usize = 100;

/// `INSERT … VALUES (?1, ?2), (?1, ?3), …`: `rows` lines ?2… added at ?1.
fn insert_rows(rows: usize) -> String {
    let values: Vec<String> = (0..rows).map(|n| format!("(?{}, ?1)", n + 2)).collect();
    format!(
        "INSERT INTO entries (line, added_ms) VALUES {}",
        values.join(", ")
    )
}

/// Moves a reader's cursor forward (never back).
fn set_cursor(conn: &Connection, reader: &str, seq: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO cursors (reader, seq) VALUES (?1, ?2)
         ON CONFLICT (reader) DO UPDATE SET seq = max(seq, excluded.seq)",
    )?
    .execute(params![reader, seq])?;
    Ok(())
}

fn trim(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM entries WHERE
           (SELECT count(*) FROM cursors) > 0
           AND seq <= (SELECT min(seq) FROM cursors)
           AND seq < coalesce((SELECT min(seq) FROM pending), 9223372036854775807)",
        [],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spool() -> (tempfile::TempDir, Spool) {
        let (dir, path) = crate::base::testing::scratch("spool.db");
        (dir, Spool::open(&path).unwrap())
    }

    fn lines(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("{{\"n\":{i}}}")).collect()
    }

    #[test]
    fn the_outbox_keeps_order_and_trims_after_forwarding() {
        let (_dir, mut spool) = spool();
        spool.append(&lines(5)).unwrap();
        let out = spool.after(spool.cursor(FORWARD).unwrap(), 3).unwrap();
        assert_eq!(
            out.iter().map(|e| e.line.as_str()).collect::<Vec<_>>(),
            ["{\"n\":1}", "{\"n\":2}", "{\"n\":3}"]
        );
        spool.advance(FORWARD, out[2].seq).unwrap();
        assert_eq!(spool.backlog(FORWARD).unwrap(), 2);
        let rest = spool.after(spool.cursor(FORWARD).unwrap(), 10).unwrap();
        assert_eq!(rest.len(), 2);
        assert_eq!(rest[0].line, "{\"n\":4}");
    }

    impl Spool {
        /// What a reader of a group gets: what another left idle, then new.
        fn read_group(
            &mut self,
            group: &str,
            consumer: &str,
            count: usize,
            idle: Duration,
        ) -> Result<Vec<Spooled>> {
            let mut got = self.claim(group, consumer, Claim::Idle(idle), count)?;
            got.extend(self.deliver_new(group, consumer, count - got.len())?);
            Ok(got)
        }
    }

    #[test]
    fn groups_share_and_redeliver_what_was_not_acknowledged() {
        let (_dir, mut spool) = spool();
        spool.append(&lines(4)).unwrap();
        spool.create_group("store", false).unwrap();
        let a = spool
            .read_group("store", "a", 2, Duration::from_secs(60))
            .unwrap();
        let b = spool
            .read_group("store", "b", 10, Duration::from_secs(60))
            .unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(b.len(), 2);
        assert!(
            a.iter().all(|x| b.iter().all(|y| x.seq != y.seq)),
            "no overlap"
        );
        spool.ack("store", &[b[0].seq, b[1].seq]).unwrap();
        // a died without acknowledging: after the idle time c gets them.
        let c = spool.read_group("store", "c", 10, Duration::ZERO).unwrap();
        assert_eq!(
            c.iter().map(|e| e.seq).collect::<Vec<_>>(),
            a.iter().map(|e| e.seq).collect::<Vec<_>>()
        );
        assert_eq!(c[0].deliveries, 2);
        spool.ack("store", &[c[0].seq, c[1].seq]).unwrap();
        assert!(
            spool
                .read_group("store", "c", 10, Duration::ZERO)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_new_group_from_now_skips_the_past() {
        let (_dir, mut spool) = spool();
        spool.append(&lines(3)).unwrap();
        spool.create_group("mail", true).unwrap();
        assert!(
            spool
                .read_group("mail", "m", 10, Duration::from_secs(60))
                .unwrap()
                .is_empty()
        );
        spool.append(&lines(1)).unwrap();
        assert_eq!(
            spool
                .read_group("mail", "m", 10, Duration::from_secs(60))
                .unwrap()
                .len(),
            1
        );
    }
}
